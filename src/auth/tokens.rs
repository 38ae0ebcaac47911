//! Access tokens: short-lived EdDSA JWTs. Verification pins the algorithm, looks the key up by
//! `kid`, and checks `iss`, `aud`, `exp` and `nbf`, so `alg: none`, HMAC tokens made with the
//! public key, foreign keys, expired, early and foreign-audience tokens all fail.

use std::time::Duration;

use jsonwebtoken::{Algorithm, Header, Validation, decode, decode_header, encode};
use serde::{Deserialize, Serialize};

use crate::auth::keys::KeySet;
use crate::auth::{Caller, Role, Subject};

/// The claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<i64>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
}

/// Why a token was refused; the message goes into `WWW-Authenticate`'s error_description.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    #[error("the token is invalid: {0}")]
    Invalid(String),
}

/// Issues and verifies access tokens.
pub struct TokenService {
    keys: KeySet,
    issuer: String,
    audience: String,
    ttl: Duration,
    refresh_ttl: Duration,
    validation: Validation,
    /// Tokens this process verified, until they expire. Checking an Ed25519 signature costs
    /// ~30 µs of CPU, a lookup well under 1 µs; an API client sends the same token for its
    /// whole lifetime. Only valid tokens enter, so a forged one is always checked in full.
    verified: quick_cache::sync::Cache<String, Caller>,
}

/// Verified tokens remembered per process (~0.5 kB each).
const VERIFIED_TOKENS: usize = 4096;

impl TokenService {
    pub fn new(
        keys: KeySet,
        issuer: String,
        audience: String,
        ttl: Duration,
        refresh_ttl: Duration,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 5;
        Self {
            keys,
            issuer,
            audience,
            ttl,
            refresh_ttl,
            validation,
            verified: quick_cache::sync::Cache::new(VERIFIED_TOKENS),
        }
    }

    /// How long a refresh token lives.
    pub fn refresh_ttl(&self) -> Duration {
        self.refresh_ttl
    }

    /// Signs a new access token; returns it with its lifetime in seconds.
    pub fn issue(
        &self,
        subject: &Subject,
        role: Role,
        org: Option<i64>,
    ) -> anyhow::Result<(String, u64)> {
        let now = chrono::Utc::now().timestamp();
        let ttl = self.ttl.as_secs();
        let claims = Claims {
            sub: subject.to_claim(),
            role,
            org,
            iat: now,
            nbf: now,
            exp: now + i64::try_from(ttl).unwrap_or(i64::MAX / 2),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.keys.signing_kid.clone());
        Ok((encode(&header, &claims, &self.keys.signing)?, ttl))
    }

    /// Checks a token and returns its caller.
    pub fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        if let Some(caller) = self.verified.get(token)
            && caller.expires_at > chrono::Utc::now().timestamp()
        {
            return Ok(caller);
        }
        let caller = self.verify_signed(token)?;
        self.verified.insert(token.to_owned(), caller.clone());
        Ok(caller)
    }

    /// Full verification: algorithm, key, signature and claims.
    fn verify_signed(&self, token: &str) -> Result<Caller, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.verifying.get(kid))
            .ok_or(TokenError::UnknownKey)?;
        let data = decode::<Claims>(token, key, &self.validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let claims = data.claims;
        let subject = Subject::from_claim(&claims.sub)
            .ok_or_else(|| TokenError::Invalid("unknown subject".into()))?;
        Ok(Caller {
            subject,
            role: claims.role,
            org: claims.org,
            expires_at: claims.exp,
        })
    }
}

//! Random secrets and their storage form.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

/// `bytes` random bytes from the operating system, base64url-encoded.
pub fn random_token(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// How refresh tokens are stored: SHA-256, hex. They are 256-bit random values, so a fast
/// hash is enough (no dictionary to attack) and lets the lookup use an index.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

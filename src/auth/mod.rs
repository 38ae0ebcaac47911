//! Authentication and authorization: signing keys, access tokens, password and secret
//! hashing, and `Caller`, the verified caller of a request. Every protected handler takes it as
//! an argument (its extractor is in `api::caller`), so no handler can forget to authenticate.

pub mod keys;
pub mod password;
pub mod secrets;
pub mod tokens;

pub use crate::domain::Role;
use crate::domain::{Actor, DomainError, OrganizationId};
pub use tokens::TokenService;

/// Who a token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(i64),
    Client(String),
}

impl Subject {
    /// The `sub` claim: `user:<id>` or `client:<client_id>`.
    pub fn to_claim(&self) -> String {
        match self {
            Self::User(id) => format!("user:{id}"),
            Self::Client(id) => format!("client:{id}"),
        }
    }

    pub fn from_claim(sub: &str) -> Option<Self> {
        match sub.split_once(':')? {
            ("user", id) => id.parse().ok().map(Self::User),
            ("client", id) if !id.is_empty() => Some(Self::Client(id.to_owned())),
            _ => None,
        }
    }
}

/// The authenticated caller of a request, from a verified access token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: Subject,
    pub role: Role,
    pub org: Option<i64>,
    /// When the access token expires (seconds since the epoch).
    pub expires_at: i64,
}

impl Caller {
    /// Who is acting, for the records' created_by/updated_by.
    pub fn actor(&self) -> Actor {
        Actor {
            label: self.subject.to_claim(),
            role: self.role,
            org: self.org.map(OrganizationId),
            user: match self.subject {
                Subject::User(id) => Some(id),
                Subject::Client(_) => None,
            },
        }
    }

    /// Admins only: users, clients.
    pub fn require_admin(&self) -> Result<(), DomainError> {
        crate::domain::require_admin(self.role)
    }
}

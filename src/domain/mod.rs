//! The domain layer: typed ids, the values every resource shares, and per resource its
//! parsed input and the operations that hold its rules (`create`, `replace`, `patch`,
//! `delete`, `find`, `list` in `resource`, the rules in `<resource>.rs`). The HTTP handlers,
//! the seed and the command line all write through it; it never imports `api`.

pub mod changes;
pub mod clients;
pub mod companies;
pub mod error;
pub mod events;
pub mod funding_sources;
mod ids;
pub mod organizations;
pub mod projects;
pub mod regions;
pub mod relations;
pub mod reports;
pub mod resource;
pub mod topics;
pub mod users;
pub mod values;

pub use error::{DomainError, FieldError};
pub use ids::{
    CompanyId, EventId, FundingSourceId, IdSet, OrganizationId, ProjectId, RegionId, TopicId,
};
pub use values::Role;

use chrono::{NaiveDateTime, SubsecRound as _, Utc};

/// The current time in UTC at microsecond precision, the finest both databases keep, so that
/// a value read back equals the value written.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Lower-cased form of a name: the key for case-insensitive uniqueness, search and sorting.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Who makes a change: recorded as `created_by`/`updated_by`; its role decides what it may
/// do, and its organization owns what a partner creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `user:<id>`, `client:<client_id>`, or the command line's name (`seed`).
    pub label: String,
    pub role: Role,
    pub org: Option<OrganizationId>,
    /// The user's id when a person acts (admins can't lock themselves out).
    pub user: Option<i64>,
}

impl Actor {
    /// The command line and the demo seed: the rights of an admin, no organization.
    pub fn command_line(label: &str) -> Self {
        Self {
            label: label.to_owned(),
            role: Role::Admin,
            org: None,
            user: None,
        }
    }

    /// Admins and editors: create, change and delete any domain record.
    pub fn require_editor(&self) -> Result<(), DomainError> {
        require_editor(self.role)
    }

    /// Admins, editors and partners: create the records partners contribute (companies,
    /// events).
    pub fn require_contributor(&self) -> Result<(), DomainError> {
        match self.role {
            Role::Partner => Ok(()),
            role => require_editor(role),
        }
    }

    /// Admins and editors may change anything; a partner only what its organization created.
    pub fn may_change(&self, owner: Option<OrganizationId>, what: &str) -> Result<(), DomainError> {
        match self.role {
            Role::Admin | Role::Editor => Ok(()),
            Role::Partner if self.org.is_some() && self.org == owner => Ok(()),
            Role::Partner => Err(DomainError::Forbidden(format!(
                "this {what} belongs to another organization"
            ))),
            Role::Viewer => Err(DomainError::Forbidden(format!(
                "the viewer role may not change this {what}"
            ))),
        }
    }
}

/// Admins and editors: create, change and delete any domain record.
pub fn require_editor(role: Role) -> Result<(), DomainError> {
    match role {
        Role::Admin | Role::Editor => Ok(()),
        role => Err(DomainError::Forbidden(format!(
            "the {} role may not change this resource",
            role.as_str()
        ))),
    }
}

/// Admins only: users, clients.
pub fn require_admin(role: Role) -> Result<(), DomainError> {
    match role {
        Role::Admin => Ok(()),
        role => Err(DomainError::Forbidden(format!(
            "only admins may do this; the caller is {}",
            role.as_str()
        ))),
    }
}

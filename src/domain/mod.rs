//! Domain values: typed ids and the values every resource shares. They parse (or are built
//! by the server) instead of being checked after the fact.

mod ids;
pub mod values;

pub use ids::{CompanyId, EventId, FundingSourceId, OrganizationId, ProjectId, RegionId, TopicId};

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

/// Who makes a change: recorded as `created_by`/`updated_by`, and the organization that owns
/// what a partner creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `user:<id>` or `client:<client_id>`.
    pub label: String,
    pub org: Option<i64>,
}

//! Typed ids: a `RegionId` can't be passed where another resource's id belongs.

use diesel_derive_newtype::DieselNewType;
use serde::{Deserialize, Serialize};

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            Serialize, Deserialize, DieselNewType, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[schema(value_type = i64, minimum = 1)]
        pub struct $name(pub i64);

        /// From a stored raw id (the change feed keeps ids of every kind in one column).
        impl From<i64> for $name {
            fn from(id: i64) -> $name {
                $name(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

typed_id!(
    /// Id of a region.
    RegionId
);
typed_id!(
    /// Id of a topic.
    TopicId
);
typed_id!(
    /// Id of a funding source.
    FundingSourceId
);
typed_id!(
    /// Id of an organization.
    OrganizationId
);
typed_id!(
    /// Id of a project.
    ProjectId
);
typed_id!(
    /// Id of a company.
    CompanyId
);
typed_id!(
    /// Id of an event.
    EventId
);

/// A set of ids, as the id arrays of a record are: sorted, without repeats, so that order and
/// repeats in a request don't matter and two equal sets compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdSet<T>(Vec<T>);

impl<T> Default for IdSet<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: Ord> FromIterator<T> for IdSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(ids: I) -> Self {
        let mut ids: Vec<T> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        Self(ids)
    }
}

impl<T> IdSet<T> {
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

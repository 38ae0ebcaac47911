//! Who pays for projects: a unique name, and no delete while a project is funded by it.

use crate::db::Conn;
use crate::domain::relations::ensure_unreferenced;
use crate::domain::resource::{Crud, RecordMeta};
use crate::domain::values::FundingKind;
use crate::domain::values::ResourceKind;
use crate::domain::{Actor, DomainError, FundingSourceId};
use crate::models::funding_sources::{
    self, FundingSource, FundingSourceFields, FundingSourceFilter, FundingSourceSort,
};
use crate::models::page::{Page, PageRequest};
use crate::models::projects;

/// A funding source to write.
#[derive(Debug, Clone, PartialEq, Eq, diesel::Insertable, diesel::AsChangeset)]
#[diesel(table_name = crate::db::schema::funding_sources, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct NewFundingSource {
    /// Unique, case-insensitively.
    pub name: String,
    pub kind: FundingKind,
    pub provider: Option<String>,
    pub programme: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
}

/// The funding sources resource.
pub struct FundingSources;

fn name_taken(e: diesel::result::Error, name: &str) -> DomainError {
    DomainError::unique(e, || {
        format!("a funding source named {name:?} already exists")
    })
}

impl Crud for FundingSources {
    const NAME: &'static str = "funding source";
    const KIND: ResourceKind = ResourceKind::FundingSources;
    type Id = FundingSourceId;
    type New = NewFundingSource;
    type Record = FundingSource;
    type Filter = FundingSourceFilter;
    type Sort = FundingSourceSort;

    fn meta(record: &FundingSource) -> RecordMeta<FundingSourceId> {
        record.meta()
    }

    async fn find_many(
        conn: &mut Conn<'_>,
        ids: &[FundingSourceId],
    ) -> Result<Vec<FundingSource>, DomainError> {
        Ok(funding_sources::find_all(conn, ids).await?)
    }

    async fn find(
        conn: &mut Conn<'_>,
        id: FundingSourceId,
    ) -> Result<Option<FundingSource>, DomainError> {
        Ok(funding_sources::find(conn, id).await?)
    }

    async fn insert(
        conn: &mut Conn<'_>,
        new: NewFundingSource,
        by: &Actor,
    ) -> Result<FundingSource, DomainError> {
        let fields = FundingSourceFields::from(new);
        funding_sources::insert(conn, &fields, by)
            .await
            .map_err(|e| name_taken(e, &fields.new.name))
    }

    async fn update(
        conn: &mut Conn<'_>,
        id: FundingSourceId,
        expected_version: Option<i64>,
        new: NewFundingSource,
        by: &Actor,
    ) -> Result<FundingSource, DomainError> {
        let fields = FundingSourceFields::from(new);
        funding_sources::update(conn, id, expected_version, &fields, by)
            .await
            .map_err(|e| {
                DomainError::from_update(e, Self::NAME, id, |e| name_taken(e, &fields.new.name))
            })
    }

    async fn remove(
        conn: &mut Conn<'_>,
        id: FundingSourceId,
        expected_version: Option<i64>,
    ) -> Result<i64, DomainError> {
        ensure_unreferenced(
            Self::NAME,
            id,
            &[(
                projects::count_funded_by(conn, id).await?,
                "project",
                "projects",
            )],
        )?;
        funding_sources::delete(conn, id, expected_version)
            .await
            .map_err(|e| DomainError::from_write(e, Self::NAME, id))
    }

    async fn query(
        conn: &mut Conn<'_>,
        filter: &FundingSourceFilter,
        page: &PageRequest<FundingSourceSort>,
    ) -> Result<Page<FundingSource>, DomainError> {
        Ok(funding_sources::list(conn, filter, page).await?)
    }
}

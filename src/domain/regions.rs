//! Project regions (*Projekträume*): a unique name, and no delete while companies, projects
//! or events are in the region.

use crate::db::Conn;
use crate::domain::relations::ensure_unreferenced;
use crate::domain::resource::{Crud, RecordMeta};
use crate::domain::values::ResourceKind;
use crate::domain::{Actor, DomainError, RegionId};
use crate::models::links::project_regions;
use crate::models::page::{Page, PageRequest};
use crate::models::regions::{self, Region, RegionFields, RegionFilter, RegionSort};
use crate::models::{companies, events};

/// A region to write.
#[derive(Debug, Clone, PartialEq, Eq, diesel::Insertable, diesel::AsChangeset)]
#[diesel(table_name = crate::db::schema::regions, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct NewRegion {
    /// Unique, case-insensitively.
    pub name: String,
    pub district: Option<String>,
    pub state: Option<String>,
    pub commercial_area: Option<String>,
    pub description: Option<String>,
}

/// The regions resource.
pub struct Regions;

fn name_taken(e: diesel::result::Error, name: &str) -> DomainError {
    DomainError::unique(e, || format!("a region named {name:?} already exists"))
}

impl Crud for Regions {
    const NAME: &'static str = "region";
    const KIND: ResourceKind = ResourceKind::Regions;
    type Id = RegionId;
    type New = NewRegion;
    type Record = Region;
    type Filter = RegionFilter;
    type Sort = RegionSort;

    fn meta(record: &Region) -> RecordMeta<RegionId> {
        record.meta()
    }

    async fn find_many(conn: &mut Conn<'_>, ids: &[RegionId]) -> Result<Vec<Region>, DomainError> {
        Ok(regions::find_all(conn, ids).await?)
    }

    async fn find(conn: &mut Conn<'_>, id: RegionId) -> Result<Option<Region>, DomainError> {
        Ok(regions::find(conn, id).await?)
    }

    async fn insert(
        conn: &mut Conn<'_>,
        new: NewRegion,
        by: &Actor,
    ) -> Result<Region, DomainError> {
        let fields = RegionFields::from(new);
        regions::insert(conn, &fields, by)
            .await
            .map_err(|e| name_taken(e, &fields.new.name))
    }

    async fn update(
        conn: &mut Conn<'_>,
        id: RegionId,
        expected_version: Option<i64>,
        new: NewRegion,
        by: &Actor,
    ) -> Result<Region, DomainError> {
        let fields = RegionFields::from(new);
        regions::update(conn, id, expected_version, &fields, by)
            .await
            .map_err(|e| {
                DomainError::from_update(e, Self::NAME, id, |e| name_taken(e, &fields.new.name))
            })
    }

    async fn remove(
        conn: &mut Conn<'_>,
        id: RegionId,
        expected_version: Option<i64>,
    ) -> Result<i64, DomainError> {
        ensure_unreferenced(
            Self::NAME,
            id,
            &[
                (
                    companies::count_in_region(conn, id).await?,
                    "company",
                    "companies",
                ),
                (
                    project_regions::count_owners(conn, id).await?,
                    "project",
                    "projects",
                ),
                (events::count_in_region(conn, id).await?, "event", "events"),
            ],
        )?;
        regions::delete(conn, id, expected_version)
            .await
            .map_err(|e| DomainError::from_write(e, Self::NAME, id))
    }

    async fn query(
        conn: &mut Conn<'_>,
        filter: &RegionFilter,
        page: &PageRequest<RegionSort>,
    ) -> Result<Page<Region>, DomainError> {
        Ok(regions::list(conn, filter, page).await?)
    }
}

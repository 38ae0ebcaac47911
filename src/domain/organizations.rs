//! Sponsors, chambers, agencies and consultancies: a unique name, and no delete while users,
//! clients, projects, events or records it created still refer to the organization.

use crate::db::Conn;
use crate::domain::relations::ensure_unreferenced;
use crate::domain::resource::{Crud, RecordMeta};
use crate::domain::values::OrganizationKind;
use crate::domain::values::ResourceKind;
use crate::domain::{Actor, DomainError, OrganizationId};
use crate::models::organizations::{
    self, Organization, OrganizationFields, OrganizationFilter, OrganizationSort,
};
use crate::models::page::{Page, PageRequest};

/// An organization to write.
#[derive(Debug, Clone, PartialEq, Eq, diesel::Insertable, diesel::AsChangeset)]
#[diesel(table_name = crate::db::schema::organizations, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct NewOrganization {
    /// Unique, case-insensitively.
    pub name: String,
    pub kind: OrganizationKind,
    pub city: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
}

impl NewOrganization {
    /// An organization with just a name and kind (the command line).
    pub fn named(name: String, kind: OrganizationKind) -> Self {
        Self {
            name,
            kind,
            city: None,
            website: None,
            description: None,
        }
    }
}

/// The organizations resource.
pub struct Organizations;

fn name_taken(e: diesel::result::Error, name: &str) -> DomainError {
    DomainError::unique(e, || {
        format!("an organization named {name:?} already exists")
    })
}

impl Crud for Organizations {
    const NAME: &'static str = "organization";
    const KIND: ResourceKind = ResourceKind::Organizations;
    type Id = OrganizationId;
    type New = NewOrganization;
    type Record = Organization;
    type Filter = OrganizationFilter;
    type Sort = OrganizationSort;

    fn meta(record: &Organization) -> RecordMeta<OrganizationId> {
        record.meta()
    }

    async fn find_many(
        conn: &mut Conn<'_>,
        ids: &[OrganizationId],
    ) -> Result<Vec<Organization>, DomainError> {
        Ok(organizations::find_all(conn, ids).await?)
    }

    async fn find(
        conn: &mut Conn<'_>,
        id: OrganizationId,
    ) -> Result<Option<Organization>, DomainError> {
        Ok(organizations::find(conn, id).await?)
    }

    async fn insert(
        conn: &mut Conn<'_>,
        new: NewOrganization,
        by: &Actor,
    ) -> Result<Organization, DomainError> {
        let fields = OrganizationFields::from(new);
        organizations::insert(conn, &fields, by)
            .await
            .map_err(|e| name_taken(e, &fields.new.name))
    }

    async fn update(
        conn: &mut Conn<'_>,
        id: OrganizationId,
        expected_version: Option<i64>,
        new: NewOrganization,
        by: &Actor,
    ) -> Result<Organization, DomainError> {
        let fields = OrganizationFields::from(new);
        organizations::update(conn, id, expected_version, &fields, by)
            .await
            .map_err(|e| {
                DomainError::from_update(e, Self::NAME, id, |e| name_taken(e, &fields.new.name))
            })
    }

    async fn remove(
        conn: &mut Conn<'_>,
        id: OrganizationId,
        expected_version: Option<i64>,
    ) -> Result<i64, DomainError> {
        ensure_unreferenced(Self::NAME, id, &organizations::usage(conn, id).await?)?;
        organizations::delete(conn, id, expected_version)
            .await
            .map_err(|e| DomainError::from_write(e, Self::NAME, id))
    }

    async fn query(
        conn: &mut Conn<'_>,
        filter: &OrganizationFilter,
        page: &PageRequest<OrganizationSort>,
    ) -> Result<Page<Organization>, DomainError> {
        Ok(organizations::list(conn, filter, page).await?)
    }
}

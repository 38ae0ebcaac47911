//! Participating companies: in an existing region, with existing topics and projects, and no
//! delete while an event lists the company. Partners create companies too, and change only
//! their own organization's.

use diesel::prelude::*;

use crate::db::schema;

use crate::db::DbConnection;
use crate::domain::relations::{IdCheck, ensure_unreferenced};
use crate::domain::resource::{Crud, RecordMeta};
use crate::domain::values::ResourceKind;
use crate::domain::{Actor, CompanyId, DomainError, IdSet, ProjectId, RegionId, TopicId};
use crate::models::Owner;
use crate::models::companies::{
    self, Company, CompanyFields, CompanyFilter, CompanyRecord, CompanySort,
};
use crate::models::links::{company_projects, company_topics, event_companies};
use crate::models::page::{Page, PageRequest};
use crate::models::{projects, regions, topics};

/// A company to write. Its columns are also its change set (`Insertable`, `AsChangeset`):
/// the writable fields are listed once in the domain and the rows; `models::companies::
/// CompanyFields` adds the derived keys.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, AsChangeset)]
#[diesel(table_name = schema::companies, treat_none_as_null = true)]
pub struct NewCompany {
    pub name: String,
    /// The partner's own key (a chamber's member or craft-register number): unique per owning
    /// organization, the companies without one counting as one owner.
    pub external_id: Option<String>,
    pub legal_form: Option<String>,
    pub sector: Option<String>,
    pub trade: Option<String>,
    pub region_id: RegionId,
    pub street: Option<String>,
    /// Five digits.
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub employee_count: Option<i64>,
    pub apprentice_count: Option<i64>,
    pub website: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[diesel(skip_insertion, skip_update)]
    pub topic_ids: IdSet<TopicId>,
    #[diesel(skip_insertion, skip_update)]
    pub project_ids: IdSet<ProjectId>,
}

/// The companies resource.
pub struct Companies;

fn external_id_taken(e: diesel::result::Error, key: Option<&str>) -> DomainError {
    DomainError::unique(e, || {
        format!(
            "the external_id {:?} is already used by another company of the same organization",
            key.unwrap_or_default()
        )
    })
}

/// Checks that every id names an existing record.
fn check(conn: &mut DbConnection, new: NewCompany) -> Result<CompanyFields, DomainError> {
    IdCheck::default()
        .id(
            conn,
            "region_id",
            "region",
            Some(new.region_id),
            regions::existing,
        )?
        .ids(
            conn,
            "topic_ids",
            "topic",
            new.topic_ids.as_slice(),
            topics::existing,
        )?
        .ids(
            conn,
            "project_ids",
            "project",
            new.project_ids.as_slice(),
            projects::existing,
        )?
        .finish()?;
    Ok(CompanyFields::from(new))
}

fn write_relations(
    conn: &mut DbConnection,
    company: Company,
    fields: CompanyFields,
    was: Owner,
) -> Result<CompanyRecord, DomainError> {
    let new = fields.company;
    company_topics::replace(conn, company.id, new.topic_ids.as_slice(), was)?;
    company_projects::replace(conn, company.id, new.project_ids.as_slice(), was)?;
    Ok(CompanyRecord {
        company,
        topic_ids: new.topic_ids.into_vec(),
        project_ids: new.project_ids.into_vec(),
    })
}

impl Crud for Companies {
    const NAME: &'static str = "company";
    const KIND: ResourceKind = ResourceKind::Companies;
    type Id = CompanyId;
    type New = NewCompany;
    type Record = CompanyRecord;
    type Filter = CompanyFilter;
    type Sort = CompanySort;

    fn meta(record: &CompanyRecord) -> RecordMeta<CompanyId> {
        record.company.meta()
    }

    /// Partners register the companies of their region, too.
    fn may_create(actor: &Actor) -> Result<(), DomainError> {
        actor.require_contributor()
    }

    fn find_many(
        conn: &mut DbConnection,
        ids: &[CompanyId],
    ) -> Result<Vec<CompanyRecord>, DomainError> {
        let rows = companies::find_all(conn, ids)?;
        Ok(companies::with_relations(conn, rows)?)
    }

    fn find(conn: &mut DbConnection, id: CompanyId) -> Result<Option<CompanyRecord>, DomainError> {
        Ok(companies::find_record(conn, id)?)
    }

    fn insert(
        conn: &mut DbConnection,
        new: NewCompany,
        by: &Actor,
    ) -> Result<CompanyRecord, DomainError> {
        let fields = check(conn, new)?;
        let company = companies::insert(conn, &fields, by)
            .map_err(|e| external_id_taken(e, fields.company.external_id.as_deref()))?;
        write_relations(conn, company, fields, Owner::New)
    }

    fn update(
        conn: &mut DbConnection,
        id: CompanyId,
        expected_version: Option<i64>,
        new: NewCompany,
        by: &Actor,
    ) -> Result<CompanyRecord, DomainError> {
        let fields = check(conn, new)?;
        let company = companies::update(conn, id, expected_version, &fields, by).map_err(|e| {
            DomainError::from_update(e, Self::NAME, id, |e| {
                external_id_taken(e, fields.company.external_id.as_deref())
            })
        })?;
        write_relations(conn, company, fields, Owner::Existing)
    }

    fn remove(
        conn: &mut DbConnection,
        id: CompanyId,
        expected_version: Option<i64>,
    ) -> Result<i64, DomainError> {
        ensure_unreferenced(
            Self::NAME,
            id,
            &[(event_companies::count_owners(conn, id)?, "event", "events")],
        )?;
        companies::delete(conn, id, expected_version)
            .map_err(|e| DomainError::from_write(e, Self::NAME, id))
    }

    fn query(
        conn: &mut DbConnection,
        filter: &CompanyFilter,
        page: &PageRequest<CompanySort>,
    ) -> Result<Page<CompanyRecord>, DomainError> {
        Ok(companies::list(conn, filter, page)?)
    }
}

/// The companies in `by`'s scope with these external ids: its organization's, or for admins
/// and editors (no organization) the owner-less ones. A fixed number of queries.
pub fn find_by_external_ids(
    conn: &mut DbConnection,
    by: &Actor,
    keys: &[&str],
) -> Result<Vec<CompanyRecord>, DomainError> {
    let rows = companies::find_by_external_ids(conn, by.org, keys)?;
    Ok(companies::with_relations(conn, rows)?)
}

//! Participating companies with their topics and projects.

use crate::db::prelude::*;
use chrono::NaiveDateTime;

use crate::db::schema::{self, companies};
use crate::db::{Conn, query};
use crate::domain::companies::NewCompany;
use crate::domain::{Actor, CompanyId, OrganizationId, ProjectId, RegionId, TopicId, name_key};
use crate::models::links::{company_projects, company_topics};
use crate::models::page::{Page, PageRequest, sorted};
use crate::models::relation_ids::RelationIds;
use crate::models::{ListError, contains_pattern, record_queries};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = companies)]
pub struct Company {
    pub id: CompanyId,
    pub name: String,
    pub name_key: String,
    pub legal_form: Option<String>,
    pub sector: Option<String>,
    pub trade: Option<String>,
    pub region_id: RegionId,
    pub street: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub city_key: String,
    pub employee_count: Option<i64>,
    pub apprentice_count: Option<i64>,
    pub employee_sort: i64,
    pub website: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    pub owner_org_id: Option<OrganizationId>,
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
    pub external_id: Option<String>,
}

/// The inserted and updated columns: the domain's writable fields (`NewCompany` is their
/// change set) and the keys derived from them (see the migration).
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = companies, treat_none_as_default_value = false)]
pub struct CompanyFields {
    #[diesel(embed)]
    pub company: NewCompany,
    pub name_key: String,
    pub city_key: String,
    /// Unknown sizes sort first.
    pub employee_sort: i64,
}

impl From<NewCompany> for CompanyFields {
    fn from(company: NewCompany) -> Self {
        Self {
            name_key: name_key(&company.name),
            city_key: company.city.as_deref().map(name_key).unwrap_or_default(),
            employee_sort: company.employee_count.unwrap_or(-1),
            company,
        }
    }
}

/// A company with the ids it lists, read in one statement (`relation_ids`).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = companies)]
pub struct CompanyRecord {
    #[diesel(embed)]
    pub company: Company,
    #[diesel(select_expression = company_topics::ids(), deserialize_as = RelationIds<TopicId>)]
    pub topic_ids: Vec<TopicId>,
    #[diesel(select_expression = company_projects::ids(), deserialize_as = RelationIds<ProjectId>)]
    pub project_ids: Vec<ProjectId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompanySort {
    Name,
    City,
    EmployeeCount,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Default)]
pub struct CompanyFilter {
    pub q: Option<String>,
    pub region_id: Option<i64>,
    pub topic_id: Option<i64>,
    pub project_id: Option<i64>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub sector: Option<String>,
    pub min_employees: Option<i64>,
    pub max_employees: Option<i64>,
    pub external_id: Option<String>,
    pub updated_since: Option<NaiveDateTime>,
}

record_queries!(companies, Company, CompanyFields, CompanyId);

/// How many companies are in a region.
pub async fn count_in_region(conn: &mut Conn<'_>, region: RegionId) -> QueryResult<i64> {
    query!(conn, |c| companies::table
        .filter(companies::region_id.eq(region))
        .count()
        .get_result(c))
}

/// One company with its relation ids.
pub async fn find_record(conn: &mut Conn<'_>, id: CompanyId) -> QueryResult<Option<CompanyRecord>> {
    query!(conn, |c| companies::table
        .find(id)
        .select(CompanyRecord::as_select())
        .first(c))
    .optional()
}

/// The companies of `ids` that exist, with their relation ids, in no particular order.
pub async fn find_records(
    conn: &mut Conn<'_>,
    ids: &[CompanyId],
) -> QueryResult<Vec<CompanyRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    query!(conn, |c| companies::table
        .filter(companies::id.eq_any(ids))
        .select(CompanyRecord::as_select())
        .load(c))
}

pub async fn list(
    conn: &mut Conn<'_>,
    filter: &CompanyFilter,
    page: &PageRequest<CompanySort>,
) -> Result<Page<CompanyRecord>, ListError> {
    // A macro, not a closure: each arm of `query!` builds the boxed query for its backend.
    macro_rules! filtered {
        () => {{
            let mut query = companies::table.into_boxed();
            if let Some(q) = &filter.q {
                query = query.filter(companies::name_key.like(contains_pattern(q)).escape('\\'));
            }
            if let Some(region) = filter.region_id {
                query = query.filter(companies::region_id.eq(region));
            }
            if let Some(topic) = filter.topic_id {
                query = query.filter(
                    companies::id.eq_any(
                        schema::company_topics::table
                            .filter(schema::company_topics::topic_id.eq(topic))
                            .select(schema::company_topics::company_id),
                    ),
                );
            }
            if let Some(project) = filter.project_id {
                query = query.filter(
                    companies::id.eq_any(
                        schema::company_projects::table
                            .filter(schema::company_projects::project_id.eq(project))
                            .select(schema::company_projects::company_id),
                    ),
                );
            }
            if let Some(city) = &filter.city {
                query = query.filter(companies::city_key.eq(name_key(city)));
            }
            if let Some(postal_code) = &filter.postal_code {
                query = query.filter(companies::postal_code.eq(postal_code.clone()));
            }
            if let Some(sector) = &filter.sector {
                query = query.filter(companies::sector.eq(sector.clone()));
            }
            if let Some(min) = filter.min_employees {
                query = query.filter(companies::employee_count.ge(min));
            }
            if let Some(max) = filter.max_employees {
                query = query.filter(companies::employee_count.le(max));
            }
            if let Some(key) = &filter.external_id {
                query = query.filter(companies::external_id.eq(key.clone()));
            }
            if let Some(since) = filter.updated_since {
                query = query.filter(companies::updated_at.ge(since));
            }
            query
        }};
    }
    let (rows, keyset) = sorted!(conn, filtered!().select(CompanyRecord::as_select()), page, companies::id, |r: CompanyRecord, c = &r.company| {
        CompanySort::Name => text(companies::name_key, c.name_key.clone()),
        CompanySort::City => text(companies::city_key, c.city_key.clone()),
        CompanySort::EmployeeCount => int(companies::employee_sort, c.employee_sort),
        CompanySort::CreatedAt => time(companies::created_at, c.created_at),
        CompanySort::UpdatedAt => time(companies::updated_at, c.updated_at),
    })?;
    let total = if page.with_total {
        Some(query!(conn, |c| filtered!().count().get_result(c))?)
    } else {
        None
    };
    Ok(Page::from_rows(rows, page.limit, total, keyset))
}

/// The id of the company with this name (case-insensitively) in a region, if any.
pub async fn id_by_name_in_region(
    conn: &mut Conn<'_>,
    name: &str,
    region: RegionId,
) -> QueryResult<Option<CompanyId>> {
    query!(conn, |c| companies::table
        .filter(companies::name_key.eq(name_key(name)))
        .filter(companies::region_id.eq(region))
        .order(companies::id)
        .select(companies::id)
        .first(c))
    .optional()
}

/// The companies of one owner (`None`: the owner-less ones) with these external ids.
pub async fn find_by_external_ids(
    conn: &mut Conn<'_>,
    owner: Option<OrganizationId>,
    keys: &[&str],
) -> QueryResult<Vec<CompanyRecord>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let with_keys = companies::table.filter(companies::external_id.eq_any(keys));
    match owner {
        Some(org) => query!(conn, |c| with_keys
            .filter(companies::owner_org_id.eq(org))
            .select(CompanyRecord::as_select())
            .load(c)),
        None => query!(conn, |c| with_keys
            .filter(companies::owner_org_id.is_null())
            .select(CompanyRecord::as_select())
            .load(c)),
    }
}

/// How many companies `insert_all` inserts with one statement (prepared once, see
/// `db::in_batches!`); an import reads its file in chunks of as many. A table has at most 32
/// columns (diesel's `32-column-tables`): 16 000 parameters.
pub const INSERT_BATCH: usize = 500;

/// Inserts many companies in multi-row inserts, leaving out each whose external id is taken
/// in its owner's scope (`ON CONFLICT DO NOTHING`: the external id's index is the only unique
/// one besides the id). Returns the inserted in the order given; the left-out are missing.
/// No savepoint and no lookup beforehand: on SQLite a savepoint around a batch journals every
/// page the batch touches (2.8 million `pwrite`s for 100 000 companies), and on PostgreSQL a
/// lookup inside an import's transaction plans with statistics of the table as it was.
pub async fn insert_all(
    conn: &mut Conn<'_>,
    all: &[&CompanyFields],
    by: &Actor,
) -> QueryResult<Vec<Company>> {
    let at = crate::domain::now();
    let rows = all
        .iter()
        .map(|&fields| crate::models::new_row!(companies, fields.clone(), by, at));
    let batches = crate::db::in_batches!(conn, rows, INSERT_BATCH, |c, batch| {
        diesel::insert_into(companies::table)
            .values(batch)
            .on_conflict_do_nothing()
            .returning(Company::as_returning())
            .get_results::<Company>(c)
    })?;
    let mut inserted: Vec<Company> = batches.into_iter().flatten().collect();
    // Ids are handed out in the order of VALUES; RETURNING itself promises no order.
    inserted.sort_unstable_by_key(|c| c.id);
    Ok(inserted)
}

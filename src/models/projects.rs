//! Projects with their regions, topics and funding.

use std::collections::HashMap;

use crate::db::prelude::*;
use chrono::{NaiveDate, NaiveDateTime};

use crate::db::schema::{self, project_funding, projects};
use crate::db::{self, Conn, query};
use crate::domain::projects::NewProject;
use crate::domain::values::{FundingRole, ProjectStatus};
use crate::domain::{FundingSourceId, OrganizationId, ProjectId, RegionId, TopicId, name_key};
use crate::models::links::{project_regions, project_topics};
use crate::models::page::{Page, PageRequest, sorted};
use crate::models::relation_ids::RelationIds;
use crate::models::{ListError, contains_pattern, record_queries, unnest};

/// Stand-ins for unknown dates in the NOT NULL sort columns: unknown starts sort first,
/// open ends last.
pub const UNKNOWN_START: NaiveDate = NaiveDate::MIN;
pub const OPEN_END: NaiveDate = NaiveDate::MAX;

fn sort_start(date: Option<NaiveDate>) -> NaiveDate {
    date.unwrap_or(first_day())
}

fn sort_end(date: Option<NaiveDate>) -> NaiveDate {
    date.unwrap_or(last_day())
}

/// 0001-01-01 and 9999-12-31: representable in both databases (chrono's MIN/MAX are not).
pub fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or(UNKNOWN_START)
}

pub fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(OPEN_END)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = projects)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    pub name_key: String,
    pub description: Option<String>,
    pub sponsor_id: Option<OrganizationId>,
    pub programme: Option<String>,
    pub status: ProjectStatus,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub start_sort: NaiveDate,
    pub end_sort: NaiveDate,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    pub owner_org_id: Option<OrganizationId>,
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
}

/// The inserted and updated columns: the domain's writable fields (`NewProject` is their
/// change set) and the keys derived from them.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = projects, treat_none_as_default_value = false)]
pub struct ProjectFields {
    #[diesel(embed)]
    pub project: NewProject,
    pub name_key: String,
    pub start_sort: NaiveDate,
    pub end_sort: NaiveDate,
}

impl From<NewProject> for ProjectFields {
    fn from(project: NewProject) -> Self {
        Self {
            name_key: name_key(&project.name),
            start_sort: sort_start(project.start_date),
            end_sort: sort_end(project.end_date),
            project,
        }
    }
}

/// One funding line of a project.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct FundingLine {
    pub funding_source_id: FundingSourceId,
    pub role: FundingRole,
    pub amount_cents: Option<i64>,
}

/// A project with its region and topic ids, read in one statement (`relation_ids`); its
/// funding lines, several columns each, come from a second (`with_funding`).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = projects)]
pub struct ProjectWithIds {
    #[diesel(embed)]
    pub project: Project,
    #[diesel(select_expression = project_regions::ids(), deserialize_as = RelationIds<RegionId>)]
    pub region_ids: Vec<RegionId>,
    #[diesel(select_expression = project_topics::ids(), deserialize_as = RelationIds<TopicId>)]
    pub topic_ids: Vec<TopicId>,
}

impl ProjectWithIds {
    /// The record, with its funding lines taken out of those loaded for several projects.
    fn with_funding_of(self, funding: &mut HashMap<ProjectId, Vec<FundingLine>>) -> ProjectRecord {
        ProjectRecord {
            funding: funding.remove(&self.project.id).unwrap_or_default(),
            project: self.project,
            region_ids: self.region_ids,
            topic_ids: self.topic_ids,
        }
    }
}

/// A project with the ids it lists.
#[derive(Debug, Clone)]
pub struct ProjectRecord {
    pub project: Project,
    pub region_ids: Vec<RegionId>,
    pub topic_ids: Vec<TopicId>,
    pub funding: Vec<FundingLine>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectSort {
    Name,
    StartDate,
    EndDate,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    pub q: Option<String>,
    pub status: Option<ProjectStatus>,
    pub region_id: Option<i64>,
    pub topic_id: Option<i64>,
    pub funding_source_id: Option<i64>,
    pub active_on: Option<NaiveDate>,
    pub updated_since: Option<NaiveDateTime>,
}

record_queries!(projects, Project, ProjectFields, ProjectId);

/// The funding lines of a page of projects, in one query.
pub async fn load_funding(
    conn: &mut Conn<'_>,
    ids: &[ProjectId],
) -> QueryResult<HashMap<ProjectId, Vec<FundingLine>>> {
    let mut map: HashMap<ProjectId, Vec<FundingLine>> = HashMap::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(map);
    }
    let columns = (
        project_funding::project_id,
        project_funding::funding_source_id,
        project_funding::role,
        project_funding::amount_cents,
    );
    let order = (
        project_funding::project_id,
        project_funding::funding_source_id,
        project_funding::role,
    );
    // SQLite gets `IN (?, …)` for a list, which diesel never keeps prepared; one project
    // (every read of a single record) gets a statement it keeps.
    let rows: Vec<(ProjectId, FundingSourceId, FundingRole, Option<i64>)> = match ids {
        [id] => query!(conn, |c| project_funding::table
            .filter(project_funding::project_id.eq(*id))
            .select(columns)
            .order(order)
            .load(c))?,
        _ => query!(conn, |c| project_funding::table
            .filter(project_funding::project_id.eq_any(ids))
            .select(columns)
            .order(order)
            .load(c))?,
    };
    for (project, funding_source_id, role, amount_cents) in rows {
        map.entry(project).or_default().push(FundingLine {
            funding_source_id,
            role,
            amount_cents,
        });
    }
    Ok(map)
}

/// Makes `lines` the project's funding (`Owner::replace`).
pub async fn replace_funding(
    conn: &mut Conn<'_>,
    project: ProjectId,
    lines: &[FundingLine],
    was: crate::models::Owner,
) -> QueryResult<()> {
    // At most 1 000 lines (the API's limit): on SQLite one statement of 4 000 parameters at
    // most; on PostgreSQL one of four, prepared once (`models::unnest`).
    let add = async |c: &mut Conn<'_>| {
        if lines.is_empty() {
            return Ok(0);
        }
        if let Conn::Postgres(pg) = c {
            use diesel::sql_types::{Array, BigInt, Nullable, Text};
            let sources: Vec<FundingSourceId> = lines.iter().map(|l| l.funding_source_id).collect();
            let roles: Vec<FundingRole> = lines.iter().map(|l| l.role).collect();
            let amounts: Vec<Option<i64>> = lines.iter().map(|l| l.amount_cents).collect();
            return db::postgres_query!(pg, |c| diesel::insert_into(project_funding::table)
                .values(diesel::select((
                    project.into_sql::<BigInt>(),
                    unnest(sources.into_sql::<Array<BigInt>>()),
                    unnest(roles.into_sql::<Array<Text>>()),
                    unnest(amounts.into_sql::<Array<Nullable<BigInt>>>()),
                )))
                .into_columns((
                    project_funding::project_id,
                    project_funding::funding_source_id,
                    project_funding::role,
                    project_funding::amount_cents,
                ))
                .execute(c));
        }
        let rows: Vec<_> = lines
            .iter()
            .map(|line| {
                (
                    project_funding::project_id.eq(project),
                    project_funding::funding_source_id.eq(line.funding_source_id),
                    project_funding::role.eq(line.role),
                    project_funding::amount_cents.eq(line.amount_cents),
                )
            })
            .collect();
        query!(c, |c| diesel::insert_into(project_funding::table)
            .values(&rows)
            .execute(c))
    };
    was.replace(
        conn,
        async |c| {
            query!(c, |c| diesel::delete(
                project_funding::table.filter(project_funding::project_id.eq(project))
            )
            .execute(c))
        },
        add,
    )
    .await
}

/// How many projects a funding source pays for.
pub async fn count_funded_by(
    conn: &mut Conn<'_>,
    funding_source: FundingSourceId,
) -> QueryResult<i64> {
    query!(conn, |c| project_funding::table
        .filter(project_funding::funding_source_id.eq(funding_source))
        .select(project_funding::project_id)
        .distinct()
        .count()
        .get_result(c))
}

/// One project with its relation ids and funding: two statements at once (`db::both`).
pub async fn find_record(conn: &mut Conn<'_>, id: ProjectId) -> QueryResult<Option<ProjectRecord>> {
    let (row, mut funding) = db::both(
        conn,
        async |c| {
            query!(c, |c| projects::table
                .find(id)
                .select(ProjectWithIds::as_select())
                .first(c))
            .optional()
        },
        async |c| load_funding(c, &[id]).await,
    )
    .await?;
    Ok(row.map(|row| row.with_funding_of(&mut funding)))
}

/// The projects of `ids` that exist, with their relation ids and funding, in no particular
/// order: two statements at once (`db::both`).
pub async fn find_records(
    conn: &mut Conn<'_>,
    ids: &[ProjectId],
) -> QueryResult<Vec<ProjectRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (rows, mut funding) = db::both(
        conn,
        async |c| {
            query!(c, |c| projects::table
                .filter(projects::id.eq_any(ids))
                .select(ProjectWithIds::as_select())
                .load::<ProjectWithIds>(c))
        },
        async |c| load_funding(c, ids).await,
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| row.with_funding_of(&mut funding))
        .collect())
}

/// Attaches their funding lines to projects: one query, whatever the number of projects.
pub async fn with_funding(
    conn: &mut Conn<'_>,
    rows: Vec<ProjectWithIds>,
) -> QueryResult<Vec<ProjectRecord>> {
    let ids: Vec<ProjectId> = rows.iter().map(|p| p.project.id).collect();
    let mut funding = load_funding(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| row.with_funding_of(&mut funding))
        .collect())
}

pub async fn list(
    conn: &mut Conn<'_>,
    filter: &ProjectFilter,
    page: &PageRequest<ProjectSort>,
) -> Result<Page<ProjectRecord>, ListError> {
    // A macro, not a closure: each arm of `query!` builds the boxed query for its backend.
    macro_rules! filtered {
        () => {{
            let mut query = projects::table.into_boxed();
            if let Some(q) = &filter.q {
                query = query.filter(projects::name_key.like(contains_pattern(q)).escape('\\'));
            }
            if let Some(status) = &filter.status {
                query = query.filter(projects::status.eq(*status));
            }
            if let Some(region) = filter.region_id {
                query = query.filter(
                    projects::id.eq_any(
                        schema::project_regions::table
                            .filter(schema::project_regions::region_id.eq(region))
                            .select(schema::project_regions::project_id),
                    ),
                );
            }
            if let Some(topic) = filter.topic_id {
                query = query.filter(
                    projects::id.eq_any(
                        schema::project_topics::table
                            .filter(schema::project_topics::topic_id.eq(topic))
                            .select(schema::project_topics::project_id),
                    ),
                );
            }
            if let Some(source) = filter.funding_source_id {
                query = query.filter(
                    projects::id.eq_any(
                        project_funding::table
                            .filter(project_funding::funding_source_id.eq(source))
                            .select(project_funding::project_id),
                    ),
                );
            }
            if let Some(day) = filter.active_on {
                query = query
                    .filter(projects::start_sort.le(day))
                    .filter(projects::end_sort.ge(day));
            }
            if let Some(since) = filter.updated_since {
                query = query.filter(projects::updated_at.ge(since));
            }
            query
        }};
    }
    let (rows, keyset) = sorted!(conn, filtered!().select(ProjectWithIds::as_select()), page, projects::id, |r: ProjectWithIds, p = &r.project| {
        ProjectSort::Name => text(projects::name_key, p.name_key.clone()),
        ProjectSort::StartDate => day(projects::start_sort, p.start_sort),
        ProjectSort::EndDate => day(projects::end_sort, p.end_sort),
        ProjectSort::CreatedAt => time(projects::created_at, p.created_at),
        ProjectSort::UpdatedAt => time(projects::updated_at, p.updated_at),
    })?;
    let total = if page.with_total {
        Some(query!(conn, |c| filtered!().count().get_result(c))?)
    } else {
        None
    };
    let page = Page::from_rows(rows, page.limit, total, keyset);
    Ok(Page {
        items: with_funding(conn, page.items).await?,
        next: page.next,
        total: page.total,
    })
}

/// The id of the first project with this name (case-insensitively), if any.
pub async fn id_by_name(conn: &mut Conn<'_>, name: &str) -> QueryResult<Option<ProjectId>> {
    query!(conn, |c| projects::table
        .filter(projects::name_key.eq(name_key(name)))
        .order(projects::id)
        .select(projects::id)
        .first(c))
    .optional()
}

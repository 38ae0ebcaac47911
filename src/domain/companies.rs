//! Participating companies: in an existing region, with existing topics and projects, and no
//! delete while an event lists the company. Partners create companies too, and change only
//! their own organization's.

use crate::db::prelude::*;

use crate::db::schema;

use crate::db::{self, Conn};
use crate::domain::changes;
use crate::domain::relations::{IdCheck, checked_write, ensure_unreferenced};
use crate::domain::resource::{Crud, RecordMeta};
use crate::domain::values::{ChangeAction, ResourceKind};
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
#[diesel(table_name = schema::companies, treat_none_as_null = true, treat_none_as_default_value = false)]
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

fn external_id_in_use(key: Option<&str>) -> String {
    match key {
        Some(key) => format!(
            "the external_id {key:?} is already used by another company of the same organization"
        ),
        None => "an external_id is already used by another company of the same organization".into(),
    }
}

fn external_id_taken(e: diesel::result::Error, key: Option<&str>) -> DomainError {
    DomainError::unique(e, || external_id_in_use(key))
}

/// Checks that every id names an existing record; the lookups go out together (`db::all!`).
async fn check(conn: &mut Conn<'_>, new: &NewCompany) -> Result<(), DomainError> {
    let (regions, (topics, projects)) = db::all!(
        conn,
        async |c| regions::existing(c, &[new.region_id]).await,
        async |c| topics::existing(c, new.topic_ids.as_slice()).await,
        async |c| projects::existing(c, new.project_ids.as_slice()).await,
    )?;
    IdCheck::default()
        .id_among("region_id", "region", Some(new.region_id), &regions)
        .ids_among("topic_ids", "topic", new.topic_ids.as_slice(), &topics)
        .ids_among(
            "project_ids",
            "project",
            new.project_ids.as_slice(),
            &projects,
        )
        .finish()
}

/// Writes the company's topic and project links at once (`db::all!`).
async fn write_relations(
    conn: &mut Conn<'_>,
    company: Company,
    fields: CompanyFields,
    was: Owner,
) -> Result<CompanyRecord, DomainError> {
    let new = fields.company;
    let id = company.id;
    db::all!(
        conn,
        async |c| company_topics::replace(c, id, new.topic_ids.as_slice(), was).await,
        async |c| company_projects::replace(c, id, new.project_ids.as_slice(), was).await,
    )?;
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

    async fn find_many(
        conn: &mut Conn<'_>,
        ids: &[CompanyId],
    ) -> Result<Vec<CompanyRecord>, DomainError> {
        Ok(companies::find_records(conn, ids).await?)
    }

    async fn find(
        conn: &mut Conn<'_>,
        id: CompanyId,
    ) -> Result<Option<CompanyRecord>, DomainError> {
        Ok(companies::find_record(conn, id).await?)
    }

    async fn insert(
        conn: &mut Conn<'_>,
        new: NewCompany,
        by: &Actor,
    ) -> Result<CompanyRecord, DomainError> {
        let fields = CompanyFields::from(new);
        let company = checked_write(
            conn,
            async |c| check(c, &fields.company).await,
            async |c| {
                companies::insert(c, &fields, by)
                    .await
                    .map_err(|e| external_id_taken(e, fields.company.external_id.as_deref()))
            },
        )
        .await?;
        write_relations(conn, company, fields, Owner::New).await
    }

    async fn update(
        conn: &mut Conn<'_>,
        id: CompanyId,
        expected_version: Option<i64>,
        new: NewCompany,
        by: &Actor,
    ) -> Result<CompanyRecord, DomainError> {
        let fields = CompanyFields::from(new);
        let company = checked_write(
            conn,
            async |c| check(c, &fields.company).await,
            async |c| {
                companies::update(c, id, expected_version, &fields, by)
                    .await
                    .map_err(|e| {
                        DomainError::from_update(e, Self::NAME, id, |e| {
                            external_id_taken(e, fields.company.external_id.as_deref())
                        })
                    })
            },
        )
        .await?;
        write_relations(conn, company, fields, Owner::Existing).await
    }

    async fn remove(
        conn: &mut Conn<'_>,
        id: CompanyId,
        expected_version: Option<i64>,
    ) -> Result<i64, DomainError> {
        ensure_unreferenced(
            Self::NAME,
            id,
            &[(
                event_companies::count_owners(conn, id).await?,
                "event",
                "events",
            )],
        )?;
        companies::delete(conn, id, expected_version)
            .await
            .map_err(|e| DomainError::from_write(e, Self::NAME, id))
    }

    async fn query(
        conn: &mut Conn<'_>,
        filter: &CompanyFilter,
        page: &PageRequest<CompanySort>,
    ) -> Result<Page<CompanyRecord>, DomainError> {
        Ok(companies::list(conn, filter, page).await?)
    }
}

/// The companies in `by`'s scope with these external ids: its organization's, or for admins
/// and editors (no organization) the owner-less ones. A fixed number of queries.
pub async fn find_by_external_ids(
    conn: &mut Conn<'_>,
    by: &Actor,
    keys: &[&str],
) -> Result<Vec<CompanyRecord>, DomainError> {
    Ok(companies::find_by_external_ids(conn, by.org, keys).await?)
}

/// Creates many companies at once, as `resource::create` creates one: the same rules, the
/// same feed entries, in a fixed number of statements for the whole batch (the references
/// of all looked up together, one multi-row insert per table) instead of a dozen per
/// company. Returns, in the order given, each company or why it can't be created: a bad
/// reference, or an external id taken in the creator's scope — before, by a concurrent
/// writer meanwhile, or by an earlier company of the same batch. Must run inside the
/// caller's transaction.
pub async fn create_all(
    conn: &mut Conn<'_>,
    by: &Actor,
    all: Vec<NewCompany>,
) -> Result<Vec<Result<CompanyRecord, DomainError>>, DomainError> {
    Companies::may_create(by)?;
    if all.is_empty() {
        return Ok(Vec::new());
    }
    let unique = |ids: &mut Vec<i64>| {
        ids.sort_unstable();
        ids.dedup();
    };
    let mut region_ids: Vec<i64> = all.iter().map(|n| n.region_id.0).collect();
    let mut topic_ids: Vec<i64> = all
        .iter()
        .flat_map(|n| n.topic_ids.as_slice())
        .map(|t| t.0)
        .collect();
    let mut project_ids: Vec<i64> = all
        .iter()
        .flat_map(|n| n.project_ids.as_slice())
        .map(|p| p.0)
        .collect();
    unique(&mut region_ids);
    unique(&mut topic_ids);
    unique(&mut project_ids);
    let regions_found = regions::existing(
        conn,
        &region_ids.into_iter().map(RegionId).collect::<Vec<_>>(),
    )
    .await?;
    let topics_found = topics::existing(
        conn,
        &topic_ids.into_iter().map(TopicId).collect::<Vec<_>>(),
    )
    .await?;
    let projects_found = projects::existing(
        conn,
        &project_ids.into_iter().map(ProjectId).collect::<Vec<_>>(),
    )
    .await?;
    let mut outcomes: Vec<Option<Result<CompanyRecord, DomainError>>> =
        Vec::with_capacity(all.len());
    // Each valid company with its place in `outcomes`.
    let mut valid: Vec<(usize, CompanyFields)> = Vec::new();
    for new in all {
        let checked = IdCheck::default()
            .id_among("region_id", "region", Some(new.region_id), &regions_found)
            .ids_among(
                "topic_ids",
                "topic",
                new.topic_ids.as_slice(),
                &topics_found,
            )
            .ids_among(
                "project_ids",
                "project",
                new.project_ids.as_slice(),
                &projects_found,
            )
            .finish();
        match checked {
            Err(e) => outcomes.push(Some(Err(e))),
            Ok(()) => {
                valid.push((outcomes.len(), CompanyFields::from(new)));
                outcomes.push(None);
            }
        }
    }

    // A company the external id's unique index refused is missing from what came back; the
    // rest come back in the order given.
    let fields: Vec<&CompanyFields> = valid.iter().map(|(_, f)| f).collect();
    let mut inserted = companies::insert_all(conn, &fields, by)
        .await?
        .into_iter()
        .peekable();
    let mut rows = Vec::with_capacity(valid.len());
    valid.retain(|(slot, fields)| {
        let key = fields.company.external_id.as_deref();
        match inserted.next_if(|row| row.external_id.as_deref() == key) {
            Some(row) => {
                rows.push(row);
                true
            }
            None => {
                outcomes[*slot] = Some(Err(DomainError::Conflict(external_id_in_use(key))));
                false
            }
        }
    });
    let valid: Vec<CompanyFields> = valid.into_iter().map(|(_, f)| f).collect();
    let mut topics_links = Vec::new();
    let mut project_links = Vec::new();
    for (row, fields) in rows.iter().zip(&valid) {
        topics_links.extend(
            fields
                .company
                .topic_ids
                .as_slice()
                .iter()
                .map(|t| (row.id, *t)),
        );
        project_links.extend(
            fields
                .company
                .project_ids
                .as_slice()
                .iter()
                .map(|p| (row.id, *p)),
        );
    }
    company_topics::add_all(conn, &topics_links).await?;
    company_projects::add_all(conn, &project_links).await?;
    let created: Vec<(i64, ChangeAction, i64)> = rows
        .iter()
        .map(|row| (row.id.0, ChangeAction::Create, row.version))
        .collect();
    changes::record_all(conn, by, Companies::KIND, &created).await?;

    let mut records = rows
        .into_iter()
        .zip(valid)
        .map(|(company, fields)| CompanyRecord {
            company,
            topic_ids: fields.company.topic_ids.into_vec(),
            project_ids: fields.company.project_ids.into_vec(),
        });
    Ok(outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Some(failed) => failed,
            None => records
                .next()
                .ok_or_else(|| DomainError::Internal("an inserted company is missing".into())),
        })
        .collect())
}

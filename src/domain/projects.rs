//! Projects with their regions, topics and funding: the end not before the start, each
//! funding source at most once per role, every id an existing record, and no delete while
//! companies or events take part.

use chrono::NaiveDate;

use crate::db::{self, Conn};
use crate::domain::relations::{IdCheck, checked_write, ensure_unreferenced};
use crate::domain::resource::{Crud, RecordMeta};
use crate::domain::values::ProjectStatus;
use crate::domain::values::ResourceKind;
use crate::domain::{
    Actor, DomainError, FieldError, FundingSourceId, IdSet, OrganizationId, ProjectId, RegionId,
    TopicId,
};
use crate::models::Owner;
use crate::models::links::{company_projects, project_regions, project_topics};
use crate::models::page::{Page, PageRequest};
use crate::models::projects::{
    self, FundingLine, Project, ProjectFields, ProjectFilter, ProjectRecord, ProjectSort,
};
use crate::models::{events, funding_sources, organizations, regions, topics};

/// A project to write.
#[derive(Debug, Clone, PartialEq, Eq, diesel::Insertable, diesel::AsChangeset)]
#[diesel(table_name = crate::db::schema::projects, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct NewProject {
    pub name: String,
    pub description: Option<String>,
    /// The sponsoring organization (*Projektträger*).
    pub sponsor_id: Option<OrganizationId>,
    pub programme: Option<String>,
    pub status: ProjectStatus,
    pub start_date: Option<NaiveDate>,
    /// Not before `start_date`.
    pub end_date: Option<NaiveDate>,
    #[diesel(skip_insertion, skip_update)]
    pub region_ids: IdSet<RegionId>,
    #[diesel(skip_insertion, skip_update)]
    pub topic_ids: IdSet<TopicId>,
    /// Each funding source at most once per role, in the order given.
    #[diesel(skip_insertion, skip_update)]
    pub funding: Vec<FundingLine>,
}

/// The projects resource.
pub struct Projects;

/// Checks what spans fields or rows: the date order and repeated funding lines.
fn validate(new: &NewProject) -> Result<(), DomainError> {
    if let (Some(start), Some(end)) = (new.start_date, new.end_date)
        && end < start
    {
        return Err(DomainError::invalid(
            "end_date",
            "range",
            "end_date must not be before start_date",
        ));
    }
    let funding = &new.funding;
    let mut errors = Vec::new();
    for (i, line) in funding.iter().enumerate() {
        if funding[..i]
            .iter()
            .any(|f| f.funding_source_id == line.funding_source_id && f.role == line.role)
        {
            errors.push(FieldError::new(
                format!("funding[{i}]"),
                "duplicate",
                "this funding source already has this role",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }
    Ok(())
}

/// Checks that every id names an existing record; the lookups go out together (`db::all!`).
async fn check(conn: &mut Conn<'_>, new: &NewProject) -> Result<(), DomainError> {
    let source_ids: Vec<FundingSourceId> =
        new.funding.iter().map(|f| f.funding_source_id).collect();
    let (sponsors, (regions, (topics, sources))) = db::all!(
        conn,
        async |c| organizations::existing(c, new.sponsor_id.as_slice()).await,
        async |c| regions::existing(c, new.region_ids.as_slice()).await,
        async |c| topics::existing(c, new.topic_ids.as_slice()).await,
        async |c| funding_sources::existing(c, &source_ids).await,
    )?;
    IdCheck::default()
        .id_among("sponsor_id", "organization", new.sponsor_id, &sponsors)
        .ids_among("region_ids", "region", new.region_ids.as_slice(), &regions)
        .ids_among("topic_ids", "topic", new.topic_ids.as_slice(), &topics)
        .ids_among("funding", "funding source", &source_ids, &sources)
        .finish()
}

/// Stores the relation sets of a project written just now, all at once (`db::all!`).
async fn write_relations(
    conn: &mut Conn<'_>,
    project: Project,
    fields: ProjectFields,
    was: Owner,
) -> Result<ProjectRecord, DomainError> {
    let new = fields.project;
    let id = project.id;
    db::all!(
        conn,
        async |c| project_regions::replace(c, id, new.region_ids.as_slice(), was).await,
        async |c| project_topics::replace(c, id, new.topic_ids.as_slice(), was).await,
        async |c| projects::replace_funding(c, id, &new.funding, was).await,
    )?;
    Ok(ProjectRecord {
        project,
        region_ids: new.region_ids.into_vec(),
        topic_ids: new.topic_ids.into_vec(),
        funding: new.funding,
    })
}

impl Crud for Projects {
    const NAME: &'static str = "project";
    const KIND: ResourceKind = ResourceKind::Projects;
    type Id = ProjectId;
    type New = NewProject;
    type Record = ProjectRecord;
    type Filter = ProjectFilter;
    type Sort = ProjectSort;

    fn meta(record: &ProjectRecord) -> RecordMeta<ProjectId> {
        record.project.meta()
    }

    async fn find_many(
        conn: &mut Conn<'_>,
        ids: &[ProjectId],
    ) -> Result<Vec<ProjectRecord>, DomainError> {
        Ok(projects::find_records(conn, ids).await?)
    }

    async fn find(
        conn: &mut Conn<'_>,
        id: ProjectId,
    ) -> Result<Option<ProjectRecord>, DomainError> {
        Ok(projects::find_record(conn, id).await?)
    }

    async fn insert(
        conn: &mut Conn<'_>,
        new: NewProject,
        by: &Actor,
    ) -> Result<ProjectRecord, DomainError> {
        validate(&new)?;
        let fields = ProjectFields::from(new);
        let project = checked_write(
            conn,
            async |c| check(c, &fields.project).await,
            async |c| Ok(projects::insert(c, &fields, by).await?),
        )
        .await?;
        write_relations(conn, project, fields, Owner::New).await
    }

    async fn update(
        conn: &mut Conn<'_>,
        id: ProjectId,
        expected_version: Option<i64>,
        new: NewProject,
        by: &Actor,
    ) -> Result<ProjectRecord, DomainError> {
        validate(&new)?;
        let fields = ProjectFields::from(new);
        let project = checked_write(
            conn,
            async |c| check(c, &fields.project).await,
            async |c| {
                projects::update(c, id, expected_version, &fields, by)
                    .await
                    .map_err(|e| DomainError::from_write(e, Self::NAME, id))
            },
        )
        .await?;
        write_relations(conn, project, fields, Owner::Existing).await
    }

    async fn remove(
        conn: &mut Conn<'_>,
        id: ProjectId,
        expected_version: Option<i64>,
    ) -> Result<i64, DomainError> {
        ensure_unreferenced(
            Self::NAME,
            id,
            &[
                (
                    company_projects::count_owners(conn, id).await?,
                    "company",
                    "companies",
                ),
                (events::count_in_project(conn, id).await?, "event", "events"),
            ],
        )?;
        projects::delete(conn, id, expected_version)
            .await
            .map_err(|e| DomainError::from_write(e, Self::NAME, id))
    }

    async fn query(
        conn: &mut Conn<'_>,
        filter: &ProjectFilter,
        page: &PageRequest<ProjectSort>,
    ) -> Result<Page<ProjectRecord>, DomainError> {
        Ok(projects::list(conn, filter, page).await?)
    }
}

//! Projects with their regions, topics and funding: the end not before the start, each
//! funding source at most once per role, every id an existing record, and no delete while
//! companies or events take part.

use chrono::NaiveDate;

use crate::db::Conn;
use crate::domain::relations::{IdCheck, ensure_unreferenced};
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

/// Checks what spans fields or rows: the date order, repeated funding lines, and that every
/// id names an existing record.
async fn check(conn: &mut Conn<'_>, new: NewProject) -> Result<ProjectFields, DomainError> {
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
    let source_ids: Vec<FundingSourceId> = funding.iter().map(|f| f.funding_source_id).collect();
    IdCheck::default()
        .id(
            conn,
            "sponsor_id",
            "organization",
            new.sponsor_id,
            organizations::existing,
        )
        .await?
        .ids(
            conn,
            "region_ids",
            "region",
            new.region_ids.as_slice(),
            regions::existing,
        )
        .await?
        .ids(
            conn,
            "topic_ids",
            "topic",
            new.topic_ids.as_slice(),
            topics::existing,
        )
        .await?
        .ids(
            conn,
            "funding",
            "funding source",
            &source_ids,
            funding_sources::existing,
        )
        .await?
        .finish()?;
    Ok(ProjectFields::from(new))
}

/// Stores the relation sets of a project written just now.
async fn write_relations(
    conn: &mut Conn<'_>,
    project: Project,
    fields: ProjectFields,
    was: Owner,
) -> Result<ProjectRecord, DomainError> {
    let new = fields.project;
    project_regions::replace(conn, project.id, new.region_ids.as_slice(), was).await?;
    project_topics::replace(conn, project.id, new.topic_ids.as_slice(), was).await?;
    projects::replace_funding(conn, project.id, &new.funding, was).await?;
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
        let fields = check(conn, new).await?;
        let project = projects::insert(conn, &fields, by).await?;
        write_relations(conn, project, fields, Owner::New).await
    }

    async fn update(
        conn: &mut Conn<'_>,
        id: ProjectId,
        expected_version: Option<i64>,
        new: NewProject,
        by: &Actor,
    ) -> Result<ProjectRecord, DomainError> {
        let fields = check(conn, new).await?;
        let project = projects::update(conn, id, expected_version, &fields, by)
            .await
            .map_err(|e| DomainError::from_write(e, Self::NAME, id))?;
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

//! The join tables behind the id arrays of projects, companies and events, with the typed id
//! of each side (the paths are spelled out: the macro's module has its own scope).

use crate::models::join_table;

join_table!(project_regions, project_regions, projects.project_id: crate::domain::ProjectId, region_id: crate::domain::RegionId);
join_table!(project_topics, project_topics, projects.project_id: crate::domain::ProjectId, topic_id: crate::domain::TopicId);
join_table!(company_topics, company_topics, companies.company_id: crate::domain::CompanyId, topic_id: crate::domain::TopicId);
join_table!(company_projects, company_projects, companies.company_id: crate::domain::CompanyId, project_id: crate::domain::ProjectId);
join_table!(event_topics, event_topics, events.event_id: crate::domain::EventId, topic_id: crate::domain::TopicId);
join_table!(
    event_organizations,
    event_organizations,
    events.event_id: crate::domain::EventId,
    organization_id: crate::domain::OrganizationId
);
join_table!(event_companies, event_companies, events.event_id: crate::domain::EventId, company_id: crate::domain::CompanyId);

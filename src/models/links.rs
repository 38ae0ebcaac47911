//! The join tables behind the id arrays of projects, companies and events.

use crate::models::join_table;

join_table!(project_regions, project_regions, project_id, region_id);
join_table!(project_topics, project_topics, project_id, topic_id);
join_table!(company_topics, company_topics, company_id, topic_id);
join_table!(company_projects, company_projects, company_id, project_id);
join_table!(event_topics, event_topics, event_id, topic_id);
join_table!(
    event_organizations,
    event_organizations,
    event_id,
    organization_id
);
join_table!(event_companies, event_companies, event_id, company_id);

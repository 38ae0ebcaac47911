//! The funder's project report: per region of the project, how many companies took part,
//! the events by kind, the topics worked on and the first and last event; the funding per
//! source and role with totals.
//!
//! A report is a read model with no input and no rules beyond its arithmetic, so its shape
//! here is also its wire shape (`Serialize`, `ToSchema`); the HTTP layer renders it as JSON,
//! CSV or HTML. It is assembled from ten queries (`models::reports`: nine aggregates and the
//! sponsor's name), whatever the project's size.
//!
//! Rules of the arithmetic: the regions are the project's own plus any region a taking-part
//! company or an event of the project is in (so nothing is silently left out), sorted by
//! name; events without a region form a last row without one. Unknown funding amounts stay
//! unknown: a total is a number only when every amount in it is known; the sum of the known
//! ones and the count of the unknown ones are given beside it, never an unknown as 0.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::Conn;
use crate::domain::values::{EventKind, FundingKind, FundingRole, ProjectStatus};
use crate::domain::{DomainError, FundingSourceId, ProjectId, RegionId, TopicId};
use crate::models::reports;

/// The report on one project.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectReport {
    pub project: ProjectSummary,
    /// One row per region, by name; events without a region last (with `region` null).
    #[schema(max_items = 10000)]
    pub regions: Vec<RegionRow>,
    /// The sums over all rows.
    pub totals: ReportTotals,
    pub funding: FundingReport,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectSummary {
    pub id: ProjectId,
    #[schema(max_length = 300)]
    pub name: String,
    pub status: ProjectStatus,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    /// The sponsor's name (*Projektträger*).
    #[schema(max_length = 300)]
    pub sponsor: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegionRef {
    pub id: RegionId,
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 200)]
    pub district: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopicRef {
    pub id: TopicId,
    #[schema(max_length = 100)]
    pub key: String,
    #[schema(max_length = 200)]
    pub name: String,
}

/// How many events of one kind.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KindCount {
    pub kind: EventKind,
    pub count: i64,
}

/// One region of the project.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegionRow {
    /// Null for the project's events that have no region.
    pub region: Option<RegionRef>,
    /// Companies of the region taking part in the project.
    pub companies: i64,
    /// The project's events in the region.
    pub events: i64,
    /// Every event kind, in documented order, with its count (zeros included).
    #[schema(max_items = 50)]
    pub events_by_kind: Vec<KindCount>,
    /// The topics worked on: those of the region's events and taking-part companies, by name.
    #[schema(max_items = 10000)]
    pub topics: Vec<TopicRef>,
    pub first_event: Option<NaiveDate>,
    pub last_event: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportTotals {
    pub companies: i64,
    pub events: i64,
    #[schema(max_items = 50)]
    pub events_by_kind: Vec<KindCount>,
    pub first_event: Option<NaiveDate>,
    pub last_event: Option<NaiveDate>,
}

/// One source's part in the project.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FundingLineReport {
    pub funding_source_id: FundingSourceId,
    #[schema(max_length = 300)]
    pub name: String,
    pub kind: FundingKind,
    pub role: FundingRole,
    /// Null when the amount is not known.
    pub amount_cents: Option<i64>,
}

/// A sum of funding lines that keeps unknown amounts apart.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct FundingTotal {
    pub lines: i64,
    /// The sum, when every line's amount is known; else null.
    pub amount_cents: Option<i64>,
    /// The sum of the known amounts; null when none is known.
    pub known_amount_cents: Option<i64>,
    /// Lines whose amount is not known.
    pub unknown_amounts: i64,
}

impl FundingTotal {
    fn add(&mut self, amount: Option<i64>) {
        self.lines += 1;
        match amount {
            Some(cents) => {
                self.known_amount_cents = Some(self.known_amount_cents.unwrap_or(0) + cents);
            }
            None => self.unknown_amounts += 1,
        }
        self.amount_cents = (self.unknown_amounts == 0)
            .then_some(self.known_amount_cents)
            .flatten();
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FundingReport {
    /// `funding` lines first, then `co_financing`, each by source name.
    #[schema(max_items = 10000)]
    pub lines: Vec<FundingLineReport>,
    pub funding: FundingTotal,
    pub co_financing: FundingTotal,
    pub overall: FundingTotal,
}

/// Assembles the report, or `NotFound` for an unknown project.
pub async fn project_report(
    conn: &mut Conn<'_>,
    id: ProjectId,
) -> Result<ProjectReport, DomainError> {
    let head = reports::project(conn, id)
        .await?
        .ok_or_else(|| DomainError::not_found("project", id))?;
    let sponsor = match head.sponsor_id {
        Some(org) => reports::organization_name(conn, org).await?,
        None => None,
    };
    let own_regions = reports::project_regions(conn, id).await?;
    let companies = reports::companies_per_region(conn, id).await?;
    let events = reports::events_per_region(conn, id).await?;
    let mut topics_by_region: BTreeMap<Option<RegionId>, BTreeSet<TopicId>> = BTreeMap::new();
    for (region, topic) in reports::event_topics_per_region(conn, id).await? {
        topics_by_region.entry(region).or_default().insert(topic);
    }
    for (region, topic) in reports::company_topics_per_region(conn, id).await? {
        topics_by_region
            .entry(Some(region))
            .or_default()
            .insert(topic);
    }

    // Every region anything of the project is in.
    let mut region_ids: BTreeSet<RegionId> = own_regions.into_iter().collect();
    region_ids.extend(companies.iter().map(|(r, _)| *r));
    region_ids.extend(events.iter().filter_map(|e| e.0));
    let region_ids: Vec<RegionId> = region_ids.into_iter().collect();
    let all_topics: Vec<TopicId> = topics_by_region
        .values()
        .flatten()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let region_refs = reports::regions(conn, &region_ids).await?;
    let topic_refs: HashMap<TopicId, TopicRef> = reports::topics(conn, &all_topics)
        .await?
        .into_iter()
        .map(|(id, key, name)| (id, TopicRef { id, key, name }))
        .collect();
    let funding_rows = reports::funding(conn, id).await?;

    let mut rows: Vec<RegionRow> = region_refs
        .into_iter()
        .map(|(id, name, district)| RegionRow::empty(Some(RegionRef { id, name, district })))
        .collect();
    rows.sort_by(|a, b| {
        let key = |r: &RegionRow| r.region.as_ref().map(|r| r.name.to_lowercase());
        key(a).cmp(&key(b))
    });
    let mut unassigned = RegionRow::empty(None);
    let position: HashMap<RegionId, usize> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.region.as_ref().map(|region| (region.id, i)))
        .collect();

    for (region, count) in companies {
        if let Some(&i) = position.get(&region) {
            rows[i].companies += count;
        }
    }
    for (region, kind, count, first, last) in events {
        let row = match region.and_then(|r| position.get(&r)) {
            Some(&i) => &mut rows[i],
            None => &mut unassigned,
        };
        row.add_events(kind, count, first.map(|t| t.date()), last.map(|t| t.date()));
    }
    for (region, topics) in &topics_by_region {
        let row = match region.and_then(|r| position.get(&r)) {
            Some(&i) => &mut rows[i],
            None => &mut unassigned,
        };
        row.topics = topics
            .iter()
            .filter_map(|t| topic_refs.get(t).cloned())
            .collect();
        row.topics.sort_by_key(|t| t.name.to_lowercase());
    }
    if unassigned.events > 0 {
        rows.push(unassigned);
    }

    let mut totals = ReportTotals {
        companies: 0,
        events: 0,
        events_by_kind: kind_counts(),
        first_event: None,
        last_event: None,
    };
    for row in &rows {
        totals.companies += row.companies;
        totals.events += row.events;
        for (total, count) in totals.events_by_kind.iter_mut().zip(&row.events_by_kind) {
            total.count += count.count;
        }
        totals.first_event = earliest(totals.first_event, row.first_event);
        // `None` orders before any date, so the later of two optional dates is their max.
        totals.last_event = totals.last_event.max(row.last_event);
    }

    Ok(ProjectReport {
        project: ProjectSummary {
            id: head.id,
            name: head.name,
            status: head.status,
            start_date: head.start_date,
            end_date: head.end_date,
            sponsor,
        },
        regions: rows,
        totals,
        funding: funding_report(funding_rows),
    })
}

fn funding_report(rows: Vec<reports::FundingRow>) -> FundingReport {
    let mut lines: Vec<FundingLineReport> = rows
        .into_iter()
        .map(|r| FundingLineReport {
            funding_source_id: r.funding_source_id,
            name: r.name,
            kind: r.kind,
            role: r.role,
            amount_cents: r.amount_cents,
        })
        .collect();
    let rank = |role: FundingRole| FundingRole::ALL.iter().position(|r| *r == role);
    // Stable: the query's order by name stays within each role.
    lines.sort_by_key(|l| rank(l.role));
    let mut report = FundingReport {
        lines: Vec::new(),
        funding: FundingTotal::default(),
        co_financing: FundingTotal::default(),
        overall: FundingTotal::default(),
    };
    for line in &lines {
        match line.role {
            FundingRole::Funding => report.funding.add(line.amount_cents),
            FundingRole::CoFinancing => report.co_financing.add(line.amount_cents),
        }
        report.overall.add(line.amount_cents);
    }
    report.lines = lines;
    report
}

fn kind_counts() -> Vec<KindCount> {
    EventKind::ALL
        .iter()
        .map(|&kind| KindCount { kind, count: 0 })
        .collect()
}

fn earliest(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Option<NaiveDate> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl RegionRow {
    fn empty(region: Option<RegionRef>) -> Self {
        Self {
            region,
            companies: 0,
            events: 0,
            events_by_kind: kind_counts(),
            topics: Vec::new(),
            first_event: None,
            last_event: None,
        }
    }

    fn add_events(
        &mut self,
        kind: EventKind,
        count: i64,
        first: Option<NaiveDate>,
        last: Option<NaiveDate>,
    ) {
        self.events += count;
        if let Some(entry) = self.events_by_kind.iter_mut().find(|k| k.kind == kind) {
            entry.count += count;
        }
        self.first_event = earliest(self.first_event, first);
        self.last_event = self.last_event.max(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_amount_keeps_the_total_unknown_but_the_known_part_is_summed() {
        let mut total = FundingTotal::default();
        assert_eq!(total.amount_cents, None);
        total.add(Some(100));
        assert_eq!(total.amount_cents, Some(100));
        total.add(None);
        total.add(Some(50));
        assert_eq!(total.lines, 3);
        assert_eq!(total.amount_cents, None, "never counted as 0");
        assert_eq!(total.known_amount_cents, Some(150));
        assert_eq!(total.unknown_amounts, 1);
        let mut unknown = FundingTotal::default();
        unknown.add(None);
        assert_eq!(
            (unknown.amount_cents, unknown.known_amount_cents),
            (None, None)
        );
    }
}

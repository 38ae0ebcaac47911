//! `GET /api/v1/reports/projects/{id}`: the funder's report on a project (`domain::reports`)
//! as JSON, as CSV (the per-region table, either dialect) or as a printable HTML page for the
//! sponsor's staff (tables and a bar chart as inline SVG; no scripts, no external assets;
//! A4 landscape), rendered from `templates/project_report.html` by askama, which escapes
//! every value.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::api::csv::{self, Dialect, TableWriter};
use crate::api::error::ApiError;
use crate::api::negotiation::{self, CSV, HTML, REPORT};
use crate::api::paging::parse_params;
use crate::auth::Caller;
use crate::db::Db;
use crate::domain::ProjectId;
use crate::domain::reports::{self, ProjectReport, RegionRow};
use crate::domain::values::{EventKind, FundingKind, FundingRole, ProjectStatus};

/// What the report answers in when the URL says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Json,
    Csv,
    Html,
}

/// Parameters of the report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `csv` or `html` whatever `Accept` says (for plain links).
    #[param(inline)]
    pub format: Option<ReportFormat>,
    /// The CSV dialect: `rfc4180` (default) or `excel`.
    pub dialect: Option<Dialect>,
}

/// The report on a project.
#[utoipa::path(
    get, path = "/reports/projects/{id}", operation_id = "getProjectReport", tag = "reports",
    summary = "The report on a project",
    description = "Per region of the project (its own, and any region a taking-part company or an event of it is in): the companies taking part, the events by kind, the topics worked on, the first and last event; the funding per source and role with totals (unknown amounts stay null: a total is a number only when every amount in it is known). JSON by default; Accept: text/csv (or format=csv, with dialect) for the per-region table; Accept: text/html (or format=html) for a printable page with a chart. Every role may read.",
    params(
        ("id" = i64, Path, description = "The project's id", minimum = 1),
        ReportQuery,
    ),
    responses(
        (status = 200, description = "The report", content(
            (ProjectReport = "application/json"),
            (String = "text/csv"),
            (String = "text/html"),
        )),
        (status = 400, description = "A bad query parameter", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project", body = crate::api::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/reports/projects/{id}")]
pub async fn project_report(
    _caller: Caller,
    db: web::Data<Db>,
    req: HttpRequest,
    id: web::Path<ProjectId>,
) -> Result<HttpResponse, ApiError> {
    let query: ReportQuery = parse_params(req.query_string())?;
    let id = id.into_inner();
    let report = db
        .run(async move |conn| Ok::<_, ApiError>(reports::project_report(conn, id).await?))
        .await?;
    let format = query
        .format
        .unwrap_or_else(|| match negotiation::preferred(&req, REPORT) {
            CSV => ReportFormat::Csv,
            HTML => ReportFormat::Html,
            _ => ReportFormat::Json,
        });
    match format {
        ReportFormat::Json => Ok(HttpResponse::Ok().json(report)),
        ReportFormat::Csv => {
            let body = region_table(&report, query.dialect.unwrap_or_default())?;
            Ok(HttpResponse::Ok()
                .content_type(csv::CONTENT_TYPE)
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    csv::attachment(&format!("project-{id}-report")),
                ))
                .body(body))
        }
        ReportFormat::Html => {
            let page = ReportPage::new(&report)
                .render()
                .map_err(|e| ApiError::Internal(format!("rendering the report: {e}")))?;
            Ok(HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                // The page is self-contained: no scripts, styles only inline.
                .insert_header((
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                ))
                .body(page))
        }
    }
}

/// The per-region table as CSV: one row per region, a column per event kind.
fn region_table(report: &ProjectReport, dialect: Dialect) -> Result<web::Bytes, ApiError> {
    let mut columns: Vec<String> = ["region_id", "region", "district", "companies", "events"]
        .map(str::to_owned)
        .to_vec();
    columns.extend(EventKind::ALL.iter().map(|k| format!("events_{k}")));
    columns.extend(["topics", "first_event", "last_event"].map(str::to_owned));
    let mut writer = TableWriter::with_columns(columns, dialect)?;
    for row in &report.regions {
        let mut cells = Map::new();
        if let Some(region) = &row.region {
            cells.insert("region_id".into(), Value::from(region.id.0));
            cells.insert("region".into(), Value::from(region.name.as_str()));
            cells.insert("district".into(), region.district.as_deref().into());
        }
        cells.insert("companies".into(), Value::from(row.companies));
        cells.insert("events".into(), Value::from(row.events));
        for count in &row.events_by_kind {
            cells.insert(format!("events_{}", count.kind), Value::from(count.count));
        }
        let topics: Vec<&str> = row.topics.iter().map(|t| t.key.as_str()).collect();
        cells.insert("topics".into(), Value::from(topics.join("|")));
        cells.insert("first_event".into(), Value::from(day(row.first_event)));
        cells.insert("last_event".into(), Value::from(day(row.last_event)));
        writer.row(&cells)?;
    }
    writer.take()
}

fn day(date: Option<chrono::NaiveDate>) -> String {
    date.map(|d| d.to_string()).unwrap_or_default()
}

/// German dates for the printed page.
fn german_day(date: Option<chrono::NaiveDate>) -> String {
    date.map(|d| d.format("%d.%m.%Y").to_string())
        .unwrap_or_else(|| "–".into())
}

/// An amount in cents as German Euro text, `unbekannt` when not known.
fn euros(cents: Option<i64>) -> String {
    let Some(cents) = cents else {
        return "unbekannt".into();
    };
    let euros = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in euros.chars().enumerate() {
        if i > 0 && (euros.len() - i) % 3 == 0 && digit != '-' {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    format!("{grouped},{:02} €", (cents % 100).abs())
}

fn status_label(status: ProjectStatus) -> &'static str {
    match status {
        ProjectStatus::Planned => "geplant",
        ProjectStatus::Active => "laufend",
        ProjectStatus::Completed => "abgeschlossen",
        ProjectStatus::Cancelled => "abgebrochen",
    }
}

fn funder_label(kind: FundingKind) -> &'static str {
    match kind {
        FundingKind::Eu => "EU",
        FundingKind::Federal => "Bund",
        FundingKind::State => "Land",
        FundingKind::District => "Landkreis",
        FundingKind::Municipality => "Kommune",
        FundingKind::Private => "privat",
        FundingKind::Other => "sonstige",
    }
}

fn kind_label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Kickoff => "Auftakt",
        EventKind::NeedsAssessment => "Bedarfsanalyse",
        EventKind::NeighbourhoodMeeting => "Nachbarschaftstreffen",
        EventKind::CompanyWorkshop => "Unternehmenswerkstatt",
        EventKind::InformationSession => "Informationsveranstaltung",
        EventKind::ClosingEvent => "Abschlussveranstaltung",
        EventKind::Other => "Sonstige",
    }
}

/// The printed page: every value as the text it shows.
#[derive(Template)]
#[template(path = "project_report.html")]
struct ReportPage {
    title: String,
    sponsor: String,
    period: String,
    status: String,
    /// Labels of the event kinds that occur (the others would be columns of zeros).
    kinds: Vec<&'static str>,
    rows: Vec<PageRow>,
    totals: PageRow,
    funding: Vec<TextRow>,
    funding_totals: Vec<TextRow>,
    chart: Chart,
}

/// Four cells of text.
struct TextRow {
    a: String,
    b: String,
    c: String,
    d: String,
}

struct PageRow {
    name: String,
    district: String,
    companies: i64,
    events: i64,
    kinds: Vec<i64>,
    topics: String,
    first: String,
    last: String,
}

/// A horizontal bar chart of companies and events per region, as SVG geometry.
struct Chart {
    width: u32,
    height: u32,
    bars: Vec<ChartRow>,
}

struct ChartRow {
    label: String,
    /// The label's baseline and the bars' tops.
    y: u32,
    companies: i64,
    companies_width: u32,
    events: i64,
    events_width: u32,
}

const CHART_LABEL_WIDTH: u32 = 230;
const CHART_BAR_SPACE: u32 = 420;
const CHART_ROW_HEIGHT: u32 = 34;

impl ReportPage {
    fn new(report: &ProjectReport) -> Self {
        let occurring: Vec<usize> = report
            .totals
            .events_by_kind
            .iter()
            .enumerate()
            .filter(|(_, k)| k.count > 0)
            .map(|(i, _)| i)
            .collect();
        let kinds = occurring
            .iter()
            .map(|&i| kind_label(report.totals.events_by_kind[i].kind))
            .collect();
        let page_row = |row: &RegionRow| PageRow {
            name: row
                .region
                .as_ref()
                .map_or_else(|| "ohne Region".to_owned(), |r| r.name.clone()),
            district: row
                .region
                .as_ref()
                .and_then(|r| r.district.clone())
                .unwrap_or_default(),
            companies: row.companies,
            events: row.events,
            kinds: occurring
                .iter()
                .map(|&i| row.events_by_kind[i].count)
                .collect(),
            topics: row
                .topics
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            first: german_day(row.first_event),
            last: german_day(row.last_event),
        };
        let rows: Vec<PageRow> = report.regions.iter().map(page_row).collect();
        let t = &report.totals;
        let totals = PageRow {
            name: "Gesamt".into(),
            district: String::new(),
            companies: t.companies,
            events: t.events,
            kinds: occurring
                .iter()
                .map(|&i| t.events_by_kind[i].count)
                .collect(),
            topics: String::new(),
            first: german_day(t.first_event),
            last: german_day(t.last_event),
        };
        let role = |role: FundingRole| match role {
            FundingRole::Funding => "Förderung",
            FundingRole::CoFinancing => "Kofinanzierung",
        };
        let funding = report
            .funding
            .lines
            .iter()
            .map(|l| TextRow {
                a: l.name.clone(),
                b: funder_label(l.kind).to_owned(),
                c: role(l.role).to_owned(),
                d: euros(l.amount_cents),
            })
            .collect();
        let total = |label: &str, t: &reports::FundingTotal| {
            let known = match (t.amount_cents, t.known_amount_cents) {
                (Some(_), _) | (None, None) => String::new(),
                (None, Some(known)) => format!("bekannt: {}", euros(Some(known))),
            };
            TextRow {
                a: label.to_owned(),
                b: t.lines.to_string(),
                c: euros(t.amount_cents),
                d: known,
            }
        };
        let funding_totals = vec![
            total("Förderung", &report.funding.funding),
            total("Kofinanzierung", &report.funding.co_financing),
            total("Gesamt", &report.funding.overall),
        ];
        let p = &report.project;
        Self {
            title: p.name.clone(),
            sponsor: p.sponsor.clone().unwrap_or_else(|| "–".into()),
            period: format!("{} – {}", german_day(p.start_date), german_day(p.end_date)),
            status: status_label(p.status).to_owned(),
            kinds,
            chart: Chart::new(&report.regions),
            rows,
            totals,
            funding,
            funding_totals,
        }
    }
}

impl Chart {
    fn new(rows: &[RegionRow]) -> Self {
        let largest = rows
            .iter()
            .map(|r| r.companies.max(r.events))
            .max()
            .unwrap_or(0)
            .max(1);
        let scale = |n: i64| {
            u32::try_from(n * i64::from(CHART_BAR_SPACE) / largest).unwrap_or(CHART_BAR_SPACE)
        };
        let bars: Vec<ChartRow> = rows
            .iter()
            .zip(0u32..)
            .map(|(row, i)| ChartRow {
                label: row
                    .region
                    .as_ref()
                    .map_or_else(|| "ohne Region".to_owned(), |r| r.name.clone()),
                y: 30 + i * CHART_ROW_HEIGHT,
                companies: row.companies,
                companies_width: scale(row.companies),
                events: row.events,
                events_width: scale(row.events),
            })
            .collect();
        let count = u32::try_from(bars.len()).unwrap_or(0);
        Self {
            width: CHART_LABEL_WIDTH + CHART_BAR_SPACE + 60,
            height: 40 + count * CHART_ROW_HEIGHT,
            bars,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_german_euros() {
        assert_eq!(euros(Some(123_456_789)), "1.234.567,89 €");
        assert_eq!(euros(Some(5)), "0,05 €");
        assert_eq!(euros(Some(100_000)), "1.000,00 €");
        assert_eq!(euros(None), "unbekannt");
    }
}

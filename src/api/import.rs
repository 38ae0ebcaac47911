//! `POST /api/v1/companies/import`: a chamber's CSV of companies, created or matched and
//! updated, all or nothing.
//!
//! - The file is the export's format (`api::csv`): columns by name in any order, either
//!   dialect; `version`, `created_at` and `updated_at` are ignored, so an export imports as it
//!   is. It is read row by row; the writes go through the domain like single requests
//!   (`resource::create`/`replace`: the same rules, permissions and change-feed entries).
//! - `mode=create` creates every row (`id` ignored). `mode=upsert` updates the company a row
//!   names by `id`, else the one in the caller's scope with the row's `external_id`, else
//!   creates one. Only the columns present are written. A row equal to the stored company is
//!   *unchanged*: no write, no version, no feed entry, no permission needed.
//! - One transaction: a real run with any bad row writes nothing and answers 422 with the
//!   report; `dry_run=true` always writes nothing and answers 200 with the report. An
//!   updated row writes in a savepoint of its own, new companies are created a chunk at a
//!   time (`domain::companies::create_all`, which leaves out those whose external id is
//!   taken): a row the database refuses is reported and the rows after it are still checked.
//! - A file naming the same company twice (the same `id` or `external_id` on two lines) is
//!   ambiguous: the second line is an error.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, post, web};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::api::Limits;
use crate::api::body::merge_patch;
use crate::api::companies::{CompanyInput, CompanyView};
use crate::api::csv::{self, CellKind, Dialect, Row, TableReader};
use crate::api::error::ApiError;
use crate::api::idempotency::{Answer, IdempotencyKey};
use crate::api::paging::parse_params;
use crate::auth::Caller;
use crate::db::{self, Conn, Db, with_large_write_cache};
use crate::domain::companies::{self as domain, Companies, NewCompany};
use crate::domain::resource::{self, Crud as _};
use crate::domain::{Actor, CompanyId};
use crate::models::companies::CompanyRecord;

/// Rows read and looked up together: as many as one insert of new companies takes.
const CHUNK: usize = crate::models::companies::INSERT_BATCH;
/// Up to this many rows the report lists every row; beyond, only the failed ones.
pub const FULL_REPORT_ROWS: usize = 10_000;
/// Columns an import reads past: the export has them, they are not writable.
const IGNORED: &[&str] = &["version", "created_at", "updated_at"];

/// A CSV file, as the OpenAPI document describes a file to upload.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct CsvFile(pub String);

/// How rows become companies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImportMode {
    /// Every row is a new company (`id` ignored).
    #[default]
    Create,
    /// A row updates the company its `id` names, else the one with its `external_id` in the
    /// caller's scope, else it creates one.
    Upsert,
}

/// Parameters of an import.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `create` (default) or `upsert`.
    pub mode: Option<ImportMode>,
    /// Check every row, write nothing, answer 200 with the report.
    #[param(default = false)]
    pub dry_run: Option<bool>,
}

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RowOutcome {
    Created,
    Updated,
    Unchanged,
    Failed,
}

/// A problem with one cell (or, without `column`, with the whole row).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CellError {
    /// The physical line where the row starts (the header is line 1).
    pub line: u64,
    /// The column, by its header name; null for the row as a whole.
    #[schema(max_length = 200)]
    pub column: Option<String>,
    /// A stable code: `required`, `type`, `length`, `not_found`, `duplicate`, `taken`,
    /// `forbidden`, `cells`, …
    #[schema(max_length = 100)]
    pub code: String,
    #[schema(max_length = 500)]
    pub message: String,
}

/// One row of the report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowResult {
    /// The physical line where the row starts (the header is line 1; a quoted field may span
    /// several lines).
    pub line: u64,
    pub outcome: RowOutcome,
    /// The company's id; null for a row that created nothing (failed, or created in a run
    /// that wrote nothing).
    pub id: Option<i64>,
    #[schema(max_items = 100)]
    pub errors: Vec<CellError>,
}

/// What an import did (or, in a dry run or a rejected run, would have done).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    pub mode: ImportMode,
    pub dry_run: bool,
    /// The dialect the file was read in (recognised from its BOM and header line).
    pub dialect: Dialect,
    /// Whether anything was written: false for a dry run and a rejected run.
    pub written: bool,
    /// Data rows in the file.
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
    /// True when the file has more than 10 000 rows: `results` then lists only the failed
    /// rows, so the report stays small.
    pub failed_rows_only: bool,
    /// Per row, in file order; beyond 10 000 rows only the failed ones, and at most 10 000
    /// of those (the counts above stay exact).
    #[schema(max_items = 10000)]
    pub results: Vec<RowResult>,
}

impl ImportReport {
    fn new(mode: ImportMode, dry_run: bool, dialect: Dialect) -> Self {
        Self {
            mode,
            dry_run,
            dialect,
            written: false,
            rows: 0,
            created: 0,
            updated: 0,
            unchanged: 0,
            failed: 0,
            failed_rows_only: false,
            results: Vec::new(),
        }
    }

    fn add(&mut self, result: RowResult) {
        self.rows += 1;
        match result.outcome {
            RowOutcome::Created => self.created += 1,
            RowOutcome::Updated => self.updated += 1,
            RowOutcome::Unchanged => self.unchanged += 1,
            RowOutcome::Failed => self.failed += 1,
        }
        if self.rows > FULL_REPORT_ROWS as u64 && !self.failed_rows_only {
            self.failed_rows_only = true;
            self.results.retain(|r| r.outcome == RowOutcome::Failed);
        }
        let listed = !self.failed_rows_only || result.outcome == RowOutcome::Failed;
        if listed && self.results.len() < FULL_REPORT_ROWS {
            self.results.push(result);
        }
    }

    /// Nothing was written: the ids of created rows name nothing.
    fn rolled_back(mut self) -> Self {
        self.written = false;
        for result in &mut self.results {
            if result.outcome == RowOutcome::Created {
                result.id = None;
            }
        }
        self
    }

    /// The 422's detail: how many rows failed, and the first lines.
    pub fn summary(&self) -> String {
        let lines: Vec<String> = self
            .results
            .iter()
            .filter(|r| r.outcome == RowOutcome::Failed)
            .take(10)
            .map(|r| r.line.to_string())
            .collect();
        let more = if self.failed > 10 { ", …" } else { "" };
        format!(
            "{} of {} rows are invalid (line {}{more}); nothing was imported",
            self.failed,
            self.rows,
            lines.join(", ")
        )
    }
}

/// Import companies from CSV.
#[utoipa::path(
    post, path = "/companies/import", operation_id = "importCompanies", tag = "companies",
    summary = "Import companies from CSV",
    description = "Reads a CSV file in the export's format (either dialect, recognised by itself; columns by name in any order; version, created_at and updated_at ignored; an empty cell is null; ids separated by |). mode=create creates every row; mode=upsert updates the company named by id, else the one with the row's external_id in the caller's scope (its organization's, or for admins and editors the owner-less ones), else creates one; only the columns present are written, and a row equal to the stored company is unchanged (no write, no version, no feed entry). All or nothing: any bad row answers 422 with the report and writes nothing; dry_run=true checks everything and writes nothing. Roles as for creating companies. With an Idempotency-Key (not for dry runs), a repeat replays the first answer.",
    params(ImportQuery, crate::api::idempotency::IdempotencyKeyParam),
    request_body(description = "The CSV file, UTF-8 (a BOM is allowed), at most IMPORT_LIMIT_BYTES (default 50 MiB); as text/csv, or as application/octet-stream as generated clients send files.", content(
        (CsvFile = "text/csv"),
        (CsvFile = "application/octet-stream"),
    )),
    responses(
        (status = 200, description = "Imported (or checked, in a dry run): the report", body = ImportReport, headers(
            ("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same Idempotency-Key"),
        )),
        (status = 400, description = "A bad query parameter or Idempotency-Key", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not create companies", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is larger than IMPORT_LIMIT_BYTES", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not text/csv", body = crate::api::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Nothing was imported: the file is not UTF-8 or has an unknown column (errors[] names it), or rows are invalid (report lists them)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/companies/import")]
pub async fn import_companies(
    caller: Caller,
    db: web::Data<Db>,
    limits: web::Data<Limits>,
    req: HttpRequest,
    key: IdempotencyKey,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let by = caller.actor();
    Companies::may_create(&by)?;
    let query: ImportQuery = parse_params(req.query_string())?;
    let (mode, dry_run) = (
        query.mode.unwrap_or_default(),
        query.dry_run.unwrap_or(false),
    );
    // A file upload: `text/csv`, or the generic `application/octet-stream` that generated
    // clients (and `curl -T`) send for files.
    let media = req.mime_type().ok().flatten();
    if !media.is_some_and(|m| matches!(m.essence_str(), "text/csv" | "application/octet-stream")) {
        return Err(ApiError::UnsupportedMediaType(
            "send the file as text/csv (or application/octet-stream)".into(),
        ));
    }
    let body = read_body(&req, payload, limits.import).await?;
    // A dry run writes nothing, so there is no answer to keep for a repeat.
    let key = if dry_run {
        IdempotencyKey::default()
    } else {
        key
    };
    let once = key.of_bytes(&caller, &body);
    let mut columns = vec![("id".to_owned(), CellKind::Integer)];
    columns.extend(csv::input_columns::<CompanyInput>());
    // A large file takes longer than any other request: one more second per 256 KiB (100 000
    // rows, 6.4 MB: 25 s more; the import itself takes 3–8 s, BENCHMARKS.md).
    let extra = std::time::Duration::from_secs((body.len() / (256 * 1024)) as u64);
    let reader = TableReader::open(body, &columns, IGNORED)?;
    let answer = db
        .with_deadline(db.deadline() + extra)
        .write(async move |conn| {
            {
                once.run(conn, async |conn| {
                    let report = import(conn, &by, reader, mode, dry_run).await?;
                    let body = serde_json::to_string(&report)
                        .map_err(|e| ApiError::Internal(e.to_string()))?;
                    Ok(Answer::ok(body))
                })
            }
            .await
        })
        .await?;
    Ok(answer.into_response())
}

/// The whole body, refused with 413 as soon as it is larger than `limit`.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(64 * 1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("unreadable body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Why the import's transaction ends without committing.
enum Stop {
    /// Nothing is to be written (a dry run, or a bad row): the report says why.
    Rollback,
    Failed(ApiError),
}

impl From<diesel::result::Error> for Stop {
    fn from(e: diesel::result::Error) -> Self {
        Self::Failed(e.into())
    }
}

impl From<ApiError> for Stop {
    fn from(e: ApiError) -> Self {
        Self::Failed(e)
    }
}

async fn import(
    conn: &mut Conn<'_>,
    by: &Actor,
    mut reader: TableReader,
    mode: ImportMode,
    dry_run: bool,
) -> Result<ImportReport, ApiError> {
    let mut report = ImportReport::new(mode, dry_run, reader.dialect());
    let outcome = with_large_write_cache(conn, async |conn| {
        db::transaction(conn, async |conn| -> Result<(), Stop> {
            let mut seen = Seen::default();
            let mut chunk = Vec::with_capacity(CHUNK);
            loop {
                let row = reader.next_row()?;
                let end = row.is_none();
                chunk.extend(row);
                if chunk.len() == CHUNK || (end && !chunk.is_empty()) {
                    let known = Known::look_up(conn, by, mode, &chunk).await?;
                    for result in apply_chunk(conn, by, mode, &mut chunk, &known, &mut seen).await?
                    {
                        report.add(result);
                    }
                }
                if end {
                    break;
                }
            }
            if dry_run || report.failed > 0 {
                return Err(Stop::Rollback);
            }
            Ok(())
        })
        .await
    })
    .await;
    match outcome {
        Ok(()) => {
            report.written = true;
            Ok(report)
        }
        Err(Stop::Rollback) if dry_run => Ok(report.rolled_back()),
        Err(Stop::Rollback) => Err(ApiError::ImportRejected(Box::new(report.rolled_back()))),
        Err(Stop::Failed(e)) => Err(e),
    }
}

/// The ids and external ids earlier lines named, with their line.
#[derive(Default)]
struct Seen {
    ids: HashMap<i64, u64>,
    keys: HashMap<String, u64>,
}

/// The stored companies a chunk of an upsert names.
#[derive(Default)]
struct Known {
    by_id: HashMap<i64, CompanyRecord>,
    by_key: HashMap<String, CompanyRecord>,
}

impl Known {
    /// Two lookups for a whole chunk: by id, and by external id in the caller's scope.
    async fn look_up(
        conn: &mut Conn<'_>,
        by: &Actor,
        mode: ImportMode,
        rows: &[Row],
    ) -> Result<Self, ApiError> {
        if mode == ImportMode::Create {
            return Ok(Self::default());
        }
        // The import itself may have grown the table tenfold since the statistics were taken.
        crate::db::refresh_statistics(conn)?;
        let ids: Vec<CompanyId> = rows
            .iter()
            .filter_map(|r| r.fields.get("id").and_then(Value::as_i64))
            .map(CompanyId)
            .collect();
        let keys: Vec<&str> = rows
            .iter()
            .filter(|r| r.fields.get("id").is_none_or(Value::is_null))
            .filter_map(|r| r.fields.get("external_id").and_then(Value::as_str))
            .collect();
        let by_id = resource::find_many::<Companies>(conn, &ids)
            .await?
            .into_iter()
            .map(|r| (r.company.id.0, r))
            .collect();
        let by_key = domain::find_by_external_ids(conn, by, &keys)
            .await?
            .into_iter()
            .filter_map(|r| r.company.external_id.clone().map(|key| (key, r)))
            .collect();
        Ok(Self { by_id, by_key })
    }
}

/// What a row comes to before the chunk's new companies are created together.
enum Applied {
    Done(RowResult),
    /// A new company, valid as far as its own fields go.
    Create(u64, Box<NewCompany>),
}

/// Writes a chunk's rows: updates one by one (each in a savepoint of its own), then the new
/// companies together (`domain::companies::create_all`: a fixed number of statements for
/// the chunk). Returns the rows' results in file order.
async fn apply_chunk(
    conn: &mut Conn<'_>,
    by: &Actor,
    mode: ImportMode,
    chunk: &mut Vec<Row>,
    known: &Known,
    seen: &mut Seen,
) -> Result<Vec<RowResult>, ApiError> {
    let mut results: Vec<Option<RowResult>> = Vec::with_capacity(chunk.len());
    let mut creates = Vec::new();
    for row in chunk.drain(..) {
        match apply(conn, by, mode, row, known, seen).await? {
            Applied::Done(result) => results.push(Some(result)),
            Applied::Create(line, new) => {
                creates.push((results.len(), line, *new));
                results.push(None);
            }
        }
    }
    let (slots, news): (Vec<(usize, u64)>, Vec<NewCompany>) = creates
        .into_iter()
        .map(|(slot, line, new)| ((slot, line), new))
        .unzip();
    let outcomes = domain::create_all(conn, by, news).await?;
    for ((slot, line), outcome) in slots.into_iter().zip(outcomes) {
        results[slot] = Some(match outcome {
            Ok(record) => RowResult {
                line,
                outcome: RowOutcome::Created,
                id: Some(record.company.id.0),
                errors: Vec::new(),
            },
            Err(e) => RowResult {
                line,
                outcome: RowOutcome::Failed,
                id: None,
                errors: row_errors(line, e.into())?,
            },
        });
    }
    Ok(results.into_iter().flatten().collect())
}

/// Settles one row: a problem with it is its report entry; an update is written (in a
/// savepoint of its own); a new company is handed back to be created with the chunk's
/// others. Only a failure of the service (the database gone) ends the import.
async fn apply(
    conn: &mut Conn<'_>,
    by: &Actor,
    mode: ImportMode,
    row: Row,
    known: &Known,
    seen: &mut Seen,
) -> Result<Applied, ApiError> {
    let line = row.line;
    let failed = |errors: Vec<CellError>| RowResult {
        line,
        outcome: RowOutcome::Failed,
        id: None,
        errors,
    };
    if !row.errors.is_empty() {
        let errors = row
            .errors
            .into_iter()
            .map(|e| cell_error(line, e))
            .collect();
        return Ok(Applied::Done(failed(errors)));
    }
    let mut fields = row.fields;
    let id = fields.remove("id").and_then(|id| id.as_i64());
    if let Some(error) = seen.repeated(line, mode, id, &fields) {
        return Ok(Applied::Done(failed(vec![error])));
    }
    let target = match (mode, id) {
        (ImportMode::Create, _) => None,
        (ImportMode::Upsert, Some(id)) => match known.by_id.get(&id) {
            Some(record) => Some(record),
            None => {
                let message = format!("company {id} does not exist");
                let errors = vec![error(line, Some("id"), "not_found", message)];
                return Ok(Applied::Done(failed(errors)));
            }
        },
        (ImportMode::Upsert, None) => fields
            .get("external_id")
            .and_then(Value::as_str)
            .and_then(|key| known.by_key.get(key)),
    };
    let Some(record) = target else {
        return match parse_new(fields) {
            Ok(new) => Ok(Applied::Create(line, Box::new(new))),
            Err(e) => Ok(Applied::Done(failed(row_errors(line, e)?))),
        };
    };
    let id = record.company.id.0;
    Ok(Applied::Done(
        match update(conn, by, record, fields).await {
            Ok(outcome) => RowResult {
                line,
                outcome,
                id: Some(id),
                errors: Vec::new(),
            },
            Err(e) => failed(row_errors(line, e)?),
        },
    ))
}

impl Seen {
    /// The error for a row naming a company an earlier line named, and notes this one.
    fn repeated(
        &mut self,
        line: u64,
        mode: ImportMode,
        id: Option<i64>,
        fields: &Map<String, Value>,
    ) -> Option<CellError> {
        if let (ImportMode::Upsert, Some(id)) = (mode, id)
            && let Some(earlier) = self.ids.insert(id, line)
        {
            let message = format!("company {id} is also on line {earlier}");
            return Some(error(line, Some("id"), "duplicate", message));
        }
        let key = fields.get("external_id").and_then(Value::as_str)?;
        if let Some(earlier) = self.keys.insert(key.to_owned(), line) {
            let message = format!("the external_id {key:?} is also on line {earlier}");
            return Some(error(line, Some("external_id"), "duplicate", message));
        }
        None
    }
}

/// A new company's row as the domain's input.
fn parse_new(fields: Map<String, Value>) -> Result<NewCompany, ApiError> {
    let input: CompanyInput = crate::api::body::parse(Value::Object(fields))?;
    Ok(input.try_into()?)
}

async fn update(
    conn: &mut Conn<'_>,
    by: &Actor,
    record: &CompanyRecord,
    fields: Map<String, Value>,
) -> Result<RowOutcome, ApiError> {
    let view = CompanyView::from(record.clone());
    let current: NewCompany =
        merge_patch::<CompanyInput>(&view, Value::Object(Map::new()))?.try_into()?;
    let new: NewCompany = merge_patch::<CompanyInput>(&view, Value::Object(fields))?.try_into()?;
    if new == current {
        return Ok(RowOutcome::Unchanged);
    }
    let meta = Companies::meta(record);
    resource::replace::<Companies, ApiError>(conn, by, meta.id, Some(meta.version), || Ok(new))
        .await?;
    Ok(RowOutcome::Updated)
}

fn error(line: u64, column: Option<&str>, code: &str, message: String) -> CellError {
    CellError {
        line,
        column: column.map(str::to_owned),
        code: code.to_owned(),
        message,
    }
}

fn cell_error(line: u64, e: crate::domain::FieldError) -> CellError {
    // `topic_ids[2]` is a problem of the column `topic_ids`.
    let column = e.field.split(['[', '.']).next().unwrap_or_default();
    let column = (!column.is_empty()).then_some(column);
    error(line, column, &e.code, e.message)
}

/// A refused row's errors; a failure of the service itself ends the import.
fn row_errors(line: u64, e: ApiError) -> Result<Vec<CellError>, ApiError> {
    Ok(match e {
        ApiError::Validation(errors) => errors.into_iter().map(|e| cell_error(line, e)).collect(),
        // A company's one unique value is its external_id.
        ApiError::Conflict(message) if message.contains("external_id") => {
            vec![error(line, Some("external_id"), "taken", message)]
        }
        ApiError::Conflict(message) | ApiError::PreconditionFailed(message) => {
            vec![error(line, None, "conflict", message)]
        }
        ApiError::Forbidden(message) => vec![error(line, None, "forbidden", message)],
        ApiError::NotFound(message) => vec![error(line, Some("id"), "not_found", message)],
        other => return Err(other),
    })
}

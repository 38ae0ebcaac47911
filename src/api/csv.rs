//! CSV, for the people and systems that live in spreadsheets: the lists and the project
//! report write it, the companies import reads it back.
//!
//! - **Columns** are the view's fields, by name, in the order the OpenAPI document lists them
//!   (taken from the view's schema, so there is no second list to keep in step).
//! - **Cells**: text as is, numbers in JSON notation, `true`/`false`, an empty cell for null;
//!   an array of ids in one cell, separated by `|` (`3|7|12`); any other array or object (a
//!   project's funding lines) as compact JSON.
//! - **Dialects**: `rfc4180` (the default, for machines): `,`, CRLF, UTF-8 without BOM.
//!   `excel` (for people; what German Excel opens correctly by double-click): a UTF-8 BOM, `;`,
//!   and a text cell that begins with `=`, `+`, `-`, `@`, tab or CR — or with `'` — gets a `'`
//!   in front, so a spreadsheet shows it as text instead of running it as a formula (OWASP
//!   "CSV Injection"). Numbers are never altered. Reading the excel dialect removes that one
//!   `'` again, so an export imports back to what was stored.
//! - **Reading** (`TableReader`) recognises the dialect by itself: a BOM or a header line
//!   separated by `;` is the excel dialect, else RFC 4180. Columns are matched by name (any
//!   order). An empty cell is null; ids may be separated by `|`, `,`, `;` or spaces.

use actix_web::web::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa::openapi::schema::{SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};

use crate::api::error::ApiError;
use crate::domain::FieldError;

/// The media type of every CSV answer.
pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8; header=present";
/// Between the ids of a relation in one cell.
pub const ID_SEPARATOR: char = '|';
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How a CSV file is written: for machines or for spreadsheets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// RFC 4180: `,`, CRLF, UTF-8 without BOM.
    #[default]
    Rfc4180,
    /// For Excel: UTF-8 BOM, `;`, formula-like text cells prefixed with `'`.
    Excel,
}

impl Dialect {
    pub fn delimiter(self) -> u8 {
        match self {
            Self::Rfc4180 => b',',
            Self::Excel => b';',
        }
    }
}

/// Whether a text cell must be protected from being read as a formula (and, on the way in,
/// whether a leading `'` was such a protection).
fn looks_like_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r', '\''])
}

/// A text cell as it was before the excel dialect protected it.
pub fn unprotect(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if looks_like_formula(rest) => rest,
        _ => cell,
    }
}

/// The property names of a schema, in their documented order.
pub fn columns<V: ToSchema>() -> Vec<String> {
    match V::schema() {
        RefOr::T(Schema::Object(object)) => object.properties.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Writes rows of one view into a buffer that the caller takes out batch by batch, so a
/// streamed export holds one batch at a time.
pub struct TableWriter {
    columns: Vec<String>,
    dialect: Dialect,
    writer: ::csv::Writer<Vec<u8>>,
    cells: Vec<String>,
}

impl TableWriter {
    /// A writer that has written the BOM (excel) and the header row of `V`'s columns.
    pub fn new<V: ToSchema>(dialect: Dialect) -> Result<Self, ApiError> {
        Self::with_columns(columns::<V>(), dialect)
    }

    pub fn with_columns(columns: Vec<String>, dialect: Dialect) -> Result<Self, ApiError> {
        let mut buffer = Vec::with_capacity(64 * 1024);
        if dialect == Dialect::Excel {
            buffer.extend_from_slice(BOM);
        }
        let mut writer = Self::writer(dialect, buffer);
        writer.write_record(&columns).map_err(internal)?;
        Ok(Self {
            cells: Vec::with_capacity(columns.len()),
            columns,
            dialect,
            writer,
        })
    }

    fn writer(dialect: Dialect, buffer: Vec<u8>) -> ::csv::Writer<Vec<u8>> {
        ::csv::WriterBuilder::new()
            .delimiter(dialect.delimiter())
            .terminator(::csv::Terminator::CRLF)
            .from_writer(buffer)
    }

    /// Writes one record: its fields by column name, a missing one as an empty cell.
    pub fn row(&mut self, record: &impl Serialize) -> Result<(), ApiError> {
        let Value::Object(fields) = serde_json::to_value(record).map_err(internal)? else {
            return Err(ApiError::Internal("a CSV row must be an object".into()));
        };
        self.cells.clear();
        for column in &self.columns {
            let cell = fields
                .get(column)
                .map_or_else(String::new, |v| self.cell(v));
            self.cells.push(cell);
        }
        self.writer.write_record(&self.cells).map_err(internal)
    }

    fn cell(&self, value: &Value) -> String {
        match value {
            Value::Null => String::new(),
            Value::String(text) if self.dialect == Dialect::Excel && looks_like_formula(text) => {
                format!("'{text}")
            }
            Value::String(text) => text.clone(),
            Value::Array(items) if items.iter().all(Value::is_i64) => {
                let mut cell = String::new();
                for (i, id) in items.iter().enumerate() {
                    if i > 0 {
                        cell.push(ID_SEPARATOR);
                    }
                    cell.push_str(&id.to_string());
                }
                cell
            }
            // Numbers, booleans, and structured values as JSON.
            other => other.to_string(),
        }
    }

    /// What has been written since the last call.
    pub fn take(&mut self) -> Result<Bytes, ApiError> {
        let fresh = Self::writer(self.dialect, Vec::with_capacity(64 * 1024));
        let written = std::mem::replace(&mut self.writer, fresh)
            .into_inner()
            .map_err(internal)?;
        Ok(Bytes::from(written))
    }
}

/// What a column of an input holds, as its schema says: a cell is read accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    Text,
    Integer,
    /// An array of ids.
    Ids,
}

/// The writable columns of an input type with what each holds, in documented order.
pub fn input_columns<I: ToSchema>() -> Vec<(String, CellKind)> {
    let RefOr::T(Schema::Object(object)) = I::schema() else {
        return Vec::new();
    };
    let kind = |schema: &RefOr<Schema>| match schema {
        RefOr::T(Schema::Array(_)) => CellKind::Ids,
        RefOr::T(Schema::Object(o)) => {
            let integer = match &o.schema_type {
                SchemaType::Type(t) => *t == Type::Integer,
                SchemaType::Array(ts) => ts.contains(&Type::Integer),
                SchemaType::AnyValue => false,
            };
            if integer {
                CellKind::Integer
            } else {
                CellKind::Text
            }
        }
        _ => CellKind::Text,
    };
    object
        .properties
        .iter()
        .map(|(name, schema)| (name.clone(), kind(schema)))
        .collect()
}

/// A column of a file being read.
#[derive(Debug)]
struct Column {
    name: String,
    /// `None`: read but ignored (`version`, `created_at`, `updated_at`).
    kind: Option<CellKind>,
}

/// One record of a file: its fields by column (present columns only; an empty cell is null)
/// and the cells that could not be read.
#[derive(Debug)]
pub struct Row {
    /// The physical line where the record starts (the header is line 1).
    pub line: u64,
    pub fields: Map<String, Value>,
    pub errors: Vec<FieldError>,
}

/// Reads the records of a CSV file, in either dialect.
pub struct TableReader {
    reader: ::csv::Reader<std::io::Cursor<Bytes>>,
    columns: Vec<Column>,
    dialect: Dialect,
    record: ::csv::StringRecord,
    /// Line breaks counted so far: `lines` in the body up to byte `counted_to`.
    counted_to: usize,
    lines: u64,
}

impl TableReader {
    /// Opens `body`: checks it is UTF-8, recognises the dialect and reads the header.
    /// `columns` are the readable ones with their kinds, `ignored` those that are accepted
    /// and skipped; any other column name is a 422 naming it.
    pub fn open(
        body: Bytes,
        columns: &[(String, CellKind)],
        ignored: &[&str],
    ) -> Result<Self, ApiError> {
        if let Err(e) = std::str::from_utf8(&body) {
            let valid = &body[..e.valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(ApiError::invalid(
                "body",
                "encoding",
                format!("the file is not UTF-8 (line {line}); save it as CSV UTF-8"),
            ));
        }
        let bom = body.starts_with(BOM);
        let body = if bom { body.slice(BOM.len()..) } else { body };
        let first_line = body.split(|&b| b == b'\n').next().unwrap_or_default();
        let semicolons = first_line.contains(&b';') && !first_line.contains(&b',');
        let dialect = if bom || semicolons {
            Dialect::Excel
        } else {
            Dialect::Rfc4180
        };
        let delimiter = if semicolons { b';' } else { b',' };
        let mut reader = ::csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(std::io::Cursor::new(body));
        let mut header = ::csv::StringRecord::new();
        let has_header = reader
            .read_record(&mut header)
            .map_err(|e| ApiError::invalid("body", "csv", format!("unreadable CSV: {e}")))?;
        if !has_header || header.iter().all(|name| name.trim().is_empty()) {
            return Err(ApiError::invalid(
                "body",
                "header",
                "the file has no header line naming its columns",
            ));
        }
        let mut read = Vec::with_capacity(header.len());
        for name in header.iter().map(str::trim) {
            let kind = if let Some((_, kind)) = columns.iter().find(|(n, _)| n == name) {
                Some(*kind)
            } else if ignored.contains(&name) {
                None
            } else {
                let known: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
                return Err(ApiError::invalid(
                    name,
                    "unknown_column",
                    format!(
                        "the file has a column {name:?}, which this import does not know; its \
                         columns are {} (and {}, which are ignored)",
                        known.join(", "),
                        ignored.join(", ")
                    ),
                ));
            };
            if read.iter().any(|c: &Column| c.name == name) {
                return Err(ApiError::invalid(
                    name,
                    "duplicate_column",
                    format!("the file has the column {name:?} twice"),
                ));
            }
            read.push(Column {
                name: name.to_owned(),
                kind,
            });
        }
        Ok(Self {
            reader,
            columns: read,
            dialect,
            record: ::csv::StringRecord::new(),
            counted_to: 0,
            lines: 0,
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The physical line of the record that starts at `offset`. The csv crate's own line
    /// numbers lag by one after a CRLF (its record position points at the `\n`), so they are
    /// counted here: line breaks before the record's first byte, plus one.
    fn line_at(&mut self, offset: u64) -> u64 {
        let body: &[u8] = self.reader.get_ref().get_ref();
        let mut start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(body.len());
        while body.get(start).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
            start += 1;
        }
        if start > self.counted_to {
            let between = &body[self.counted_to..start];
            self.lines += between.iter().filter(|&&b| b == b'\n').count() as u64;
            self.counted_to = start;
        }
        self.lines + 1
    }

    /// The next record, `None` at the end.
    pub fn next_row(&mut self) -> Result<Option<Row>, ApiError> {
        let more = self
            .reader
            .read_record(&mut self.record)
            .map_err(|e| ApiError::invalid("body", "csv", format!("unreadable CSV: {e}")))?;
        if !more {
            return Ok(None);
        }
        let line = self.line_at(self.record.position().map_or(0, ::csv::Position::byte));
        let mut row = Row {
            line,
            fields: Map::new(),
            errors: Vec::new(),
        };
        if self.record.len() != self.columns.len() {
            row.errors.push(FieldError::new(
                "",
                "cells",
                format!(
                    "the row has {} cells, the header {}",
                    self.record.len(),
                    self.columns.len()
                ),
            ));
            return Ok(Some(row));
        }
        for (column, cell) in self.columns.iter().zip(self.record.iter()) {
            let Some(kind) = column.kind else { continue };
            if cell.contains('\0') {
                row.errors.push(crate::api::body::nul_error(&column.name));
                continue;
            }
            match read_cell(cell, kind, self.dialect) {
                Ok(value) => {
                    row.fields.insert(column.name.clone(), value);
                }
                Err(message) => row.errors.push(FieldError::new(
                    column.name.as_str(),
                    "type",
                    format!("{} {message}, not {cell:?}", column.name),
                )),
            }
        }
        Ok(Some(row))
    }
}

/// A cell as the JSON value its column takes.
fn read_cell(cell: &str, kind: CellKind, dialect: Dialect) -> Result<Value, &'static str> {
    if cell.is_empty() {
        return Ok(Value::Null);
    }
    match kind {
        CellKind::Text if dialect == Dialect::Excel => Ok(Value::from(unprotect(cell))),
        CellKind::Text => Ok(Value::from(cell)),
        CellKind::Integer => integer(cell.trim()).map(Value::from),
        CellKind::Ids => cell
            .split(|c: char| c == ID_SEPARATOR || c == ',' || c == ';' || c.is_whitespace())
            .filter(|id| !id.is_empty())
            .map(|id| integer(id).map(Value::from))
            .collect::<Result<Vec<Value>, _>>()
            .map(Value::Array)
            .map_err(|_| "must be whole numbers separated by |"),
    }
}

fn integer(text: &str) -> Result<i64, &'static str> {
    text.parse().map_err(|_| "must be a whole number")
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("writing CSV: {e}"))
}

/// `attachment; filename="companies-2026-12-06.csv"`.
pub fn attachment(name: &str) -> String {
    format!(
        "attachment; filename=\"{name}-{}.csv\"",
        chrono::Utc::now().format("%Y-%m-%d")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_excel_dialect_protects_formulas_and_reading_it_undoes_that() {
        for text in [
            "=HYPERLINK(\"x\")",
            "+49 531",
            "-x",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "'=x",
        ] {
            let writer = TableWriter::with_columns(vec![], Dialect::Excel).unwrap();
            let cell = writer.cell(&Value::String(text.into()));
            assert_eq!(cell, format!("'{text}"));
            assert_eq!(unprotect(&cell), text);
        }
        let writer = TableWriter::with_columns(vec![], Dialect::Excel).unwrap();
        assert_eq!(writer.cell(&serde_json::json!(-5)), "-5");
        assert_eq!(writer.cell(&serde_json::json!("Schöningen")), "Schöningen");
        assert_eq!(unprotect("'plain"), "'plain");
        assert_eq!(writer.cell(&serde_json::json!([3, 7])), "3|7");
    }
}

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

use actix_web::web::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, Schema};

use crate::api::error::ApiError;

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

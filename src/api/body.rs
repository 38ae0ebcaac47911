//! Request bodies: JSON objects become typed inputs, and every problem with them is reported
//! per field (unknown or read-only fields, wrong types, failed validation) as one 422.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::api::error::{ApiError, FieldError};
use crate::domain::DomainError;

/// Fields every resource has and no client may write.
pub const READ_ONLY_FIELDS: &[&str] = &["id", "created_at", "updated_at", "version"];

/// Parses a create or replace body into `T`, reporting every bad field at once.
pub fn parse<T: DeserializeOwned + Validate>(body: Value) -> Result<T, ApiError> {
    let object = as_object(body)?;
    check_fields::<T>(&object)?;
    from_object(object)
}

/// Applies a JSON Merge Patch (RFC 7396) to `current`, the stored record as clients read it
/// (its read-only fields left out), and parses the result as a full replacement, so a patch is
/// held to exactly the rules of a `PUT` and the writable fields are listed only in the wire
/// types.
pub fn merge_patch<T>(current: &impl Serialize, patch: Value) -> Result<T, ApiError>
where
    T: DeserializeOwned + Validate,
{
    let patch = as_object(patch)?;
    check_fields::<T>(&patch)?;
    let mut merged =
        as_object(serde_json::to_value(current).map_err(|e| ApiError::Internal(e.to_string()))?)?;
    for field in READ_ONLY_FIELDS {
        merged.remove(*field);
    }
    let mut merged = Value::Object(merged);
    json_patch::merge(&mut merged, &Value::Object(patch));
    from_object(as_object(merged)?)
}

fn as_object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(object) => Ok(object),
        other => Err(ApiError::invalid(
            "",
            "type",
            format!("the body must be a JSON object, not {}", json_kind(&other)),
        )),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Rejects fields that `T` does not have, naming read-only ones as such.
fn check_fields<T: DeserializeOwned>(object: &Map<String, Value>) -> Result<(), ApiError> {
    let writable = serde_aux::serde_introspection::serde_introspect::<T>();
    let errors: Vec<FieldError> = object
        .keys()
        .filter(|key| !writable.contains(&key.as_str()))
        .map(|key| {
            if READ_ONLY_FIELDS.contains(&key.as_str()) {
                FieldError::new(key, "read_only", format!("{key} is set by the server"))
            } else {
                FieldError::new(
                    key,
                    "unknown_field",
                    format!("{key} is not a field of this resource"),
                )
            }
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// The error of a text that holds U+0000. PostgreSQL's text cannot hold it, so neither
/// database stores it (a backup must load into either): bodies, CSV cells, query parameters
/// and sign-in forms refuse it, naming where it is.
pub fn nul_error(field: &str) -> FieldError {
    let name = if field.is_empty() { "the text" } else { field };
    FieldError::new(field, "nul_character", format!("{name} {HOLDS_NUL}"))
}

/// What `nul_error`, `no_nul` and a query parameter with U+0000 say of the text.
pub const HOLDS_NUL: &str = "contains a NUL character (U+0000), which text cannot hold";

/// One step of the path to a value inside a body.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn path_of(steps: &[Step<'_>]) -> String {
    let mut path = String::new();
    for step in steps {
        match step {
            Step::Key(key) if path.is_empty() => path.push_str(key),
            Step::Key(key) => {
                path.push('.');
                path.push_str(key);
            }
            Step::Index(index) => path.push_str(&format!("[{index}]")),
        }
    }
    path
}

/// Readies a body's values for typed parsing: a whole number written with a fraction
/// (`64.0`, which JSON Schema counts as an integer and some clients send) becomes that
/// integer, so integer fields take it while `64.5` stays a type error; and every string
/// that holds U+0000 is an error at its path (`nul_error`).
fn prepare<'v>(value: &'v mut Value, steps: &mut Vec<Step<'v>>, out: &mut Vec<FieldError>) {
    match value {
        Value::Number(number) => {
            // Only where the float is exactly that integer (|x| ≤ 2^53).
            const EXACT: f64 = 9_007_199_254_740_992.0;
            if let Some(float) = number.as_f64().filter(|_| number.is_f64())
                && float.fract() == 0.0
                && float.abs() <= EXACT
            {
                #[allow(clippy::cast_possible_truncation)] // whole and within ±2^53
                let whole = float as i64;
                *number = whole.into();
            }
        }
        Value::String(text) if text.contains('\0') => out.push(nul_error(&path_of(steps))),
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                steps.push(Step::Index(index));
                prepare(item, steps, out);
                steps.pop();
            }
        }
        Value::Object(object) => {
            for (key, item) in object.iter_mut() {
                steps.push(Step::Key(key));
                prepare(item, steps, out);
                steps.pop();
            }
        }
        _ => {}
    }
}

fn from_object<T: DeserializeOwned + Validate>(object: Map<String, Value>) -> Result<T, ApiError> {
    let mut body = Value::Object(object);
    let mut errors = Vec::new();
    prepare(&mut body, &mut Vec::new(), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let value: T = serde_path_to_error::deserialize(body).map_err(|e| {
        let field = e.path().to_string();
        let message = e.into_inner().to_string();
        ApiError::invalid(&field, "type", message)
    })?;
    value.validate().map_err(validation_errors)?;
    Ok(value)
}

/// Flattens validator's errors into one entry per field and rule, ordered by field.
pub fn validation_errors(errors: ValidationErrors) -> ApiError {
    ApiError::Validation(field_errors(&errors))
}

/// validator's errors, one entry per field and rule, ordered by field.
pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => out.extend(list.iter().map(|e| {
                let message = e
                    .message
                    .as_ref()
                    .map(|m| format!("{path} {m}"))
                    .unwrap_or_else(|| format!("{path} is invalid ({})", e.code));
                FieldError::new(path.clone(), &e.code, message)
            })),
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

/// For `#[validate(custom(function = "no_nul"))]` where a text is not read through `parse`
/// (sign-in forms): see `nul_error`.
pub fn no_nul(value: &str) -> Result<(), validator::ValidationError> {
    if value.contains('\0') {
        let mut error = validator::ValidationError::new("nul_character");
        error.message = Some(HOLDS_NUL.into());
        Err(error)
    } else {
        Ok(())
    }
}

/// For `#[validate(custom(function = "not_blank"))]`: text must have a visible character.
pub fn not_blank(value: &str) -> Result<(), validator::ValidationError> {
    if value.trim().is_empty() {
        let mut error = validator::ValidationError::new("blank");
        error.message = Some("must not be blank".into());
        Err(error)
    } else {
        Ok(())
    }
}

/// The value of a field its input type requires, or the `required` error: `TryFrom` of an
/// input that has been validated never sees it, one that was not (a CSV row) does.
pub fn required<T>(value: Option<T>, field: &str) -> Result<T, DomainError> {
    value.ok_or_else(|| DomainError::invalid(field, "required", format!("{field} is required")))
}

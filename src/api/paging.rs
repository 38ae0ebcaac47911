//! List requests: the parameters every list shares (`limit`, `cursor`, `sort`,
//! `updated_since`, `with_total`), the resource's own filters, and the opaque cursor.
//! Anything malformed or unknown answers 400 naming the parameter, so a typo in a filter
//! never silently returns everything.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::api::csv::Dialect;
use crate::api::error::ApiError;
use crate::models::page::{Keyset, PageRequest, Sort};

/// The longest value any list parameter takes. The longest legitimate one is a cursor after a
/// record whose sort key is a 300-character name: at most ~1.7 kB of base64.
pub const MAX_PARAM_LEN: usize = 2048;

pub use crate::models::page::{DEFAULT_LIMIT, MAX_LIMIT};

/// An id or count from a filter parameter: never negative (400 naming the parameter).
pub fn filter_id(name: &str, value: Option<i64>) -> Result<Option<i64>, ApiError> {
    match value {
        Some(v) if v < 0 => Err(ApiError::bad_request(format!(
            "{name} must not be negative"
        ))),
        other => Ok(other),
    }
}

/// The sortable fields of one resource, by their wire names.
pub trait SortField: Copy + PartialEq + 'static {
    /// Every field with its name, the first being the default sort.
    const FIELDS: &'static [(&'static str, Self)];
}

/// Parameters shared by every list endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Opaque cursor from a previous page's `next_cursor`; use it with the same `sort`.
    pub cursor: Option<String>,
    /// Sort field, `-` prefix for descending (e.g. `-updated_at`). Default: `created_at`.
    pub sort: Option<String>,
    /// Only records changed at or after this instant (RFC 3339), for incremental sync.
    pub updated_since: Option<DateTime<Utc>>,
    /// Also count all matching records into `total` (costs one more query; JSON only).
    #[param(default = false)]
    pub with_total: Option<bool>,
}

/// Parameters of the lists that export CSV (the domain resources; not users and clients).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` answers CSV whatever `Accept` says (for plain links), like `Accept: text/csv`.
    /// Without `limit` and `cursor` a CSV answer is the whole filtered list.
    #[param(inline)]
    pub format: Option<ListFormat>,
    /// The CSV dialect: `rfc4180` (default, for machines) or `excel` (for people).
    pub dialect: Option<Dialect>,
}

/// What a list answers in when the URL says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListFormat {
    Json,
    Csv,
}

/// A parsed list request: the page and the resource's filters.
#[derive(Debug)]
pub struct ListQuery<F, S> {
    pub page: PageRequest<S>,
    pub filter: F,
    pub updated_since: Option<NaiveDateTime>,
    /// Whether `limit` or `cursor` asked for one page: a CSV export without them is the whole
    /// list.
    pub paged: bool,
    pub format: Option<ListFormat>,
    pub dialect: Option<Dialect>,
}

/// What a cursor carries: the sort it belongs to and where the last page ended.
#[derive(Serialize, Deserialize)]
struct CursorData {
    s: String,
    #[serde(flatten)]
    at: Keyset,
}

impl<F, S> ListQuery<F, S> {
    /// For the lists that are not exported (users, clients): 400 for the export parameters.
    pub fn refuse_export(&self, what: &str) -> Result<(), ApiError> {
        if self.format.is_some() || self.dialect.is_some() {
            return Err(ApiError::bad_request(format!(
                "{what} are not exported: this list takes no format or dialect"
            )));
        }
        Ok(())
    }
}

impl<F: DeserializeOwned, S: SortField> ListQuery<F, S> {
    /// Parses a raw query string.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        reject_unknown::<F>(query)?;
        let params: ListParams = parse_params(query)?;
        let export: ExportParams = parse_params(query)?;
        let filter: F = parse_params(query)?;

        let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        let sort = parse_sort::<S>(params.sort.as_deref().unwrap_or(S::FIELDS[0].0))?;
        let after = params
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, &sort_text(sort)))
            .transpose()?;
        Ok(Self {
            page: PageRequest {
                sort,
                limit,
                after,
                with_total: params.with_total.unwrap_or(false),
            },
            filter,
            updated_since: params.updated_since.map(|t| t.naive_utc()),
            paged: params.limit.is_some() || params.cursor.is_some(),
            format: export.format,
            dialect: export.dialect,
        })
    }
}

impl<F: DeserializeOwned, S: SortField> actix_web::FromRequest for ListQuery<F, S> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(Self::parse(req.query_string()))
    }
}

/// Parses query parameters into `T`; a bad one answers 400 naming it.
pub fn parse_params<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    if let Some((name, _)) = form_urlencoded_parse(query).find(|(_, v)| v.contains('\0')) {
        return Err(ApiError::bad_request(format!(
            "invalid query parameter {name}: it {}",
            crate::api::body::HOLDS_NUL
        )));
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let name = e.path().to_string();
        ApiError::bad_request(format!(
            "invalid query parameter {name}: {}",
            e.into_inner()
        ))
    })
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

fn reject_unknown<F: DeserializeOwned>(query: &str) -> Result<(), ApiError> {
    let shared = serde_aux::serde_introspection::serde_introspect::<ListParams>();
    let export = serde_aux::serde_introspection::serde_introspect::<ExportParams>();
    let own = serde_aux::serde_introspection::serde_introspect::<F>();
    for (name, value) in form_urlencoded_parse(query) {
        if value.len() > MAX_PARAM_LEN {
            return Err(ApiError::bad_request(format!(
                "query parameter {name} is longer than {MAX_PARAM_LEN} bytes"
            )));
        }
        let name = name.as_ref();
        if !shared.contains(&name) && !export.contains(&name) && !own.contains(&name) {
            let mut known: Vec<&str> = shared.iter().chain(export).chain(own).copied().collect();
            known.sort_unstable();
            return Err(ApiError::bad_request(format!(
                "unknown query parameter {name}; this list takes {}",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

fn parse_sort<S: SortField>(text: &str) -> Result<Sort<S>, ApiError> {
    let (descending, name) = match text.strip_prefix('-') {
        Some(name) => (true, name),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    S::FIELDS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, field)| Sort { field, descending })
        .ok_or_else(|| {
            let names: Vec<&str> = S::FIELDS.iter().map(|(n, _)| *n).collect();
            ApiError::bad_request(format!(
                "cannot sort by {text:?}; sort by one of {} (prefix - for descending)",
                names.join(", ")
            ))
        })
}

fn decode_cursor(cursor: &str, sort: &str) -> Result<Keyset, ApiError> {
    let invalid = || ApiError::bad_request("invalid cursor: use next_cursor of a previous page");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let data: CursorData = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if data.s != sort {
        return Err(ApiError::bad_request(format!(
            "invalid cursor: it belongs to sort={}, not sort={sort}",
            data.s
        )));
    }
    Ok(data.at)
}

/// The canonical spelling of a sort (`name`, `-name`), as cursors record it.
fn sort_text<S: SortField>(sort: Sort<S>) -> String {
    let name = S::FIELDS
        .iter()
        .find(|(_, f)| *f == sort.field)
        .map(|(n, _)| *n)
        .unwrap_or_default();
    if sort.descending {
        format!("-{name}")
    } else {
        name.to_owned()
    }
}

pub fn encode_cursor<S: SortField>(sort: Sort<S>, at: Keyset) -> String {
    // Serializing plain strings and numbers can't fail.
    let json = serde_json::to_vec(&CursorData {
        s: sort_text(sort),
        at,
    })
    .unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Declares the wire type of one page of a resource's list, named for the OpenAPI document
/// (`RegionList`), with `from_page` to build it from a model page.
macro_rules! list_response {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            /// The records of this page.
            #[schema(max_items = 200)]
            pub items: Vec<$item>,
            /// Pass as `cursor` to get the next page; `null` on the last page.
            #[schema(max_length = 2048)]
            pub next_cursor: Option<String>,
            /// All matching records, when asked with `with_total=true`.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub total: Option<i64>,
        }

        impl $name {
            pub fn from_page<R, S: $crate::api::paging::SortField>(
                page: $crate::models::page::Page<R>,
                sort: $crate::models::page::Sort<S>,
            ) -> Self
            where
                $item: From<R>,
            {
                Self {
                    items: page.items.into_iter().map(<$item>::from).collect(),
                    next_cursor: page.next.map(|at| $crate::api::paging::encode_cursor(sort, at)),
                    total: page.total,
                }
            }
        }
    };
}
pub(crate) use list_response;

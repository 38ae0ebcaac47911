//! CSV export of a domain resource's list (`Accept: text/csv` or `format=csv`).
//!
//! Without `limit` and `cursor` the answer is the **whole** filtered, sorted list, streamed:
//! the rows are read in keyset batches of `BATCH`, each written out before the next is read,
//! so memory stays flat whatever the list's size and no database connection is held between
//! batches. The first batch is read before the answer starts, so a failure there (an
//! unreachable database) is still a proper problem answer; a failure after that can only cut
//! the transfer short (the chunked body then lacks its terminating chunk, which every HTTP
//! client reports as an error, never as a complete file).
//!
//! Batches see the list as it is when each one is read, like following `next_cursor` by
//! hand: a record is written at most once, in sort order; one created or changed during the
//! export may or may not be in it.
//!
//! With `limit` or `cursor` the answer is that one page, and the next page's URL (the same
//! query with the next cursor) in `Link: <…>; rel="next"`.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt as _;

use crate::api::csv::{self, Dialect, TableWriter};
use crate::api::error::ApiError;
use crate::api::negotiation;
use crate::api::paging::{ListFormat, encode_cursor};
use crate::api::resource::Resource;
use crate::db::Db;
use crate::domain::resource;
use crate::models::page::{Keyset, PageRequest, Sort};

/// Rows per database read of a streamed export.
const BATCH: i64 = crate::models::page::EXPORT_BATCH;

/// Whether the request asks for CSV: `format` decides, else `Accept`.
pub fn wanted(req: &HttpRequest, format: Option<ListFormat>) -> bool {
    match format {
        Some(format) => format == ListFormat::Csv,
        None => negotiation::preferred(req, negotiation::LIST) == negotiation::CSV,
    }
}

fn csv_response(collection: &str) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response
        .content_type(csv::CONTENT_TYPE)
        .insert_header((header::CONTENT_DISPOSITION, csv::attachment(collection)));
    response
}

/// The whole filtered list, streamed in batches.
pub async fn all<R: Resource>(
    db: Arc<Db>,
    filter: R::Filter,
    sort: Sort<R::Sort>,
    dialect: Dialect,
) -> Result<HttpResponse, ApiError> {
    let filter = Arc::new(filter);
    let mut writer = TableWriter::new::<R::View>(dialect)?;
    let next = batch::<R>(&db, &filter, sort, None, &mut writer).await?;
    let first = writer.take()?;
    let rest = futures_util::stream::try_unfold((next, writer), move |(after, mut writer)| {
        let db = Arc::clone(&db);
        let filter = Arc::clone(&filter);
        async move {
            let Some(after) = after else {
                return Ok(None);
            };
            let next = batch::<R>(&db, &filter, sort, Some(after), &mut writer).await?;
            let bytes = writer.take()?;
            Ok::<_, ApiError>(Some((bytes, (next, writer))))
        }
    });
    let body = futures_util::stream::once(std::future::ready(Ok(first))).chain(rest);
    Ok(csv_response(R::KIND.as_str()).streaming(body))
}

/// Reads and writes one batch after `after`; returns where the next one starts.
async fn batch<R: Resource>(
    db: &Db,
    filter: &Arc<R::Filter>,
    sort: Sort<R::Sort>,
    after: Option<Keyset>,
    writer: &mut TableWriter,
) -> Result<Option<Keyset>, ApiError> {
    let filter = Arc::clone(filter);
    let page = PageRequest {
        sort,
        limit: BATCH,
        after,
        with_total: false,
    };
    let found = db
        .run(async move |conn| Ok::<_, ApiError>(resource::list::<R>(conn, &filter, &page).await?))
        .await?;
    for record in found.items {
        writer.row(&R::View::from(record))?;
    }
    Ok(found.next)
}

/// One page, with the next page's URL in `Link`.
pub async fn page<R: Resource>(
    db: Arc<Db>,
    req: &HttpRequest,
    filter: R::Filter,
    page: PageRequest<R::Sort>,
    dialect: Dialect,
) -> Result<HttpResponse, ApiError> {
    let sort = page.sort;
    let found = db
        .run(async move |conn| Ok::<_, ApiError>(resource::list::<R>(conn, &filter, &page).await?))
        .await?;
    let mut writer = TableWriter::new::<R::View>(dialect)?;
    for record in found.items {
        writer.row(&R::View::from(record))?;
    }
    let mut response = csv_response(R::KIND.as_str());
    if let Some(next) = found.next {
        let url = with_cursor(req, &encode_cursor(sort, next));
        response.insert_header((header::LINK, format!("<{url}>; rel=\"next\"")));
    }
    Ok(response.body(writer.take()?))
}

/// The request's path and query with `cursor` set to `cursor`.
fn with_cursor(req: &HttpRequest, cursor: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        if name != "cursor" {
            query.append_pair(&name, &value);
        }
    }
    query.append_pair("cursor", cursor);
    format!("{}?{}", req.path(), query.finish())
}

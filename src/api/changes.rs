//! `/api/v1/changes`: the change feed for partner systems that keep their own copy in step.
//! The guarantee (a reader paging with `after` never misses a committed change) is the
//! domain's (`domain::changes`); this module is its HTTP side: parameters, the records of
//! `include=record` in one query per resource present, and long polling (`wait`) that holds
//! neither a database connection nor a thread while it waits.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::{RawValue, to_raw_value};
use tokio::sync::watch;
use tokio::time::Instant;
use utoipa::{IntoParams, ToSchema};

use crate::api::error::{ApiError, Problem};
use crate::api::paging::parse_params;
use crate::api::resource::Resource;
use crate::auth::Caller;
use crate::db::{Conn, Db};
use crate::domain::DomainError;
use crate::domain::changes::{self, FeedPage, TICK};
use crate::domain::companies::Companies;
use crate::domain::events::Events;
use crate::domain::funding_sources::FundingSources;
use crate::domain::organizations::Organizations;
use crate::domain::projects::Projects;
use crate::domain::regions::Regions;
use crate::domain::resource::find_many;
use crate::domain::topics::Topics;
use crate::domain::values::{ChangeAction, ResourceKind};
use crate::models::changes::Head;

pub use crate::models::changes::{DEFAULT_LIMIT, MAX_LIMIT};
pub const MAX_WAIT_SECS: u64 = 30;
/// Every collection name, comma-separated, fits in well under this.
const MAX_RESOURCE_LEN: usize = 200;

/// Parameters of the change feed.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// Only changes after this `seq` (`next_after` of the previous page). 0: from the
    /// beginning (410 once retention removed anything); none: from the oldest change kept.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// Page size.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<i64>,
    /// Only these collections, comma-separated (`companies,funding-sources`).
    #[param(max_length = 200, example = "companies,funding-sources")]
    pub resource: Option<String>,
    /// `record`: each item carries the record's current view (null once deleted).
    #[param(inline)]
    pub include: Option<Include>,
    /// Long poll: when nothing is after `after`, answer as soon as something is, or with an
    /// empty page after this many seconds.
    #[param(minimum = 0, maximum = 30, default = 0)]
    pub wait: Option<u64>,
}

/// What to add to each change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Include {
    Record,
}

/// One change of a domain record.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeView {
    /// The change's position in the feed: strictly increasing, never reused.
    #[schema(minimum = 1)]
    pub seq: i64,
    /// The collection, as in its URL.
    pub resource: ResourceKind,
    /// The record's id.
    #[schema(minimum = 1)]
    pub resource_id: i64,
    pub action: ChangeAction,
    /// The record's version after the change; for a delete, the version deleted.
    #[schema(minimum = 1)]
    pub version: i64,
    /// When the change was made.
    pub at: DateTime<Utc>,
    /// Who made it: `user:<id>`, `client:<client_id>`, or the command line's name (`seed`,
    /// `cli`).
    #[schema(example = "user:1", max_length = 300)]
    pub actor: String,
    /// With `include=record`: the record as `GET /api/v1/{resource}/{id}` shows it now
    /// (which may be newer than this change), or null once it is deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, nullable = true)]
    pub record: Option<Option<Box<RawValue>>>,
}

/// One page of the change feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePage {
    /// The changes, in `seq` order.
    #[schema(max_items = 1000)]
    pub items: Vec<ChangeView>,
    /// Pass as `after` for the next page: the last item's `seq`, or on an empty page the
    /// newest `seq` the feed holds (never less than `after`).
    #[schema(minimum = 0)]
    pub next_after: i64,
    /// More changes follow right away (fetch the next page without waiting).
    pub has_more: bool,
    /// The newest `seq` the feed held when this page was read: before loading the lists,
    /// remember it (`?limit=1` is enough) and follow the feed from there afterwards.
    #[schema(minimum = 0)]
    pub head: i64,
}

/// A parsed feed request.
struct FeedRequest {
    after: Option<i64>,
    limit: i64,
    kinds: Vec<ResourceKind>,
    include_record: bool,
    wait: Duration,
}

impl TryFrom<ChangesQuery> for FeedRequest {
    type Error = ApiError;

    fn try_from(q: ChangesQuery) -> Result<Self, ApiError> {
        let after = q.after;
        if after.is_some_and(|a| a < 0) {
            return Err(ApiError::bad_request("after must not be negative"));
        }
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        let wait = q.wait.unwrap_or(0);
        if wait > MAX_WAIT_SECS {
            return Err(ApiError::bad_request(format!(
                "wait must be between 0 and {MAX_WAIT_SECS} seconds"
            )));
        }
        if q.resource
            .as_ref()
            .is_some_and(|r| r.len() > MAX_RESOURCE_LEN)
        {
            return Err(ApiError::bad_request(format!(
                "resource is longer than {MAX_RESOURCE_LEN} bytes"
            )));
        }
        let mut kinds = Vec::new();
        for name in q.resource.iter().flat_map(|r| r.split(',')) {
            let kind = name.trim().parse::<ResourceKind>().map_err(|_| {
                let known: Vec<&str> = ResourceKind::ALL.iter().map(|k| k.as_str()).collect();
                ApiError::bad_request(format!(
                    "resource {name:?} is not in the feed; it holds {}",
                    known.join(", ")
                ))
            })?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        Ok(Self {
            after,
            limit,
            kinds,
            include_record: q.include == Some(Include::Record),
            wait: Duration::from_secs(wait),
        })
    }
}

/// Read the change feed.
///
/// Every create, update and delete of regions, topics, funding sources, organizations,
/// projects, companies and events, in `seq` order. Page with `after=<next_after>`: a reader
/// that does so never misses a committed change, whatever order concurrent writers commit in.
/// A change is in the feed as soon as its write has been answered. Every role may read it.
#[utoipa::path(
    get, path = "/changes", operation_id = "listChanges", tag = "changes",
    params(ChangesQuery),
    responses(
        (status = 200, description = "One page of changes", body = ChangePage),
        (status = 400, description = "A bad parameter (each is named)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`after` is older than the kept history: load the lists again, then follow the feed from the `head` of a page read without `after`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/changes")]
pub async fn list_changes(
    _caller: Caller,
    db: web::Data<Db>,
    watch: web::Data<FeedWatch>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query: ChangesQuery = parse_params(req.query_string())?;
    let request = Arc::new(FeedRequest::try_from(query)?);
    let deadline = Instant::now() + request.wait;
    loop {
        let page = {
            let request = Arc::clone(&request);
            db.run(async move |conn| read(conn, &request).await).await?
        };
        if !page.items.is_empty() || Instant::now() >= deadline {
            return Ok(HttpResponse::Ok().json(page));
        }
        if !watch.wait_past(page.next_after, deadline).await {
            return Ok(HttpResponse::Ok().json(page));
        }
    }
}

async fn read(conn: &mut Conn<'_>, request: &FeedRequest) -> Result<ChangePage, DomainError> {
    let FeedPage {
        items,
        next_after,
        has_more,
        head,
    } = changes::read(conn, request.after, &request.kinds, request.limit).await?;
    let records = if request.include_record {
        current_records(conn, &items).await?
    } else {
        HashMap::new()
    };
    let items = items
        .into_iter()
        .map(|c| ChangeView {
            seq: c.seq.unwrap_or_default(),
            record: request
                .include_record
                .then(|| records.get(&(c.resource, c.resource_id)).cloned()),
            resource: c.resource,
            resource_id: c.resource_id,
            action: c.action,
            version: c.version,
            at: c.at.and_utc(),
            actor: c.actor,
        })
        .collect();
    Ok(ChangePage {
        items,
        next_after,
        has_more,
        head,
    })
}

/// The current views of the records a page names, each serialized once: one read per
/// resource present.
async fn current_records(
    conn: &mut Conn<'_>,
    items: &[crate::models::changes::Change],
) -> Result<HashMap<(ResourceKind, i64), Box<RawValue>>, DomainError> {
    let mut ids: HashMap<ResourceKind, Vec<i64>> = HashMap::new();
    for c in items {
        ids.entry(c.resource).or_default().push(c.resource_id);
    }
    let mut records = HashMap::new();
    for (kind, mut ids) in ids {
        ids.sort_unstable();
        ids.dedup();
        let views = match kind {
            ResourceKind::Regions => views::<Regions>(conn, &ids).await,
            ResourceKind::Topics => views::<Topics>(conn, &ids).await,
            ResourceKind::FundingSources => views::<FundingSources>(conn, &ids).await,
            ResourceKind::Organizations => views::<Organizations>(conn, &ids).await,
            ResourceKind::Projects => views::<Projects>(conn, &ids).await,
            ResourceKind::Companies => views::<Companies>(conn, &ids).await,
            ResourceKind::Events => views::<Events>(conn, &ids).await,
        }?;
        records.extend(views.into_iter().map(|(id, view)| ((kind, id), view)));
    }
    Ok(records)
}

async fn views<R: Resource>(
    conn: &mut Conn<'_>,
    ids: &[i64],
) -> Result<Vec<(i64, Box<RawValue>)>, DomainError> {
    let ids: Vec<R::Id> = ids.iter().copied().map(R::Id::from).collect();
    find_many::<R>(conn, &ids)
        .await?
        .into_iter()
        .map(|record| {
            let id = R::meta(&record).id.into();
            to_raw_value(&R::View::from(record))
                .map(|view| (id, view))
                .map_err(|e| DomainError::Internal(e.to_string()))
        })
        .collect()
}

/// The newest `seq` this replica knows, for long-polling readers: they wait on it without a
/// database connection or a thread. `tick` (every `TICK`, while anyone waits) numbers pending
/// changes and reads the head, so a change made through any replica wakes them.
pub struct FeedWatch {
    head: watch::Sender<i64>,
    waiting: AtomicUsize,
}

impl Default for FeedWatch {
    fn default() -> Self {
        Self {
            head: watch::Sender::new(0),
            waiting: AtomicUsize::new(0),
        }
    }
}

impl FeedWatch {
    /// Waits until the head passes `seq` or `deadline` comes; true if it passed.
    async fn wait_past(&self, seq: i64, deadline: Instant) -> bool {
        let mut head = self.head.subscribe();
        let _waiting = Waiting::count(&self.waiting);
        let passed = tokio::time::timeout_at(deadline, head.wait_for(|&h| h > seq)).await;
        matches!(passed, Ok(Ok(_)))
    }

    /// Runs until the process ends: while readers wait, brings the head up to date every
    /// `TICK` (numbering pending changes on PostgreSQL), so that a change made through any
    /// replica wakes them.
    pub async fn tick(self: Arc<Self>, db: Db) {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if self.waiting.load(Ordering::Relaxed) == 0 {
                continue;
            }
            match db.run(async |conn| changes::catch_up(conn).await).await {
                Ok(Head { last_seq: head, .. }) => {
                    self.head.send_if_modified(|h| {
                        let newer = head > *h;
                        *h = (*h).max(head);
                        newer
                    });
                }
                Err(e) => log::warn!("reading the change feed's head failed: {e}"),
            }
        }
    }
}

/// One waiting reader, counted while it waits: also when its request is dropped (the client
/// left, the server stops), so the ticker does not keep polling for nobody.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn count(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::Relaxed);
        Self(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Registers the endpoint.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_changes);
}

//! Prometheus metrics (`GET /metrics`): requests and their latency by method, route pattern
//! and status, requests in flight, the database pool, and build info.
//!
//! The route label is the pattern actix matched (`/api/v1/companies/{id}`), never the raw
//! path, and `unmatched` for paths no route serves: a scanner probing random URLs must not
//! create a time series per URL. Each `Application` owns its registry (no global state), so
//! tests and several servers in one process count separately.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::db::PoolStats;

/// The content type of the OpenMetrics text format, which Prometheus scrapes natively.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets in seconds: 1 ms to 10 s, dense where this service's answers fall.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    revision: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    pool_size: Gauge,
    pool_max: Gauge,
    pool_idle: Gauge,
    pool_waiting: Gauge,
    pool_timeouts: Counter<u64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("bn");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let in_flight = Gauge::default();
        let (pool_size, pool_max, pool_idle, pool_waiting) = Default::default();
        let pool_timeouts = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from receiving a request to its answer, by method, route pattern and status",
            latency.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "Requests being handled right now",
            in_flight.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Open database connections (in use and idle)",
            Gauge::clone(&pool_size),
        );
        registry.register(
            "db_pool_max_connections",
            "The configured pool size (DB_POOL_SIZE)",
            Gauge::clone(&pool_max),
        );
        registry.register(
            "db_pool_idle_connections",
            "Open database connections not in use",
            Gauge::clone(&pool_idle),
        );
        registry.register(
            "db_pool_waiting",
            "Requests waiting for a database connection",
            Gauge::clone(&pool_waiting),
        );
        registry.register(
            "db_pool_timeouts",
            "Requests that got no database connection in time (answered 503)",
            pool_timeouts.clone(),
        );
        registry.register(
            "build",
            "The running build",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                revision: env!("BN_GIT_REVISION"),
            }),
        );
        Self {
            registry,
            requests,
            latency,
            in_flight,
            pool_size,
            pool_max,
            pool_idle,
            pool_waiting,
            pool_timeouts,
        }
    }

    /// Marks a request as started; dropping the guard marks it finished, also when the client
    /// went away and the request's future was dropped.
    pub fn start_request(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// Counts one answered request. `route` is the matched pattern, `None` when no route
    /// matched.
    pub fn observe(&self, method: &str, route: Option<String>, status: u16, seconds: f64) {
        let labels = RequestLabels {
            method: known_method(method),
            route: route.unwrap_or_else(|| "unmatched".to_owned()),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
    }

    /// The OpenMetrics text for a scrape, with the pool read at this moment.
    pub fn render(&self, pool: PoolStats) -> Result<String, std::fmt::Error> {
        self.pool_size.set(i64::from(pool.connections));
        self.pool_max.set(i64::from(pool.max));
        self.pool_idle.set(i64::from(pool.idle));
        self.pool_waiting.set(pool.waiting);
        let timeouts = pool.timeouts.saturating_sub(self.pool_timeouts.get());
        self.pool_timeouts.inc_by(timeouts);
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// A request in flight; see `Metrics::start_request`.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The method as a static label; anything unusual is `other`, so that made-up methods can't
/// add time series.
fn known_method(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

//! Prometheus metrics (`GET /metrics`): requests and their latency by method, route pattern
//! and status, requests in flight, the database pool, and build info.
//!
//! The route label is the pattern actix matched (`/api/v1/companies/{id}`), never the raw
//! path, and `unmatched` for paths no route serves: a scanner probing random URLs must not
//! create a time series per URL. Each `Application` owns its registry (no global state), so
//! tests and several servers in one process count separately.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::db::Db;

/// The content type of the OpenMetrics text format, which Prometheus scrapes natively.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The classic Prometheus text format, for clients that ask for `text/plain`.
pub const CLASSIC_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

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
    /// Requests begun, not exported: how `memory::trim_when_idle` sees the service fall idle.
    started: Counter,
}

impl Metrics {
    /// The metrics of a server on `db`, whose pool is read at each scrape.
    pub fn new(db: Db) -> Self {
        let mut registry = Registry::with_prefix("bn");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let in_flight = Gauge::default();
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
        registry.register_collector(Box::new(PoolCollector(db)));
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
            started: Counter::default(),
        }
    }

    /// The count of requests begun (a shared handle: it moves as requests come).
    pub fn started(&self) -> Counter {
        self.started.clone()
    }

    /// Marks a request as started; dropping the guard marks it finished, also when the client
    /// went away and the request's future was dropped.
    pub fn start_request(&self) -> InFlight {
        self.started.inc();
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

    /// The OpenMetrics text for a scrape.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// The same scrape in the classic Prometheus text format (0.0.4), which `prometheus-client`
    /// does not write (it speaks only OpenMetrics).
    pub fn render_classic(&self) -> Result<String, std::fmt::Error> {
        Ok(classic(&self.render()?))
    }
}

/// OpenMetrics text as classic Prometheus text: a counter's family is named by its samples
/// (`x_total`), an info metric is a gauge `x_info`, and what the old format lacks — `# UNIT`,
/// `_created` samples, `# EOF` — is left out. Histograms and gauges read the same in both.
fn classic(openmetrics: &str) -> String {
    use std::fmt::Write as _;
    // Families whose samples carry a suffix the classic format puts in the family's name
    // (`# HELP` comes before `# TYPE`, so they are found first).
    let renamed: Vec<(&str, &str, &str)> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.split_once(' '))
        .filter_map(|(name, kind)| match kind {
            "counter" => Some((name, "_total", "counter")),
            "info" => Some((name, "_info", "gauge")),
            _ => None,
        })
        .collect();
    let family = |name: &str| renamed.iter().find(|(family, ..)| *family == name);
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some((keyword, rest)) = line
            .strip_prefix("# ")
            .and_then(|comment| comment.split_once(' '))
        {
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            // Writing into a String cannot fail.
            let _ = match (keyword, family(name)) {
                ("TYPE", Some((_, suffix, kind))) => writeln!(out, "# TYPE {name}{suffix} {kind}"),
                ("HELP", Some((_, suffix, _))) => writeln!(out, "# HELP {name}{suffix} {text}"),
                _ => writeln!(out, "{line}"),
            };
            continue;
        }
        let sample = line.split(['{', ' ']).next().unwrap_or_default();
        if sample.ends_with("_created") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The database pool, read from `Db::stats` at each scrape rather than mirrored into gauges.
struct PoolCollector(Db);

impl std::fmt::Debug for PoolCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PoolCollector")
    }
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let pool = self.0.stats();
        let gauges = [
            (
                "db_pool_connections",
                "Open database connections (in use and idle)",
                i64::from(pool.connections),
            ),
            (
                "db_pool_max_connections",
                "The configured pool size (DB_POOL_SIZE)",
                i64::from(pool.max),
            ),
            (
                "db_pool_idle_connections",
                "Open database connections not in use",
                i64::from(pool.idle),
            ),
            (
                "db_pool_waiting",
                "Requests waiting for a database connection",
                pool.waiting,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        let timeouts = ConstCounter::new(pool.timeouts);
        timeouts.encode(encoder.encode_descriptor(
            "db_pool_timeouts",
            "Requests that got no database connection in time (answered 503)",
            None,
            timeouts.metric_type(),
        )?)
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

//! Configuration: one `Settings` struct, filled from environment variables or the matching
//! command-line flags (flags win). `--help` lists every setting with its default; the command
//! tree that carries them is `cli::Cli`.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, ValueEnum};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// SQLite's `synchronous` level in WAL mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqliteSynchronous {
    /// fsync the WAL on every commit: an acknowledged write survives a power loss.
    Full,
    /// fsync only at checkpoints: survives a crash of the process, may lose the last
    /// commits on a power loss; faster writes.
    Normal,
}

/// Every setting of the service. Its `Debug` shows no secret: the database URL hides its
/// password and the secrets are `Secret`s, so nobody has to remember them in a hand-written
/// `Debug`.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Database URL: `postgres://…` selects PostgreSQL, anything else is an SQLite file path
    /// (`sqlite://` prefix optional). Default: `<data-dir>/betriebsnachbarschaften.sqlite3`.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<DatabaseUrl>,

    /// Directory for the SQLite default database (created on start).
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1", global = true)]
    pub host: IpAddr,

    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 8080, global = true)]
    pub port: u16,

    /// HTTP worker threads (0 = one per CPU core).
    #[arg(long, env = "WORKERS", default_value_t = 0, global = true)]
    pub workers: usize,

    /// Maximum number of pooled database connections.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    pub db_pool_size: u32,

    /// PostgreSQL: connections each worker's point reads share, their statements pipelined
    /// (0 = they take pooled connections, as everything else does). Not counted in
    /// DB_POOL_SIZE.
    #[arg(long, env = "DB_READ_CONNECTIONS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=64), global = true)]
    pub db_read_connections: u32,

    /// Seconds a request waits for a free database connection before it is answered with 503.
    #[arg(long, env = "DB_POOL_TIMEOUT_SECS", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=600), global = true)]
    pub db_pool_timeout_secs: u64,

    /// Seconds to keep retrying the first PostgreSQL connection at start (0: fail at once).
    /// A database started beside the service (compose, Kubernetes) may need a moment.
    #[arg(long, env = "DB_CONNECT_WAIT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600), global = true)]
    pub db_connect_wait_secs: u64,

    /// SQLite `synchronous` level (ignored on PostgreSQL).
    #[arg(long, env = "SQLITE_SYNCHRONOUS", value_enum, default_value_t = SqliteSynchronous::Full, global = true)]
    pub sqlite_synchronous: SqliteSynchronous,

    /// Apply pending migrations when `serve` starts.
    #[arg(long, env = "MIGRATE_ON_START", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub migrate_on_start: bool,

    /// Largest accepted request body in bytes.
    #[arg(long, env = "BODY_LIMIT_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub body_limit_bytes: usize,

    /// Largest accepted CSV file of an import (`POST /api/v1/companies/import`) in bytes.
    #[arg(long, env = "IMPORT_LIMIT_BYTES", default_value_t = 50 * 1024 * 1024, global = true)]
    pub import_limit_bytes: usize,

    /// Days the change feed keeps a change (unset: forever). A reader behind what was removed
    /// gets 410 and starts over from the lists.
    #[arg(long, env = "CHANGES_RETENTION_DAYS", global = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub changes_retention_days: Option<u32>,

    /// Seconds an answer to a request with an Idempotency-Key is kept for replays (at least;
    /// removed within ten minutes after).
    #[arg(long, env = "IDEMPOTENCY_TTL_SECS", default_value_t = 86_400, global = true, value_parser = clap::value_parser!(u64).range(60..))]
    pub idempotency_ttl_secs: u64,

    /// Seconds a request's database work may take before the request is answered 504 (the
    /// import gets more, by the size of its file). PostgreSQL also cancels a statement one
    /// second after this (`statement_timeout`), so work nobody waits for stops.
    #[arg(long, env = "DB_QUERY_TIMEOUT_SECS", default_value_t = 5, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub db_query_timeout_secs: u64,

    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT (after the drain).
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 30, global = true)]
    pub shutdown_grace_secs: u64,

    /// Seconds the server keeps answering after SIGTERM/SIGINT before it stops accepting:
    /// readiness is 503 at once and every answer says `Connection: close`, so requests
    /// already sent on open keep-alive connections are read and answered, not cut off.
    #[arg(long, env = "SHUTDOWN_DRAIN_SECS", default_value_t = 3, global = true)]
    pub shutdown_drain_secs: u64,

    /// PKCS#8 PEM file of the Ed25519 key that signs access tokens. Default:
    /// `<data-dir>/jwt-signing-key.pem`, created on first start.
    #[arg(long, env = "JWT_KEY_FILE", global = true)]
    pub jwt_key_file: Option<PathBuf>,

    /// Directory of further `*.pem` keys accepted when verifying tokens (old keys during a
    /// rotation).
    #[arg(long, env = "JWT_VERIFY_KEYS_DIR", global = true)]
    pub jwt_verify_keys_dir: Option<PathBuf>,

    /// The `iss` claim of access tokens.
    #[arg(
        long,
        env = "JWT_ISSUER",
        default_value = "betriebsnachbarschaften",
        global = true
    )]
    pub jwt_issuer: String,

    /// The `aud` claim of access tokens.
    #[arg(
        long,
        env = "JWT_AUDIENCE",
        default_value = "betriebsnachbarschaften-api",
        global = true
    )]
    pub jwt_audience: String,

    /// Lifetime of access tokens in seconds.
    #[arg(long, env = "ACCESS_TOKEN_TTL_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(10..=86400), global = true)]
    pub access_token_ttl_secs: u64,

    /// Lifetime of refresh tokens in seconds.
    #[arg(long, env = "REFRESH_TOKEN_TTL_SECS", default_value_t = 30 * 24 * 3600, global = true)]
    pub refresh_token_ttl_secs: u64,

    /// Password of the `admin` account created on the first start with an empty user table
    /// (default: a random one, printed once).
    #[arg(
        long,
        env = "BOOTSTRAP_ADMIN_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub bootstrap_admin_password: Option<Secret>,

    /// Threads that compute password hashes (each hash takes ~19 MiB and a core for ~25 ms;
    /// further sign-ins wait for a free one).
    #[arg(
        long,
        env = "PASSWORD_HASH_CONCURRENCY",
        default_value_t = 2,
        global = true
    )]
    pub password_hash_concurrency: usize,

    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Browser origins allowed to call the API cross-origin, comma-separated
    /// (`https://app.example.org,http://localhost:5173`). None by default.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_parser = parse_origins, default_value = "", hide_default_value = true, global = true)]
    pub cors_allowed_origins: AllowedOrigins,

    /// When set (not empty), `GET /metrics` requires `Authorization: Bearer <this token>`;
    /// else `/metrics` is open (block it at the ingress if the port is public).
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, global = true)]
    pub metrics_token: Option<Secret>,

    /// Reverse proxies (addresses or CIDR ranges, comma-separated, e.g. `10.0.0.0/8`) whose
    /// `X-Forwarded-For` names the client for sign-in throttling. None by default: the
    /// connection's address counts, and no header moves a request to another budget.
    #[arg(
        long,
        env = "TRUSTED_PROXIES",
        default_value = "",
        hide_default_value = true,
        global = true
    )]
    pub trusted_proxies: TrustedProxies,
}

/// The reverse proxies whose `X-Forwarded-For` is believed (`api::peer`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<ipnet::IpNet>);

impl TrustedProxies {
    pub fn contains(&self, address: &IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(address))
    }
}

/// `10.0.0.0/8,192.168.1.7,fd00::/8`: a bare address is a range of one.
impl std::str::FromStr for TrustedProxies {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        value
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("{p}: not an IP address or CIDR range"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// The browser origins CORS admits; empty entries (an empty variable) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins(pub Vec<String>);

/// An origin is scheme, host and optional port: what browsers send in `Origin`.
fn parse_origins(value: &str) -> Result<AllowedOrigins, String> {
    let mut origins = Vec::new();
    for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let rest = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .ok_or_else(|| format!("{origin}: an origin starts with http:// or https://"))?;
        let valid = !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
        if !valid {
            return Err(format!(
                "{origin}: an origin is scheme://host[:port], without path or trailing slash"
            ));
        }
        origins.push(origin.to_owned());
    }
    Ok(AllowedOrigins(origins))
}

impl Settings {
    /// The database to use: the configured URL, or the SQLite file in the data directory.
    pub fn database(&self) -> DatabaseUrl {
        match &self.database_url {
            Some(url) => url.clone(),
            None => DatabaseUrl(
                self.data_dir
                    .join("betriebsnachbarschaften.sqlite3")
                    .to_string_lossy()
                    .into_owned(),
            ),
        }
    }

    /// The signing key file: configured, or the one in the data directory.
    pub fn jwt_key_path(&self) -> PathBuf {
        self.jwt_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("jwt-signing-key.pem"))
    }

    /// Where this server answers locally: the loopback address when it listens on all
    /// addresses.
    pub fn local_address(&self) -> std::net::SocketAddr {
        let host = match self.host {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        (host, self.port).into()
    }

    /// The HTTP worker threads that run: `WORKERS`, or one per core when it is 0 (as actix
    /// would choose, whose fallback is 2 when the cores can't be read).
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        }
    }

    pub fn pool_timeout(&self) -> Duration {
        Duration::from_secs(self.db_pool_timeout_secs)
    }

    pub fn query_timeout(&self) -> Duration {
        Duration::from_secs(self.db_query_timeout_secs)
    }

    pub fn connect_wait(&self) -> Duration {
        Duration::from_secs(self.db_connect_wait_secs)
    }

    /// Settings for tests and embedding: every default, the given database, port 0.
    pub fn for_database(url: impl Into<String>) -> Self {
        /// The settings alone, with their defaults (no subcommand, no arguments).
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            settings: Settings,
        }
        let mut settings = Defaults::parse_from(["betriebsnachbarschaften"]).settings;
        settings.database_url = Some(DatabaseUrl(url.into()));
        settings.port = 0;
        settings
    }
}

/// A database URL or SQLite path. Its `Display`/`Debug` hide any password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Ok(Self(url.to_owned()))
    }
}

/// A secret setting (a password, a token): its `Debug` and `Display` never show it; only
/// `expose` does, where it is used.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(secret: &str) -> Self {
        Self(secret.to_owned())
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(secret: &str) -> Result<Self, Self::Err> {
        Ok(Self(secret.to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl DatabaseUrl {
    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }

    /// The raw URL, secrets included: only for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SQLite file path (without a `sqlite://` prefix).
    pub fn sqlite_path(&self) -> &str {
        self.0
            .strip_prefix("sqlite://")
            .or_else(|| self.0.strip_prefix("sqlite:"))
            .unwrap_or(&self.0)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.is_postgres() {
            return f.write_str(self.sqlite_path());
        }
        // postgres://user:secret@host/db → postgres://user:***@host/db
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("postgres", &self.0));
        match rest.split_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or_default();
                if userinfo.contains(':') {
                    write!(f, "{scheme}://{user}:***@{}", strip_query(host))
                } else {
                    write!(f, "{scheme}://{user}@{}", strip_query(host))
                }
            }
            None => write!(f, "{scheme}://{}", strip_query(rest)),
        }
    }
}

/// Query parameters may carry a `password=`: never show them.
fn strip_query(s: &str) -> &str {
    s.split('?').next().unwrap_or(s)
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_never_show_passwords() {
        let url = DatabaseUrl("postgres://app:s3cret@db:5432/bn?password=x".into());
        assert_eq!(url.to_string(), "postgres://app:***@db:5432/bn");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(DatabaseUrl("sqlite://x.db".into()).to_string(), "x.db");
    }

    #[test]
    fn defaults_are_sqlite_in_the_data_directory() {
        let settings = Settings::for_database("x.sqlite3");
        assert!(!settings.database().is_postgres());
        assert_eq!(settings.body_limit_bytes, 1_048_576);
    }

    #[test]
    fn debug_shows_no_secret() {
        let mut settings = Settings::for_database("postgres://app:s3cret@db/bn");
        settings.bootstrap_admin_password = Some(Secret::from("admin-pw-123456"));
        settings.metrics_token = Some(Secret::from("scrape-token"));
        let shown = format!("{settings:?}");
        for secret in ["s3cret", "admin-pw-123456", "scrape-token"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("postgres://app:***@db/bn"), "{shown}");
    }
}

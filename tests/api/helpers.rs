//! `TestApp`: the real application on a random port, on a fresh SQLite file or a fresh
//! PostgreSQL schema, plus small helpers that keep the tests readable.

use std::sync::Once;

use betriebsnachbarschaften::config::Settings;
use betriebsnachbarschaften::db::Db;
use betriebsnachbarschaften::startup::Application;
use diesel::{Connection as _, PgConnection, SqliteConnection, connection::SimpleConnection as _};
use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde_json::Value;

/// Defines a test that runs once on SQLite and once on PostgreSQL:
/// `api_test!(name, |app| async move { ... })` (or `api_test!(name, options, |app| ...)` for
/// an app with other settings) makes `name::sqlite` and `name::postgres`. The test is a
/// closure, an expression, so rustfmt formats it like any other code.
///
/// The PostgreSQL variant is `#[ignore]`d: without a server it is reported as skipped, never
/// as passed. `cargo nextest run --run-ignored all` with `TEST_DATABASE_URL` set runs it (as
/// `.ci/run` does); asked to run without `TEST_DATABASE_URL`, it fails.
macro_rules! api_test {
    ($name:ident, $options:expr, $test:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::helpers::on_sqlite($options, $test).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --run-ignored all"]
            async fn postgres() {
                $crate::helpers::on_postgres($options, $test).await;
            }
        }
    };
    ($name:ident, $test:expr $(,)?) => {
        $crate::helpers::api_test!($name, $crate::helpers::Options::default(), $test);
    };
}
pub(crate) use api_test;

/// Settings a test may change from the defaults.
#[derive(Clone)]
pub struct Options {
    pub db_pool_size: u32,
    pub db_pool_timeout_secs: u64,
    pub body_limit_bytes: usize,
    pub import_limit_bytes: usize,
    pub migrate_on_start: bool,
    pub cors_allowed_origins: Vec<String>,
    pub metrics_token: Option<String>,
    /// `TRUSTED_PROXIES`, e.g. `127.0.0.1` so that a test's `X-Forwarded-For` counts.
    pub trusted_proxies: &'static str,
    pub db_query_timeout_secs: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            db_pool_size: 4,
            db_pool_timeout_secs: 3,
            body_limit_bytes: 1024 * 1024,
            import_limit_bytes: 50 * 1024 * 1024,
            migrate_on_start: true,
            cors_allowed_origins: Vec::new(),
            metrics_token: None,
            trusted_proxies: "",
            db_query_timeout_secs: 5,
        }
    }
}

/// The password of the bootstrap `admin` in every test app.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: Db,
    /// An access token of the bootstrap admin, sent by the request helpers.
    pub token: String,
    /// The data directory: SQLite file (on SQLite) and the token signing key.
    pub data_dir: tempfile::TempDir,
    handle: actix_web::dev::ServerHandle,
    /// The database URL, for a replica on the same database.
    database_url: String,
    settings: Settings,
    _pg_schema: Option<PgSchema>,
}

/// A fresh schema on the test PostgreSQL server, dropped with this guard.
pub struct PgSchema {
    base: String,
    schema: String,
    /// The server URL with the schema as its search path.
    pub url: String,
}

impl PgSchema {
    pub fn create() -> Self {
        let base = postgres_url();
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&base).unwrap_or_else(|e| {
            panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
        });
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create test schema");
        let separator = if base.contains('?') { '&' } else { '?' };
        // The application name marks the app's sessions among the other tests' on the server.
        let url =
            format!("{base}{separator}options=-csearch_path%3D{schema}&application_name={schema}");
        Self { base, schema, url }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.base) {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
        }
    }
}

/// A blocking connection to either database, for what a test does behind the service's back
/// (raw SQL, a lock held, a look at what was stored). The service itself reaches PostgreSQL
/// only asynchronously; libpq is the tests' alone.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// A `DbConnection` to the database `settings` name (as `DATABASE_URL` does for the service).
pub fn connect(settings: &Settings) -> DbConnection {
    let url = settings.database();
    if url.is_postgres() {
        return DbConnection::Postgres(
            PgConnection::establish(url.expose()).expect("a connection to PostgreSQL"),
        );
    }
    let mut conn = SqliteConnection::establish(url.sqlite_path()).expect("the SQLite file opens");
    conn.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON")
        .expect("SQLite's pragmas");
    DbConnection::Sqlite(conn)
}

/// The PostgreSQL server for tests. Only tests that are `#[ignore]`d by default call this
/// (they run with `--run-ignored all`), so a missing `TEST_DATABASE_URL` means someone asked
/// for them explicitly: that fails, instead of passing without having run.
pub fn postgres_url() -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "this test needs PostgreSQL: set TEST_DATABASE_URL (e.g. \
             postgres://postgres@127.0.0.1:5432/test)"
        ),
    }
}

/// Runs a test on an app on a fresh SQLite file.
pub async fn on_sqlite<F, Fut>(options: Options, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    test(TestApp::spawn_sqlite(options).await).await;
}

/// Runs a test on an app on a fresh PostgreSQL schema.
pub async fn on_postgres<F, Fut>(options: Options, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    test(TestApp::spawn_postgres(options).await).await;
}

impl TestApp {
    pub async fn spawn_sqlite(options: Options) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = dir
            .path()
            .join("test.sqlite3")
            .to_string_lossy()
            .into_owned();
        Self::spawn(url, options, dir, None).await
    }

    /// A fresh schema on the server named by `TEST_DATABASE_URL`.
    pub async fn spawn_postgres(options: Options) -> Self {
        let schema = PgSchema::create();
        let dir = tempfile::tempdir().expect("temp dir");
        Self::spawn(schema.url.clone(), options, dir, Some(schema)).await
    }

    async fn spawn(
        url: String,
        options: Options,
        data_dir: tempfile::TempDir,
        pg_schema: Option<PgSchema>,
    ) -> Self {
        let mut app = Self::start(&url, &options, data_dir.path()).await;
        app.data_dir = data_dir;
        app._pg_schema = pg_schema;
        app
    }

    /// A second instance of the service on the same database and signing key, as a replica
    /// behind a load balancer: a token of one is good on the other.
    pub async fn replica(&self) -> Self {
        Self::start(
            &self.database_url,
            &Options::default(),
            self.data_dir.path(),
        )
        .await
    }

    async fn start(url: &str, options: &Options, data_dir: &std::path::Path) -> Self {
        init_logging();
        let mut settings = Settings::for_database(url.to_owned());
        settings.data_dir = data_dir.to_owned();
        settings.bootstrap_admin_password = Some(ADMIN_PASSWORD.into());
        settings.workers = 1;
        settings.db_pool_size = options.db_pool_size;
        settings.db_pool_timeout_secs = options.db_pool_timeout_secs;
        settings.body_limit_bytes = options.body_limit_bytes;
        settings.import_limit_bytes = options.import_limit_bytes;
        settings.migrate_on_start = options.migrate_on_start;
        settings.cors_allowed_origins =
            betriebsnachbarschaften::config::AllowedOrigins(options.cors_allowed_origins.clone());
        settings.metrics_token = options.metrics_token.as_deref().map(Into::into);
        settings.db_query_timeout_secs = options.db_query_timeout_secs;
        settings.trusted_proxies = options.trusted_proxies.parse().expect("trusted proxies");
        settings.shutdown_grace_secs = 1;
        let app = Application::build(&settings)
            .await
            .expect("the application starts");
        let address = format!("http://{}", app.addr());
        let db = app.db().clone();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        let mut app = Self {
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            db,
            token: String::new(),
            data_dir: tempfile::tempdir().expect("temp dir"),
            handle,
            database_url: url.to_owned(),
            settings,
            _pg_schema: None,
        };
        if options.migrate_on_start {
            app.token = app.login("admin", ADMIN_PASSWORD).await["access_token"]
                .as_str()
                .expect("the bootstrap admin signs in")
                .to_owned();
        }
        app
    }

    /// A blocking connection of its own to the app's database, for what a test does behind
    /// the service's back (raw SQL, a lock held).
    pub fn admin(&self) -> DbConnection {
        connect(&self.settings)
    }

    /// Another session takes the regions table for writing and keeps it until the returned
    /// connection commits or goes: a write to it then waits, as it would on a frozen or
    /// overloaded server (reads go on, on PostgreSQL).
    pub fn lock_regions(&self) -> DbConnection {
        use diesel::connection::SimpleConnection as _;
        let mut holder = self.admin();
        let lock = if self.on_postgres() {
            "BEGIN; LOCK TABLE regions IN EXCLUSIVE MODE"
        } else {
            "BEGIN IMMEDIATE"
        };
        holder
            .batch_execute(lock)
            .expect("the regions table locked");
        holder
    }

    /// Runs `work` on a connection of its own (`admin`), on a blocking thread.
    pub async fn with_connection<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> T + Send + 'static,
    ) -> T {
        let settings = self.settings.clone();
        tokio::task::spawn_blocking(move || work(&mut connect(&settings)))
            .await
            .expect("the work on the connection panicked")
    }

    /// PostgreSQL ends every session the app has open, as a server restart or an
    /// administrator would (`pg_terminate_backend`); returns how many there were.
    pub async fn end_its_postgres_sessions(&self) -> i64 {
        use diesel::RunQueryDsl as _;
        #[derive(diesel::QueryableByName)]
        struct Ended {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let schema = self.postgres_schema().to_owned();
        self.with_connection(move |conn| {
            diesel::sql_query(
                "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
            )
            .bind::<diesel::sql_types::Text, _>(schema)
            .get_result::<Ended>(conn)
            .expect("the sessions ended")
            .n
        })
        .await
    }

    /// The PostgreSQL schema the app runs in, which also names its sessions
    /// (`application_name`).
    pub fn postgres_schema(&self) -> &str {
        &self
            ._pg_schema
            .as_ref()
            .expect("an app on PostgreSQL")
            .schema
    }

    /// Whether this app runs on PostgreSQL (else on SQLite).
    pub fn on_postgres(&self) -> bool {
        self._pg_schema.is_some()
    }

    /// Signs in with the password grant and returns the token response.
    pub async fn login(&self, username: &str, password: &str) -> Value {
        let response = self
            .token_request(&[
                ("grant_type", "password"),
                ("username", username),
                ("password", password),
            ])
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "signing in as {username}"
        );
        response.json().await.expect("token JSON")
    }

    /// Posts form fields to the token endpoint.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url("/api/v1/auth/token"))
            .form(form)
            .send()
            .await
            .expect("token request")
    }

    /// A request without credentials.
    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request with the given bearer token.
    pub fn request_as(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.anonymous(method, path).bearer_auth(token)
    }

    /// Creates a user with `role` (and organization) through the API and returns a token.
    pub async fn token_for(&self, role: &str, organization_id: Option<i64>) -> String {
        let username = format!("{role}-{}", uuid::Uuid::new_v4().simple());
        let password = "a-long-enough-password";
        let response = self
            .post_json(
                "/api/v1/users",
                &serde_json::json!({"username": username, "password": password, "role": role, "organization_id": organization_id}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "creating a {role}");
        self.login(&username, password).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates an organization (a chamber of crafts) and returns its id.
    pub async fn create_organization(&self, name: &str) -> i64 {
        self.create(
            "/api/v1/organizations",
            serde_json::json!({"name": name, "kind": "chamber_of_crafts"}),
        )
        .await["id"]
            .as_i64()
            .expect("organization id")
    }

    /// Creates a record as the admin, expecting 201, and returns its body.
    pub async fn create(&self, collection: &str, body: Value) -> Value {
        let response = self.post_json(collection, &body).await;
        let status = response.status();
        let text = response.text().await.expect("body");
        assert_eq!(
            status,
            StatusCode::CREATED,
            "creating {body} in {collection}: {text}"
        );
        serde_json::from_str(&text).expect("JSON")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request as the bootstrap admin.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_as(&self.token, method, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.expect("GET")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::PUT, path)
            .json(body)
            .send()
            .await
            .expect("PUT")
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::PATCH, path)
            .header(header::CONTENT_TYPE, "application/merge-patch+json")
            .body(body.to_string())
            .send()
            .await
            .expect("PATCH")
    }

    /// A merge-patch request that is sent when awaited (for running several at once).
    pub fn patch_json_owned(
        &self,
        path: &str,
        body: Value,
    ) -> impl std::future::Future<Output = reqwest::Result<Response>> + Send + 'static {
        self.request(Method::PATCH, path)
            .header(header::CONTENT_TYPE, "application/merge-patch+json")
            .body(body.to_string())
            .send()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path)
            .send()
            .await
            .expect("DELETE")
    }

    /// Creates a region and returns its body.
    pub async fn create_region(&self, body: Value) -> Value {
        let response = self.post_json("/api/v1/regions", &body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "creating {body}");
        response.json().await.expect("region JSON")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stopping is asynchronous; the server dies with the test's runtime at the latest.
        drop(self.handle.stop(false));
    }
}

fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
            .is_test(true)
            .try_init();
    });
}

/// Checks that a response is a problem document with `status` and the request's id, and
/// returns the document.
pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "status");
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // The contract: every 503 says when to try again.
        let retry_after = response.headers().get(header::RETRY_AFTER);
        assert!(
            retry_after.is_some_and(|v| v.to_str().is_ok_and(|s| s.parse::<u64>().is_ok())),
            "a 503 without Retry-After: {retry_after:?}"
        );
    }
    let content_type = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.expect("problem JSON");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(body["request_id"], request_id.as_str(), "{body}");
    assert!(
        body["type"].as_str().is_some_and(|t| t.starts_with("urn:")),
        "{body}"
    );
    assert!(body["title"].is_string(), "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

/// The `(field, code)` pairs of a 422 problem, in order.
pub fn field_errors(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .expect("errors[]")
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The quoted ETag header value.
pub fn etag_of(response: &Response) -> String {
    response.headers()[header::ETAG]
        .to_str()
        .unwrap()
        .to_owned()
}

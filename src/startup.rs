//! Building and running the server: `Application::build` opens the database, migrates it and
//! binds its own listener (port 0 in tests), `run_until_stopped` serves until SIGTERM/SIGINT.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::{Method, header};
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, HttpServer, web};
use prometheus_client::metrics::counter::Counter;

use crate::api::changes::FeedWatch;
use crate::api::health::Draining;
use crate::api::idempotency;
use crate::api::metrics::MetricsToken;
use crate::api::{self, ApiState};
use crate::auth::TokenService;
use crate::auth::keys::KeySet;
use crate::auth::password::{Hasher, hash_blocking};
use crate::auth::secrets::random_token;
use crate::config::{Secret, Settings};
use crate::db::{self, Db};
use crate::domain::users::NewUser;
use crate::domain::{self, Actor, DomainError, Role};
use crate::memory;
use crate::metrics::Metrics;
use crate::models::users;

pub struct Application {
    addr: SocketAddr,
    server: Server,
    db: Db,
    feed: Arc<FeedWatch>,
    housekeeping: Housekeeping,
    draining: web::Data<Draining>,
    drain: Duration,
    /// Requests begun (`Metrics::started`), for the idle trim (`memory`).
    started: Counter,
}

impl Application {
    /// Opens the database (migrating it when configured), binds the listener and prepares the
    /// server; nothing is served until `run_until_stopped`.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        // First, on a heap still nearly empty: building the OpenAPI document has ~10 MiB live
        // for a moment, which later allocations then reuse instead of growing past it.
        let state = ApiState::new()?;
        if settings.migrate_on_start {
            let applied = db::migrate(settings).await?;
            if applied > 0 {
                log::info!("applied {applied} database migration(s)");
            }
        }
        let db = Db::connect(settings, db::QueryCounter::default()).await?;
        if db.run(async |conn| db::has_pending(conn).await).await? {
            log::warn!("database migrations are pending: run `migrate`; not ready until then");
        } else {
            bootstrap_admin(&db, settings).await?;
        }
        let tokens = web::Data::new(token_service(settings)?);
        let hasher = web::Data::new(Hasher::new(settings.password_hash_concurrency)?);
        let listener = TcpListener::bind((settings.host, settings.port))?;
        let addr = listener.local_addr()?;
        let limits = api::Limits {
            body: settings.body_limit_bytes,
            import: settings.import_limit_bytes,
        };
        let worker_db = db.clone();
        let metrics = web::Data::new(Metrics::new(db.clone()));
        let started = metrics.started();
        let metrics_token = web::Data::new(MetricsToken::new(
            settings.metrics_token.as_ref().map(Secret::expose),
        ));
        let origins = settings.cors_allowed_origins.0.clone();
        let trusted_proxies = web::Data::new(settings.trusted_proxies.clone());
        let draining = web::Data::new(Draining::default());
        let app_draining = draining.clone();
        let feed = Arc::new(FeedWatch::default());
        let app_feed = web::Data::from(Arc::clone(&feed));

        let mut server = HttpServer::new(move || {
            // Each worker its own database pool (see `Db::for_worker`). Building one only
            // configures it; it connects when requests need it.
            let app_db = match worker_db.for_worker() {
                Ok(db) => web::Data::new(db),
                Err(e) => {
                    log::error!(
                        "cannot build a worker's database pool, sharing the main one: {e:#}"
                    );
                    web::Data::new(worker_db.clone())
                }
            };
            // The last `wrap` is the outermost: the request context sees every answer, CORS's
            // own (preflights, refusals) included.
            App::new()
                .wrap(Condition::new(!origins.is_empty(), cors(&origins)))
                .wrap(from_fn(api::context::request_context))
                .app_data(app_db)
                .app_data(tokens.clone())
                .app_data(hasher.clone())
                .app_data(metrics.clone())
                .app_data(metrics_token.clone())
                .app_data(trusted_proxies.clone())
                .app_data(app_draining.clone())
                .app_data(app_feed.clone())
                .configure(|cfg| api::configure(cfg, state.clone(), limits))
        })
        .listen(listener)?
        // SIGTERM/SIGINT are handled in `run_until_stopped`: drain first, then stop.
        .disable_signals()
        .shutdown_timeout(settings.shutdown_grace_secs)
        // Idle keep-alive connections must not hold a shutdown open; clients reconnect.
        .keep_alive(Duration::from_secs(5))
        .client_request_timeout(Duration::from_secs(10));
        server = server.workers(settings.worker_count());
        log::info!(
            "serving on http://{addr} with database {} ({} connections)",
            settings.database(),
            settings.db_pool_size
        );
        Ok(Self {
            addr,
            server: server.run(),
            started,
            db,
            feed,
            housekeeping: Housekeeping {
                changes_retention_days: settings.changes_retention_days,
                idempotency_ttl_secs: settings.idempotency_ttl_secs,
            },
            draining,
            drain: Duration::from_secs(settings.shutdown_drain_secs),
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Serves until the server is stopped. SIGTERM/SIGINT stop it in order: readiness turns
    /// 503 and every answer closes its connection at once (`Draining`), the server keeps
    /// reading and answering for `SHUTDOWN_DRAIN_SECS` — so a request a client sent on a
    /// keep-alive connection just before the signal is answered, not cut off — then stops
    /// accepting and gives requests in flight `SHUTDOWN_GRACE_SECS`. The change feed's
    /// ticker, the housekeeping and the idle trim of the heaps (`memory`) run beside the server
    /// and stop with it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let ticker = tokio::spawn(Arc::clone(&self.feed).tick(self.db.clone()));
        let trimmer = tokio::spawn(memory::trim_when_idle(self.started));
        let housekeeping = tokio::spawn(self.housekeeping.run(self.db.clone()));
        let handle = self.server.handle();
        let (draining, drain) = (self.draining, self.drain);
        let signals = tokio::spawn(async move {
            if let Err(e) = stop_signal().await {
                log::error!("cannot listen for SIGTERM/SIGINT, so cannot stop gracefully: {e}");
                return;
            }
            draining.start();
            log::info!("stopping: draining for {drain:?}, then finishing requests in flight");
            tokio::time::sleep(drain).await;
            handle.stop(true).await;
        });
        let served = self.server.await;
        ticker.abort();
        trimmer.abort();
        housekeeping.abort();
        signals.abort();
        served
    }

    /// A handle to stop the server from outside (tests).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// Waits for SIGTERM (what orchestrators send) or SIGINT (Ctrl-C).
async fn stop_signal() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => Ok(()),
        interrupted = tokio::signal::ctrl_c() => interrupted,
    }
}

/// Removes what is kept only for a while: changes past `CHANGES_RETENTION_DAYS` and stored
/// idempotent answers past `IDEMPOTENCY_TTL_SECS`. Every replica runs it; the deletes are
/// idempotent, so replicas running it at once do no harm. They are writes: on SQLite they
/// queue with the others (`Db::write`).
#[derive(Debug, Clone, Copy)]
struct Housekeeping {
    changes_retention_days: Option<u32>,
    idempotency_ttl_secs: u64,
}

impl Housekeeping {
    const EVERY: Duration = Duration::from_secs(600);

    async fn run(self, db: Db) {
        let mut interval = tokio::time::interval(Self::EVERY);
        loop {
            interval.tick().await;
            if let Some(days) = self.changes_retention_days
                && let Err(e) = db
                    .write(async move |conn| domain::changes::purge(conn, days).await)
                    .await
            {
                log::warn!("removing old changes failed: {e}");
            }
            let ttl = self.idempotency_ttl_secs;
            if let Err(e) = db
                .write(async move |conn| idempotency::purge(conn, ttl).await)
                .await
            {
                log::warn!("removing old idempotency keys failed: {e}");
            }
            let refreshed =
                db.write(async |conn| Ok::<_, DomainError>(db::refresh_statistics(conn)?));
            if let Err(e) = refreshed.await {
                log::warn!("refreshing the planner's statistics failed: {e}");
            }
        }
    }
}

/// Cross-origin access for the configured frontend origins. Credentials are bearer tokens in
/// `Authorization`, never cookies, so no `Access-Control-Allow-Credentials`. A request from
/// another origin is not refused here (`block_on_origin_mismatch(false)`): it simply gets no
/// CORS headers and the browser withholds the answer, while same-origin pages such as `/docs`
/// (whose browsers send `Origin` on POST) keep working.
fn cors(origins: &[String]) -> Cors {
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            api::context::REQUEST_ID,
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
            api::context::REQUEST_ID,
        ])
        .max_age(3600)
        .block_on_origin_mismatch(false)
}

/// The token service from the configured (or created) keys.
pub fn token_service(settings: &Settings) -> anyhow::Result<TokenService> {
    let create = settings.jwt_key_file.is_none();
    let keys = KeySet::load(
        &settings.jwt_key_path(),
        create,
        settings.jwt_verify_keys_dir.as_deref(),
    )?;
    Ok(TokenService::new(
        keys,
        settings.jwt_issuer.clone(),
        settings.jwt_audience.clone(),
        Duration::from_secs(settings.access_token_ttl_secs),
        Duration::from_secs(settings.refresh_token_ttl_secs),
    ))
}

/// On the very first start (no user at all) creates `admin`, so a fresh install is usable at
/// once. A random password is printed once to stderr, outside the log stream. The password is
/// hashed outside the database work (argon2 takes a while; the work has a deadline).
async fn bootstrap_admin(db: &Db, settings: &Settings) -> anyhow::Result<()> {
    let users = db
        .run(async |conn| Ok::<_, DomainError>(users::count(conn).await?))
        .await?;
    if users > 0 {
        return Ok(());
    }
    let (password, generated) = match &settings.bootstrap_admin_password {
        Some(password) => (password.expose().to_owned(), false),
        None => (random_token(18)?, true),
    };
    let hash = hash_blocking(&password)?;
    let admin = NewUser {
        username: "admin".into(),
        role: Role::Admin,
        organization_id: None,
        display_name: Some("Administrator".into()),
        email: None,
        disabled: false,
    };
    let created = db
        .write(async move |conn| {
            let by = Actor::command_line("bootstrap");
            domain::users::create(conn, &by, admin, &hash).await
        })
        .await;
    match created {
        Ok(_) => {}
        // Another replica starting at the same moment created it first.
        Err(DomainError::Conflict(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    if generated {
        eprintln!(
            "\n  Created the first account: username `admin`, password `{password}`\n  \
             It is shown only this once. Get a token with:\n  \
             curl -s http://{}:{}/api/v1/auth/token -d grant_type=password -d username=admin --data-urlencode 'password=...'\n",
            settings.host, settings.port
        );
    } else {
        log::info!("created the first account `admin` with the configured bootstrap password");
    }
    Ok(())
}

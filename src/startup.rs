//! Building and running the server: `Application::build` opens the database, migrates it and
//! binds its own listener (port 0 in tests), `run_until_stopped` serves until SIGTERM/SIGINT.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::api::{self, ApiState};
use crate::config::Settings;
use crate::db::{self, Db};

pub struct Application {
    addr: SocketAddr,
    server: Server,
    db: Db,
}

impl Application {
    /// Opens the database (migrating it when configured), binds the listener and prepares the
    /// server; nothing is served until `run_until_stopped`.
    pub fn build(settings: &Settings) -> anyhow::Result<Self> {
        let pool = db::connect(settings)?;
        let db = Db::new(pool);
        if settings.migrate_on_start {
            let mut conn = db.pool().get()?;
            let applied = db::migrate(&mut conn)?;
            if applied > 0 {
                log::info!("applied {applied} database migration(s)");
            }
        }
        let listener = TcpListener::bind((settings.host, settings.port))?;
        let addr = listener.local_addr()?;
        let state = ApiState::new()?;
        let body_limit = settings.body_limit_bytes;
        let app_db = web::Data::new(db.clone());

        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(api::context::request_context))
                .app_data(app_db.clone())
                .configure(|cfg| api::configure(cfg, state.clone(), body_limit))
        })
        .listen(listener)?
        .shutdown_timeout(settings.shutdown_grace_secs)
        // Idle keep-alive connections must not hold a shutdown open; clients reconnect.
        .keep_alive(Duration::from_secs(5))
        .client_request_timeout(Duration::from_secs(10));
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        log::info!(
            "serving on http://{addr} with database {} ({} connections)",
            settings.database(),
            settings.db_pool_size
        );
        Ok(Self {
            addr,
            server: server.run(),
            db,
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

    /// Serves until the server is stopped (SIGTERM/SIGINT stop it gracefully).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// A handle to stop the server from outside (tests).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

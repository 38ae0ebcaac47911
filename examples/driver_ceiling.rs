//! How fast one PostgreSQL point read can be served by actix-web on this machine, for two ways
//! of reaching the database. A measuring instrument for `bench/run.sh` (BENCHMARKS.md discusses
//! what it found), not part of the service:
//!
//! - `sync`: the way the service works. diesel's blocking `PgConnection` from an r2d2 pool,
//!   run on actix's blocking threads, callers first queued on a semaphore of pool-size permits
//!   (as `Db::run` does). Every request hops to a blocking thread and back, and that thread
//!   sleeps in libpq until PostgreSQL answers.
//! - `async`: tokio-postgres on the HTTP workers themselves, one connection per worker that
//!   pipelines the queries of all the worker's requests: no thread hop.
//! - `diesel-async`: the candidate for the service's PostgreSQL path (#17): diesel-async's
//!   `AsyncPgConnection` with the same typed query as `sync`, from one deadpool pool of the
//!   same size shared by all workers. A connection's I/O task lives on the runtime of the
//!   worker that opened it, so a request on another worker crosses threads to reach it.
//! - `diesel-async-per-worker`: the same, with one pool per worker (the pool size split
//!   between them), so every connection is driven by the worker that uses it.
//! - `diesel-async-pipelined`: one `AsyncPgConnection` per worker, shared by all the worker's
//!   requests through `&AsyncPgConnection` (which diesel-async makes a connection of its own
//!   for exactly this): their queries are pipelined on it, as `async` does with
//!   tokio-postgres. Only for statements outside a transaction; a transaction needs a
//!   connection to itself.
//!
//! The diesel-async pools check a connection by its state when it is checked out
//! (`RecyclingMethod::Fast`), not with a `SELECT 1` round trip, as the r2d2 pool of `sync`
//! runs without `test_on_check_out`.
//!
//! Both serve `GET /companies/{id}` with four columns of a database seeded by
//! `betriebsnachbarschaften seed --synthetic N`, and nothing else: no authentication, no
//! logging, no middleware. What one reaches and the other does not is the price of the
//! driver, not of the service's code.
//!
//! ```sh
//! cargo run --release --example driver_ceiling -- sync 18591 'postgres://…/db?sslmode=disable'
//! ```
//!
//! tokio-postgres is used without TLS here, so pass `sslmode=disable` to both for a fair pair.

#![allow(clippy::unwrap_used)] // a failing unwrap in a test is a failing test

use std::rc::Rc;
use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, web};
use betriebsnachbarschaften::db::schema::companies;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::Pool as AsyncPool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use serde_json::json;

/// As many connections as the service's default pool.
const POOL_SIZE: u32 = 10;
const QUERY: &str = "SELECT id, name, region_id, version FROM companies WHERE id = $1";

type Row = (i64, String, i64, i64);

fn answer(row: Option<Row>) -> HttpResponse {
    match row {
        Some((id, name, region_id, version)) => HttpResponse::Ok()
            .json(json!({"id": id, "name": name, "region_id": region_id, "version": version})),
        None => HttpResponse::NotFound().finish(),
    }
}

fn failed(e: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::InternalServerError().body(e.to_string())
}

/// The columns every driver reads, in diesel's typed DSL.
macro_rules! point_read {
    ($id:expr) => {
        companies::table.filter(companies::id.eq($id)).select((
            companies::id,
            companies::name,
            companies::region_id,
            companies::version,
        ))
    };
}

struct Blocking {
    pool: Pool<ConnectionManager<PgConnection>>,
    turns: tokio::sync::Semaphore,
}

async fn read_blocking(db: web::Data<Arc<Blocking>>, id: web::Path<i64>) -> HttpResponse {
    let Ok(_permit) = db.turns.acquire().await else {
        return failed("semaphore closed");
    };
    let (db, id) = (db.get_ref().clone(), id.into_inner());
    let read = web::block(move || -> Result<Option<Row>, String> {
        let mut conn = db.pool.get().map_err(|e| e.to_string())?;
        point_read!(id)
            .first::<Row>(&mut conn)
            .optional()
            .map_err(|e| e.to_string())
    })
    .await;
    match read {
        Ok(Ok(row)) => answer(row),
        Ok(Err(e)) => failed(e),
        Err(e) => failed(e),
    }
}

async fn read_diesel_async(
    pool: web::Data<AsyncPool<AsyncPgConnection>>,
    id: web::Path<i64>,
) -> HttpResponse {
    let mut conn = match pool.get().await {
        Ok(conn) => conn,
        Err(e) => return failed(e),
    };
    // The method syntax would be ambiguous next to diesel's own RunQueryDsl (the prelude).
    let read = diesel_async::RunQueryDsl::first::<Row>(point_read!(id.into_inner()), &mut conn);
    match read.await.optional() {
        Ok(row) => answer(row),
        Err(e) => failed(e),
    }
}

async fn read_diesel_pipelined(
    conn: web::Data<Rc<AsyncPgConnection>>,
    id: web::Path<i64>,
) -> HttpResponse {
    let read = diesel_async::RunQueryDsl::first::<Row>(point_read!(id.into_inner()), &mut &***conn);
    match read.await.optional() {
        Ok(row) => answer(row),
        Err(e) => failed(e),
    }
}

fn async_pool(url: &str, size: usize) -> AsyncPool<AsyncPgConnection> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    let manager = AsyncDieselConnectionManager::new_with_config(url, config);
    AsyncPool::builder(manager).max_size(size).build().unwrap()
}

/// One worker's connection and its prepared statement.
struct Pipelined {
    client: tokio_postgres::Client,
    statement: tokio_postgres::Statement,
}

async fn read_pipelined(db: web::Data<Rc<Pipelined>>, id: web::Path<i64>) -> HttpResponse {
    match db
        .client
        .query_opt(&db.statement, &[&id.into_inner()])
        .await
    {
        Ok(row) => answer(row.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))),
        Err(e) => failed(e),
    }
}

async fn connect_pipelined(url: String) -> Result<Rc<Pipelined>, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    actix_web::rt::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("connection closed: {e}");
        }
    });
    let statement = client.prepare(QUERY).await?;
    Ok(Rc::new(Pipelined { client, statement }))
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [driver, port, url] = args.as_slice() else {
        anyhow::bail!(
            "usage: driver_ceiling <sync|async|diesel-async[-per-worker|-pipelined]> <port> <url>"
        );
    };
    let address = ("127.0.0.1", port.parse::<u16>()?);
    let server = match driver.as_str() {
        "sync" => {
            let blocking = Arc::new(Blocking {
                pool: Pool::builder()
                    .max_size(POOL_SIZE)
                    .test_on_check_out(false)
                    .build(ConnectionManager::new(url))?,
                turns: tokio::sync::Semaphore::new(POOL_SIZE as usize),
            });
            HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(blocking.clone()))
                    .route("/companies/{id}", web::get().to(read_blocking))
            })
            .bind(address)?
            .run()
        }
        "async" => {
            let url = url.clone();
            HttpServer::new(move || {
                let url = url.clone();
                App::new()
                    .data_factory(move || connect_pipelined(url.clone()))
                    .route("/companies/{id}", web::get().to(read_pipelined))
            })
            .bind(address)?
            .run()
        }
        "diesel-async" => {
            let pool = web::Data::new(async_pool(url, POOL_SIZE as usize));
            HttpServer::new(move || {
                App::new()
                    .app_data(pool.clone())
                    .route("/companies/{id}", web::get().to(read_diesel_async))
            })
            .bind(address)?
            .run()
        }
        "diesel-async-per-worker" => {
            let (url, workers) = (url.clone(), std::thread::available_parallelism()?.get());
            let per_worker = (POOL_SIZE as usize).div_ceil(workers);
            HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(async_pool(&url, per_worker)))
                    .route("/companies/{id}", web::get().to(read_diesel_async))
            })
            .workers(workers)
            .bind(address)?
            .run()
        }
        "diesel-async-pipelined" => {
            let url = url.clone();
            HttpServer::new(move || {
                let url = url.clone();
                App::new()
                    .data_factory(move || {
                        let url = url.clone();
                        async move {
                            use diesel_async::AsyncConnection as _;
                            let conn = AsyncPgConnection::establish(&url).await?;
                            Ok::<_, diesel::ConnectionError>(Rc::new(conn))
                        }
                    })
                    .route("/companies/{id}", web::get().to(read_diesel_pipelined))
            })
            .bind(address)?
            .run()
        }
        other => anyhow::bail!(
            "unknown driver {other:?}: sync, async, diesel-async, diesel-async-per-worker or \
             diesel-async-pipelined"
        ),
    };
    server.await?;
    Ok(())
}

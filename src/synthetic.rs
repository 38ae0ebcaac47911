//! Synthetic companies for benchmarks (`seed --synthetic N`): the demo project first (real
//! regions, topics, organizations and the project), then N companies spread over its regions,
//! each with topics and the project, written by one set-based SQL statement per table so that
//! a million rows take seconds, not hours of single inserts.
//!
//! The rows are plainly synthetic ("Benchmark-Betrieb 123"): no invented facts about real
//! companies. Derived columns are computed as the service computes them: `name_key` and
//! `city_key` are the lowercased names (the names are ASCII or lowercase beyond ASCII, where
//! SQL's `lower` and Rust's agree), `employee_sort` the employee count. Each company's create
//! is in the change feed, as every create is.

use crate::db::prelude::*;

use crate::db::schema::{companies, regions};
use crate::db::{self, Conn, query};
use crate::domain::name_key;

/// How many companies of the synthetic kind each call adds.
pub struct SyntheticSeeded {
    pub companies: i64,
    pub topic_links: i64,
}

/// Adds `n` synthetic companies (after loading the demo project if it is missing).
pub async fn companies(conn: &mut Conn<'_>, n: u64) -> anyhow::Result<SyntheticSeeded> {
    anyhow::ensure!(
        n > 0 && n <= 10_000_000,
        "N must be between 1 and 10 000 000"
    );
    crate::seed::demo(conn)
        .await
        .map_err(|e| anyhow::anyhow!("loading the demo project: {e:?}"))?;
    let regions: Vec<(i64, String)> = query!(conn, |c| regions::table
        .select((regions::id, regions::name))
        .order(regions::id)
        .load(c))?;
    anyhow::ensure!(!regions.is_empty(), "the demo project has no regions");
    let first_new = query!(conn, |c| companies::table
        .select(diesel::dsl::max(companies::id))
        .first::<Option<i64>>(c))?
    .unwrap_or(0)
        + 1;

    // Region and city by `i % regions`: the towns the regions are named after.
    let count = regions.len();
    let region_case = case_of(&regions, |(id, _)| id.to_string());
    let city_case = case_of(&regions, |(_, name)| quote(town(name)));
    let city_key_case = case_of(&regions, |(_, name)| quote(&name_key(town(name))));
    let now = crate::domain::now()
        .format("%Y-%m-%d %H:%M:%S%.f")
        .to_string();
    let timestamp = match conn {
        Conn::Postgres(_) => format!("TIMESTAMP '{now}'"),
        Conn::Sqlite(_) => quote(&now),
    };
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
         INSERT INTO companies (name, name_key, external_id, region_id, city, city_key, employee_count, \
           apprentice_count, employee_sort, created_at, updated_at, version, created_by, updated_by) \
         SELECT 'Benchmark-Betrieb ' || ({first_new} + i - 1), \
           'benchmark-betrieb ' || ({first_new} + i - 1), \
           'BENCH-' || ({first_new} + i - 1), \
           CASE i % {count} {region_case} END, \
           CASE i % {count} {city_case} END, \
           CASE i % {count} {city_key_case} END, \
           (i * 7919) % 250 + 1, i % 12, (i * 7919) % 250 + 1, \
           {timestamp}, {timestamp}, 1, 'seed', 'seed' \
         FROM n"
    );
    let seeded = db::transaction(conn, async |conn| -> anyhow::Result<SyntheticSeeded> {
        query!(conn, |c| c.batch_execute(&sql))?;
        // Two or three topics per company, and the project.
        let links = format!(
            "INSERT INTO company_topics (company_id, topic_id) \
             SELECT c.id, t.id FROM companies c JOIN topics t ON t.id % 4 = c.id % 4 \
             WHERE c.id >= {first_new}; \
             INSERT INTO company_projects (company_id, project_id) \
             SELECT c.id, p.id FROM companies c CROSS JOIN projects p WHERE c.id >= {first_new}; \
             INSERT INTO changes (resource, resource_id, action, version, at, actor) \
             SELECT 'companies', c.id, 'create', 1, c.created_at, 'seed' FROM companies c \
             WHERE c.id >= {first_new} ORDER BY c.id;"
        );
        query!(conn, |c| c.batch_execute(&links))?;
        // The rows are creates like any other: the change feed lists them. Numbered in this
        // transaction, which holds the feed's lock until it commits, so no reader can see a
        // later number before these.
        crate::models::changes::sequence(conn).await?;
        let companies = query!(conn, |c| companies::table
            .filter(companies::id.ge(first_new))
            .count()
            .get_result(c))?;
        let topic_links = query!(conn, |c| crate::db::schema::company_topics::table
            .filter(crate::db::schema::company_topics::company_id.ge(first_new))
            .count()
            .get_result(c))?;
        Ok(SyntheticSeeded {
            companies,
            topic_links,
        })
    })
    .await?;
    // Fresh statistics, so the planners use the indexes at once.
    query!(conn, |c| c.batch_execute("ANALYZE"))?;
    Ok(seeded)
}

/// `WHEN 0 THEN … WHEN 1 THEN …` over the regions.
fn case_of<T>(items: &[T], value: impl Fn(&T) -> String) -> String {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| format!("WHEN {i} THEN {}", value(item)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The town a region is named after ("Schöningen/Samtgemeinde Heeseberg" → "Schöningen").
fn town(region: &str) -> &str {
    region.split(['/', ' ']).next().unwrap_or(region)
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

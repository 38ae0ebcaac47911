//! Failed sign-ins, for throttling. After `FREE_ATTEMPTS` failures in a row, each further
//! attempt must wait `BASE_DELAY` doubled per failure, at most `MAX_DELAY`; failures older than
//! `FORGET_AFTER` no longer count. A success clears the key.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::login_failures;
use crate::domain::now;

pub const FREE_ATTEMPTS: i64 = 5;
const BASE_DELAY_SECS: i64 = 30;
const MAX_DELAY_SECS: i64 = 15 * 60;
const FORGET_AFTER_SECS: i64 = 15 * 60;

fn delay_secs(failures: i64) -> i64 {
    let doublings = (failures - FREE_ATTEMPTS).clamp(0, 10) as u32;
    (BASE_DELAY_SECS << doublings).min(MAX_DELAY_SECS)
}

/// Seconds the key must still wait before its next attempt, if it is locked now.
pub fn retry_after(conn: &mut DbConnection, key: &str) -> QueryResult<Option<u64>> {
    let row: Option<(i64, NaiveDateTime)> = login_failures::table
        .find(key)
        .select((login_failures::failures, login_failures::last_failure_at))
        .first(conn)
        .optional()?;
    let Some((failures, last)) = row else {
        return Ok(None);
    };
    if failures < FREE_ATTEMPTS {
        return Ok(None);
    }
    let until = last + Duration::seconds(delay_secs(failures));
    let left = (until - now()).num_seconds();
    Ok((left > 0).then(|| u64::try_from(left).unwrap_or(1).max(1)))
}

/// Counts one more failure for the key.
pub fn record_failure(conn: &mut DbConnection, key: &str) -> QueryResult<()> {
    let at = now();
    let forget_before = at - Duration::seconds(FORGET_AFTER_SECS);
    // Stale failures start over at one; recent ones add one.
    let reset = diesel::update(
        login_failures::table
            .find(key)
            .filter(login_failures::last_failure_at.lt(forget_before)),
    )
    .set((
        login_failures::failures.eq(1),
        login_failures::last_failure_at.eq(at),
    ))
    .execute(conn)?;
    if reset == 1 {
        return Ok(());
    }
    let counted = diesel::update(login_failures::table.find(key))
        .set((
            login_failures::failures.eq(login_failures::failures + 1),
            login_failures::last_failure_at.eq(at),
        ))
        .execute(conn)?;
    if counted == 0 {
        let inserted = diesel::insert_into(login_failures::table)
            .values((
                login_failures::throttle_key.eq(key),
                login_failures::failures.eq(1),
                login_failures::last_failure_at.eq(at),
            ))
            .execute(conn);
        // Another request inserted the key first: count on its row.
        if let Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) = inserted
        {
            return record_failure(conn, key);
        }
        inserted?;
    }
    Ok(())
}

pub fn clear(conn: &mut DbConnection, key: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.find(key))
        .execute(conn)
        .map(drop)
}

//! Failed sign-ins, for throttling. Each attempt spends from two budgets (`Attempt`): its
//! name's at its address (`PER_NAME`: 5 free failures) and its address's own across all
//! names (`PER_ADDRESS`: 20 free failures — an office of many people behind one NAT mistypes
//! now and then; one address guessing through made-up usernames does not get far). Beyond
//! the free failures, each further attempt must wait `BASE_DELAY` doubled per failure, at
//! most `MAX_DELAY`; failures older than `FORGET_AFTER` no longer count.

use crate::db::prelude::*;
use chrono::{Duration, NaiveDateTime};

use crate::db::schema::login_failures;
use crate::db::{Conn, query};
use crate::domain::now;

/// Free failures of one name (a username or client id) at one address.
pub const PER_NAME: i64 = 5;
/// Free failures of one address, whatever names it tries.
pub const PER_ADDRESS: i64 = 20;
const BASE_DELAY_SECS: i64 = 30;
const MAX_DELAY_SECS: i64 = 15 * 60;
const FORGET_AFTER_SECS: i64 = 15 * 60;

fn delay_secs(free: i64, failures: i64) -> i64 {
    let doublings = (failures - free).clamp(0, 10) as u32;
    (BASE_DELAY_SECS << doublings).min(MAX_DELAY_SECS)
}

/// One sign-in attempt's budgets. A success clears only the name's: clearing the address's
/// would let anyone with one valid account reset it between guesses.
pub struct Attempt {
    name: String,
    address: String,
}

impl Attempt {
    /// `kind` is `user` or `client`; `address` the client's address (`api::peer`).
    pub fn new(kind: &str, name: &str, address: &str) -> Self {
        Self {
            name: format!("{kind}:{}|{address}", crate::domain::name_key(name)),
            address: format!("address:{address}"),
        }
    }

    /// Seconds to wait before this attempt may be made, if either budget is spent.
    pub async fn locked(&self, conn: &mut Conn<'_>) -> QueryResult<Option<u64>> {
        let name = retry_after(conn, &self.name, PER_NAME).await?;
        let address = retry_after(conn, &self.address, PER_ADDRESS).await?;
        Ok(name.max(address))
    }

    pub async fn failed(&self, conn: &mut Conn<'_>) -> QueryResult<()> {
        record_failure(conn, &self.name).await?;
        record_failure(conn, &self.address).await
    }

    pub async fn succeeded(&self, conn: &mut Conn<'_>) -> QueryResult<()> {
        query!(conn, |c| diesel::delete(
            login_failures::table.find(&self.name)
        )
        .execute(c))
        .map(drop)
    }
}

/// Seconds the key must still wait before its next attempt, if it is locked now.
async fn retry_after(conn: &mut Conn<'_>, key: &str, free: i64) -> QueryResult<Option<u64>> {
    let row: Option<(i64, NaiveDateTime)> = query!(conn, |c| login_failures::table
        .find(key)
        .select((login_failures::failures, login_failures::last_failure_at))
        .first(c))
    .optional()?;
    let Some((failures, last)) = row else {
        return Ok(None);
    };
    if failures < free {
        return Ok(None);
    }
    let until = last + Duration::seconds(delay_secs(free, failures));
    let left = (until - now()).num_seconds();
    Ok((left > 0).then(|| u64::try_from(left).unwrap_or(1).max(1)))
}

/// Counts one more failure for the key.
async fn record_failure(conn: &mut Conn<'_>, key: &str) -> QueryResult<()> {
    let at = now();
    let forget_before = at - Duration::seconds(FORGET_AFTER_SECS);
    // Stale failures start over at one; recent ones add one.
    let reset = query!(conn, |c| diesel::update(
        login_failures::table
            .find(key)
            .filter(login_failures::last_failure_at.lt(forget_before)),
    )
    .set((
        login_failures::failures.eq(1),
        login_failures::last_failure_at.eq(at),
    ))
    .execute(c))?;
    if reset == 1 {
        return Ok(());
    }
    let counted = query!(conn, |c| diesel::update(login_failures::table.find(key))
        .set((
            login_failures::failures.eq(login_failures::failures + 1),
            login_failures::last_failure_at.eq(at),
        ))
        .execute(c))?;
    if counted == 0 {
        let inserted = query!(conn, |c| diesel::insert_into(login_failures::table)
            .values((
                login_failures::throttle_key.eq(key),
                login_failures::failures.eq(1),
                login_failures::last_failure_at.eq(at),
            ))
            .execute(c));
        // Another request inserted the key first: count on its row.
        if let Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) = inserted
        {
            return Box::pin(record_failure(conn, key)).await;
        }
        inserted?;
    }
    Ok(())
}

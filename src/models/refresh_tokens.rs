//! Refresh tokens: stored as hashes, each usable once, grouped in families (one sign-in).

use crate::db::prelude::*;
use chrono::{Duration, NaiveDateTime};

use crate::db::schema::refresh_tokens;
use crate::db::{Conn, query};
use crate::domain::Role;
use crate::domain::now;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub id: i64,
    pub token_hash: String,
    pub family: String,
    pub user_id: i64,
    pub role: Role,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

pub async fn insert(
    conn: &mut Conn<'_>,
    token_hash: &str,
    family: &str,
    user_id: i64,
    role: Role,
    ttl: Duration,
) -> QueryResult<()> {
    let at = now();
    query!(conn, |c| diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::family.eq(family),
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::role.eq(role),
            refresh_tokens::created_at.eq(at),
            refresh_tokens::expires_at.eq(at + ttl),
        ))
        .execute(c))
    .map(drop)
}

pub async fn find_by_hash(
    conn: &mut Conn<'_>,
    token_hash: &str,
) -> QueryResult<Option<RefreshToken>> {
    query!(conn, |c| refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshToken::as_select())
        .first(c))
    .optional()
}

/// Marks the token used; `false` when it already was (or was revoked) — a concurrent reuse.
pub async fn use_once(conn: &mut Conn<'_>, id: i64) -> QueryResult<bool> {
    query!(conn, |c| diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::id.eq(id))
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(now()))
    .execute(c))
    .map(|n| n == 1)
}

pub async fn revoke_family(conn: &mut Conn<'_>, family: &str) -> QueryResult<usize> {
    query!(conn, |c| diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family.eq(family))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now()))
    .execute(c))
}

/// Ends every sign-in of a user (password changed, disabled, role changed).
pub async fn revoke_user(conn: &mut Conn<'_>, user_id: i64) -> QueryResult<usize> {
    query!(conn, |c| diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now()))
    .execute(c))
}

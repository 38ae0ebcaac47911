//! People who sign in with a password.

use crate::db::prelude::*;
use chrono::NaiveDateTime;

use crate::db::schema::users;
use crate::db::{Conn, query};
use crate::domain::Role;
use crate::domain::users::NewUser;
use crate::domain::{name_key, now};
use crate::models::page::{Page, PageRequest, sorted};
use crate::models::{ListError, WriteError, contains_pattern, missing_or_stale};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub username_key: String,
    pub password_hash: String,
    pub role: Role,
    pub organization_id: Option<i64>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

/// The inserted and updated columns (the password separately: it is write-only): the
/// domain's fields and the case-insensitive key derived from the username.
#[derive(Debug, Clone, PartialEq, Insertable, AsChangeset)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub struct UserFields {
    #[diesel(embed)]
    pub user: NewUser,
    pub username_key: String,
}

impl From<NewUser> for UserFields {
    fn from(user: NewUser) -> Self {
        Self {
            username_key: name_key(&user.username),
            user,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    Username,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub q: Option<String>,
    pub role: Option<Role>,
    pub organization_id: Option<i64>,
    pub updated_since: Option<NaiveDateTime>,
}

pub async fn insert(
    conn: &mut Conn<'_>,
    fields: &UserFields,
    password_hash: &str,
) -> QueryResult<User> {
    let at = now();
    query!(conn, |c| diesel::insert_into(users::table)
        .values((
            fields,
            users::password_hash.eq(password_hash),
            users::created_at.eq(at),
            users::updated_at.eq(at),
            users::version.eq(1),
        ))
        .returning(users::all_columns)
        .get_result(c))
}

pub async fn find(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<User>> {
    query!(conn, |c| users::table
        .find(id)
        .select(User::as_select())
        .first(c))
    .optional()
}

pub async fn find_by_username(conn: &mut Conn<'_>, username: &str) -> QueryResult<Option<User>> {
    query!(conn, |c| users::table
        .filter(users::username_key.eq(name_key(username)))
        .select(User::as_select())
        .first(c))
    .optional()
}

pub async fn count(conn: &mut Conn<'_>) -> QueryResult<i64> {
    query!(conn, |c| users::table.count().get_result(c))
}

/// Sets the fields (and a new password hash when given) if the version still matches.
pub async fn update(
    conn: &mut Conn<'_>,
    id: i64,
    expected_version: i64,
    fields: &UserFields,
    password_hash: Option<&str>,
) -> Result<User, WriteError> {
    let target = users::table
        .filter(users::id.eq(id))
        .filter(users::version.eq(expected_version));
    let stamp = (
        users::updated_at.eq(now()),
        users::version.eq(users::version + 1),
    );
    let updated = match password_hash {
        Some(hash) => query!(conn, |c| diesel::update(target)
            .set((fields, users::password_hash.eq(hash), stamp))
            .returning(users::all_columns)
            .get_result::<User>(c))
        .optional()?,
        None => query!(conn, |c| diesel::update(target)
            .set((fields, stamp))
            .returning(users::all_columns)
            .get_result::<User>(c))
        .optional()?,
    };
    match updated {
        Some(user) => Ok(user),
        None => Err(missing_or_stale(find(conn, id).await?.is_some())),
    }
}

pub async fn delete(
    conn: &mut Conn<'_>,
    id: i64,
    expected_version: Option<i64>,
) -> Result<(), WriteError> {
    let target = users::table.filter(users::id.eq(id));
    let deleted = match expected_version {
        Some(v) => query!(conn, |c| diesel::delete(
            target.filter(users::version.eq(v))
        )
        .execute(c))?,
        None => query!(conn, |c| diesel::delete(target).execute(c))?,
    };
    if deleted == 1 {
        Ok(())
    } else {
        Err(missing_or_stale(find(conn, id).await?.is_some()))
    }
}

pub async fn list(
    conn: &mut Conn<'_>,
    filter: &UserFilter,
    page: &PageRequest<UserSort>,
) -> Result<Page<User>, ListError> {
    // A macro, not a closure: each arm of `query!` builds the boxed query for its backend.
    macro_rules! filtered {
        () => {{
            let mut query = users::table.into_boxed();
            if let Some(q) = &filter.q {
                query = query.filter(users::username_key.like(contains_pattern(q)).escape('\\'));
            }
            if let Some(role) = &filter.role {
                query = query.filter(users::role.eq(*role));
            }
            if let Some(org) = filter.organization_id {
                query = query.filter(users::organization_id.eq(org));
            }
            if let Some(since) = filter.updated_since {
                query = query.filter(users::updated_at.ge(since));
            }
            query
        }};
    }
    let (rows, keyset) = sorted!(conn, filtered!().select(User::as_select()), page, users::id, |u: User| {
        UserSort::Username => text(users::username_key, u.username_key.clone()),
        UserSort::CreatedAt => time(users::created_at, u.created_at),
        UserSort::UpdatedAt => time(users::updated_at, u.updated_at),
    })?;
    let total = if page.with_total {
        Some(query!(conn, |c| filtered!().count().get_result(c))?)
    } else {
        None
    };
    Ok(Page::from_rows(rows, page.limit, total, keyset))
}

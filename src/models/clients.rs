//! Machine clients of partner organizations (OAuth2 client credentials).

use crate::db::prelude::*;
use chrono::NaiveDateTime;

use crate::db::schema::clients;
use crate::db::{Conn, query};
use crate::domain::Role;
use crate::domain::clients::NewClient;
use crate::domain::{name_key, now};
use crate::models::page::{Page, PageRequest, sorted};
use crate::models::{ListError, WriteError, contains_pattern, missing_or_stale};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = clients)]
pub struct Client {
    pub id: i64,
    pub client_id: String,
    pub name: String,
    pub name_key: String,
    pub secret_hash: String,
    pub role: Role,
    pub organization_id: Option<i64>,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

/// The inserted and updated columns: the domain's fields and the case-insensitive key derived
/// from the name.
#[derive(Debug, Clone, PartialEq, Insertable, AsChangeset)]
#[diesel(table_name = clients, treat_none_as_default_value = false)]
pub struct ClientFields {
    #[diesel(embed)]
    pub client: NewClient,
    pub name_key: String,
}

impl From<NewClient> for ClientFields {
    fn from(client: NewClient) -> Self {
        Self {
            name_key: name_key(&client.name),
            client,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSort {
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Default)]
pub struct ClientFilter {
    pub q: Option<String>,
    pub role: Option<Role>,
    pub organization_id: Option<i64>,
    pub updated_since: Option<NaiveDateTime>,
}

pub async fn insert(
    conn: &mut Conn<'_>,
    fields: &ClientFields,
    client_id: &str,
    secret_hash: &str,
) -> QueryResult<Client> {
    let at = now();
    query!(conn, |c| diesel::insert_into(clients::table)
        .values((
            fields,
            clients::client_id.eq(client_id),
            clients::secret_hash.eq(secret_hash),
            clients::created_at.eq(at),
            clients::updated_at.eq(at),
            clients::version.eq(1),
        ))
        .returning(clients::all_columns)
        .get_result(c))
}

pub async fn find(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<Client>> {
    query!(conn, |c| clients::table
        .find(id)
        .select(Client::as_select())
        .first(c))
    .optional()
}

pub async fn find_by_client_id(
    conn: &mut Conn<'_>,
    client_id: &str,
) -> QueryResult<Option<Client>> {
    query!(conn, |c| clients::table
        .filter(clients::client_id.eq(client_id))
        .select(Client::as_select())
        .first(c))
    .optional()
}

pub async fn update(
    conn: &mut Conn<'_>,
    id: i64,
    expected_version: i64,
    fields: &ClientFields,
) -> Result<Client, WriteError> {
    let updated = query!(conn, |c| diesel::update(
        clients::table
            .filter(clients::id.eq(id))
            .filter(clients::version.eq(expected_version)),
    )
    .set((
        fields,
        clients::updated_at.eq(now()),
        clients::version.eq(clients::version + 1),
    ))
    .returning(clients::all_columns)
    .get_result::<Client>(c))
    .optional()?;
    match updated {
        Some(client) => Ok(client),
        None => Err(missing_or_stale(find(conn, id).await?.is_some())),
    }
}

pub async fn delete(
    conn: &mut Conn<'_>,
    id: i64,
    expected_version: Option<i64>,
) -> Result<(), WriteError> {
    let target = clients::table.filter(clients::id.eq(id));
    let deleted = match expected_version {
        Some(v) => query!(conn, |c| diesel::delete(
            target.filter(clients::version.eq(v))
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
    filter: &ClientFilter,
    page: &PageRequest<ClientSort>,
) -> Result<Page<Client>, ListError> {
    // A macro, not a closure: each arm of `query!` builds the boxed query for its backend.
    macro_rules! filtered {
        () => {{
            let mut query = clients::table.into_boxed();
            if let Some(q) = &filter.q {
                query = query.filter(clients::name_key.like(contains_pattern(q)).escape('\\'));
            }
            if let Some(role) = &filter.role {
                query = query.filter(clients::role.eq(*role));
            }
            if let Some(org) = filter.organization_id {
                query = query.filter(clients::organization_id.eq(org));
            }
            if let Some(since) = filter.updated_since {
                query = query.filter(clients::updated_at.ge(since));
            }
            query
        }};
    }
    let (rows, keyset) = sorted!(conn, filtered!().select(Client::as_select()), page, clients::id, |c: Client| {
        ClientSort::Name => text(clients::name_key, c.name_key.clone()),
        ClientSort::CreatedAt => time(clients::created_at, c.created_at),
        ClientSort::UpdatedAt => time(clients::updated_at, c.updated_at),
    })?;
    let total = if page.with_total {
        Some(query!(conn, |c| filtered!().count().get_result(c))?)
    } else {
        None
    };
    Ok(Page::from_rows(rows, page.limit, total, keyset))
}

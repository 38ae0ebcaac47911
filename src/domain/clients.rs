//! Machine clients of partner organizations, managed by admins: a partner client acts for an
//! existing organization. The secret is made by the caller and stored only as its hash.

use crate::db::prelude::*;

use crate::db::Conn;
use crate::db::schema;
use crate::domain::users::check_organization;
use crate::domain::{Actor, DomainError, OrganizationId, Role, require_admin};
use crate::models::WriteError;
use crate::models::clients::{self, Client, ClientFields, ClientFilter, ClientSort};
use crate::models::page::{Page, PageRequest};

/// A client to write. Its columns are also its change set; `models::clients::ClientFields`
/// adds the case-insensitive key.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, AsChangeset)]
#[diesel(table_name = schema::clients, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct NewClient {
    pub name: String,
    pub role: Role,
    pub organization_id: Option<OrganizationId>,
    pub disabled: bool,
}

/// One client, or `NotFound`.
pub async fn find(conn: &mut Conn<'_>, by: &Actor, id: i64) -> Result<Client, DomainError> {
    require_admin(by.role)?;
    clients::find(conn, id)
        .await?
        .ok_or_else(|| DomainError::not_found("client", id))
}

pub async fn list(
    conn: &mut Conn<'_>,
    by: &Actor,
    filter: &ClientFilter,
    page: &PageRequest<ClientSort>,
) -> Result<Page<Client>, DomainError> {
    require_admin(by.role)?;
    Ok(clients::list(conn, filter, page).await?)
}

/// Creates a client under `client_id` with the hash of its secret.
pub async fn create(
    conn: &mut Conn<'_>,
    by: &Actor,
    new: NewClient,
    client_id: &str,
    secret_hash: &str,
) -> Result<Client, DomainError> {
    require_admin(by.role)?;
    check_organization(conn, new.role, new.organization_id).await?;
    Ok(clients::insert(conn, &ClientFields::from(new), client_id, secret_hash).await?)
}

/// Changes a client by `merge`, which makes the new fields from the current record; only at
/// `expected_version` when given.
pub async fn patch<E: From<DomainError>>(
    conn: &mut Conn<'_>,
    by: &Actor,
    id: i64,
    expected_version: Option<i64>,
    merge: impl FnOnce(&Client) -> Result<NewClient, E>,
) -> Result<Client, E> {
    let current = find(conn, by, id).await?;
    // The change is judged before the version: an invalid one is invalid at any version.
    let new = merge(&current)?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(DomainError::from_write(WriteError::VersionMismatch, "client", id).into());
    }
    check_organization(conn, new.role, new.organization_id).await?;
    clients::update(conn, id, current.version, &ClientFields::from(new))
        .await
        .map_err(|e| {
            match e {
                WriteError::VersionMismatch => {
                    DomainError::Conflict(format!("client {id} changed concurrently; try again"))
                }
                other => DomainError::from_write(other, "client", id),
            }
            .into()
        })
}

/// Deletes a client, only at `expected_version` when given.
pub async fn delete(
    conn: &mut Conn<'_>,
    by: &Actor,
    id: i64,
    expected_version: Option<i64>,
) -> Result<(), DomainError> {
    require_admin(by.role)?;
    clients::delete(conn, id, expected_version)
        .await
        .map_err(|e| DomainError::from_write(e, "client", id))
}

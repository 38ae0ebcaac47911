//! People who sign in with a password, managed by admins: a partner acts for an existing
//! organization, an admin can't lock themselves out, and a new password, another role or
//! disabling ends the user's sign-ins. Passwords are hashed by the caller (on their own
//! threads, outside the database closure); these operations take the hash.

use crate::db::prelude::*;

use crate::db::Conn;
use crate::db::schema;
use crate::domain::{Actor, DomainError, OrganizationId, Role, require_admin};
use crate::models::page::{Page, PageRequest};
use crate::models::users::{self, User, UserFields, UserFilter, UserSort};
use crate::models::{WriteError, organizations, refresh_tokens};

/// A user to write (the password separately: it is write-only). Its columns are also its
/// change set; `models::users::UserFields` adds the case-insensitive key.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, AsChangeset)]
#[diesel(table_name = schema::users, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct NewUser {
    pub username: String,
    pub role: Role,
    pub organization_id: Option<OrganizationId>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub disabled: bool,
}

/// The rule users and clients share: a partner acts for an organization, and a named
/// organization exists.
pub async fn check_organization(
    conn: &mut Conn<'_>,
    role: Role,
    organization_id: Option<OrganizationId>,
) -> Result<(), DomainError> {
    match (role, organization_id) {
        (Role::Partner, None) => Err(DomainError::invalid(
            "organization_id",
            "required",
            "organization_id is required for the partner role",
        )),
        (_, Some(id)) if !organizations::exists(conn, id).await? => Err(DomainError::invalid(
            "organization_id",
            "not_found",
            format!("organization {id} does not exist"),
        )),
        _ => Ok(()),
    }
}

fn taken(e: diesel::result::Error, username: &str) -> DomainError {
    DomainError::unique(e, || format!("the username {username:?} is taken"))
}

/// One user, or `NotFound`.
pub async fn find(conn: &mut Conn<'_>, by: &Actor, id: i64) -> Result<User, DomainError> {
    require_admin(by.role)?;
    users::find(conn, id)
        .await?
        .ok_or_else(|| DomainError::not_found("user", id))
}

pub async fn list(
    conn: &mut Conn<'_>,
    by: &Actor,
    filter: &UserFilter,
    page: &PageRequest<UserSort>,
) -> Result<Page<User>, DomainError> {
    require_admin(by.role)?;
    Ok(users::list(conn, filter, page).await?)
}

/// Creates a user with the given password hash.
pub async fn create(
    conn: &mut Conn<'_>,
    by: &Actor,
    new: NewUser,
    password_hash: &str,
) -> Result<User, DomainError> {
    require_admin(by.role)?;
    check_organization(conn, new.role, new.organization_id).await?;
    let username = new.username.clone();
    users::insert(conn, &UserFields::from(new), password_hash)
        .await
        .map_err(|e| taken(e, &username))
}

/// Replaces a user's fields (and the password hash, when given) with `new`, which was made
/// from the user at version `based_on`: if another change came in between, nothing is
/// written and the answer is a conflict (the caller merged onto an old state).
pub async fn update(
    conn: &mut Conn<'_>,
    by: &Actor,
    id: i64,
    based_on: &User,
    new: NewUser,
    password_hash: Option<&str>,
) -> Result<User, DomainError> {
    require_admin(by.role)?;
    let changes_role = new.role != based_on.role;
    if by.user == Some(id) && (changes_role || new.disabled) {
        return Err(DomainError::Conflict(
            "you can't disable yourself or change your own role".into(),
        ));
    }
    let ends_sign_ins =
        password_hash.is_some() || changes_role || (new.disabled && !based_on.disabled);
    check_organization(conn, new.role, new.organization_id).await?;
    let username = new.username.clone();
    let user = users::update(
        conn,
        id,
        based_on.version,
        &UserFields::from(new),
        password_hash,
    )
    .await
    .map_err(|e| match e {
        WriteError::Db(e) => taken(e, &username),
        WriteError::VersionMismatch => {
            DomainError::Conflict(format!("user {id} changed concurrently; try again"))
        }
        other => DomainError::from_write(other, "user", id),
    })?;
    if ends_sign_ins {
        refresh_tokens::revoke_user(conn, id).await?;
    }
    Ok(user)
}

/// Deletes a user, only at `expected_version` when given; admins can't delete themselves.
pub async fn delete(
    conn: &mut Conn<'_>,
    by: &Actor,
    id: i64,
    expected_version: Option<i64>,
) -> Result<(), DomainError> {
    require_admin(by.role)?;
    if by.user == Some(id) {
        return Err(DomainError::Conflict("you can't delete yourself".into()));
    }
    users::delete(conn, id, expected_version)
        .await
        .map_err(|e| DomainError::from_write(e, "user", id))
}

//! What every domain resource shares, written once: `Crud` is a resource's queries and rules
//! (Lemmy's `Crud` at the persistence layer), the functions here are the operations callers
//! use, with the role and organization rules and optimistic locking.

use std::fmt::Display;

use crate::db::{self, Conn};
use crate::domain::changes;
use crate::domain::values::{ChangeAction, ResourceKind};
use crate::domain::{Actor, DomainError, OrganizationId, Role};
use crate::models::page::{Page, PageRequest};

/// How often a patch without an expected version merges again when another writer changed
/// the record between its read and its conditional write (each retry means another writer
/// succeeded, so this only runs out under heavy contention; the answer is then a conflict).
const PATCH_ATTEMPTS: usize = 16;

/// What every stored record carries besides its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta<Id> {
    pub id: Id,
    /// Incremented by every change.
    pub version: i64,
    /// The organization that created the record (partners may change only their own).
    pub owner: Option<OrganizationId>,
}

/// One domain resource: its parsed input, its stored record, and the queries and rules that
/// create, replace, delete and list it.
// The futures of these functions run on one thread (a blocking thread on SQLite, the worker's
// own runtime on PostgreSQL): no caller needs them `Send`.
#[allow(async_fn_in_trait)]
pub trait Crud: 'static {
    /// The singular name in messages: `region`.
    const NAME: &'static str;
    /// The collection, as the change feed names it.
    const KIND: ResourceKind;

    type Id: Copy + Display + Into<i64> + From<i64> + Send + 'static;
    /// A parsed, well-formed record to write (what `create` and `replace` take).
    type New: Send + 'static;
    /// A stored record with its relations.
    type Record: Send + 'static;
    /// The list's filters.
    type Filter: Send + Sync + 'static;
    /// The list's sortable fields.
    type Sort: Copy + Send + 'static;

    fn meta(record: &Self::Record) -> RecordMeta<Self::Id>;

    /// Who may create: editors and admins unless a resource says otherwise.
    fn may_create(actor: &Actor) -> Result<(), DomainError> {
        actor.require_editor()
    }

    async fn find(conn: &mut Conn<'_>, id: Self::Id) -> Result<Option<Self::Record>, DomainError>;
    /// The records of `ids` that exist, in no particular order, in a fixed number of queries.
    async fn find_many(
        conn: &mut Conn<'_>,
        ids: &[Self::Id],
    ) -> Result<Vec<Self::Record>, DomainError>;
    /// Checks the rules that need the database (references, uniqueness) and stores `new`.
    /// `insert`, `update` and `remove` run inside the operation's transaction (the functions
    /// below open it, with the change feed's entry), so they open none of their own: a
    /// savepoint would cost two more round trips per write.
    async fn insert(
        conn: &mut Conn<'_>,
        new: Self::New,
        by: &Actor,
    ) -> Result<Self::Record, DomainError>;
    /// Replaces the fields, only at `expected_version` when given (`Stale` otherwise).
    async fn update(
        conn: &mut Conn<'_>,
        id: Self::Id,
        expected_version: Option<i64>,
        new: Self::New,
        by: &Actor,
    ) -> Result<Self::Record, DomainError>;
    /// Deletes, only at `expected_version` when given; a conflict naming what still
    /// references it. Returns the version deleted.
    async fn remove(
        conn: &mut Conn<'_>,
        id: Self::Id,
        expected_version: Option<i64>,
    ) -> Result<i64, DomainError>;
    async fn query(
        conn: &mut Conn<'_>,
        filter: &Self::Filter,
        page: &PageRequest<Self::Sort>,
    ) -> Result<Page<Self::Record>, DomainError>;
}

/// One record, or `NotFound`.
pub async fn find<R: Crud>(conn: &mut Conn<'_>, id: R::Id) -> Result<R::Record, DomainError> {
    R::find(conn, id)
        .await?
        .ok_or_else(|| DomainError::not_found(R::NAME, id))
}

/// One page of the filtered, sorted list.
pub async fn list<R: Crud>(
    conn: &mut Conn<'_>,
    filter: &R::Filter,
    page: &PageRequest<R::Sort>,
) -> Result<Page<R::Record>, DomainError> {
    R::query(conn, filter, page).await
}

/// Every write below runs in one transaction with its entry in the change feed: a change is
/// in the feed exactly when it is committed. The entry is the transaction's last statement,
/// sent with the COMMIT (`db::transaction_ending_with`).
pub async fn create<R: Crud>(
    conn: &mut Conn<'_>,
    by: &Actor,
    new: R::New,
) -> Result<R::Record, DomainError> {
    R::may_create(by)?;
    db::transaction_ending_with(
        conn,
        async |conn| R::insert(conn, new, by).await,
        async |conn, record| noted::<R>(conn, by, record, ChangeAction::Create).await,
    )
    .await
}

/// Replaces a record with what `new` parses. Who may change it is settled before `new` runs,
/// so a caller without the right learns nothing from validation answers.
pub async fn replace<R: Crud, E>(
    conn: &mut Conn<'_>,
    by: &Actor,
    id: R::Id,
    expected_version: Option<i64>,
    new: impl FnOnce() -> Result<R::New, E>,
) -> Result<R::Record, E>
where
    E: From<DomainError> + From<diesel::result::Error>,
{
    check_owner::<R>(conn, by, id).await?;
    let new = new()?;
    Ok(db::transaction_ending_with(
        conn,
        async |conn| R::update(conn, id, expected_version, new, by).await,
        async |conn, record| noted::<R>(conn, by, record, ChangeAction::Update).await,
    )
    .await?)
}

/// Changes a record by `merge`, which makes the new record from the current one. The write
/// happens only if the version read is still current; without `expected_version`, a
/// concurrent change makes it merge again onto the newer state.
pub async fn patch<R: Crud, E>(
    conn: &mut Conn<'_>,
    by: &Actor,
    id: R::Id,
    expected_version: Option<i64>,
    mut merge: impl FnMut(R::Record) -> Result<R::New, E>,
) -> Result<R::Record, E>
where
    E: From<DomainError> + From<diesel::result::Error>,
{
    for _ in 0..PATCH_ATTEMPTS {
        let current = find::<R>(conn, id).await?;
        let meta = R::meta(&current);
        by.may_change(meta.owner, R::NAME)?;
        // The change is judged before the version: an invalid one is invalid at any version.
        let new = merge(current)?;
        if expected_version.is_some_and(|v| v != meta.version) {
            return Err(stale::<R>(id).into());
        }
        let written = db::transaction_ending_with(
            conn,
            async |conn| R::update(conn, id, Some(meta.version), new, by).await,
            async |conn, record| noted::<R>(conn, by, record, ChangeAction::Update).await,
        )
        .await;
        match written {
            Err(DomainError::Stale { .. }) if expected_version.is_none() => continue,
            result => return Ok(result?),
        }
    }
    Err(DomainError::Conflict(format!(
        "{} {id} is being changed concurrently; try again",
        R::NAME
    ))
    .into())
}

pub async fn delete<R: Crud>(
    conn: &mut Conn<'_>,
    by: &Actor,
    id: R::Id,
    expected_version: Option<i64>,
) -> Result<(), DomainError> {
    check_owner::<R>(conn, by, id).await?;
    db::transaction_ending_with(
        conn,
        async |conn| R::remove(conn, id, expected_version).await,
        async |conn, version| {
            changes::record(conn, by, R::KIND, id.into(), ChangeAction::Delete, *version).await
        },
    )
    .await
    .map(drop)
}

/// The records of `ids` that exist (the feed's `include=record`).
pub async fn find_many<R: Crud>(
    conn: &mut Conn<'_>,
    ids: &[R::Id],
) -> Result<Vec<R::Record>, DomainError> {
    R::find_many(conn, ids).await
}

async fn noted<R: Crud>(
    conn: &mut Conn<'_>,
    by: &Actor,
    record: &R::Record,
    action: ChangeAction,
) -> Result<(), DomainError> {
    let meta = R::meta(record);
    changes::record(conn, by, R::KIND, meta.id.into(), action, meta.version).await
}

fn stale<R: Crud>(id: R::Id) -> DomainError {
    DomainError::Stale {
        what: R::NAME,
        id: id.to_string(),
    }
}

/// Checks, for partners, that the actor's organization owns the record. Admins and editors
/// skip the read.
async fn check_owner<R: Crud>(
    conn: &mut Conn<'_>,
    by: &Actor,
    id: R::Id,
) -> Result<(), DomainError> {
    let owner = if by.role == Role::Partner {
        R::meta(&find::<R>(conn, id).await?).owner
    } else {
        None
    };
    by.may_change(owner, R::NAME)
}

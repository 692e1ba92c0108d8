//! Service keys: the admin's create, list and revoke, and the check of a request's key. A key is found
//! by the SHA-256 of its text (the table's primary key: one row read); a revoked key is never found, so
//! revocation takes effect on the next request, with nothing cached anywhere.

use serde::Deserialize;

use super::{first, nth, rows, Db};
use crate::domain::ids::{new_object_id, ProjectId, UserId};
use crate::domain::keys::{KeyHash, NewApiKey, ServiceKey};
use crate::error::{ApiError, Result};
use crate::log::Actor;

/// A stored key as the admin sees it (never the key itself, nor its hash).
#[derive(Debug, Clone, Deserialize)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub project_id: Option<String>,
    pub sender_id: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

macro_rules! key_columns {
    () => {
        "id, name, project_id, sender_id, created_at, revoked_at"
    };
}

/// The live key with hash ?1 (not revoked). One row read.
pub const KEY_SQL: &str =
    "SELECT id, project_id, sender_id FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL";

/// A new key. ?1 hash, ?2 id, ?3 name, ?4 project, ?5 sender, ?6 now.
pub const INSERT_KEY_SQL: &str = concat!(
    "INSERT INTO api_keys (key_hash, id, name, project_id, sender_id, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING ",
    key_columns!()
);

/// Every key, newest first.
pub const KEYS_SQL: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM api_keys ORDER BY created_at DESC, id DESC"
);

/// Revokes key ?1 (by id) at ?2, once: revoking again keeps the first time.
pub const REVOKE_KEY_SQL: &str =
    "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL";

/// A key by id. ?1 id.
pub const KEY_BY_ID_SQL: &str = concat!("SELECT ", key_columns!(), " FROM api_keys WHERE id = ?1");

/// The statement that checks a request's key, for the request's own batch.
pub fn check_statement(db: &Db, hash: &KeyHash) -> Result<worker::D1PreparedStatement> {
    db.statement(KEY_SQL, &[hash.as_str().into()])
}

/// The key `check_statement` found; a missing (unknown or revoked) key is a 401. A found key's id is
/// noted for the request's log line.
pub fn checked(db: &Db, result: &worker::D1Result) -> Result<ServiceKey> {
    #[derive(Deserialize)]
    struct Found {
        id: String,
        project_id: Option<String>,
        sender_id: String,
    }
    let found = first::<Found>(result)?.ok_or_else(|| ApiError::unauthorized("invalid API key"))?;
    db.trace.note(Actor::Key(found.id.clone()));
    Ok(ServiceKey {
        id: found.id,
        project: found
            .project_id
            .map(|p| ProjectId::parse(&p, "projectId"))
            .transpose()?,
        sender: UserId::parse(&found.sender_id, "senderId")?,
    })
}

/// Checks a key on its own: one round trip (for writes, which then go to the chat's Durable Object).
pub async fn find(db: &Db, hash: &KeyHash) -> Result<ServiceKey> {
    checked(db, &db.all(check_statement(db, hash)?).await?)
}

/// Stores a new key. One round trip.
pub async fn create(db: &Db, key: &NewApiKey, hash: &KeyHash, now_ms: i64) -> Result<ApiKeyRow> {
    let id = new_object_id(now_ms)?;
    let statement = db.statement(
        INSERT_KEY_SQL,
        &[
            hash.as_str().into(),
            id.as_str().into(),
            key.name.as_str().into(),
            key.project.as_ref().map(ProjectId::as_str).into(),
            key.sender.as_str().into(),
            now_ms.into(),
        ],
    )?;
    first(&db.all(statement).await?)?
        .ok_or_else(|| ApiError::internal("key insert returned no row"))
}

/// Every key, newest first. One round trip.
pub async fn list(db: &Db) -> Result<Vec<ApiKeyRow>> {
    rows(&db.all(db.statement(KEYS_SQL, &[])?).await?)
}

/// Revokes a key (again: the first revocation stands). `None` for an unknown id. One round trip.
pub async fn revoke(db: &Db, id: &str, now_ms: i64) -> Result<Option<ApiKeyRow>> {
    let results = db
        .batch(vec![
            db.statement(REVOKE_KEY_SQL, &[id.into(), now_ms.into()])?,
            db.statement(KEY_BY_ID_SQL, &[id.into()])?,
        ])
        .await?;
    first(nth(&results, 1)?)
}

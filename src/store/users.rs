//! Users: profile reads and writes, and the "create on first write" rule of API.md "Users".

use super::rows::UserRow;
use super::sql::concatcp;
use super::{first, nth, Arg, Db};
use crate::auth::Caller;
use crate::domain::ids::new_object_id;
use crate::domain::user::ProfilePatch;
use crate::error::{ApiError, Result};
use worker::D1PreparedStatement;

/// A user row's columns, in `UserRow` field order.
const USER_COLUMNS: &str =
    "id, username, first_name, photo_id, photo_url, photo_type, availability, credits";

/// Profile defaults from the caller's token: the id stands in for missing names.
pub struct ClaimedProfile<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub first_name: &'a str,
    pub photo_id: Option<String>,
    pub photo_url: Option<&'a str>,
}

impl<'a> ClaimedProfile<'a> {
    pub fn of(caller: &'a Caller, now_ms: i64) -> Result<Self> {
        let username = caller.username.as_deref().unwrap_or(caller.id.as_str());
        Ok(ClaimedProfile {
            id: caller.id.as_str(),
            username,
            first_name: caller.first_name.as_deref().unwrap_or(username),
            photo_id: caller
                .picture
                .as_ref()
                .map(|_| new_object_id(now_ms))
                .transpose()?,
            photo_url: caller.picture.as_deref(),
        })
    }
}

/// Creates the caller's row from their token, or fills in a row that others created with defaults
/// (`claimed = 0`), and copies the claimed profile onto the caller's memberships. A profile the user set
/// themselves is never overwritten. With `only_if_member_of`, the row is created only when the caller
/// participates in that chat, so a refused write leaves no trace. Two statements, for the caller's batch.
pub fn claim_profile(
    db: &Db,
    p: &ClaimedProfile<'_>,
    now_ms: i64,
    only_if_member_of: Option<&str>,
) -> Result<Vec<D1PreparedStatement>> {
    let photo_type = p.photo_url.map(|_| "image");
    let copies = db.statement(
        PROFILE_COPIES_SQL,
        &[
            p.id.into(),
            p.username.into(),
            p.photo_id.as_deref().into(),
            p.photo_url.into(),
            photo_type.into(),
            p.first_name.into(),
        ],
    )?;
    let args = [
        p.id.into(),
        p.username.into(),
        p.first_name.into(),
        p.photo_id.as_deref().into(),
        p.photo_url.into(),
        photo_type.into(),
        now_ms.into(),
    ];
    let user = match only_if_member_of {
        Some(chat) => {
            let mut with_chat = args.to_vec();
            with_chat.push(chat.into());
            db.statement(CLAIM_IF_MEMBER_SQL, &with_chat)?
        }
        None => db.statement(CLAIM_SQL, &args)?,
    };
    Ok(vec![copies, user])
}

/// The claimed profile onto the user's memberships, while the row still says `claimed = 0`. Written as
/// `IN (subquery)` so that SQLite drives from the (usually empty) subquery: with `AND EXISTS (...)` it
/// visited every membership of the user on every write, claimed or not (measured: 73 rows).
/// ?1 user, ?2 username, ?3 photo id, ?4 photo URL, ?5 photo type, ?6 first name.
pub const PROFILE_COPIES_SQL: &str =
    "UPDATE chat_participants SET username = ?2, photo_id = ?3, photo_url = ?4, photo_type = ?5,
                                  first_name = ?6
     WHERE user_id IN (SELECT id FROM users WHERE id = ?1 AND claimed = 0)";

/// The caller's row from their token: created, or filled in when others created it with defaults
/// (`claimed = 0`); never over a profile the user set. ?1 user, ?2 username, ?3 first name, ?4 photo
/// id, ?5 photo URL, ?6 photo type, ?7 now; the condition to write at all follows, then `CLAIM_TAIL`.
const CLAIM_HEAD: &str =
    "INSERT INTO users (id, username, first_name, photo_id, photo_url, photo_type, claimed,
                        created_at, updated_at)
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7 WHERE ";

const CLAIM_TAIL: &str = "
     ON CONFLICT (id) DO UPDATE SET
       username = excluded.username, first_name = excluded.first_name,
       photo_id = excluded.photo_id, photo_url = excluded.photo_url,
       photo_type = excluded.photo_type, claimed = 1, updated_at = excluded.updated_at
     WHERE users.claimed = 0";

/// The caller's row from their token (`CLAIM_HEAD`).
pub const CLAIM_SQL: &str = concatcp!(CLAIM_HEAD, "true", CLAIM_TAIL);

/// As `CLAIM_SQL`, only when the user participates in chat ?8 (a refused write leaves no trace).
pub const CLAIM_IF_MEMBER_SQL: &str = concatcp!(
    CLAIM_HEAD,
    "EXISTS (SELECT 1 FROM chat_participants WHERE chat_id = ?8 AND user_id = ?1)",
    CLAIM_TAIL
);

/// Rows for users named as participants, with every profile field defaulting to the id.
/// ?1 the user ids as a JSON array, ?2 now.
pub const INSERT_NAMED_SQL: &str =
    "INSERT INTO users (id, username, first_name, claimed, created_at, updated_at)
     SELECT value, value, value, 0, ?2, ?2 FROM json_each(?1) WHERE true
     ON CONFLICT (id) DO NOTHING";

pub fn insert_named(db: &Db, ids_json: &str, now_ms: i64) -> Result<D1PreparedStatement> {
    db.statement(INSERT_NAMED_SQL, &[ids_json.into(), now_ms.into()])
}

/// A user's row. ?1 user.
pub const USER_SQL: &str = concatcp!("SELECT ", USER_COLUMNS, " FROM users WHERE id = ?1");

/// One round trip. `None` when the user has no row yet (reads never write).
pub async fn find(db: &Db, id: &str) -> Result<Option<UserRow>> {
    let result = db.all(db.statement(USER_SQL, &[id.into()])?).await?;
    first(&result)
}

/// A profile change, creating the row from the token's claims first if needed. ?1 user, ?2 username,
/// ?3 first name, ?4 whether the photo changes, ?5 / ?6 / ?7 its id, URL and type, ?8 availability,
/// ?9 / ?10 / ?11 / ?12 / ?13 the claims' username, first name, photo id, URL and type, ?14 now.
pub const UPDATE_PROFILE_SQL: &str = concatcp!(
    "INSERT INTO users (id, username, first_name, photo_id, photo_url, photo_type, availability,
                        claimed, created_at, updated_at)
     VALUES (?1, COALESCE(?2, ?9), COALESCE(?3, ?10),
             CASE WHEN ?4 THEN ?5 ELSE ?11 END, CASE WHEN ?4 THEN ?6 ELSE ?12 END,
             CASE WHEN ?4 THEN ?7 ELSE ?13 END, COALESCE(?8, 'available'), 1, ?14, ?14)
     ON CONFLICT (id) DO UPDATE SET
       username = COALESCE(?2, users.username),
       first_name = COALESCE(?3, users.first_name),
       photo_id = CASE WHEN ?4 THEN ?5 ELSE users.photo_id END,
       photo_url = CASE WHEN ?4 THEN ?6 ELSE users.photo_url END,
       photo_type = CASE WHEN ?4 THEN ?7 ELSE users.photo_type END,
       availability = COALESCE(?8, users.availability),
       claimed = 1,
       updated_at = ?14
     RETURNING ",
    USER_COLUMNS
);

/// The user's public profile onto every membership (one row per chat the user is in). ?1 user.
pub const COPY_PROFILE_SQL: &str = "UPDATE chat_participants
     SET (username, photo_id, photo_url, photo_type, availability, first_name) =
       (SELECT username, photo_id, photo_url, photo_type, availability, first_name FROM users
        WHERE id = ?1)
     WHERE user_id = ?1";

/// Applies a profile change, creating the row from the token first if needed. One round trip.
pub async fn update_profile(
    db: &Db,
    caller: &Caller,
    patch: &ProfilePatch,
    now_ms: i64,
) -> Result<UserRow> {
    let claimed = ClaimedProfile::of(caller, now_ms)?;
    let (set_photo, photo_url, photo_type) = match &patch.photo {
        None => (0, None, None),
        Some(None) => (1, None, None),
        Some(Some(photo)) => (1, Some(photo.url.as_str()), Some(photo.kind.as_str())),
    };
    let photo_id = photo_url.map(|_| new_object_id(now_ms)).transpose()?;
    let statement = db.statement(
        UPDATE_PROFILE_SQL,
        &[
            caller.id.as_str().into(),
            patch.username.as_deref().into(),
            patch.first_name.as_deref().into(),
            Arg::Int(set_photo),
            photo_id.as_deref().into(),
            photo_url.into(),
            photo_type.into(),
            patch.availability.map(|a| a.as_str()).into(),
            claimed.username.into(),
            claimed.first_name.into(),
            claimed.photo_id.as_deref().into(),
            claimed.photo_url.into(),
            claimed.photo_url.map(|_| "image").into(),
            now_ms.into(),
        ],
    )?;
    let copies = db.statement(COPY_PROFILE_SQL, &[caller.id.as_str().into()])?;
    let results = db.batch(vec![statement, copies]).await?;
    first(nth(&results, 0)?)?.ok_or_else(|| ApiError::internal("profile upsert returned no row"))
}

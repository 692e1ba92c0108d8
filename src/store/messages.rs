//! Messages: the page and window reads, the send, edits and deletes.
//!
//! Pages are ranges of the `(chat_id, seq)` primary key, computed from the snapshot's last sequence
//! number (see `domain::pagination`), never OFFSET scans and never `COUNT(*)`: a page costs `limit`
//! message rows at any depth. Writes happen only inside the chat's Durable Object (`chat_room`), one at a
//! time per chat, and each is one D1 batch (one transaction) that assigns the next sequence number from
//! `chats.last_seq`, so sequence numbers stay dense even if the object restarts mid-write.
//!
//! Every read here is one statement returning one row: SQLite builds the participants and the messages
//! as JSON strings, so the worker decodes two strings instead of crossing into JavaScript for every
//! field of every row.

use super::rows::{decode_participants, MessageRow, ParticipantRow};
use super::users::{claim_profile, ClaimedProfile};
use super::{changes, first, nth, read_as, read_one, rows, Arg, Db, Reach};
use crate::auth::{Author, Credential};
use crate::domain::cursor::{Bound, CursorQuery, SyncPosition, Window};
use crate::domain::ids::{ChatId, MessageId, ProjectId, UserId};
use crate::domain::input::MAX_SAFE_INTEGER;
use crate::domain::keys::KeyHash;
use crate::domain::listing::{Position, ResolvedBounds};
use crate::domain::message::{Change, MessageKind, NewMessage, SenderRole};
use crate::domain::pagination::PageRequest;
use crate::error::{ApiError, Result};
use worker::D1Result;

pub const MESSAGE_COLUMNS: &str = message_columns!();
pub const MESSAGE_JSON: &str = message_json!();
pub const PARTICIPANT_JSON: &str = participant_json!();

/// Page mode: the newest `limit` messages at or below `snapshot - offset`, read backwards along the
/// primary key (with two bounds instead of one, SQLite's planner stopped using the upper one: a scan to
/// the end). The page needs no earlier read: the snapshot defaults to `chats.last_seq` in the same
/// statement. `$reach` (on `c`) keeps others out at 2 rows read.
macro_rules! page_listing {
    ($($reach:tt)*) => {
        concat!(
            "SELECT c.last_seq AS chat_last_seq, c.project_id, ",
            participants_of!("?1"),
            " AS participants,
                    (SELECT json_group_array(",
            message_json!(),
            ") FROM (
                       SELECT * FROM messages m
                       WHERE m.chat_id = ?1 AND m.seq <= COALESCE(?3, c.last_seq) - ?4
                       ORDER BY m.seq DESC LIMIT ?5) m) AS messages
             FROM chats c WHERE c.id = ?1 AND ",
            $($reach)*
        )
    };
}

/// A page for a participant. ?1 chat, ?2 caller, ?3 asOf (NULL: the chat's last message), ?4 offset,
/// ?5 limit.
pub const PAGE_SQL: &str = page_listing!(is_member!("?1", "?2"));

/// A page for a service key. ?1 chat, ?2 key hash, ?3 asOf, ?4 offset, ?5 limit.
pub const PAGE_FOR_KEY_SQL: &str = page_listing!(key_reaches!("?2", "c.project_id"));

/// A cursor-mode listing of chat ?1 as one row: the chat's last sequence number, its participants, the
/// extra `columns` (each ending in a comma), and the messages that `page` (`FROM … ORDER BY … LIMIT`)
/// selects, as a JSON array; `reach` adds to the chat's condition (a participant's membership is
/// checked from the participants instead, which saves the row an `EXISTS` would read).
macro_rules! window_listing {
    (columns: [$($columns:tt)*], page: [$($page:tt)*], reach: [$($reach:tt)*]) => {
        concat!(
            "SELECT c.last_seq AS chat_last_seq, c.project_id, ",
            participants_of!("?1"),
            " AS participants, ",
            $($columns)*
            "(SELECT json_group_array(",
            message_json!(),
            ") FROM (SELECT ",
            listed_columns!(),
            " ",
            $($page)*
            ") m) AS messages FROM chats c WHERE c.id = ?1",
            $($reach)*
        )
    };
}

/// `before` only: the newest `limit` messages strictly before the bound, read backwards from it. The
/// bound is given as one of a sequence number (?3, from a cursor), a message id (?4, resolved through
/// the `id` index; its sequence number comes back as `before_seq`, NULL when the id is not in this chat)
/// or a time (?5: the first message created at or after it, through `messages_by_created`, whose order
/// is the sequence order because each chat's `createdAt` never decreases).
macro_rules! backward_listing {
    ($($reach:tt)*) => {
        window_listing!(
            columns: [
                "NULL AS after_seq, ", seq_of_message!("?4", "?1"), " AS before_seq, ",
            ],
            page: [
                "FROM messages m
                 WHERE m.chat_id = ?1 AND m.seq < CASE
                   WHEN ?3 IS NOT NULL THEN ?3
                   WHEN ?4 IS NOT NULL THEN ", seq_of_message!("?4", "?1"), "
                   ELSE COALESCE((SELECT seq FROM messages WHERE chat_id = ?1 AND created_at >= ?5
                                  ORDER BY created_at, seq LIMIT 1), 9007199254740991) END
                 ORDER BY m.seq DESC LIMIT ?2",
            ],
            reach: [$($reach)*]
        )
    };
}

/// ?1 chat, ?2 limit, ?3 / ?4 / ?5 the bound (the others NULL).
pub const BACKWARD_SQL: &str = backward_listing!();

/// As `BACKWARD_SQL`, for a service key: ?6 its hash.
pub const BACKWARD_FOR_KEY_SQL: &str =
    backward_listing!(" AND ", key_reaches!("?6", "c.project_id"),);

/// `after`, with or without `before`: the oldest `limit` messages strictly after `after`, read forwards
/// from it (one bound in the range; a read that runs past `before` is cut by `domain::listing`). Each
/// bound is one of a sequence number, a message id or a time, as in `BACKWARD_SQL`; `after` absent
/// means from the start. `after_seq` comes back for an id (NULL: not in this chat), `before_seq` for
/// any `before`.
macro_rules! forward_listing {
    ($($reach:tt)*) => {
        window_listing!(
            columns: [
                seq_of_message!("?4", "?1"), " AS after_seq,
                CASE WHEN ?6 IS NOT NULL THEN ?6
                     WHEN ?7 IS NOT NULL THEN ", seq_of_message!("?7", "?1"), "
                     WHEN ?8 IS NOT NULL THEN COALESCE((SELECT seq FROM messages WHERE chat_id = ?1
                       AND created_at >= ?8 ORDER BY created_at, seq LIMIT 1), 9007199254740991) END
                  AS before_seq, ",
            ],
            page: [
                "FROM messages m
                 WHERE m.chat_id = ?1 AND m.seq > CASE
                   WHEN ?3 IS NOT NULL THEN ?3
                   WHEN ?4 IS NOT NULL THEN ", seq_of_message!("?4", "?1"), "
                   WHEN ?5 IS NOT NULL THEN COALESCE((SELECT seq FROM messages WHERE chat_id = ?1
                     AND created_at <= ?5 ORDER BY created_at DESC, seq DESC LIMIT 1), 0)
                   ELSE 0 END
                 ORDER BY m.seq LIMIT ?2",
            ],
            reach: [$($reach)*]
        )
    };
}

/// ?1 chat, ?2 limit, ?3 / ?4 / ?5 `after`, ?6 / ?7 / ?8 `before` (each: seq, id, time).
pub const FORWARD_SQL: &str = forward_listing!();

/// As `FORWARD_SQL`, for a service key: ?9 its hash.
pub const FORWARD_FOR_KEY_SQL: &str =
    forward_listing!(" AND ", key_reaches!("?9", "c.project_id"),);

/// `ids`: exactly those messages of the chat, driven from the id list (with `m.id IN (…)` SQLite
/// scanned the whole chat instead): two rows per id found.
macro_rules! ids_listing {
    ($($reach:tt)*) => {
        window_listing!(
            columns: [],
            page: ["FROM json_each(?2) j CROSS JOIN messages m WHERE m.id = j.value AND m.chat_id = ?1",],
            reach: [$($reach)*]
        )
    };
}

/// ?1 chat, ?2 the ids as a JSON array.
pub const IDS_SQL: &str = ids_listing!();

/// As `IDS_SQL`, for a service key: ?3 its hash.
pub const IDS_FOR_KEY_SQL: &str = ids_listing!(" AND ", key_reaches!("?3", "c.project_id"),);

/// The sync window: what changed strictly after the position (`updatedAt`, `_id`) = (?3, ?4) and
/// before ?5, in that order, from the covering index `messages_by_update` (`limit + 1` entries, the
/// extra one only says that more follow). Ids are lowercase hex, so ?4 = "~" sorts after all of them:
/// "strictly after this millisecond".
macro_rules! sync_listing {
    ($($reach:tt)*) => {
        window_listing!(
            columns: [],
            page: [
                "FROM messages m
                 WHERE m.chat_id = ?1 AND (m.updated_at, m.id) > (?3, ?4) AND m.updated_at < ?5
                 ORDER BY m.updated_at, m.id LIMIT ?2",
            ],
            reach: [$($reach)*]
        )
    };
}

/// ?1 chat, ?2 limit + 1, ?3 updatedAt, ?4 id or "~", ?5 before.
pub const SYNC_SQL: &str = sync_listing!();

/// As `SYNC_SQL`, for a service key: ?6 its hash.
pub const SYNC_FOR_KEY_SQL: &str = sync_listing!(" AND ", key_reaches!("?6", "c.project_id"),);

pub struct MessagePage {
    pub chat_last_seq: i64,
    pub project_id: Option<String>,
    pub participants: Vec<ParticipantRow>,
    pub messages: Vec<MessageRow>,
}

/// The one row every listing statement returns.
#[derive(serde::Deserialize)]
struct ListingRow {
    chat_last_seq: i64,
    project_id: Option<String>,
    participants: String,
    messages: String,
    #[serde(default)]
    after_seq: Option<i64>,
    #[serde(default)]
    before_seq: Option<i64>,
}

async fn listing_row(
    db: &Db,
    sql: &str,
    args: &[Arg<'_>],
    key: Option<&KeyHash>,
) -> Result<Option<ListingRow>> {
    read_one(db, sql, args, key).await
}

/// The SQL of a listing for `reach`, the participant's or the service key's, with the key's hash as
/// one more argument after `args` for a key.
fn for_reach<'a>(
    reach: Reach<'a>,
    member_sql: &'static str,
    key_sql: &'static str,
    mut args: Vec<Arg<'a>>,
) -> (&'static str, Vec<Arg<'a>>, Option<&'a KeyHash>) {
    match reach {
        Reach::Member(_) => (member_sql, args, None),
        Reach::Key(hash) => {
            args.push(hash.as_str().into());
            (key_sql, args, Some(hash))
        }
    }
}

/// One page of messages, oldest first, over the snapshot `as_of` (default: the chat's last message).
/// `None` when the chat does not exist or the caller is not in it. One round trip; rows read: the chat
/// (1) + the caller's membership (1) + participants + the page, whatever its depth.
pub async fn list_page(
    db: &Db,
    reach: Reach<'_>,
    chat_id: &ChatId,
    page: PageRequest,
    as_of: Option<i64>,
) -> Result<Option<MessagePage>> {
    let (sql, who, key) = match reach {
        Reach::Member(user) => (PAGE_SQL, user.as_str(), None),
        Reach::Key(hash) => (PAGE_FOR_KEY_SQL, hash.as_str(), Some(hash)),
    };
    let args = [
        chat_id.as_str().into(),
        who.into(),
        as_of.into(),
        page.offset().into(),
        page.limit.into(),
    ];
    let Some(row) = listing_row(db, sql, &args, key).await? else {
        return Ok(None);
    };
    let mut messages: Vec<MessageRow> = serde_json::from_str(&row.messages)?;
    messages.sort_by_key(|m| m.seq);
    Ok(Some(MessagePage {
        chat_last_seq: row.chat_last_seq,
        project_id: row.project_id,
        participants: decode_participants(&row.participants)?,
        messages,
    }))
}

/// A cursor-mode page (`domain::cursor`), in the window's order: by sequence number, or by
/// (`updatedAt`, `_id`) for the sync window.
pub struct WindowPage {
    pub bounds: ResolvedBounds,
    pub project_id: Option<String>,
    pub participants: Vec<ParticipantRow>,
    pub messages: Vec<MessageRow>,
}

impl WindowPage {
    /// Where each message sits, for `domain::listing::window_end`.
    pub fn positions(&self) -> Vec<Position<'_>> {
        self.messages
            .iter()
            .map(|m| Position {
                seq: m.seq,
                updated_at: m.updated_at,
                id: &m.id,
            })
            .collect()
    }
}

/// One cursor-mode page. `None` when the chat does not exist or the caller is not in it.
///
/// Membership is checked here from the participant list the page shows anyway, which saves the row
/// an `EXISTS` would read (a non-member's request reads a page it never gets; it costs them a 404).
/// Rows read: the chat (1) + participants (+ 1 when the scan meets the next chat's first row) + the
/// page, plus up to 3 one-row index probes for `before` / `after` given as times or message ids (both
/// bounds ids, forward, is the worst case).
pub async fn list_window(
    db: &Db,
    reach: Reach<'_>,
    chat_id: &ChatId,
    query: &CursorQuery,
) -> Result<Option<WindowPage>> {
    let (chat, limit) = (chat_id.as_str(), query.limit);
    let row = match &query.window {
        Window::Backward { before } => read_backward(db, reach, chat, limit, before).await?,
        Window::Forward { after, before } => {
            read_forward(db, reach, chat, limit, after.as_ref(), before.as_ref()).await?
        }
        Window::Ids(ids) => read_ids(db, reach, chat, ids).await?,
        Window::Sync { after, before } => read_sync(db, reach, chat, limit, after, *before).await?,
    };
    let Some(row) = row else {
        return Ok(None);
    };
    let participants = decode_participants(&row.participants)?;
    if let Reach::Member(user) = reach {
        if !participants.iter().any(|p| p.user_id == user.as_str()) {
            return Ok(None);
        }
    }
    let mut messages: Vec<MessageRow> = serde_json::from_str(&row.messages)?;
    match &query.window {
        Window::Sync { .. } => {
            messages.sort_by(|x, y| (x.updated_at, &x.id).cmp(&(y.updated_at, &y.id)))
        }
        _ => messages.sort_by_key(|m| m.seq),
    }
    Ok(Some(WindowPage {
        bounds: ResolvedBounds {
            chat_last_seq: row.chat_last_seq,
            after_seq: row.after_seq,
            before_seq: row.before_seq,
        },
        project_id: row.project_id,
        participants,
        messages,
    }))
}

/// `before` only (`BACKWARD_SQL`).
async fn read_backward(
    db: &Db,
    reach: Reach<'_>,
    chat: &str,
    limit: i64,
    before: &Bound,
) -> Result<Option<ListingRow>> {
    let [seq, id, time] = bound_args(Some(before));
    let args = vec![chat.into(), limit.into(), seq, id, time];
    let (sql, args, key) = for_reach(reach, BACKWARD_SQL, BACKWARD_FOR_KEY_SQL, args);
    listing_row(db, sql, &args, key).await
}

/// `after`, with or without `before` (`FORWARD_SQL`).
async fn read_forward(
    db: &Db,
    reach: Reach<'_>,
    chat: &str,
    limit: i64,
    after: Option<&Bound>,
    before: Option<&Bound>,
) -> Result<Option<ListingRow>> {
    let [a_seq, a_id, a_time] = bound_args(after);
    let [b_seq, b_id, b_time] = bound_args(before);
    let args = vec![
        chat.into(),
        limit.into(),
        a_seq,
        a_id,
        a_time,
        b_seq,
        b_id,
        b_time,
    ];
    let (sql, args, key) = for_reach(reach, FORWARD_SQL, FORWARD_FOR_KEY_SQL, args);
    listing_row(db, sql, &args, key).await
}

/// Exactly these messages (`IDS_SQL`).
async fn read_ids(
    db: &Db,
    reach: Reach<'_>,
    chat: &str,
    ids: &[MessageId],
) -> Result<Option<ListingRow>> {
    let ids: Vec<&str> = ids.iter().map(MessageId::as_str).collect();
    let ids = serde_json::to_string(&ids)?;
    let args = vec![chat.into(), ids.as_str().into()];
    let (sql, args, key) = for_reach(reach, IDS_SQL, IDS_FOR_KEY_SQL, args);
    listing_row(db, sql, &args, key).await
}

/// The sync window (`SYNC_SQL`): `limit + 1` rows, the extra one only says that more follow.
async fn read_sync(
    db: &Db,
    reach: Reach<'_>,
    chat: &str,
    limit: i64,
    after: &SyncPosition,
    before: Option<i64>,
) -> Result<Option<ListingRow>> {
    let args = vec![
        chat.into(),
        (limit + 1).into(),
        after.updated_at.into(),
        after.id.as_ref().map_or("~", MessageId::as_str).into(),
        before.unwrap_or(MAX_SAFE_INTEGER).into(),
    ];
    let (sql, args, key) = for_reach(reach, SYNC_SQL, SYNC_FOR_KEY_SQL, args);
    listing_row(db, sql, &args, key).await
}

/// The AI-session surface's read: up to `$limit` messages after sequence number ?3, oldest first,
/// with the chat's last sequence number (no participants: the surface shows none).
macro_rules! session_listing {
    ($($reach:tt)*) => {
        concat!(
            "SELECT c.last_seq AS chat_last_seq,
                    (SELECT json_group_array(",
            message_json!(),
            ") FROM (SELECT ",
            listed_columns!(),
            " FROM messages m WHERE m.chat_id = ?1 AND m.seq > ?3 ORDER BY m.seq LIMIT ?4) m)
                      AS messages
             FROM chats c WHERE c.id = ?1 AND ",
            $($reach)*
        )
    };
}

/// For a participant. ?1 chat, ?2 caller, ?3 after, ?4 limit.
pub const SESSION_SQL: &str = session_listing!(is_member!("?1", "?2"));

/// For a service key. ?1 chat, ?2 key hash, ?3 after, ?4 limit.
pub const SESSION_FOR_KEY_SQL: &str = session_listing!(key_reaches!("?2", "c.project_id"));

/// Messages after sequence number `after`, oldest first, at most `limit`, and the chat's last sequence
/// number; `None` when the chat is out of reach. One round trip (the key checked in the same batch).
pub async fn list_session(
    db: &Db,
    reach: Reach<'_>,
    chat_id: &ChatId,
    after: i64,
    limit: i64,
) -> Result<Option<(i64, Vec<MessageRow>)>> {
    #[derive(serde::Deserialize)]
    struct Row {
        chat_last_seq: i64,
        messages: String,
    }
    let (sql, who, key) = match reach {
        Reach::Member(user) => (SESSION_SQL, user.as_str(), None),
        Reach::Key(hash) => (SESSION_FOR_KEY_SQL, hash.as_str(), Some(hash)),
    };
    let args = [
        chat_id.as_str().into(),
        who.into(),
        after.into(),
        limit.into(),
    ];
    let Some(row) = read_one::<Row>(db, sql, &args, key).await? else {
        return Ok(None);
    };
    let mut messages: Vec<MessageRow> = serde_json::from_str(&row.messages)?;
    messages.sort_by_key(|m| m.seq);
    Ok(Some((row.chat_last_seq, messages)))
}

/// A bound as the three parameters of the window statements: (sequence number, message id, time),
/// exactly one of them set, or none for an open end.
fn bound_args(bound: Option<&Bound>) -> [Arg<'_>; 3] {
    match bound {
        None => [Arg::Null, Arg::Null, Arg::Null],
        Some(Bound::Seq(n)) => [Arg::Int(*n), Arg::Null, Arg::Null],
        Some(Bound::Message(id)) => [Arg::Null, Arg::Text(id.as_str()), Arg::Null],
        Some(Bound::Time(t)) => [Arg::Null, Arg::Null, Arg::Int(*t)],
    }
}

/// A write as stored, by a send, a transfer, an edit or a delete.
pub struct Stored {
    pub message: MessageRow,
    /// False when this call committed nothing: a replayed idempotent send or transfer, or deleting a
    /// deleted message again.
    pub committed: bool,
    /// Participants' read marks: read when the message may be older than this write (a replay, an
    /// edit) or when asked for (the live listeners need the participant list); else empty.
    pub read_marks: Vec<(String, i64)>,
    /// True when this write committed a message that its members' chat lists do not order yet (a large
    /// group's send between refreshes moved no entry): the chat's Durable Object then schedules the
    /// catch-up. A direct chat's or small group's send moves the entries itself.
    pub list_behind: bool,
}

/// Whether a send or transfer left its members' list order behind: it committed a message, and its
/// `LIST_MOVE_SQL`, the last statement before its read-back at `read_back`, moved no entry.
pub(super) fn left_list_behind(
    results: &[D1Result],
    read_back: usize,
    committed: bool,
) -> Result<bool> {
    let moved = changes(nth(results, read_back.saturating_sub(1))?);
    Ok(committed && moved == 0)
}

/// A write's statements, and how to read its outcome from their results. The chat's Durable Object
/// commits the statements of several writes in one batch (group commit) and gives each write the
/// slice of the results its own statements produced.
pub struct Plan<'a> {
    pub statements: Vec<worker::D1PreparedStatement>,
    pub outcome: Outcome<'a>,
}

/// Reads a write's outcome from the results of its own statements.
pub type Outcome<'a> = Box<dyn FnOnce(&[D1Result]) -> Result<Stored> + 'a>;

impl Plan<'_> {
    /// Runs the plan alone: one round trip.
    pub async fn run(self, db: &Db) -> Result<Stored> {
        let results = db.batch(self.statements).await?;
        (self.outcome)(&results)
    }
}

/// The chat's read marks, read in a write's batch. ?1 chat.
pub const READ_MARKS_SQL: &str =
    "SELECT user_id, last_read_seq FROM chat_participants WHERE chat_id = ?1";

pub(super) fn read_marks_statement(db: &Db, chat_id: &str) -> Result<worker::D1PreparedStatement> {
    db.statement(READ_MARKS_SQL, &[chat_id.into()])
}

/// Decodes `read_marks_statement`'s result (empty when it was not read).
pub(super) fn read_marks(result: Option<&worker::D1Result>) -> Result<Vec<(String, i64)>> {
    #[derive(serde::Deserialize)]
    struct ReadMark {
        user_id: String,
        last_read_seq: i64,
    }
    match result {
        Some(marks) => Ok(rows::<ReadMark>(marks)?
            .into_iter()
            .map(|m| (m.user_id, m.last_read_seq))
            .collect()),
        _ => Ok(Vec::new()),
    }
}

/// Whether sender ?2 has not sent `clientMessageId` ?3 in chat ?1 yet (true when ?3 is NULL).
macro_rules! not_sent_yet {
    () => {
        "NOT EXISTS (SELECT 1 FROM messages WHERE chat_id = ?1 AND sender_id = ?2 AND client_message_id = ?3)"
    };
}

/// Send, step 1: the chat's next sequence number and write stamp, when `$guard` holds (on the chat row)
/// and the `clientMessageId` is new. ?1 chat, ?2 sender, ?3 clientMessageId, ?4 now.
macro_rules! send_bump {
    ($($guard:tt)*) => {
        concat!(
            "UPDATE chats SET last_seq = last_seq + 1, last_activity_at = ",
            change_stamp!("?1", "?4"),
            ", updated_at = ?4, list_refreshed_at = ",
            list_refresh_stamp!("?1", "?4"),
            ", ",
            list_move!("?1", "?4"),
            " WHERE id = ?1 AND ",
            $($guard)*,
            " AND ",
            not_sent_yet!()
        )
    };
}

/// Whether a send or transfer to chat `$chat` at `$now` refreshes the members' list order (an SQL
/// condition on the chats row it updates): always in a direct chat and in a small group (up to 8
/// members), at most every 5 s in a larger one. API.md lets only large groups trail. A group's send
/// always counts its members (at most 9 rows read, twice), so its rows read do not depend on when
/// the last refresh was.
#[macro_export]
macro_rules! refreshes_list {
    ($chat:literal, $now:literal) => {
        concat!(
            "(type = 'direct' OR (SELECT COUNT(*) FROM (SELECT 1 FROM chat_participants WHERE chat_id = ",
            $chat,
            " LIMIT 9)) <= 8 OR list_refreshed_at <= ",
            $now,
            " - 5000)"
        )
    };
}

/// A send's or transfer's new `list_prev_at` and `list_at` (SQL `SET` items): when this write refreshes
/// the members' list order (`refreshes_list!`), the entries move from the old `list_at` to the new
/// activity time, which `LIST_MOVE_SQL` then does by their exact keys. Set in the chats row the write
/// updates anyway.
#[macro_export]
macro_rules! list_move {
    ($chat:literal, $now:literal) => {
        concat!(
            "list_prev_at = list_at, list_at = CASE WHEN ",
            $crate::refreshes_list!($chat, $now),
            " THEN ",
            change_stamp!($chat, $now),
            " ELSE list_at END"
        )
    };
}

/// A send's or transfer's new `list_refreshed_at` (`$now` when this write refreshes the members' list
/// order, `refreshes_list!`).
#[macro_export]
macro_rules! list_refresh_stamp {
    ($chat:literal, $now:literal) => {
        concat!(
            "CASE WHEN ",
            $crate::refreshes_list!($chat, $now),
            " THEN ",
            $now,
            " ELSE list_refreshed_at END"
        )
    };
}

/// After a write that moved chat ?1's `list_at` (a send or transfer that refreshes, or the catch-up):
/// its members' chat_list entries move from `list_prev_at` to `list_at`, each found by its exact key,
/// so each move writes 1 row (a direct chat: 2, or 4 with a project). When nothing moved
/// (`list_at = list_prev_at`) no entry is visited.
pub const LIST_MOVE_SQL: &str =
    "UPDATE chat_list SET activity_at = (SELECT list_at FROM chats WHERE id = ?1)
     WHERE (user_id, list_key, activity_at, chat_id) IN (
       SELECT p.user_id, k.list_key, c.list_prev_at, c.id
       FROM chats c JOIN chat_participants p ON p.chat_id = c.id
       JOIN (SELECT '' AS list_key
             UNION ALL SELECT project_id FROM chats WHERE id = ?1 AND project_id IS NOT NULL) k
       WHERE c.id = ?1 AND c.list_at <> c.list_prev_at)";

/// The chat's Durable Object's catch-up, within 5 s of a group's last send: the chat's `list_at`
/// moves to its activity time (when it is behind), then `LIST_MOVE_SQL` moves the entries. ?1 chat.
pub const LIST_CATCH_UP_SQL: &str =
    "UPDATE chats SET list_prev_at = list_at, list_at = last_activity_at
     WHERE id = ?1 AND list_at < last_activity_at";

/// Runs the catch-up of one chat's list order. One round trip.
pub async fn catch_up_list_order(db: &Db, chat: &str) -> Result<()> {
    db.batch(vec![
        db.statement(LIST_CATCH_UP_SQL, &[chat.into()])?,
        db.statement(LIST_MOVE_SQL, &[chat.into()])?,
    ])
    .await
    .map(|_| ())
}

/// A participant's send: the sender must be in the chat.
pub const SEND_BUMP_SQL: &str = send_bump!(is_member!("?1", "?2"));

/// A service key's send: the chat must be in the key's project ?5 (NULL: any chat).
pub const SERVICE_SEND_BUMP_SQL: &str = send_bump!("(?5 IS NULL OR project_id = ?5)");

/// Send, step 2: the message, under the same guard, with the bumped sequence number and stamp.
/// ?1 chat, ?2 sender, ?3 clientMessageId, ?4 id, ?5 type, ?6 content, ?7 media, ?8 metadata, ?9 hash,
/// ?10 senderRole.
macro_rules! send_insert {
    ($($guard:tt)*) => {
        concat!(
            "INSERT INTO messages (chat_id, seq, id, sender_id, sender_role, type, content, media,
                                   metadata, client_message_id, request_hash, created_at, updated_at)
             SELECT ?1, c.last_seq, ?4, ?2, ?10, ?5, ?6, ?7, ?8, ?3, ?9, c.last_activity_at,
                    c.last_activity_at FROM chats c
             WHERE c.id = ?1 AND ",
            $($guard)*,
            " AND ",
            not_sent_yet!()
        )
    };
}

/// A participant's send.
pub const SEND_INSERT_SQL: &str = send_insert!(is_member!("?1", "?2"));

/// A service key's send: ?11 the key's project (NULL: any chat).
pub const SERVICE_SEND_INSERT_SQL: &str = send_insert!("(?11 IS NULL OR c.project_id = ?11)");

/// Send, step 3: the sender's read mark moves to the new message (if it was stored).
/// ?1 chat, ?2 sender, ?3 the new message's id.
pub const SEND_READ_MARK_SQL: &str =
    "UPDATE chat_participants SET last_read_seq = (SELECT seq FROM messages WHERE id = ?3)
     WHERE chat_id = ?1 AND user_id = ?2 AND EXISTS (SELECT 1 FROM messages WHERE id = ?3)";

/// Send, step 4 with a `clientMessageId`: the stored message, new or the original of a retry.
/// ?1 chat, ?2 sender, ?3 clientMessageId.
pub const MESSAGE_BY_CLIENT_ID_SQL: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m WHERE m.chat_id = ?1 AND m.sender_id = ?2 AND m.client_message_id = ?3"
);

/// A message by id. ?1 id.
pub const MESSAGE_BY_ID_SQL: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m WHERE m.id = ?1"
);

/// Stores a message as the chat's next sequence number and, for a user, moves their read mark to it
/// (a service key's messages stay unread for every participant); or, when `clientMessageId` was seen
/// before from this sender in this chat, returns the original message (409 if the retry's body
/// differs). One batch, one transaction.
///
/// Must run inside the chat's Durable Object, which runs the chat's writes one at a time. `with_marks`
/// also reads the participants' read marks (the object's live listeners need the participant list).
///
/// A plan: its statements, and how to read its outcome from their results (the chat room commits
/// it in a group, or alone with `Plan::run`).
pub fn send_plan<'a>(
    db: &Db,
    author: &'a Author,
    message: &'a NewMessage,
    role: SenderRole,
    now_ms: i64,
    with_marks: bool,
) -> Result<Plan<'a>> {
    let id = MessageId::generate(now_ms)?;
    let hash = message.request_hash(role);
    let (chat, sender) = (message.chat_id.as_str(), author.sender().as_str());
    let client_id = message.client_message_id.as_deref();
    let mut statements = match author {
        Author::User(caller) => {
            claim_profile(db, &ClaimedProfile::of(caller, now_ms)?, now_ms, Some(chat))?
        }
        Author::Service(_) => Vec::new(),
    };
    statements.extend(send_statements(
        db, author, message, role, &id, &hash, now_ms,
    )?);
    let read_back = statements.len();
    statements.push(match client_id {
        Some(client_id) => db.statement(
            MESSAGE_BY_CLIENT_ID_SQL,
            &[chat.into(), sender.into(), client_id.into()],
        )?,
        None => db.statement(MESSAGE_BY_ID_SQL, &[id.as_str().into()])?,
    });
    if client_id.is_some() || with_marks {
        statements.push(read_marks_statement(db, chat)?);
    }
    let outcome = move |results: &[D1Result]| {
        let stored: MessageRow =
            first(nth(results, read_back)?)?.ok_or_else(|| ApiError::not_found("chat"))?;
        let committed = stored.id == id.as_str();
        if !committed && stored.request_hash.as_deref() != Some(hash.as_str()) {
            return Err(ApiError::conflict(
                "clientMessageId was already used for a different message in this chat",
            ));
        }
        Ok(Stored {
            message: stored,
            committed,
            read_marks: read_marks(results.get(read_back + 1))?,
            list_behind: left_list_behind(results, read_back, committed)?,
        })
    };
    Ok(Plan {
        statements,
        outcome: Box::new(outcome),
    })
}

/// The statements that store a new message: the chat's counter, the message, and for a user their
/// read mark.
fn send_statements(
    db: &Db,
    author: &Author,
    message: &NewMessage,
    role: SenderRole,
    id: &MessageId,
    hash: &str,
    now_ms: i64,
) -> Result<Vec<worker::D1PreparedStatement>> {
    let media = message
        .media
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    let metadata = message
        .metadata
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    let chat = Arg::Text(message.chat_id.as_str());
    let sender = Arg::Text(author.sender().as_str());
    let client_id = message.client_message_id.as_deref().into();
    let id = Arg::Text(id.as_str());
    let mut insert_args = vec![
        chat,
        sender,
        client_id,
        id,
        message.kind.as_str().into(),
        message.content.as_deref().into(),
        media.as_deref().into(),
        metadata.as_deref().into(),
        hash.into(),
        role.as_str().into(),
    ];
    let bump_args = [chat, sender, client_id, now_ms.into()];
    Ok(match author {
        Author::User(_) => vec![
            db.statement(SEND_BUMP_SQL, &bump_args)?,
            db.statement(SEND_INSERT_SQL, &insert_args)?,
            db.statement(SEND_READ_MARK_SQL, &[chat, sender, id])?,
            db.statement(LIST_MOVE_SQL, &[chat])?,
        ],
        Author::Service(key) => {
            let project: Arg<'_> = key.project.as_ref().map(ProjectId::as_str).into();
            insert_args.push(project);
            let [c, s, k, n] = bump_args;
            vec![
                db.statement(SERVICE_SEND_BUMP_SQL, &[c, s, k, n, project])?,
                db.statement(SERVICE_SEND_INSERT_SQL, &insert_args)?,
                db.statement(LIST_MOVE_SQL, &[chat])?,
            ]
        }
    })
}

/// The chat a message belongs to. ?1 message id.
pub const CHAT_OF_MESSAGE_SQL: &str = "SELECT chat_id FROM messages WHERE id = ?1";

/// The chat a message belongs to, to find the Durable Object that owns its writes, and the author
/// asking (a service key checked in the same batch). One round trip.
pub async fn chat_of(
    db: &Db,
    who: &Credential,
    message_id: &MessageId,
) -> Result<(Author, Option<ChatId>)> {
    #[derive(serde::Deserialize)]
    struct Chat {
        chat_id: String,
    }
    let (author, chat) =
        read_as::<Chat>(db, who, CHAT_OF_MESSAGE_SQL, &[message_id.as_str().into()]).await?;
    let chat_id = chat
        .map(|c| ChatId::parse(&c.chat_id, "chatId"))
        .transpose()?;
    Ok((author, chat_id))
}

/// Whether chat `$chat` is in project `$project` (SQL expressions; a NULL project: any chat).
macro_rules! chat_in_project {
    ($chat:literal, $project:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM chats WHERE id = ",
            $chat,
            " AND (",
            $project,
            " IS NULL OR project_id = ",
            $project,
            "))"
        )
    };
}

/// An edit: new content, `editedAt` and a write stamp, for the sender's own live text message, when
/// `$reach` holds. ?1 chat, ?2 sender, ?3 message id, ?4 now, ?5 content.
macro_rules! edit {
    ($($reach:tt)*) => {
        concat!(
            "UPDATE messages SET content = ?5, edited_at = ?4, updated_at = ",
            change_stamp!("?1", "?4"),
            " WHERE id = ?3 AND chat_id = ?1 AND sender_id = ?2 AND type = 'text'
                AND deleted_at IS NULL AND ",
            $($reach)*
        )
    };
}

/// A participant's edit: they must still be in the chat.
pub const EDIT_SQL: &str = edit!(is_member!("?1", "?2"));

/// A service key's edit: ?6 its project (the chat must be in it; NULL: any chat).
pub const SERVICE_EDIT_SQL: &str = edit!(chat_in_project!("?1", "?6"));

/// A delete: the tombstone (content, media and metadata gone, `deletedAt` and a write stamp set) of
/// the sender's own message, never of a credit transfer, when `$reach` holds. ?1 chat, ?2 sender,
/// ?3 message id, ?4 now.
macro_rules! delete {
    ($($reach:tt)*) => {
        concat!(
            "UPDATE messages SET content = NULL, media = NULL, metadata = NULL, deleted_at = ?4,
                                 updated_at = ",
            change_stamp!("?1", "?4"),
            " WHERE id = ?3 AND chat_id = ?1 AND sender_id = ?2 AND type <> 'credit_transfer'
                AND deleted_at IS NULL AND ",
            $($reach)*
        )
    };
}

/// A participant's delete.
pub const DELETE_SQL: &str = delete!(is_member!("?1", "?2"));

/// A service key's delete: ?5 its project.
pub const SERVICE_DELETE_SQL: &str = delete!(chat_in_project!("?1", "?5"));

/// A message of a chat by id. ?1 chat, ?2 message id.
pub const MESSAGE_IN_CHAT_SQL: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m WHERE m.id = ?2 AND m.chat_id = ?1"
);

/// Whether the user participates. ?1 chat, ?2 user.
pub const IS_MEMBER_SQL: &str = concat!("SELECT ", is_member!("?1", "?2"), " AS is_member");

/// Whether the chat is in a service key's reach. ?1 chat, ?2 the key's project (NULL: any chat).
pub const IN_PROJECT_SQL: &str = concat!("SELECT ", chat_in_project!("?1", "?2"), " AS is_member");

/// Edits or deletes the author's own message. Only the sender may; credit transfer messages never
/// change; only text can be edited; a deleted message stays deleted (deleting again returns the
/// tombstone). `updatedAt` moves past every other `updatedAt` of the chat, so a client walking the sync
/// window over (`updatedAt`, `_id`) meets the change later in its walk. One batch.
///
/// Must run inside the chat's Durable Object, like every write of the chat.
///
/// A plan, as `send_plan`.
pub fn change_plan<'a>(
    db: &Db,
    author: &'a Author,
    chat_id: &ChatId,
    message_id: &MessageId,
    change: &'a Change,
    now_ms: i64,
) -> Result<Plan<'a>> {
    #[derive(serde::Deserialize)]
    struct Member {
        is_member: i64,
    }
    let (chat, sender, id) = (
        chat_id.as_str(),
        author.sender().as_str(),
        message_id.as_str(),
    );
    let mut args = vec![chat.into(), sender.into(), id.into(), now_ms.into()];
    if let Change::Edit(content) = change {
        args.push(content.as_str().into());
    }
    let (update, reach) = match (author, change) {
        (Author::User(_), Change::Edit(_)) => (EDIT_SQL, IS_MEMBER_SQL),
        (Author::User(_), Change::Delete) => (DELETE_SQL, IS_MEMBER_SQL),
        (Author::Service(_), Change::Edit(_)) => (SERVICE_EDIT_SQL, IN_PROJECT_SQL),
        (Author::Service(_), Change::Delete) => (SERVICE_DELETE_SQL, IN_PROJECT_SQL),
    };
    let reach_args = match author {
        Author::User(_) => [chat.into(), sender.into()],
        Author::Service(key) => {
            let project: Arg<'_> = key.project.as_ref().map(ProjectId::as_str).into();
            args.push(project);
            [chat.into(), project]
        }
    };
    let statements = vec![
        db.statement(update, &args)?,
        db.statement(MESSAGE_IN_CHAT_SQL, &[chat.into(), id.into()])?,
        db.statement(reach, &reach_args)?,
        read_marks_statement(db, chat)?,
    ];
    let outcome = move |results: &[D1Result]| {
        let reached = first::<Member>(nth(results, 2)?)?.is_some_and(|m| m.is_member == 1);
        let stored = first::<MessageRow>(nth(results, 1)?)?
            .filter(|_| reached)
            .ok_or_else(|| ApiError::not_found("message"))?;
        refuse_change(&stored, author.sender(), change)?;
        Ok(Stored {
            committed: changes(nth(results, 0)?) > 0,
            message: stored,
            read_marks: read_marks(results.get(3))?,
            list_behind: false,
        })
    };
    Ok(Plan {
        statements,
        outcome: Box::new(outcome),
    })
}

/// Why a change the statement did not apply was refused (or Ok when it applied or had nothing to do).
fn refuse_change(stored: &MessageRow, caller: &UserId, change: &Change) -> Result<()> {
    if stored.sender_id != caller.as_str() {
        return Err(ApiError::forbidden(
            "only the sender can edit or delete this message",
        ));
    }
    if stored.kind == MessageKind::CreditTransfer {
        return Err(ApiError::conflict(
            "credit transfer messages cannot be edited or deleted",
        ));
    }
    if let Change::Edit(_) = change {
        if stored.deleted_at.is_some() {
            return Err(ApiError::conflict("the message is deleted"));
        }
        if stored.kind != MessageKind::Text {
            return Err(ApiError::conflict("only text messages can be edited"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MESSAGE_JSON is decoded by position: its columns must follow `MessageRow`'s fields, which follow
    /// MESSAGE_COLUMNS (decoded by name).
    #[test]
    fn message_json_follows_the_row_field_order() {
        let columns: Vec<&str> = MESSAGE_COLUMNS
            .split(',')
            .map(|c| c.trim().trim_start_matches("m."))
            .collect();
        let inner = MESSAGE_JSON
            .trim_start_matches("json_array(")
            .trim_end_matches(')');
        let positional: Vec<&str> = inner
            .split(',')
            .map(|c| c.trim().trim_start_matches("m."))
            .collect();
        assert_eq!(columns.len(), positional.len());
        for (column, item) in columns.iter().zip(&positional) {
            assert!(
                item == column || (*item == "NULL" && *column == "request_hash"),
                "{column} vs {item}"
            );
        }
        let values: Vec<serde_json::Value> = columns
            .iter()
            .map(|c| match *c {
                "seq" | "created_at" | "updated_at" => serde_json::json!(7),
                "request_hash" | "media" | "metadata" | "transfer_amount"
                | "transfer_recipient" | "client_message_id" | "edited_at" | "deleted_at"
                | "content" => serde_json::Value::Null,
                "type" => serde_json::json!("media"),
                "sender_role" => serde_json::json!("assistant"),
                other => serde_json::json!(other),
            })
            .collect();
        let row: MessageRow = serde_json::from_value(serde_json::Value::Array(values)).unwrap();
        assert_eq!(
            (row.id.as_str(), row.kind, row.seq, row.sender_role),
            ("id", MessageKind::Media, 7, SenderRole::Assistant)
        );
    }

    #[test]
    fn participant_json_follows_the_row_field_order() {
        let row: ParticipantRow = serde_json::from_str(
            r#"["u1", 4, 9, "name", "pid", "https://x.test/p", "image", "away", "Una"]"#,
        )
        .unwrap();
        assert_eq!(row.first_name.as_deref(), Some("Una"));
        assert_eq!(
            (row.user_id.as_str(), row.last_read_seq, row.joined_at),
            ("u1", 4, 9)
        );
        assert_eq!(
            (row.username.as_deref(), row.availability),
            (Some("name"), Some(crate::domain::user::Availability::Away))
        );
        let inner = PARTICIPANT_JSON
            .trim_start_matches("json_array(")
            .trim_end_matches(')');
        let names: Vec<&str> = inner
            .split(',')
            .map(|c| c.trim().trim_start_matches("p."))
            .collect();
        assert_eq!(
            names,
            [
                "user_id",
                "last_read_seq",
                "joined_at",
                "username",
                "photo_id",
                "photo_url",
                "photo_type",
                "availability",
                "first_name"
            ]
        );
    }
}

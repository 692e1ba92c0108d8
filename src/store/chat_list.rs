//! The chat list ("my chat rooms", API.md "Chats"): its order and its pages.
//!
//! The list sorts the caller's chats by last activity: a range of the caller's `chat_list` entries
//! (migration 0005), keyed by the order itself, so a page reads its own rows at any number of chats.
//! A send keeps the members' entries fresh at a bounded cost: always in a direct chat and a group of
//! up to 8; at most every 5 s in a larger group, the chat's Durable Object catching up the rest. Each
//! entry moves by its exact key (1 row written), since D1 bills a row written like a thousand rows
//! read: the send sets the chat's `list_prev_at` and `list_at` in its own write of the chats row
//! (`REFRESH_SET`), then `LIST_MOVE_SQL` moves the entries. The page's participants and last messages
//! are then read for the page only.

use super::rows::{ChatRecord, ChatRow};
use super::sql::{concatcp, MESSAGE_JSON, PARTICIPANTS_OF_ROW};
use super::{first, nth, rows, Db};
use crate::domain::ids::UserId;
use crate::domain::pagination::PageRequest;
use crate::error::Result;

/// Whether a send or transfer to chat ?1 at ?4 (now) refreshes the members' list order (an SQL
/// condition on the chats row it updates): always in a direct chat and in a small group (up to 8
/// members), at most every 5 s in a larger one. API.md lets only large groups trail. A group's send
/// always counts its members (at most 9 rows read, twice), so its rows read do not depend on when the
/// last refresh was.
const REFRESHES: &str = "(type = 'direct' OR (SELECT COUNT(*) FROM (SELECT 1 FROM chat_participants
     WHERE chat_id = ?1 LIMIT 9)) <= 8 OR list_refreshed_at <= ?4 - 5000)";

/// A send's or transfer's `SET` items on chat ?1's row at ?4 (now) for the list order: when this write
/// refreshes it (`REFRESHES`), `list_refreshed_at` becomes now, and the entries are to move from the
/// old `list_at` (kept as `list_prev_at`) to the new activity time (the write's stamp,
/// `sql::CHANGE_STAMP`).
pub const REFRESH_SET: &str = concatcp!(
    "list_refreshed_at = CASE WHEN ",
    REFRESHES,
    " THEN ?4 ELSE list_refreshed_at END,
     list_prev_at = list_at,
     list_at = CASE WHEN ",
    REFRESHES,
    " THEN ",
    super::sql::CHANGE_STAMP,
    " ELSE list_at END"
);

/// After a write that moved chat ?1's `list_at` (a send or transfer that refreshes, or the catch-up):
/// its members' chat_list entries move from `list_prev_at` to `list_at`, each found by its exact key,
/// so each move writes 1 row (a direct chat: 2, or 4 with a project). When nothing moved
/// (`list_at = list_prev_at`) no entry is visited.
pub const LIST_MOVE_SQL: &str =
    "UPDATE chat_list SET activity_at = (SELECT list_at FROM chats WHERE id = ?1)
     WHERE (user_id, list_key, activity_at, chat_id) IN (
       SELECT p.user_id, CASE WHEN p.archived = 1 THEN '!' || k.list_key ELSE k.list_key END,
              c.list_prev_at, c.id
       FROM chats c JOIN chat_participants p ON p.chat_id = c.id
       JOIN (SELECT '' AS list_key
             UNION ALL SELECT project_id FROM chats WHERE id = ?1 AND project_id IS NOT NULL) k
       WHERE c.id = ?1 AND c.list_at <> c.list_prev_at)";

/// A new message ?3 of chat ?1 from ?2 brings the chat back to the list of each other member who
/// archived it (API.md "Members and roles"), unless it is a `system` one (a chat event, or a service
/// key's `senderRole: system`). The trigger `chat_list_on_archive` moves their entries and counts.
/// Reads the chat's archived members only (an empty index range when nobody archived it). Before
/// `LIST_MOVE_SQL`, which then finds the entries under their new key.
pub const UNARCHIVE_SQL: &str = "UPDATE chat_participants SET archived = 0
     WHERE chat_id = ?1 AND archived = 1 AND user_id <> ?2
       AND EXISTS (SELECT 1 FROM messages WHERE id = ?3 AND sender_role <> 'system')";

/// The chat's Durable Object's catch-up, within 5 s of a group's last send: chat ?1's `list_at` moves
/// to its activity time (when it is behind), then `LIST_MOVE_SQL` moves the entries.
pub const LIST_CATCH_UP_SQL: &str =
    "UPDATE chats SET list_prev_at = list_at, list_at = last_activity_at
     WHERE id = ?1 AND list_at < last_activity_at";

/// Runs the catch-up of one chat's list order. One round trip.
pub async fn catch_up(db: &Db, chat: &str) -> Result<()> {
    db.batch(vec![
        db.statement(LIST_CATCH_UP_SQL, &[chat.into()])?,
        db.statement(LIST_MOVE_SQL, &[chat.into()])?,
    ])
    .await
    .map(|_| ())
}

/// A page of the list ?4 (`''`: all chats; else a project; `'!'`-prefixed: archived) of the caller ?1, most recently active
/// first: a range of the caller's chat_list entries (the cost does not grow with the number of chats),
/// `LIMIT ?2 OFFSET ?3`, each with its participants and last message as correlated subqueries, so they
/// run for the page's rows only (a `WITH page` co-routine read every page row a second time). The
/// caller's read mark is not read here: `page` takes it from the participants the row carries (a
/// lookup per chat would read 20 more rows per page).
pub const CHAT_LIST_SQL: &str = concatcp!(
    "SELECT c.id, c.type, c.title, c.project_id, c.last_seq, c.last_activity_at, c.created_at,
            c.updated_at, 0 AS my_read_seq, l.activity_at AS list_at, ",
    PARTICIPANTS_OF_ROW,
    " AS participants, (SELECT ",
    MESSAGE_JSON,
    " FROM messages m WHERE m.chat_id = c.id AND m.seq = c.last_seq) AS last_message
     FROM chat_list l JOIN chats c ON c.id = l.chat_id
     WHERE l.user_id = ?1 AND l.list_key = ?4
     ORDER BY l.activity_at DESC, l.chat_id DESC
     LIMIT ?2 OFFSET ?3"
);

/// How many chats of list ?2 (`''`: all; else a project) the caller ?1 is in (one row, kept by
/// triggers).
pub const CHAT_COUNT_SQL: &str =
    "SELECT chats AS total FROM chat_counts WHERE user_id = ?1 AND project_id = ?2";

/// A page of the caller's list `list_key` (`ChatListQuery::list_key`: all chats or a project's, archived
/// or not), decoded, and its total count. One round trip.
pub async fn page(
    db: &Db,
    caller: &UserId,
    page: PageRequest,
    list_key: &str,
) -> Result<(Vec<ChatRecord>, i64)> {
    #[derive(serde::Deserialize)]
    struct Total {
        total: i64,
    }
    let me = caller.as_str().into();
    let list = list_key.into();
    let results = db
        .batch(vec![
            db.statement(CHAT_COUNT_SQL, &[me, list])?,
            db.statement(
                CHAT_LIST_SQL,
                &[me, page.limit.into(), page.offset().into(), list],
            )?,
        ])
        .await?;
    let total = first::<Total>(nth(&results, 0)?)?.map_or(0, |t| t.total);
    let chats = rows::<ChatRow>(nth(&results, 1)?)?
        .into_iter()
        .map(|row| {
            let mut chat = row.decode()?;
            let me = chat
                .participants
                .iter()
                .find(|p| p.user_id == caller.as_str());
            chat.row.my_read_seq = me.map_or(chat.row.last_seq, |p| p.last_read_seq);
            chat.row.my_role = me.and_then(|p| p.role);
            chat.row.my_muted = me.map_or(0, |p| p.muted);
            chat.row.my_archived = me.map_or(0, |p| p.archived);
            chat.row.my_unread_mentions = me.map_or(0, |p| p.unread_mentions);
            Ok(chat)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((chats, total))
}

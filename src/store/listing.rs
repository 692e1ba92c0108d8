//! The message list's reads: page mode, the cursor windows (`before` / `after`, `ids`, the sync window)
//! and the AI-session surface's read.
//!
//! Pages are ranges of the `(chat_id, seq)` primary key, computed from the snapshot's last sequence
//! number (see `domain::pagination`), never OFFSET scans and never `COUNT(*)`: a page costs `limit`
//! message rows at any depth. Every read here is one statement returning one row: SQLite builds the
//! participants and the messages as JSON strings, so the worker decodes two strings instead of crossing
//! into JavaScript for every field of every row.
//!
//! Reach: one statement serves participants and service keys. A participant's membership is checked
//! by the statement (`?2` the caller; NULL for a key) or from the participants it returns; a key is
//! checked in the same batch (`read_in_reach`) and its project compared with the row's.

use super::rows::{decode_participants, MessageRow, ParticipantRow};
use super::sql::{
    concatcp, my_reactions_between, window_messages, IS_MEMBER, LISTED_COLUMNS, MESSAGE_JSON,
    PARTICIPANTS_OF_CHAT, PLAIN_WINDOW_MESSAGES,
};
use super::{read_in_reach, Arg, Db, OfProject, Reach};
use crate::domain::cursor::{AroundQuery, Bound, CursorQuery, SyncPosition, Window};
use crate::domain::ids::{ChatId, MessageId};
use crate::domain::input::MAX_SAFE_INTEGER;
use crate::domain::listing::{Position, ResolvedBounds};
use crate::domain::pagination::PageRequest;
use crate::error::Result;

/// Page mode: the newest ?5 (limit) messages at or below ?3 (asOf; NULL: the chat's last message)
/// minus ?4 (offset), read backwards along the primary key (with two bounds instead of one, SQLite's
/// planner stopped using the upper one: a scan to the end). The page needs no earlier read: the
/// snapshot defaults to `chats.last_seq` in the same statement. ?1 chat, ?2 the caller (NULL for a
/// service key): a non-participant reads 2 rows. ?6 and ?7 the reader (`my_reactions_between!`, over
/// the page's sequence numbers, which are dense).
pub const PAGE_SQL: &str = concatcp!(
    "SELECT c.last_seq AS chat_last_seq, c.project_id, ",
    PARTICIPANTS_OF_CHAT,
    " AS participants,
       (SELECT json_group_array(",
    MESSAGE_JSON,
    ") FROM (
          SELECT * FROM messages m
          WHERE m.chat_id = ?1 AND m.seq <= COALESCE(?3, c.last_seq) - ?4
          ORDER BY m.seq DESC LIMIT ?5) m) AS messages, ",
    my_reactions_between!(
        "?6",
        "?7",
        "COALESCE(?3, c.last_seq) - ?4 - ?5",
        "COALESCE(?3, c.last_seq) - ?4"
    ),
    " AS my_reactions FROM chats c WHERE c.id = ?1 AND (?2 IS NULL OR ",
    IS_MEMBER,
    ")"
);

/// The head of every cursor-mode listing of chat ?1: its last sequence number, project and
/// participants. (A participant's membership is checked from the participants, which saves the row
/// an `EXISTS` would read.)
const WINDOW_HEAD: &str = concatcp!(
    "SELECT c.last_seq AS chat_last_seq, c.project_id, ",
    PARTICIPANTS_OF_CHAT,
    " AS participants, "
);

/// The tail of every cursor-mode listing.
const WINDOW_TAIL: &str = ") m) AS messages FROM chats c WHERE c.id = ?1";

/// The first message created at or after time ?5 (through `messages_by_created`, whose order is the
/// sequence order because each chat's `createdAt` never decreases), else past the last one.
const FIRST_AT_OR_AFTER_5: &str =
    "COALESCE((SELECT seq FROM messages WHERE chat_id = ?1 AND created_at >= ?5
     ORDER BY created_at, seq LIMIT 1), 9007199254740991)";

/// `before` only: the exclusive upper bound, one of ?3 a sequence number (from a cursor), ?4 a message
/// id (through the `id` index) or ?5 a time; the other two NULL. ?1 chat.
const BACKWARD_BOUND: &str = concatcp!(
    "CASE WHEN ?3 IS NOT NULL THEN ?3
       WHEN ?4 IS NOT NULL THEN (SELECT seq FROM messages WHERE id = ?4 AND chat_id = ?1)
       ELSE ",
    FIRST_AT_OR_AFTER_5,
    " END"
);

/// `before` only: the newest ?2 (limit) messages strictly before `BACKWARD_BOUND`, read backwards from
/// it. The bound is resolved once, in the one-row table `b` (a derived table reads no row), and comes
/// back as `before_seq` for a message id (NULL when the id is not in this chat). ?6 and ?7 the reader:
/// the page's sequence numbers are dense, so its reactions are the range below the bound (capped at
/// the chat's end for a time after the last message).
pub const BACKWARD_SQL: &str = concatcp!(
    WINDOW_HEAD,
    "NULL AS after_seq, CASE WHEN ?4 IS NOT NULL THEN b.seq END AS before_seq, ",
    my_reactions_between!(
        "?6",
        "?7",
        "MIN(b.seq, c.last_seq + 1) - ?2 - 1",
        "MIN(b.seq, c.last_seq + 1) - 1"
    ),
    " AS my_reactions, ",
    PLAIN_WINDOW_MESSAGES,
    "FROM messages m WHERE m.chat_id = ?1 AND m.seq < b.seq ORDER BY m.seq DESC LIMIT ?2) m)
       AS messages
     FROM chats c, (SELECT ",
    BACKWARD_BOUND,
    " AS seq LIMIT 1) b WHERE c.id = ?1"
);

/// `after` given as ?4 a message id or ?5 a time (the last message created at or before it): the
/// message it names, resolved once in the one-row table `a` (NULL for a cursor's sequence number ?3
/// or the start).
const AFTER_MESSAGE: &str = "CASE
       WHEN ?4 IS NOT NULL THEN (SELECT seq FROM messages WHERE id = ?4 AND chat_id = ?1)
       WHEN ?5 IS NOT NULL THEN (SELECT seq FROM messages WHERE chat_id = ?1 AND created_at <= ?5
                                 ORDER BY created_at DESC, seq DESC LIMIT 1) END";

/// `after`'s exclusive lower bound: a cursor's sequence number, the joined message `a` (NULL when an
/// id is not in this chat: no page), or 0 (the start, or a time before every message).
const AFTER_SEQ: &str =
    "COALESCE(?3, CASE WHEN ?4 IS NOT NULL THEN a.seq ELSE COALESCE(a.seq, 0) END)";

/// `after`, with or without `before`: the oldest ?2 (limit) messages strictly after `AFTER_SEQ`, read
/// forwards from it (one bound in the range; a read that runs past `before` is cut by
/// `domain::listing`). `before` is one of ?6, ?7, ?8 likewise. `after_seq` comes back for an id (NULL:
/// not in this chat), `before_seq` for any `before`. ?1 chat; ?9 and ?10 the reader, whose reactions
/// on the page are the range (after, after + limit]: the bound is resolved once, in `a` (a derived
/// table of one row, which reads none; a join of the message itself would read its row).
pub const FORWARD_SQL: &str = concatcp!(
    WINDOW_HEAD,
    "CASE WHEN ?4 IS NOT NULL THEN a.seq END AS after_seq,
     CASE WHEN ?6 IS NOT NULL THEN ?6
          WHEN ?7 IS NOT NULL THEN (SELECT seq FROM messages WHERE id = ?7 AND chat_id = ?1)
          WHEN ?8 IS NOT NULL THEN COALESCE((SELECT seq FROM messages WHERE chat_id = ?1
            AND created_at >= ?8 ORDER BY created_at, seq LIMIT 1), 9007199254740991) END
       AS before_seq, ",
    my_reactions_between!("?9", "?10", AFTER_SEQ, concatcp!(AFTER_SEQ, " + ?2")),
    " AS my_reactions, ",
    PLAIN_WINDOW_MESSAGES,
    "FROM messages m WHERE m.chat_id = ?1 AND m.seq > ",
    AFTER_SEQ,
    " ORDER BY m.seq LIMIT ?2) m) AS messages
     FROM chats c, (SELECT ",
    AFTER_MESSAGE,
    " AS seq LIMIT 1) a WHERE c.id = ?1"
);

/// `ids`: exactly those messages of chat ?1, driven from the id list ?2 (a JSON array; with
/// `m.id IN (…)` SQLite scanned the whole chat instead): two rows per id found.
pub const IDS_SQL: &str = concatcp!(
    WINDOW_HEAD,
    window_messages!("?3", "?4"),
    "FROM json_each(?2) j CROSS JOIN messages m WHERE m.id = j.value AND m.chat_id = ?1",
    WINDOW_TAIL
);

/// The sync window: what changed strictly after the position (`updatedAt`, `_id`) = (?3, ?4) and
/// before ?5, in that order, from the covering index `messages_by_update` (?2 = limit + 1 entries, the
/// extra one only says that more follow). Ids are lowercase hex, so ?4 = "~" sorts after all of them:
/// "strictly after this millisecond". ?1 chat.
pub const SYNC_SQL: &str = concatcp!(
    WINDOW_HEAD,
    window_messages!("?6", "?7"),
    "FROM messages m
     WHERE m.chat_id = ?1 AND (m.updated_at, m.id) > (?3, ?4) AND m.updated_at < ?5
     ORDER BY m.updated_at, m.id LIMIT ?2",
    WINDOW_TAIL
);

/// The anchor of an `around` page: message ?4 of chat ?1 (NULL when it is not in it), else the first
/// message at or after time ?5, else the chat's last message.
const ANCHOR_OF_A: &str =
    "CASE WHEN ?4 IS NOT NULL THEN (SELECT seq FROM messages WHERE id = ?4 AND chat_id = ?1)
       ELSE COALESCE((SELECT seq FROM messages WHERE chat_id = ?1 AND created_at >= ?5
                      ORDER BY created_at, seq LIMIT 1),
                     (SELECT last_seq FROM chats WHERE id = ?1)) END";

/// `around`: ?2 (limit) messages forwards from the page's first, at most ?3 (`floor((limit - 1) / 2)`)
/// before the anchor, so that older messages never fill up for missing newer ones: one primary-key
/// range with one bound. The first is resolved once, in the one-row table `a`, so the page and the
/// reader's reactions (one range, [first, first + limit)) start from it without resolving the anchor
/// again; it comes back as `after_seq` (NULL: the anchor id is not in this chat). ?1 chat; ?6 and ?7
/// the reader.
pub const AROUND_SQL: &str = concatcp!(
    WINDOW_HEAD,
    "a.seq AS after_seq, NULL AS before_seq, ",
    my_reactions_between!("?6", "?7", "a.seq - 1", "a.seq + ?2 - 1"),
    " AS my_reactions, ",
    PLAIN_WINDOW_MESSAGES,
    "FROM messages m WHERE m.chat_id = ?1 AND m.seq >= a.seq ORDER BY m.seq LIMIT ?2) m) AS messages
     FROM chats c, (SELECT MAX(1, ",
    ANCHOR_OF_A,
    " - ?3) AS seq LIMIT 1) a WHERE c.id = ?1"
);

/// A chat's pins (at most 50, the cap), from the partial index `messages_pinned`, with the head of
/// every cursor-mode listing. ?1 chat; ?2 and ?3 the reader.
pub const PINS_SQL: &str = concatcp!(
    WINDOW_HEAD,
    window_messages!("?2", "?3"),
    "FROM messages m WHERE m.chat_id = ?1 AND m.pinned_at IS NOT NULL
     ORDER BY m.pinned_at DESC, m.seq DESC LIMIT 50",
    WINDOW_TAIL
);

/// The AI-session surface's read: up to ?4 (limit) messages after sequence number ?3, oldest first,
/// with the chat's last sequence number and project (no participants: the surface shows none).
/// ?1 chat, ?2 the caller (NULL for a service key).
pub const SESSION_SQL: &str = concatcp!(
    "SELECT c.last_seq AS chat_last_seq, c.project_id,
       (SELECT json_group_array(",
    MESSAGE_JSON,
    ") FROM (SELECT ",
    LISTED_COLUMNS,
    " FROM messages m WHERE m.chat_id = ?1 AND m.seq > ?3 ORDER BY m.seq LIMIT ?4) m) AS messages
     FROM chats c WHERE c.id = ?1 AND (?2 IS NULL OR ",
    IS_MEMBER,
    ")"
);

/// The caller a statement checks membership for: the participant, or NULL for a service key.
fn caller(reach: Reach<'_>) -> Arg<'_> {
    match reach {
        Reach::Member(user) => user.as_str().into(),
        Reach::Key(_) => Arg::Null,
    }
}

/// Whose own reactions (`myReactions`) a listing shows: the caller's (the main API's lists), or
/// nobody's (the compatibility surfaces and the socket's `message_list`, whose shapes have none: no
/// reaction of anyone's is looked up for them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Caller,
    Nobody,
}

/// A listing's arguments followed by the reader (`message_json_for_reader!`,
/// `my_reactions_between!`): a user, a key's hash, or neither.
fn with_reader<'a>(mut args: Vec<Arg<'a>>, reach: Reach<'a>, reader: Reader) -> Vec<Arg<'a>> {
    match (reader, reach) {
        (Reader::Nobody, _) => args.extend([Arg::Null, Arg::Null]),
        (Reader::Caller, Reach::Member(user)) => args.extend([user.as_str().into(), Arg::Null]),
        (Reader::Caller, Reach::Key(hash)) => args.extend([Arg::Null, hash.as_str().into()]),
    }
    args
}

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
    #[serde(default)]
    participants: Option<String>,
    messages: String,
    #[serde(default)]
    after_seq: Option<i64>,
    #[serde(default)]
    before_seq: Option<i64>,
    /// The reader's own reactions on the page as [seq, key] pairs (`my_reactions_between!`), for the
    /// listings that read them in one range; the others read them per message.
    #[serde(default)]
    my_reactions: Option<String>,
}

impl OfProject for ListingRow {
    fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }
}

impl ListingRow {
    fn participants(&self) -> Result<Vec<ParticipantRow>> {
        decode_participants(self.participants.as_deref().unwrap_or("[]"))
    }

    /// The messages in sequence order, with the reader's own reactions when they were read in one
    /// range.
    fn messages_by_seq(&self) -> Result<Vec<MessageRow>> {
        let mut messages: Vec<MessageRow> = serde_json::from_str(&self.messages)?;
        messages.sort_by_key(|m| m.seq);
        if let Some(pairs) = &self.my_reactions {
            let pairs: Vec<(i64, String)> = serde_json::from_str(pairs)?;
            for message in &mut messages {
                let keys: Vec<&str> = pairs
                    .iter()
                    .filter(|(seq, _)| *seq == message.seq)
                    .map(|(_, key)| key.as_str())
                    .collect();
                if !keys.is_empty() {
                    message.my_reactions = Some(serde_json::to_string(&keys)?);
                }
            }
        }
        Ok(messages)
    }
}

/// One page of messages, oldest first, over the snapshot `as_of` (default: the chat's last message).
/// `None` when the chat does not exist or the caller is not in it. One round trip; rows read: the chat
/// (1) + the caller's membership (1) + participants + the page, whatever its depth.
pub async fn list_page(
    db: &Db,
    reach: Reach<'_>,
    reader: Reader,
    chat_id: &ChatId,
    page: PageRequest,
    as_of: Option<i64>,
) -> Result<Option<MessagePage>> {
    let args = vec![
        chat_id.as_str().into(),
        caller(reach),
        as_of.into(),
        page.offset().into(),
        page.limit.into(),
    ];
    let args = with_reader(args, reach, reader);
    let Some(row) = read_in_reach::<ListingRow>(db, reach, PAGE_SQL, &args).await? else {
        return Ok(None);
    };
    Ok(Some(MessagePage {
        chat_last_seq: row.chat_last_seq,
        participants: row.participants()?,
        messages: row.messages_by_seq()?,
        project_id: row.project_id,
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
/// A participant's membership is checked here from the participant list the page shows anyway,
/// which saves the row an `EXISTS` would read (a non-member's request reads a page it never gets; it
/// costs them a 404). Rows read: the chat (1) + participants (+ 1 when the scan meets the next chat's
/// first row) + the page, plus up to 3 one-row index probes for `before` / `after` given as times or
/// message ids (both bounds ids, forward, is the worst case).
pub async fn list_window(
    db: &Db,
    reach: Reach<'_>,
    reader: Reader,
    chat_id: &ChatId,
    query: &CursorQuery,
) -> Result<Option<WindowPage>> {
    let (chat, limit) = (chat_id.as_str(), query.limit);
    let ids_json;
    let (sql, args): (&str, Vec<Arg<'_>>) = match &query.window {
        Window::Backward { before } => {
            let [seq, id, time] = bound_args(Some(before));
            (BACKWARD_SQL, vec![chat.into(), limit.into(), seq, id, time])
        }
        Window::Forward { after, before } => {
            let [a_seq, a_id, a_time] = bound_args(after.as_ref());
            let [b_seq, b_id, b_time] = bound_args(before.as_ref());
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
            (FORWARD_SQL, args)
        }
        Window::Ids(ids) => {
            let ids: Vec<&str> = ids.iter().map(MessageId::as_str).collect();
            ids_json = serde_json::to_string(&ids)?;
            (IDS_SQL, vec![chat.into(), ids_json.as_str().into()])
        }
        Window::Sync { after, before } => (SYNC_SQL, sync_args(chat, limit, after, *before)),
    };
    let args = with_reader(args, reach, reader);
    let Some(row) = read_in_reach::<ListingRow>(db, reach, sql, &args).await? else {
        return Ok(None);
    };
    let participants = row.participants()?;
    if let Reach::Member(user) = reach {
        if !participants.iter().any(|p| p.user_id == user.as_str()) {
            return Ok(None);
        }
    }
    let mut messages = row.messages_by_seq()?;
    if let Window::Sync { .. } = &query.window {
        messages.sort_by(|x, y| (x.updated_at, &x.id).cmp(&(y.updated_at, &y.id)));
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

/// An `around` page (chronological) and its anchor's sequence number (`None`: the anchor id is not
/// in this chat, or the chat is empty). `None` when the chat does not exist or is out of reach. One
/// round trip; rows read: the chat, participants, the page and one or two index probes for the
/// anchor.
pub async fn list_around(
    db: &Db,
    reach: Reach<'_>,
    chat_id: &ChatId,
    query: &AroundQuery,
) -> Result<Option<(WindowPage, Option<i64>)>> {
    let [_, id, time] = bound_args(Some(&query.anchor));
    let args = vec![
        chat_id.as_str().into(),
        query.limit.into(),
        query.older().into(),
        id,
        time,
    ];
    let args = with_reader(args, reach, Reader::Caller);
    let Some(row) = read_in_reach::<ListingRow>(db, reach, AROUND_SQL, &args).await? else {
        return Ok(None);
    };
    let participants = row.participants()?;
    if let Reach::Member(user) = reach {
        if !participants.iter().any(|p| p.user_id == user.as_str()) {
            return Ok(None);
        }
    }
    // The page's first message: it exists exactly when the anchor does.
    let anchor = row.after_seq.filter(|seq| *seq >= 1);
    Ok(Some((
        WindowPage {
            bounds: ResolvedBounds {
                chat_last_seq: row.chat_last_seq,
                after_seq: row.after_seq,
                before_seq: None,
            },
            messages: row.messages_by_seq()?,
            project_id: row.project_id,
            participants,
        },
        anchor,
    )))
}

/// A chat's pinned messages, newest pin first; `None` when the chat does not exist or is out of
/// reach. One round trip; rows read: the chat, participants and at most 50 pins (2 rows each).
pub async fn list_pins(db: &Db, reach: Reach<'_>, chat_id: &ChatId) -> Result<Option<MessagePage>> {
    let args = with_reader(vec![chat_id.as_str().into()], reach, Reader::Caller);
    let Some(row) = read_in_reach::<ListingRow>(db, reach, PINS_SQL, &args).await? else {
        return Ok(None);
    };
    let participants = row.participants()?;
    if let Reach::Member(user) = reach {
        if !participants.iter().any(|p| p.user_id == user.as_str()) {
            return Ok(None);
        }
    }
    let mut messages: Vec<MessageRow> = serde_json::from_str(&row.messages)?;
    messages.sort_by_key(|m| std::cmp::Reverse((m.pinned_at, m.seq)));
    Ok(Some(MessagePage {
        chat_last_seq: row.chat_last_seq,
        project_id: row.project_id,
        participants,
        messages,
    }))
}

/// The sync window's arguments (`SYNC_SQL`): `limit + 1` rows, the extra one only says that more
/// follow.
fn sync_args<'a>(
    chat: &'a str,
    limit: i64,
    after: &'a SyncPosition,
    before: Option<i64>,
) -> Vec<Arg<'a>> {
    vec![
        chat.into(),
        (limit + 1).into(),
        after.updated_at.into(),
        after.id.as_ref().map_or("~", MessageId::as_str).into(),
        before.unwrap_or(MAX_SAFE_INTEGER).into(),
    ]
}

/// Messages after sequence number `after`, oldest first, at most `limit`, and the chat's last sequence
/// number; `None` when the chat is out of reach. One round trip (a key checked in the same batch).
pub async fn list_session(
    db: &Db,
    reach: Reach<'_>,
    chat_id: &ChatId,
    after: i64,
    limit: i64,
) -> Result<Option<(i64, Vec<MessageRow>)>> {
    let args = [
        chat_id.as_str().into(),
        caller(reach),
        after.into(),
        limit.into(),
    ];
    let Some(row) = read_in_reach::<ListingRow>(db, reach, SESSION_SQL, &args).await? else {
        return Ok(None);
    };
    Ok(Some((row.chat_last_seq, row.messages_by_seq()?)))
}

/// A bound as the three parameters of the window statements: (sequence number, message id, time),
/// exactly one of them set, or none for an open end.
pub(super) fn bound_args(bound: Option<&Bound>) -> [Arg<'_>; 3] {
    match bound {
        None => [Arg::Null, Arg::Null, Arg::Null],
        Some(Bound::Seq(n)) => [Arg::Int(*n), Arg::Null, Arg::Null],
        Some(Bound::Message(id)) => [Arg::Null, Arg::Text(id.as_str()), Arg::Null],
        Some(Bound::Time(t)) => [Arg::Null, Arg::Null, Arg::Int(*t)],
    }
}

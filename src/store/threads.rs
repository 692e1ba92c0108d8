//! A message's thread (its live replies) and the caller's mentions across chats: reads only (replies
//! and mentions are written by a send or an edit in `writes`, their counts by migration 0008's
//! triggers).
//!
//! A thread page is a range of the covering index `messages_replies` (parent, seq, every listed
//! column): `limit + 1` entries and no table rows, at any depth of the chat or the thread. The caller's
//! mentions are a range of `mentions_of_user`, newest first across chats.

use super::listing::bound_args;
use super::rows::{MessageRow, ParticipantRow};
use super::sql::{concatcp, message_json_for_reader, window_messages, PARTICIPANT_JSON};
use super::{first, read_as, Arg, Db};
use crate::auth::{Author, Credential};
use crate::domain::ids::{MessageId, UserId};
use crate::domain::threads::{MentionQuery, ReplyQuery, ReplyWindow};
use crate::error::{ApiError, Result};

/// The chat of the thread's parent ?1 (for bounds given as message ids or times: one index entry).
const THREAD_CHAT: &str = "(SELECT chat_id FROM messages WHERE id = ?1)";

/// The exclusive lower bound of a thread page: ?3 a sequence number, ?4 a message id of the chat, ?5
/// a time (the last message created at or before it), else the start.
const AFTER_BOUND: &str = concatcp!(
    "CASE WHEN ?3 IS NOT NULL THEN ?3
       WHEN ?4 IS NOT NULL THEN (SELECT seq FROM messages WHERE id = ?4 AND chat_id = ",
    THREAD_CHAT,
    ")
       WHEN ?5 IS NOT NULL THEN COALESCE((SELECT seq FROM messages WHERE chat_id = ",
    THREAD_CHAT,
    " AND created_at <= ?5 ORDER BY created_at DESC, seq DESC LIMIT 1), 0)
       ELSE 0 END"
);

/// The exclusive upper bound: ?6 a sequence number, ?7 a message id, ?8 a time (the first message
/// created at or after it), else none.
const BEFORE_BOUND: &str = concatcp!(
    "CASE WHEN ?6 IS NOT NULL THEN ?6
       WHEN ?7 IS NOT NULL THEN (SELECT seq FROM messages WHERE id = ?7 AND chat_id = ",
    THREAD_CHAT,
    ")
       WHEN ?8 IS NOT NULL THEN COALESCE((SELECT seq FROM messages WHERE chat_id = ",
    THREAD_CHAT,
    " AND created_at >= ?8 ORDER BY created_at, seq LIMIT 1), 9007199254740991)
       ELSE 9007199254740991 END"
);

/// A page's upper bound as a sequence number, for the 400 of an unknown id and the cursor of a forward
/// page (probed through the parent's own `chat_id`: one index entry).
const FORWARD_BEFORE_SEQ: &str = "CASE WHEN ?6 IS NOT NULL THEN ?6
       WHEN ?7 IS NOT NULL THEN (SELECT seq FROM messages WHERE id = ?7 AND chat_id = m.chat_id)
       WHEN ?8 IS NOT NULL THEN COALESCE((SELECT seq FROM messages WHERE chat_id = m.chat_id
         AND created_at >= ?8 ORDER BY created_at, seq LIMIT 1), 9007199254740991) END";

/// A backward page's cursor continues below its own first reply, so a time needs no second probe.
const BACKWARD_BEFORE_SEQ: &str = "CASE WHEN ?6 IS NOT NULL THEN ?6
       WHEN ?7 IS NOT NULL THEN (SELECT seq FROM messages WHERE id = ?7 AND chat_id = m.chat_id)
       ELSE NULL END";

/// The head of a thread page: parent ?1 as the reader sees it (?9 a user, or ?10 a key's hash:
/// `message_json_for_reader!`), its chat's participants and, for a key only, the chat's project; the
/// `after` id resolved (NULL: not in the chat); the upper bound (`FORWARD_BEFORE_SEQ` or
/// `BACKWARD_BEFORE_SEQ`) follows.
const REPLIES_HEAD: &str = concatcp!(
    "SELECT m.chat_id,
       CASE WHEN ?10 IS NULL THEN NULL
            ELSE (SELECT project_id FROM chats WHERE id = m.chat_id) END AS project_id,
       (SELECT json_group_array(",
    PARTICIPANT_JSON,
    ") FROM chat_participants p WHERE p.chat_id = m.chat_id) AS participants, ",
    message_json_for_reader!("?9", "?10"),
    " AS parent,
       (SELECT seq FROM messages WHERE id = ?4 AND chat_id = m.chat_id) AS after_seq, "
);

/// The page: the thread's live replies within the bounds, ?2 of them (limit + 1), in the order that
/// follows; then `REPLIES_TAIL`.
const REPLIES_PAGE: &str = concatcp!(
    " AS before_seq, ",
    window_messages!("?9", "?10"),
    "FROM messages m WHERE m.parent_id = ?1 AND m.deleted_at IS NULL AND m.seq > ",
    AFTER_BOUND,
    " AND m.seq < ",
    BEFORE_BOUND
);

const REPLIES_TAIL: &str = ") m) AS messages FROM messages m WHERE m.id = ?1";

/// Oldest first from the lower bound.
pub const REPLIES_FORWARD_SQL: &str = concatcp!(
    REPLIES_HEAD,
    FORWARD_BEFORE_SEQ,
    REPLIES_PAGE,
    " ORDER BY m.seq LIMIT ?2",
    REPLIES_TAIL
);

/// Newest first below the upper bound (shown chronologically).
pub const REPLIES_BACKWARD_SQL: &str = concatcp!(
    REPLIES_HEAD,
    BACKWARD_BEFORE_SEQ,
    REPLIES_PAGE,
    " ORDER BY m.seq DESC LIMIT ?2",
    REPLIES_TAIL
);

/// A thread page as read: the parent, its chat's participants, up to `limit + 1` replies
/// (chronological) and the bounds given as ids, resolved.
pub struct ThreadPage {
    pub parent: MessageRow,
    pub participants: Vec<ParticipantRow>,
    pub replies: Vec<MessageRow>,
    pub after_seq: Option<i64>,
    pub before_seq: Option<i64>,
}

/// The thread of message `parent_id` as `who` may read it: `None` when the message does not exist or
/// its chat is out of reach. One round trip (a service key checked in the same batch); rows read: the
/// parent (2), its chat's participants, `limit + 1` index entries, and a probe per bound given as an
/// id or a time.
pub async fn replies(
    db: &Db,
    who: &Credential,
    parent_id: &MessageId,
    query: &ReplyQuery,
) -> Result<Option<ThreadPage>> {
    #[derive(serde::Deserialize)]
    struct Row {
        project_id: Option<String>,
        participants: String,
        parent: String,
        messages: String,
        after_seq: Option<i64>,
        before_seq: Option<i64>,
    }
    let (sql, after, before) = match &query.window {
        ReplyWindow::Forward { after, before } => {
            (REPLIES_FORWARD_SQL, after.as_ref(), before.as_ref())
        }
        ReplyWindow::Backward { before } => (REPLIES_BACKWARD_SQL, None, Some(before)),
    };
    let mut args = vec![parent_id.as_str().into(), (query.limit + 1).into()];
    args.extend(bound_args(after));
    args.extend(bound_args(before));
    args.extend(reader(who));
    let (author, row) = read_as::<Row>(db, who, sql, &args).await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let participants = super::rows::decode_participants(&row.participants)?;
    let reached = match &author {
        Author::User(caller) => participants.iter().any(|p| p.user_id == caller.id.as_str()),
        Author::Service(key) => key.reaches(row.project_id.as_deref()),
    };
    if !reached {
        return Ok(None);
    }
    let mut replies: Vec<MessageRow> = serde_json::from_str(&row.messages)?;
    replies.sort_by_key(|m| m.seq);
    Ok(Some(ThreadPage {
        parent: serde_json::from_str(&row.parent)?,
        participants,
        replies,
        after_seq: row.after_seq,
        before_seq: row.before_seq,
    }))
}

/// The reader's two parameters of `message_json_for_reader!`: a user, or a key's hash.
fn reader(who: &Credential) -> [Arg<'_>; 2] {
    match who {
        Credential::User(caller) => [caller.id.as_str().into(), Arg::Null],
        Credential::Key(hash) => [Arg::Null, hash.as_str().into()],
    }
}

/// The caller ?1's mentions, newest first, strictly older than the position (?2 createdAt, ?3 chat,
/// ?4 seq), ?5 of them (limit + 1), in chats the caller is still in; then their messages (as the
/// caller sees them) and, once per chat of the page, the chat's participants (for `readBy`).
pub const MENTIONS_SQL: &str = concatcp!(
    "WITH page AS MATERIALIZED (
       SELECT mn.chat_id, mn.seq FROM mentions mn
       WHERE mn.user_id = ?1 AND (mn.created_at, mn.chat_id, mn.seq) < (?2, ?3, ?4)
         AND EXISTS (SELECT 1 FROM chat_participants me
                     WHERE me.chat_id = mn.chat_id AND me.user_id = ?1)
       ORDER BY mn.created_at DESC, mn.chat_id DESC, mn.seq DESC LIMIT ?5)
     SELECT (SELECT json_group_array(",
    message_json_for_reader!("?1", "NULL"),
    ") FROM page JOIN messages m ON m.chat_id = page.chat_id AND m.seq = page.seq) AS messages,
       (SELECT json_group_array(json_array(d.chat_id, (SELECT json_group_array(",
    PARTICIPANT_JSON,
    ") FROM chat_participants p WHERE p.chat_id = d.chat_id)))
        FROM (SELECT DISTINCT chat_id FROM page) d) AS participants"
);

/// A page of the caller's mentions: the messages newest first, each chat's participants, and
/// whether more follow (the page read `limit + 1`).
pub struct MentionPage {
    pub messages: Vec<MessageRow>,
    pub participants: Vec<(String, Vec<ParticipantRow>)>,
    pub more: bool,
}

/// One round trip; rows read: per mention, its index entry, the membership probe and the message,
/// plus each chat's participants once.
pub async fn mentions(db: &Db, caller: &UserId, query: &MentionQuery) -> Result<MentionPage> {
    #[derive(serde::Deserialize)]
    struct Row {
        messages: String,
        participants: String,
    }
    let max = crate::domain::input::MAX_SAFE_INTEGER;
    let (created_at, chat, seq) = match &query.after {
        Some(p) => (p.created_at, p.chat_id.as_str(), p.seq),
        // Ids are lowercase hex: "~" sorts after every one.
        None => (max, "~", max),
    };
    let args = [
        caller.as_str().into(),
        created_at.into(),
        chat.into(),
        seq.into(),
        (query.limit + 1).into(),
    ];
    let result = db.all(db.statement(MENTIONS_SQL, &args)?).await?;
    let row: Row = first(&result)?.ok_or_else(|| ApiError::internal("mentions: no row"))?;
    let mut messages: Vec<MessageRow> = serde_json::from_str(&row.messages)?;
    messages
        .sort_by(|a, b| (b.created_at, &b.chat_id, b.seq).cmp(&(a.created_at, &a.chat_id, a.seq)));
    let more = messages.len() as i64 > query.limit;
    messages.truncate(query.limit as usize);
    let participants = super::rows::decode_chat_participants(&row.participants)?;
    Ok(MentionPage {
        messages,
        participants,
        more,
    })
}

//! Reactions: adding and removing one (a plan the chat's Durable Object commits with the chat's other
//! writes) and a message's reaction list.
//!
//! A message's `reaction_counts` is kept by the triggers of migration 0008 in the same transaction as
//! the reaction rows, so the counts equal the rows by construction. A reaction's cost does not grow
//! with the chat or the message's reactions: the caps read at most 20 of the reactor's own rows and
//! the message's counts object (at most 50 keys).

use worker::{D1PreparedStatement, D1Result};

use super::rows::MessageRow;
use super::sql::{concatcp, CHANGE_STAMP, IS_MEMBER, MESSAGE_COLUMNS, MY_REACTIONS_OF_M};
use super::writes::{
    read_marks, read_marks_statement, Plan, Stored, IN_PROJECT_SQL, IS_MEMBER_SQL,
};
use super::{changes, first, nth, read_as, Arg, Db};
use crate::auth::{Author, Credential};
use crate::domain::ids::{ChatId, MessageId, ProjectId};
use crate::domain::reactions::{
    ReactionChange, ReactionKey, ReactionListQuery, ReactionPosition, MAX_KEYS_PER_MESSAGE,
    MAX_KEYS_PER_USER,
};
use crate::error::{ApiError, Result};

/// Message `m` is ?3 of chat ?1 and not a tombstone.
const LIVE_M: &str = "m.id = ?3 AND m.chat_id = ?1 AND m.deleted_at IS NULL";

/// Reactor ?2 has reaction ?5 on message `m`.
const HAS_KEY_5: &str = "EXISTS (SELECT 1 FROM reactions r
       WHERE r.chat_id = ?1 AND r.user_id = ?2 AND r.seq = m.seq AND r.key = ?5)";

/// Reaction ?5 by reactor ?2 fits on message `m`: new, within the reactor's 20 keys and the message's
/// 50 (a key the message already has always fits the latter).
const ROOM_FOR_5: &str = concatcp!(
    "NOT ",
    HAS_KEY_5,
    " AND (SELECT COUNT(*) FROM reactions r
          WHERE r.chat_id = ?1 AND r.user_id = ?2 AND r.seq = m.seq) < 20
     AND (EXISTS (SELECT 1 FROM json_each(m.reaction_counts) j WHERE j.key = ?5)
          OR (SELECT COUNT(*) FROM json_each(m.reaction_counts)) < 50)"
);

/// A chat in a service key's reach: its project is ?6 (NULL: any chat).
const IN_KEY_PROJECT_6: &str =
    "EXISTS (SELECT 1 FROM chats WHERE id = ?1 AND (?6 IS NULL OR project_id = ?6))";

/// Add, step 1: the message's write stamp at ?4 (now), when the reaction will be stored. ?1 chat,
/// ?2 reactor, ?3 message, ?5 key; the reach guard follows.
const ADD_BUMP: &str = concatcp!(
    "UPDATE messages AS m SET updated_at = ",
    CHANGE_STAMP,
    " WHERE ",
    LIVE_M,
    " AND ",
    ROOM_FOR_5,
    " AND "
);

/// A participant's reaction: they must be in the chat.
/// (In a direct chat, no block may stand between the two.)
pub const ADD_BUMP_SQL: &str = concatcp!(
    ADD_BUMP,
    IS_MEMBER,
    " AND NOT ",
    super::writes::DIRECT_BLOCKED
);
/// A service key's reaction (as its senderId): ?6 the key's project.
pub const SERVICE_ADD_BUMP_SQL: &str = concatcp!(ADD_BUMP, IN_KEY_PROJECT_6);

/// Add, step 2: the reaction, under the same guards (the triggers count it).
const ADD: &str = concatcp!(
    "INSERT INTO reactions (chat_id, user_id, seq, key, created_at)
     SELECT ?1, ?2, m.seq, ?5, ?4 FROM messages m WHERE ",
    LIVE_M,
    " AND ",
    ROOM_FOR_5,
    " AND "
);
pub const ADD_SQL: &str = concatcp!(ADD, IS_MEMBER, " AND NOT ", super::writes::DIRECT_BLOCKED);
pub const SERVICE_ADD_SQL: &str = concatcp!(ADD, IN_KEY_PROJECT_6);

/// Remove, step 1: the write stamp, when the reaction exists.
const REMOVE_BUMP: &str = concatcp!(
    "UPDATE messages AS m SET updated_at = ",
    CHANGE_STAMP,
    " WHERE ",
    LIVE_M,
    " AND ",
    HAS_KEY_5,
    " AND "
);
pub const REMOVE_BUMP_SQL: &str = concatcp!(REMOVE_BUMP, IS_MEMBER);
pub const SERVICE_REMOVE_BUMP_SQL: &str = concatcp!(REMOVE_BUMP, IN_KEY_PROJECT_6);

/// Remove, step 2: reaction ?4 of reactor ?2 on message ?3 of chat ?1 (the triggers count it); the
/// reach guard follows.
const REMOVE: &str = "DELETE FROM reactions
     WHERE chat_id = ?1 AND user_id = ?2 AND key = ?4
       AND seq = (SELECT m.seq FROM messages m WHERE m.id = ?3 AND m.chat_id = ?1 AND m.deleted_at IS NULL)
       AND ";
pub const REMOVE_SQL: &str = concatcp!(REMOVE, IS_MEMBER);
/// ?5 the key's project.
pub const SERVICE_REMOVE_SQL: &str = concatcp!(
    REMOVE,
    "EXISTS (SELECT 1 FROM chats WHERE id = ?1 AND (?5 IS NULL OR project_id = ?5))"
);

/// Message ?3 of chat ?1 as reader ?2 sees it (their own reactions included).
pub const MESSAGE_FOR_READER_SQL: &str = concatcp!(
    "SELECT ",
    MESSAGE_COLUMNS,
    ", ",
    MY_REACTIONS_OF_M,
    " FROM messages m WHERE m.id = ?3 AND m.chat_id = ?1"
);

/// Adds or removes the author's reaction (a service key's: as its senderId). Idempotent: adding a
/// reaction that exists, or removing one that does not, commits nothing and answers the message as
/// it is. 404 when the message is not in the chat or out of reach, 409 on a tombstone, 422 past a cap.
pub fn react_plan<'a>(
    db: &Db,
    author: &'a Author,
    (chat_id, message_id): (&ChatId, &MessageId),
    key: &'a ReactionKey,
    change: ReactionChange,
    now_ms: i64,
    with_marks: bool,
) -> Result<Plan<'a>> {
    #[derive(serde::Deserialize)]
    struct Member {
        is_member: i64,
    }
    let (chat, reactor, id) = (
        chat_id.as_str(),
        author.sender().as_str(),
        message_id.as_str(),
    );
    let project: Option<Arg<'_>> = match author {
        Author::User(_) => None,
        Author::Service(key) => Some(key.project.as_ref().map(ProjectId::as_str).into()),
    };
    let full = [
        chat.into(),
        reactor.into(),
        id.into(),
        now_ms.into(),
        key.as_str().into(),
    ];
    let (bump, write, write_args) = match (change, project.is_some()) {
        (ReactionChange::Add, false) => (ADD_BUMP_SQL, ADD_SQL, full.to_vec()),
        (ReactionChange::Add, true) => (
            SERVICE_ADD_BUMP_SQL,
            SERVICE_ADD_SQL,
            plus(full.to_vec(), project),
        ),
        (ReactionChange::Remove, false) => (
            REMOVE_BUMP_SQL,
            REMOVE_SQL,
            vec![chat.into(), reactor.into(), id.into(), key.as_str().into()],
        ),
        (ReactionChange::Remove, true) => (
            SERVICE_REMOVE_BUMP_SQL,
            SERVICE_REMOVE_SQL,
            plus(
                vec![chat.into(), reactor.into(), id.into(), key.as_str().into()],
                project,
            ),
        ),
    };
    let (reach, reach_args): (&str, [Arg<'_>; 2]) = match project {
        None => (IS_MEMBER_SQL, [chat.into(), reactor.into()]),
        Some(project) => (IN_PROJECT_SQL, [chat.into(), project]),
    };
    let mut statements: Vec<D1PreparedStatement> = vec![
        db.statement(bump, &plus(full.to_vec(), project))?,
        db.statement(write, &write_args)?,
        db.statement(
            MESSAGE_FOR_READER_SQL,
            &[chat.into(), reactor.into(), id.into()],
        )?,
        db.statement(reach, &reach_args)?,
    ];
    let marks_at = with_marks.then_some(statements.len());
    if with_marks {
        statements.push(read_marks_statement(db, chat)?);
    }
    // A user's reaction in a direct chat may be refused for a block (403).
    let blocked_at =
        (change == ReactionChange::Add && project.is_none()).then_some(statements.len());
    if blocked_at.is_some() {
        statements.push(db.statement(
            super::writes::SEND_BLOCKED_SQL,
            &[chat.into(), reactor.into()],
        )?);
    }
    let outcome = move |results: &[D1Result]| {
        let reached = first::<Member>(nth(results, 3)?)?.is_some_and(|m| m.is_member == 1);
        let stored = first::<MessageRow>(nth(results, 2)?)?
            .filter(|_| reached)
            .ok_or_else(|| ApiError::not_found("message"))?;
        if stored.deleted_at.is_some() {
            return Err(ApiError::conflict("the message is deleted"));
        }
        let committed = changes(nth(results, 1)?) > 0;
        if change == ReactionChange::Add && !committed {
            // (A reaction the reactor has already is fine, block or not: nothing changes.)
            if let (Some(at), false) = (blocked_at, has_mine(&stored, key)) {
                super::writes::refuse_blocked(nth(results, at)?)?;
            }
            refuse_add(&stored, key)?;
        }
        Ok(Stored {
            message: stored,
            committed,
            read_marks: read_marks(marks_at.and_then(|at| results.get(at)))?,
            list_behind: false,
            parent: None,
        })
    };
    Ok(Plan {
        statements,
        outcome: Box::new(outcome),
        target: message_id.as_str().to_string(),
    })
}

/// `args`, then `extra` if any.
fn plus<'b>(mut args: Vec<Arg<'b>>, extra: Option<Arg<'b>>) -> Vec<Arg<'b>> {
    args.extend(extra);
    args
}

/// Why an add stored nothing: the reaction exists (fine: idempotent), or a cap is reached (422).
fn refuse_add(stored: &MessageRow, key: &ReactionKey) -> Result<()> {
    if has_mine(stored, key) {
        return Ok(());
    }
    let counts: serde_json::Map<String, serde_json::Value> = stored
        .reaction_counts
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    if !counts.contains_key(key.as_str()) && counts.len() >= MAX_KEYS_PER_MESSAGE as usize {
        return Err(ApiError::unprocessable(format!(
            "a message holds at most {MAX_KEYS_PER_MESSAGE} distinct reaction keys"
        )));
    }
    Err(ApiError::unprocessable(format!(
        "a user holds at most {MAX_KEYS_PER_USER} reactions on one message"
    )))
}

/// Whether the reader's own reactions on the message include `key`.
fn has_mine(stored: &MessageRow, key: &ReactionKey) -> bool {
    let mine: Vec<String> = stored
        .my_reactions
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    mine.iter().any(|k| k == key.as_str())
}

/// The head of a reaction list: message ?1's chat, tombstone and project, and whether reader ?2 (NULL
/// for a service key) is a member; then the page of its reactions after position (?3, ?4, ?5), at
/// most ?6 (limit + 1), as a JSON array of [userId, key, createdAt].
const REACTIONS_HEAD: &str = concatcp!(
    "SELECT m.chat_id, m.deleted_at, c.project_id,
       (?2 IS NULL OR EXISTS (SELECT 1 FROM chat_participants p
                              WHERE p.chat_id = m.chat_id AND p.user_id = ?2)) AS is_member,
       (SELECT json_group_array(json_array(r.user_id, r.key, r.created_at)) FROM (
          SELECT r.user_id, r.key, r.created_at FROM reactions r
          WHERE r.chat_id = m.chat_id AND r.seq = m.seq"
);
const REACTIONS_TAIL: &str =
    " LIMIT ?6) r) AS reactions FROM messages m JOIN chats c ON c.id = m.chat_id WHERE m.id = ?1";

/// Every key's reactions, oldest first (`reactions_of_message`).
pub const REACTIONS_SQL: &str = concatcp!(
    REACTIONS_HEAD,
    " AND (r.created_at, r.user_id, r.key) > (?3, ?4, ?5)
          ORDER BY r.created_at, r.user_id, r.key",
    REACTIONS_TAIL
);

/// One key's (?5) reactions, oldest first (`reactions_of_message_key`).
pub const KEY_REACTIONS_SQL: &str = concatcp!(
    REACTIONS_HEAD,
    " AND r.key = ?5 AND (r.created_at, r.user_id) > (?3, ?4)
          ORDER BY r.created_at, r.user_id",
    REACTIONS_TAIL
);

/// One reaction of a list.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct ReactionRow {
    pub user_id: String,
    pub key: String,
    pub created_at: i64,
}

/// A page of a message's reactions, and whether more follow.
pub struct ReactionPage {
    pub reactions: Vec<ReactionRow>,
    pub next: Option<ReactionPosition>,
}

/// A message's reactions, oldest first, as `who` may read them: one round trip (a service key is
/// checked in the same batch). 404 when the message is unknown or out of reach, 409 on a tombstone.
pub async fn list(
    db: &Db,
    who: &Credential,
    message_id: &MessageId,
    query: &ReactionListQuery,
) -> Result<ReactionPage> {
    #[derive(serde::Deserialize)]
    struct Head {
        deleted_at: Option<i64>,
        project_id: Option<String>,
        is_member: i64,
        reactions: String,
    }
    let reader: Arg<'_> = match who {
        Credential::User(caller) => caller.id.as_str().into(),
        Credential::Key(_) => Arg::Null,
    };
    let after = query.after.as_ref();
    let (t, user) = after.map_or((-1, ""), |p| (p.created_at, p.user_id.as_str()));
    let (sql, key) = match &query.key {
        Some(key) => (KEY_REACTIONS_SQL, key.as_str()),
        None => (REACTIONS_SQL, after.map_or("", |p| p.key.as_str())),
    };
    let args = [
        message_id.as_str().into(),
        reader,
        t.into(),
        user.into(),
        key.into(),
        (query.limit + 1).into(),
    ];
    let (author, head) = read_as::<Head>(db, who, sql, &args).await?;
    let reached = head.as_ref().is_some_and(|h| match &author {
        Author::User(_) => h.is_member == 1,
        Author::Service(key) => key.reaches(h.project_id.as_deref()),
    });
    let head = head
        .filter(|_| reached)
        .ok_or_else(|| ApiError::not_found("message"))?;
    if head.deleted_at.is_some() {
        return Err(ApiError::conflict("the message is deleted"));
    }
    let mut reactions: Vec<ReactionRow> =
        serde_json::from_str::<Vec<(String, String, i64)>>(&head.reactions)?
            .into_iter()
            .map(|(user_id, key, created_at)| ReactionRow {
                user_id,
                key,
                created_at,
            })
            .collect();
    reactions.sort_by(|a, b| {
        (a.created_at, &a.user_id, &a.key).cmp(&(b.created_at, &b.user_id, &b.key))
    });
    let more = reactions.len() as i64 > query.limit;
    reactions.truncate(query.limit as usize);
    let next = more
        .then(|| reactions.last())
        .flatten()
        .map(|r| ReactionPosition {
            created_at: r.created_at,
            user_id: r.user_id.clone(),
            key: r.key.clone(),
        });
    Ok(ReactionPage { reactions, next })
}

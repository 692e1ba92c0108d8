//! A group's members, roles and title (API.md "Members and roles"), changed inside the chat's Durable
//! Object while it holds the chat's commit turn: one round trip reads the facts a decision needs
//! (`domain::members::decide`), one batch writes the change with its `system` message, so that a
//! removal and a send racing in one chat come out in one order for everyone.
//!
//! Rows written do not grow with the group: the change's own rows, its message, the actor's read mark,
//! and the members' list order only in a group of up to 8 (in larger groups the object's catch-up moves
//! it within 5 s, as for sends).

use worker::D1PreparedStatement;

use super::chat_list::LIST_MOVE_SQL;
use super::rows::MessageRow;
use super::sql::{concatcp, CHANGE_STAMP};
use super::users::insert_named;
use super::writes::{
    left_list_behind, read_marks, read_marks_statement, Stored, MESSAGE_BY_ID_SQL,
    SEND_READ_MARK_SQL,
};
use super::{first, nth, rows, Arg, Db};
use crate::domain::chat::ChatKind;
use crate::domain::ids::{ChatId, MessageId, UserId};
use crate::domain::members::{decide, ChatFacts, MemberChange, Named, Role, Store};
use crate::error::{ApiError, Result};

/// What a change of chat ?1 by ?2 is decided on: the chat, its member count (up to 257, one past the
/// largest group), and the actor's role and name.
pub const MEMBER_FACTS_SQL: &str = "SELECT c.type, c.title,
            (SELECT COUNT(*) FROM (SELECT 1 FROM chat_participants WHERE chat_id = ?1 LIMIT 257))
              AS members,
            me.role AS actor_role, COALESCE(me.username, ?2) AS actor_name
     FROM chats c LEFT JOIN chat_participants me ON me.chat_id = c.id AND me.user_id = ?2
     WHERE c.id = ?1";

/// The users ?2 (a JSON array of ids) a change of chat ?1 by actor ?3 names: their role there (NULL:
/// not a member), their name (their id when they have no user row) and whether a block stands
/// between them and the actor (two key probes each, 0 rows when neither blocked anyone).
pub const NAMED_SQL: &str =
    "SELECT j.value AS user_id, p.role AS role, COALESCE(p.username, u.username, j.value) AS name,
            EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ?3 AND blocked_id = j.value)
              OR EXISTS (SELECT 1 FROM blocks WHERE blocker_id = j.value AND blocked_id = ?3)
              AS blocked
     FROM json_each(?2) j
     LEFT JOIN chat_participants p ON p.chat_id = ?1 AND p.user_id = j.value
     LEFT JOIN users u ON u.id = j.value";

/// A change's step 1: chat ?1's next sequence number and write stamp at ?4 (now), its title set to
/// ?3 when ?2, and its members' list order refreshed only in a group of up to 8 (`LIST_MOVE_SQL`
/// moves their entries; a larger group's catch-up comes from the chat's Durable Object).
pub const MEMBERS_BUMP_SQL: &str = concatcp!(
    "UPDATE chats SET last_seq = last_seq + 1, last_activity_at = ",
    CHANGE_STAMP,
    ", updated_at = ?4, title = CASE WHEN ?2 THEN ?3 ELSE title END,
       list_prev_at = list_at,
       list_at = CASE WHEN ",
    SMALL,
    " THEN ",
    CHANGE_STAMP,
    " ELSE list_at END,
       list_refreshed_at = CASE WHEN ",
    SMALL,
    " THEN ?4 ELSE list_refreshed_at END
     WHERE id = ?1"
);

/// Whether chat ?1 has at most 8 members (at most 9 rows read).
const SMALL: &str = "(SELECT COUNT(*) FROM (SELECT 1 FROM chat_participants WHERE chat_id = ?1
     LIMIT 9)) <= 8";

/// Step 2: the `system` message ?2 by actor ?3 with content ?4 and chatEvent ?5, at the bumped
/// sequence number and stamp of chat ?1.
pub const SYSTEM_MESSAGE_SQL: &str =
    "INSERT INTO messages (chat_id, seq, id, sender_id, sender_role, type, content, chat_event,
                           created_at, updated_at)
     SELECT ?1, c.last_seq, ?2, ?3, 'system', 'system', ?4, ?5, c.last_activity_at,
            c.last_activity_at
     FROM chats c WHERE c.id = ?1";

/// New members ?2 (a JSON array of ids with user rows) of chat ?1 at ?3 (now), as `member`s with their
/// read mark at the chat's last message (their own `members.added`: nothing unread). Their chat-list
/// entries come from the trigger `chat_list_on_join`.
pub const ADD_MEMBERS_SQL: &str =
    "INSERT INTO chat_participants (chat_id, user_id, last_read_seq, joined_at, username, photo_id,
                                    photo_url, photo_type, availability, first_name, activity_at,
                                    project_id, role)
     SELECT ?1, u.id, c.last_seq, ?3, u.username, u.photo_id, u.photo_url, u.photo_type,
            u.availability, u.first_name, c.list_at, c.project_id, 'member'
     FROM json_each(?2) j JOIN users u ON u.id = j.value JOIN chats c ON c.id = ?1
     WHERE true
     ON CONFLICT DO NOTHING";

/// Member ?2 leaves chat ?1 (removed, or leaving): read mark, settings and list entries go with the
/// row (triggers `chat_list_on_leave`, `chat_counts_on_leave`).
pub const REMOVE_MEMBER_SQL: &str =
    "DELETE FROM chat_participants WHERE chat_id = ?1 AND user_id = ?2";

/// Member ?2 of chat ?1 gets role ?3.
pub const SET_ROLE_SQL: &str =
    "UPDATE chat_participants SET role = ?3 WHERE chat_id = ?1 AND user_id = ?2";

#[derive(serde::Deserialize)]
struct FactsRow {
    #[serde(rename = "type")]
    kind: ChatKind,
    title: Option<String>,
    members: i64,
    actor_role: Option<Role>,
    actor_name: String,
}

#[derive(serde::Deserialize)]
struct NamedRow {
    user_id: String,
    role: Option<Role>,
    name: String,
    blocked: i64,
}

/// Reads, decides and writes one change by `actor`: `None` when it alters nothing (nothing written),
/// else the `system` message as stored. Two round trips; the caller holds the chat's commit turn, so
/// nothing else writes the chat in between. `with_marks`: also read the read marks (for the live
/// sockets: a removed member's are closed).
pub async fn change(
    db: &Db,
    actor: &UserId,
    chat_id: &ChatId,
    change: &MemberChange,
    now_ms: i64,
    with_marks: bool,
    outbox: &dyn Fn(&Db, &str) -> Result<Option<D1PreparedStatement>>,
) -> Result<Option<Stored>> {
    let chat = chat_id.as_str();
    let named_ids: Vec<&str> = change.named().into_iter().map(UserId::as_str).collect();
    let named_json = serde_json::to_string(&named_ids)?;
    let facts = db
        .batch(vec![
            db.statement(MEMBER_FACTS_SQL, &[chat.into(), actor.as_str().into()])?,
            db.statement(
                NAMED_SQL,
                &[
                    chat.into(),
                    named_json.as_str().into(),
                    actor.as_str().into(),
                ],
            )?,
        ])
        .await?;
    let chat_facts = first::<FactsRow>(nth(&facts, 0)?)?.map(|f| ChatFacts {
        kind: f.kind,
        title: f.title,
        members: usize::try_from(f.members).unwrap_or(0),
        actor_role: f.actor_role,
        actor_name: f.actor_name,
    });
    let named = rows::<NamedRow>(nth(&facts, 1)?)?
        .into_iter()
        .map(|n| {
            Ok(Named {
                id: UserId::parse(&n.user_id, "userId")?,
                role: n.role,
                name: n.name,
                blocked: n.blocked != 0,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let Some(effect) = decide(actor, change, chat_facts.as_ref(), &named)? else {
        return Ok(None);
    };
    let id = MessageId::generate(now_ms)?;
    let event = serde_json::to_string(&effect.event)?;
    let (me, message) = (Arg::Text(actor.as_str()), Arg::Text(id.as_str()));
    let mut statements: Vec<D1PreparedStatement> = Vec::new();
    let mut added_json = None;
    match &effect.store {
        Store::Add(ids) => {
            let ids: Vec<&str> = ids.iter().map(UserId::as_str).collect();
            let json = serde_json::to_string(&ids)?;
            statements.push(insert_named(db, &json, now_ms)?);
            added_json = Some(json);
        }
        Store::Remove(user) => {
            statements.push(db.statement(REMOVE_MEMBER_SQL, &[chat.into(), user.as_str().into()])?)
        }
        Store::Roles(roles) => {
            for (user, role) in roles {
                statements.push(db.statement(
                    SET_ROLE_SQL,
                    &[chat.into(), user.as_str().into(), role.as_str().into()],
                )?);
            }
        }
        Store::Rename(_) => {}
    }
    let (renames, title) = match &effect.store {
        Store::Rename(title) => (1_i64, title.as_deref()),
        _ => (0_i64, None),
    };
    statements.push(db.statement(
        MEMBERS_BUMP_SQL,
        &[chat.into(), renames.into(), title.into(), now_ms.into()],
    )?);
    statements.push(db.statement(
        SYSTEM_MESSAGE_SQL,
        &[
            chat.into(),
            message,
            me,
            effect.content.as_str().into(),
            event.as_str().into(),
        ],
    )?);
    if let Some(json) = &added_json {
        statements.push(db.statement(
            ADD_MEMBERS_SQL,
            &[chat.into(), json.as_str().into(), now_ms.into()],
        )?);
    }
    statements.push(db.statement(SEND_READ_MARK_SQL, &[chat.into(), me, message])?);
    statements.push(db.statement(LIST_MOVE_SQL, &[chat.into()])?);
    let read_back = statements.len();
    statements.push(db.statement(MESSAGE_BY_ID_SQL, &[message])?);
    if with_marks {
        statements.push(read_marks_statement(db, chat)?);
    }
    // The chat event's webhook event, in the same transaction (last: nothing reads its result).
    statements.extend(outbox(db, id.as_str())?);
    let results = db.batch(statements).await?;
    let stored: MessageRow = first(nth(&results, read_back)?)?
        .ok_or_else(|| ApiError::internal("a chat event's message could not be read back"))?;
    Ok(Some(Stored {
        message: stored,
        committed: true,
        read_marks: read_marks(results.get(read_back + 1))?,
        list_behind: left_list_behind(&results, read_back, true)?,
        parent: None,
    }))
}

//! Chats and participants: one chat as its caller sees it, creating a chat, membership and read
//! marks. (The chat list is `chat_list`.)

use super::rows::ChatRow;
use super::sql::{concatcp, MESSAGE_JSON, PARTICIPANTS_OF_ROW};
use super::users::{claim_profile, insert_named, ClaimedProfile};
use super::{changes, first, nth, read_in_reach, Db, Reach};
use crate::auth::Caller;
use crate::domain::chat::NewChat;
use crate::domain::ids::{ChatId, ProjectId, UserId};
use crate::domain::members::Settings;
use crate::error::{ApiError, Result};
use worker::D1Result;

/// A chat's participants and last message, after its columns: correlated subqueries, so they run for
/// the rows returned only.
const CHAT_EXTRAS: &str = concatcp!(
    ", ",
    PARTICIPANTS_OF_ROW,
    " AS participants, (SELECT ",
    MESSAGE_JSON,
    " FROM messages m WHERE m.chat_id = c.id AND m.seq = c.last_seq) AS last_message "
);

/// A chat through caller ?1's membership, which also gives the caller's read mark; the condition on
/// the membership `me` follows.
const MY_CHAT: &str = concatcp!(
    "SELECT c.id, c.type, c.title, c.project_id, c.last_seq, c.last_activity_at, c.created_at,
            c.updated_at, me.last_read_seq AS my_read_seq, me.activity_at AS list_at,
            me.role AS my_role, me.muted AS my_muted, me.archived AS my_archived,
            me.unread_mentions AS my_unread_mentions",
    CHAT_EXTRAS,
    "FROM chat_participants me JOIN chats c ON c.id = me.chat_id
     WHERE me.user_id = ?1 AND "
);

/// One chat as its participant sees it. ?1 caller, ?2 chat.
pub const CHAT_FOR_CALLER_SQL: &str = concatcp!(MY_CHAT, "me.chat_id = ?2");

/// The direct chat of a pair as one of them sees it. ?1 caller, ?2 the pair's `direct_key`.
pub const DIRECT_CHAT_FOR_CALLER_SQL: &str = concatcp!(
    MY_CHAT,
    "me.chat_id = (SELECT id FROM chats WHERE direct_key = ?2)"
);

/// One chat as a service key sees it: no read mark, so nothing is unread (the key's reach is checked
/// against the row's project). ?1 chat.
pub const CHAT_SQL: &str = concatcp!(
    "SELECT c.id, c.type, c.title, c.project_id, c.last_seq, c.last_activity_at, c.created_at,
            c.updated_at, c.last_seq AS my_read_seq, c.last_activity_at AS list_at,
            NULL AS my_role, 0 AS my_muted, 0 AS my_archived, 0 AS my_unread_mentions",
    CHAT_EXTRAS,
    "FROM chats c WHERE c.id = ?1"
);

/// One chat as the caller sees it; `None` when it does not exist or is out of the caller's reach. One
/// round trip (a service key is checked in the same batch: unknown or revoked, a 401).
pub async fn find_for(db: &Db, reach: Reach<'_>, chat_id: &ChatId) -> Result<Option<ChatRow>> {
    let chat = chat_id.as_str().into();
    match reach {
        Reach::Member(user) => {
            let args = [user.as_str().into(), chat];
            read_in_reach(db, reach, CHAT_FOR_CALLER_SQL, &args).await
        }
        Reach::Key(_) => read_in_reach(db, reach, CHAT_SQL, &[chat]).await,
    }
}

/// A new chat, unless it is a direct chat whose pair has one already in its project (`direct_key` is
/// UNIQUE) or whose pair, creator ?7 and other user ?8 (NULL for a group), blocked each other. ?1 id,
/// ?2 type, ?3 title, ?4 direct key, ?5 now, ?6 project; its number (the search index's range,
/// migration 0009) is the next one (`chats_by_num`: one entry read).
pub const INSERT_CHAT_SQL: &str =
    "INSERT INTO chats (id, type, title, direct_key, last_seq, last_activity_at, created_at, updated_at,
                        project_id, list_at, list_prev_at, num)
     SELECT ?1, ?2, ?3, ?4, 0, ?5, ?5, ?5, ?6, ?5, ?5, (SELECT COALESCE(MAX(num), 0) + 1 FROM chats)
     WHERE ?8 IS NULL
        OR NOT (EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ?7 AND blocked_id = ?8)
                OR EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ?8 AND blocked_id = ?7))
     ON CONFLICT (direct_key) DO NOTHING";

/// Whether users ?1 and ?2 blocked each other, either way (two key probes; 0 rows without blocks).
pub const PAIR_BLOCKED_SQL: &str =
    "SELECT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ?1 AND blocked_id = ?2)
       OR EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ?2 AND blocked_id = ?1) AS blocked";

/// The participants of a chat created in the same batch, with copies of their profiles, the chat's
/// activity time (its creation) and project; the creator ?5 of a group is its owner, everyone else a
/// member. ?1 chat, ?2 now, ?3 the user ids as a JSON array, ?4 project.
pub const INSERT_PARTICIPANTS_SQL: &str =
    "INSERT INTO chat_participants (chat_id, user_id, last_read_seq, joined_at, username, photo_id,
                                    photo_url, photo_type, availability, first_name, activity_at,
                                    project_id, role)
     SELECT ?1, u.id, 0, ?2, u.username, u.photo_id, u.photo_url, u.photo_type, u.availability,
            u.first_name, ?2, ?4,
            CASE WHEN u.id = ?5 AND (SELECT type FROM chats WHERE id = ?1) = 'group' THEN 'owner'
                 ELSE 'member' END
     FROM json_each(?3) AS j JOIN users u ON u.id = j.value
     WHERE EXISTS (SELECT 1 FROM chats WHERE id = ?1)
     ON CONFLICT DO NOTHING";

/// Creates a chat, or finds the existing direct chat of the pair. Returns the chat and whether it was
/// created. One round trip: the caller's and the named users' rows, the chat, its participants and the
/// read-back are one batch (one transaction), and `direct_key UNIQUE` settles concurrent creations.
pub async fn create(
    db: &Db,
    caller: &Caller,
    new_chat: &NewChat,
    now_ms: i64,
) -> Result<(ChatRow, bool)> {
    let chat_id = ChatId::generate(now_ms)?;
    let (chat, me) = (chat_id.as_str(), caller.id.as_str());
    let direct_key = new_chat.direct_key(&caller.id);
    let others: Vec<&str> = new_chat.others.iter().map(UserId::as_str).collect();
    let others_json = serde_json::to_string(&others)?;
    // A direct chat's other user (a block between the two refuses it, new or existing).
    let direct_with = direct_key.as_ref().and(others.first().copied());
    let everyone_json = serde_json::to_string(&[&[me][..], &others].concat())?;
    let claimed = ClaimedProfile::of(caller, now_ms)?;
    let mut statements = claim_profile(db, &claimed, now_ms, None)?;
    statements.extend([
        insert_named(db, &others_json, now_ms)?,
        db.statement(
            INSERT_CHAT_SQL,
            &[
                chat.into(),
                new_chat.kind.as_str().into(),
                new_chat.title.as_deref().into(),
                direct_key.as_deref().into(),
                now_ms.into(),
                new_chat.project.as_ref().map(ProjectId::as_str).into(),
                me.into(),
                direct_with.into(),
            ],
        )?,
        db.statement(
            INSERT_PARTICIPANTS_SQL,
            &[
                chat.into(),
                now_ms.into(),
                everyone_json.as_str().into(),
                new_chat.project.as_ref().map(ProjectId::as_str).into(),
                me.into(),
            ],
        )?,
        match &direct_key {
            Some(key) => db.statement(DIRECT_CHAT_FOR_CALLER_SQL, &[me.into(), key.into()])?,
            None => db.statement(CHAT_FOR_CALLER_SQL, &[me.into(), chat.into()])?,
        },
    ]);
    let read_back = statements.len() - 1;
    if let Some(other) = direct_with {
        statements.push(db.statement(PAIR_BLOCKED_SQL, &[me.into(), other.into()])?);
    }
    let results = db.batch(statements).await?;
    if direct_with.is_some() && blocked(nth(&results, read_back + 1)?)? {
        return Err(ApiError::forbidden(
            "you cannot open a direct chat with this user: one of you blocked the other",
        ));
    }
    let row: ChatRow = first(nth(&results, read_back)?)?
        .ok_or_else(|| ApiError::internal("created chat could not be read back"))?;
    let created = row.id == chat;
    Ok((row, created))
}

/// Whether a `PAIR_BLOCKED_SQL` read found a block.
pub fn blocked(result: &D1Result) -> Result<bool> {
    #[derive(serde::Deserialize)]
    struct Blocked {
        blocked: i64,
    }
    Ok(first::<Blocked>(result)?.is_some_and(|b| b.blocked == 1))
}

/// The user's membership of the chat, with the availability its profile copy holds. ?1 chat, ?2 user.
/// One row read.
pub const IS_PARTICIPANT_SQL: &str =
    "SELECT availability FROM chat_participants WHERE chat_id = ?1 AND user_id = ?2";

/// `user`'s availability if they participate in the chat, else `None`. One round trip, one row read.
pub async fn membership(
    db: &Db,
    user: &UserId,
    chat_id: &ChatId,
) -> Result<Option<crate::domain::user::Availability>> {
    #[derive(serde::Deserialize)]
    struct Member {
        availability: crate::domain::user::Availability,
    }
    let statement = db.statement(
        IS_PARTICIPANT_SQL,
        &[chat_id.as_str().into(), user.as_str().into()],
    )?;
    let member: Option<Member> = first(&db.all(statement).await?)?;
    Ok(member.map(|m| m.availability))
}

/// Moves read mark of user ?2 in chat ?1 forward to ?3 (NULL: the chat's last message); a mark past
/// the last message, or behind the current one, changes nothing.
pub const MARK_READ_SQL: &str = "UPDATE chat_participants
     SET last_read_seq = COALESCE(?3, (SELECT last_seq FROM chats WHERE id = ?1))
     WHERE chat_id = ?1 AND user_id = ?2
       AND last_read_seq < COALESCE(?3, (SELECT last_seq FROM chats WHERE id = ?1))
       AND COALESCE(?3, 0) <= (SELECT last_seq FROM chats WHERE id = ?1)";

/// The read mark of user ?2 in chat ?1, and the chat's last sequence number.
pub const READ_MARK_SQL: &str =
    "SELECT p.last_read_seq, c.last_seq FROM chat_participants p JOIN chats c ON c.id = p.chat_id
     WHERE p.chat_id = ?1 AND p.user_id = ?2";

/// The caller's read mark after `mark_read`.
pub struct ReadMark {
    pub last_read_seq: i64,
    pub last_seq: i64,
    /// Whether this request moved it (marks only move forward).
    pub moved: bool,
}

/// Moves the caller's read mark forward to `up_to` (default: the chat's last message). `None` when the
/// caller is not in the chat. One round trip.
pub async fn mark_read(
    db: &Db,
    caller: &UserId,
    chat_id: &ChatId,
    up_to: Option<i64>,
) -> Result<Option<ReadMark>> {
    #[derive(serde::Deserialize)]
    struct Marks {
        last_read_seq: i64,
        last_seq: i64,
    }
    let (chat, user) = (chat_id.as_str(), caller.as_str());
    let update = db.statement(MARK_READ_SQL, &[chat.into(), user.into(), up_to.into()])?;
    let read_back = db.statement(READ_MARK_SQL, &[chat.into(), user.into()])?;
    let results = db.batch(vec![update, read_back]).await?;
    let moved = changes(nth(&results, 0)?) > 0;
    Ok(first::<Marks>(nth(&results, 1)?)?.map(|m| ReadMark {
        last_read_seq: m.last_read_seq,
        last_seq: m.last_seq,
        moved,
    }))
}

/// The caller ?2's own settings of chat ?1: muted ?3 and archived ?4 (0 or 1; NULL: unchanged). The
/// trigger `chat_list_on_archive` moves the chat between the caller's lists.
pub const SETTINGS_SQL: &str = "UPDATE chat_participants
     SET muted = COALESCE(?3, muted), archived = COALESCE(?4, archived)
     WHERE chat_id = ?1 AND user_id = ?2";

/// Changes the caller's own settings of a chat and reads the chat back as the caller sees it; `None`
/// when the caller is not in it. One round trip.
pub async fn change_settings(
    db: &Db,
    caller: &UserId,
    chat_id: &ChatId,
    settings: Settings,
) -> Result<Option<ChatRow>> {
    let (chat, me) = (chat_id.as_str(), caller.as_str());
    let flag = |b: Option<bool>| b.map(i64::from);
    let results = db
        .batch(vec![
            db.statement(
                SETTINGS_SQL,
                &[
                    chat.into(),
                    me.into(),
                    flag(settings.muted).into(),
                    flag(settings.archived).into(),
                ],
            )?,
            db.statement(CHAT_FOR_CALLER_SQL, &[me.into(), chat.into()])?,
        ])
        .await?;
    first(nth(&results, 1)?)
}

/// The caller ?1's unread totals over the chats not muted: one range of `chat_participants_by_user`
/// (covering the read mark and the unread mention count, which migration 0008's triggers keep) and
/// each chat's row, so at most 2 rows read per chat.
pub const UNREAD_SQL: &str =
    "SELECT COALESCE(SUM(MAX(c.last_seq - p.last_read_seq, 0)), 0) AS total_unread,
            COALESCE(SUM(c.last_seq > p.last_read_seq), 0) AS chats_with_unread,
            COALESCE(SUM(p.unread_mentions), 0) AS unread_mentions
     FROM chat_participants p JOIN chats c ON c.id = p.chat_id
     WHERE p.user_id = ?1 AND p.muted = 0";

/// The caller's unread totals (`GET /api/v1/users/me/unread`).
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub struct Unread {
    pub total_unread: i64,
    pub chats_with_unread: i64,
    pub unread_mentions: i64,
}

/// One round trip.
pub async fn unread(db: &Db, caller: &UserId) -> Result<Unread> {
    let result = db
        .all(db.statement(UNREAD_SQL, &[caller.as_str().into()])?)
        .await?;
    Ok(first(&result)?.unwrap_or(Unread {
        total_unread: 0,
        chats_with_unread: 0,
        unread_mentions: 0,
    }))
}

/// Of users ?3 (a JSON array of ids, the chat's live sockets), the members of chat ?1 who are not
/// `offline`, as a JSON array; no row unless the caller ?2 is a member.
pub const SHOWN_ONLINE_SQL: &str =
    "SELECT (SELECT json_group_array(p.user_id) FROM chat_participants p
             WHERE p.chat_id = ?1 AND p.user_id IN (SELECT value FROM json_each(?3))
               AND p.availability <> 'offline') AS online
     FROM chat_participants me WHERE me.chat_id = ?1 AND me.user_id = ?2";

/// Who of `online` the caller may be shown online in the chat; `None` when the caller is not in it.
/// One round trip.
pub async fn shown_online(
    db: &Db,
    caller: &UserId,
    chat_id: &ChatId,
    online: &[String],
) -> Result<Option<Vec<String>>> {
    #[derive(serde::Deserialize)]
    struct Online {
        online: String,
    }
    let ids = serde_json::to_string(online)?;
    let statement = db.statement(
        SHOWN_ONLINE_SQL,
        &[
            chat_id.as_str().into(),
            caller.as_str().into(),
            ids.as_str().into(),
        ],
    )?;
    let row: Option<Online> = first(&db.all(statement).await?)?;
    row.map(|r| Ok(serde_json::from_str(&r.online)?))
        .transpose()
}

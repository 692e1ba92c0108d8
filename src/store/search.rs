//! Search: one statement, one round trip. The chats searched (the caller's reach, narrowed by chat
//! or project) come first; for each, FTS5 reads only that chat's range of the index's rowids
//! (`num * 2^32 + seq`, migration 0009), so a search reads the matches in the chats it searches and
//! never another chat's. Then the page is sorted and cut, and its messages are read as the caller
//! sees them, with each chat's participants once (for `readBy`).

use super::rows::{MessageRow, ParticipantRow};
use super::sql::{concatcp, message_json_for_reader, PARTICIPANT_JSON};
use super::{read_as, Arg, Db};
use crate::auth::Credential;
use crate::domain::search::{SearchPosition, SearchQuery, SearchSort};
use crate::error::{ApiError, Result};

/// The chats a participant ?9 searches: one chat ?10 (the membership's primary key), with project ?11
/// (NULL: any).
const USER_CHAT: &str = "SELECT p.chat_id, c.num FROM chat_participants p CROSS JOIN chats c
     WHERE p.chat_id = ?10 AND p.user_id = ?9 AND c.id = p.chat_id
       AND (?11 IS NULL OR c.project_id = ?11)";

/// ... or all of its chats (one range of `chat_participants_by_user`, each chat's row for its number).
const USER_ALL: &str = "SELECT p.chat_id, c.num FROM chat_participants p CROSS JOIN chats c
     WHERE p.user_id = ?9 AND ?10 IS NULL AND c.id = p.chat_id
       AND (?11 IS NULL OR c.project_id = ?11)";

/// A service key's project, by its hash ?8 (the key itself is checked in the same batch).
const KEY_PROJECT: &str = "(SELECT project_id FROM api_keys WHERE key_hash = ?8)";

/// The chats a service key searches: one chat ?10 of its project (any, for a key of every chat), with
/// project ?11 (NULL: any). (?9, a participant's id, is NULL.)
const KEY_CHAT: &str = concatcp!(
    "SELECT c.id AS chat_id, c.num FROM chats c
     WHERE c.id = ?10 AND ?9 IS NULL AND (",
    KEY_PROJECT,
    " IS NULL OR c.project_id = ",
    KEY_PROJECT,
    ") AND (?11 IS NULL OR c.project_id = ?11)"
);

/// ... or its project's chats (or project ?11's, for a key of every chat), from `chats_by_project`;
/// or, for a key of every chat and no project, every chat: its reach. The condition that picks a
/// branch refers to no row, so SQLite decides it before reading any.
const KEY_ANY: &str = concatcp!(
    "SELECT c.id AS chat_id, c.num FROM chats c
     WHERE c.project_id = COALESCE(",
    KEY_PROJECT,
    ", ?11) AND (",
    KEY_PROJECT,
    " IS NULL OR ?11 IS NULL OR ",
    KEY_PROJECT,
    " = ?11) AND ?10 IS NULL AND ?9 IS NULL
     UNION ALL
     SELECT c.id AS chat_id, c.num FROM chats c
     WHERE ",
    KEY_PROJECT,
    " IS NULL AND ?11 IS NULL AND ?10 IS NULL"
);

/// The sort key before (`createdAt`, chat, seq): the relevance score, or 0 for `sort=newest` (?12 = 1).
const SORT_KEY: &str = "CASE WHEN ?12 = 1 THEN 0 ELSE score END";

/// After the scope: the matches of FTS5 query ?1 in each chat's rowid range, with the relevance score
/// (bm25, higher is better, in thousandths) and the snippet (matches between U+0002 and U+0003); the
/// page: ?2 (limit + 1) of them after the cursor (?3 its sort key, NULL for none; ?4 `createdAt`, ?5
/// chat, ?6 seq), best first and newest first among equals; its messages as reader ?7 (a user) or ?8
/// (a key's hash) sees them, each of its chats' participants, and whether the one chat ?10 asked for
/// was in reach (`searched`: 0 for a chat out of reach; not counted for a search of many chats).
const SEARCH_TAIL: &str = concatcp!(
    "),
     hits AS MATERIALIZED (
       SELECT m.chat_id, m.seq, m.created_at,
              CAST(ROUND(-bm25(messages_fts) * 1000) AS INTEGER) AS score,
              snippet(messages_fts, 0, char(2), char(3), '…', 24) AS highlight
       FROM scope CROSS JOIN messages_fts CROSS JOIN messages m
       WHERE messages_fts MATCH ?1
         AND messages_fts.rowid BETWEEN (scope.num << 32) AND (scope.num << 32) + 4294967295
         AND m.chat_id = scope.chat_id AND m.seq = messages_fts.rowid - (scope.num << 32)),
     page AS MATERIALIZED (
       SELECT * FROM hits
       WHERE ?3 IS NULL OR (",
    SORT_KEY,
    ", created_at, chat_id, seq) < (?3, ?4, ?5, ?6)
       ORDER BY ",
    SORT_KEY,
    " DESC, created_at DESC, chat_id DESC, seq DESC LIMIT ?2)
     SELECT
       (SELECT json_group_array(json_array(page.highlight, page.score, ",
    message_json_for_reader!("?7", "?8"),
    ")) FROM page CROSS JOIN messages m WHERE m.chat_id = page.chat_id AND m.seq = page.seq)
         AS results,
       (SELECT json_group_array(json_array(d.chat_id, (SELECT json_group_array(",
    PARTICIPANT_JSON,
    ") FROM chat_participants p WHERE p.chat_id = d.chat_id)))
        FROM (SELECT DISTINCT chat_id FROM page) d) AS participants,
       (SELECT COUNT(*) FROM scope WHERE ?10 IS NOT NULL) AS searched"
);

const SCOPE: &str = "WITH scope AS MATERIALIZED (";

pub const SEARCH_USER_CHAT_SQL: &str = concatcp!(SCOPE, USER_CHAT, SEARCH_TAIL);
pub const SEARCH_USER_ALL_SQL: &str = concatcp!(SCOPE, USER_ALL, SEARCH_TAIL);
pub const SEARCH_KEY_CHAT_SQL: &str = concatcp!(SCOPE, KEY_CHAT, SEARCH_TAIL);
pub const SEARCH_KEY_ANY_SQL: &str = concatcp!(SCOPE, KEY_ANY, SEARCH_TAIL);

/// One result: the message and its highlight (the index's snippet, not yet escaped).
pub struct Hit {
    pub snippet: String,
    pub score: i64,
    pub message: MessageRow,
}

pub struct SearchPage {
    pub hits: Vec<Hit>,
    /// Each chat of the page with its participants.
    pub participants: Vec<(String, Vec<ParticipantRow>)>,
    /// Where the page ended, when more results follow.
    pub next: Option<SearchPosition>,
}

/// A search as `who` may read: its reach (a participant's chats, a key's project), narrowed by the
/// query's chat and project. One round trip (a key checked in the same batch).
pub async fn search(db: &Db, who: &Credential, query: &SearchQuery) -> Result<SearchPage> {
    let empty = SearchPage {
        hits: Vec::new(),
        participants: Vec::new(),
        next: None,
    };
    #[derive(serde::Deserialize)]
    struct Row {
        results: String,
        participants: String,
        searched: i64,
    }
    let Some(fts) = query.fts.as_deref() else {
        // Nothing in `q` can match (it held no term); a key is still checked. (A chat asked for is
        // not looked at: an empty answer reveals nothing.)
        if let Credential::Key(_) = who {
            read_as::<serde_json::Value>(db, who, crate::store::PING_SQL, &[]).await?;
        }
        return Ok(empty);
    };
    let chat = query.chat.as_ref().map(|c| c.as_str());
    let project = query.project.as_ref().map(|p| p.as_str());
    let (sql, user): (&str, Arg<'_>) = match (who, chat) {
        (Credential::User(caller), Some(_)) => (SEARCH_USER_CHAT_SQL, caller.id.as_str().into()),
        (Credential::User(caller), None) => (SEARCH_USER_ALL_SQL, caller.id.as_str().into()),
        (Credential::Key(_), Some(_)) => (SEARCH_KEY_CHAT_SQL, Arg::Null),
        (Credential::Key(_), None) => (SEARCH_KEY_ANY_SQL, Arg::Null),
    };
    let newest = i64::from(query.sort == SearchSort::Newest);
    let after = query.after.as_ref();
    let mut args: Vec<Arg<'_>> = vec![
        fts.into(),
        (query.limit + 1).into(),
        after.map(|p| if newest == 1 { 0 } else { p.score }).into(),
        after.map(|p| p.created_at).into(),
        after.map(|p| p.chat_id.as_str()).into(),
        after.map(|p| p.seq).into(),
    ];
    match who {
        Credential::User(caller) => args.extend([caller.id.as_str().into(), Arg::Null]),
        Credential::Key(hash) => args.extend([Arg::Null, hash.as_str().into()]),
    }
    args.extend([user, chat.into(), project.into(), newest.into()]);
    let (_, row) = read_as::<Row>(db, who, sql, &args).await?;
    let row = row.ok_or_else(|| ApiError::internal("search: no row"))?;
    if chat.is_some() && row.searched == 0 {
        return Err(ApiError::not_found("chat"));
    }
    let mut hits: Vec<Hit> = serde_json::from_str::<Vec<(String, i64, MessageRow)>>(&row.results)?
        .into_iter()
        .map(|(snippet, score, message)| Hit {
            snippet,
            score,
            message,
        })
        .collect();
    let key = |h: &Hit| {
        (
            if newest == 1 { 0 } else { h.score },
            h.message.created_at,
            h.message.chat_id.clone(),
            h.message.seq,
        )
    };
    hits.sort_by_key(|h| std::cmp::Reverse(key(h)));
    let more = hits.len() as i64 > query.limit;
    hits.truncate(query.limit as usize);
    let next = hits.last().filter(|_| more).and_then(|h| {
        Some(SearchPosition {
            score: h.score,
            created_at: h.message.created_at,
            chat_id: crate::domain::ids::ChatId::parse(&h.message.chat_id, "chatId").ok()?,
            seq: h.message.seq,
        })
    });
    let participants = super::rows::decode_chat_participants(&row.participants)?;
    Ok(SearchPage {
        hits,
        participants,
        next,
    })
}

//! Cursor mode of the message list (API.md "List messages in a chat"): `before` / `after`, `ids`, the
//! `updatedAfter` / `updatedBefore` sync window, and the opaque `nextCursor` that continues any of them.
//!
//! Everything here is parsed at the edge into a `Window`, so the store only ever sees valid bounds:
//! - `before` / `after` become bounds on the dense sequence numbers (a message id or a time is resolved
//!   to a sequence number by one index probe in SQL), so a page is one primary-key range at any depth;
//! - the sync window is a position in the (`updatedAt`, `_id`) order, read from a covering index.
//!
//! A cursor is the page's end position in that same form (sequence numbers, or `updatedAt` and `_id`),
//! tied to its chat, hex-encoded so that clients treat it as opaque.

use schemars::JsonSchema;
use serde::Deserialize;

use super::ids::{is_object_id, ChatId, MessageId};
use super::input::MAX_SAFE_INTEGER;
use super::pagination::{DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE};
use super::time::{parse_time_param, TimeParam};
use super::wire::Checks;
use crate::error::{ApiError, Result};

/// `GET /api/v1/messages/chat/{chatId}`'s query: page mode (`page`, `limit`, `asOf`), or cursor mode
/// when any of the others is given (`page` is then ignored).
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct MessageListQuery {
    /// Page mode: default 1 (the newest `limit` messages).
    #[schemars(with = "Option<u64>", range(min = 1, max = MAX_PAGE))]
    pub page: Option<String>,
    /// Default 20.
    #[schemars(with = "Option<u64>", range(min = 1, max = MAX_LIMIT))]
    pub limit: Option<String>,
    /// Page mode only: the asOfSequence of an earlier page pins the pages to that snapshot (above the
    /// chat's last sequence number: 400).
    #[serde(rename = "asOf")]
    #[schemars(with = "Option<u64>", range(max = MAX_SAFE_INTEGER))]
    pub as_of: Option<String>,
    /// Cursor mode: the newest `limit` messages strictly older than this message or time (with
    /// `after`: strictly between, oldest first).
    #[schemars(with = "Option<MessageOrTime>")]
    pub before: Option<String>,
    /// Cursor mode: the oldest `limit` messages strictly newer than this message or time.
    #[schemars(with = "Option<MessageOrTime>")]
    pub after: Option<String>,
    /// Cursor mode: comma-separated message ids (1 to 100, spaces around commas allowed): exactly
    /// those messages of this chat, chronological; unknown ids are left out.
    #[schemars(
        with = "Option<String>",
        pattern("^ *[0-9a-f]{24} *(, *[0-9a-f]{24} *){0,99}$")
    )]
    pub ids: Option<String>,
    /// Sync window: messages whose updatedAt is strictly after this time, ordered by (updatedAt,
    /// _id), tombstones included.
    #[serde(rename = "updatedAfter")]
    #[schemars(with = "Option<TimeParam>")]
    pub updated_after: Option<String>,
    /// Same as updatedAfter (SAMA spelling); give one of the two.
    #[serde(rename = "updated_at.gt")]
    #[schemars(with = "Option<TimeParam>")]
    pub updated_at_gt: Option<String>,
    /// Sync window: messages whose updatedAt is strictly before this time.
    #[serde(rename = "updatedBefore")]
    #[schemars(with = "Option<TimeParam>")]
    pub updated_before: Option<String>,
    /// Same as updatedBefore (SAMA spelling); give one of the two.
    #[serde(rename = "updated_at.lt")]
    #[schemars(with = "Option<TimeParam>")]
    pub updated_at_lt: Option<String>,
    /// Cursor mode: jump to this message of the chat (404 when it is not in it), or to the first
    /// message at or after this time (the last message when none is), with up to (limit - 1) / 2 older
    /// messages and newer ones filling limit. Alone: with before, after, ids, a sync window or cursor
    /// it is a 400.
    #[schemars(with = "Option<MessageOrTime>")]
    pub around: Option<String>,
    /// The nextCursor of an earlier cursor-mode page (opaque): continues exactly where it ended, in the
    /// same direction. No other cursor parameter may come with it; limit may.
    #[schemars(with = "Option<String>", pattern("^(?:[0-9a-fA-F]{2}){1,256}$"))]
    pub cursor: Option<String>,
}

/// A `before` / `after` bound in the document: a message id of this chat, or a time.
pub struct MessageOrTime;

impl JsonSchema for MessageOrTime {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MessageOrTime".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                {"type": "string", "pattern": "^[0-9a-f]{24}$"},
                {"type": "string", "format": "date-time"},
                {"type": "string", "pattern": "^[0-9]{1,15}$"}
            ],
            "description": "A message id of this chat, or a time: RFC 3339 (2024-01-15T10:30:00.000Z) or 1 to 15 digits of milliseconds since the epoch; times before 1970 or after 9999 count as those years' ends."
        })
    }
}

impl MessageListQuery {
    /// The cursor-mode parameters given, by name, in the order API.md lists them (`cursor` last).
    fn cursor_params(&self) -> Vec<(&'static str, &str)> {
        [
            ("before", &self.before),
            ("after", &self.after),
            ("ids", &self.ids),
            ("updatedAfter", &self.updated_after),
            ("updatedBefore", &self.updated_before),
            ("updated_at.gt", &self.updated_at_gt),
            ("updated_at.lt", &self.updated_at_lt),
            ("around", &self.around),
            ("cursor", &self.cursor),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
        .collect()
    }
}

/// Most ids one `ids` request may name.
pub const MAX_IDS: usize = 100;

/// One end of a `before` / `after` range, exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// A time in epoch milliseconds: messages created strictly before / after it.
    Time(i64),
    /// A message of this chat: messages strictly before / after it.
    Message(MessageId),
    /// A sequence number (from a cursor).
    Seq(i64),
}

/// A position in the sync order (`updatedAt`, `_id`): the window holds what comes strictly after it.
/// `id: None` stands after every message of that millisecond (`updatedAfter` is strict).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPosition {
    pub updated_at: i64,
    pub id: Option<MessageId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Window {
    /// Newest first from `before` backwards (only `before` given): pages walk back in time.
    Backward { before: Bound },
    /// Oldest first from `after` forwards, up to `before` if given.
    Forward {
        after: Option<Bound>,
        before: Option<Bound>,
    },
    /// Exactly these messages (unknown ones left out).
    Ids(Vec<MessageId>),
    /// The sync window: changed strictly after `after`, `updatedAt` strictly before `before`.
    Sync {
        after: SyncPosition,
        before: Option<i64>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorQuery {
    pub limit: i64,
    pub window: Window,
}

/// `around`: a page centred on a message (or the first message at or after a time), for jumping to a
/// search hit, a pin or a mention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AroundQuery {
    pub limit: i64,
    /// A message id or a time.
    pub anchor: Bound,
}

impl AroundQuery {
    /// `around` with its `limit`; `None` when the query has no `around`. Any other cursor parameter
    /// beside it is a 400, and `asOf` (page mode's) too.
    pub fn parse(query: &MessageListQuery) -> Result<Option<Self>> {
        let Some(raw) = query.around.as_deref() else {
            return Ok(None);
        };
        let mut check = Checks::new();
        let limit = cursor_mode_limit(&mut check, query);
        let others: Vec<&str> = query
            .cursor_params()
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| *name != "around")
            .collect();
        if !others.is_empty() {
            check.error(format!(
                "around stands alone; it cannot be combined with {}",
                others.join(", ")
            ));
        }
        let anchor = bound(&mut check, "around", Some(raw)).flatten();
        check.finish()?;
        match (limit, anchor) {
            (Some(limit), Some(anchor)) => Ok(Some(AroundQuery { limit, anchor })),
            _ => Err(ApiError::bad_request("invalid around query")),
        }
    }

    /// How many older messages the page holds at most: `floor((limit - 1) / 2)`.
    pub fn older(&self) -> i64 {
        (self.limit - 1) / 2
    }
}

/// What every cursor mode checks besides its own parameters: `limit` (default 20), `page` (ignored,
/// as API.md says, but still a page number, as the document says) and no `asOf` (page mode's).
fn cursor_mode_limit(check: &mut Checks, query: &MessageListQuery) -> Option<i64> {
    let limit = check.query_integer(
        "limit",
        query.limit.as_deref(),
        1,
        MAX_LIMIT,
        Some(DEFAULT_LIMIT),
    );
    check.query_integer("page", query.page.as_deref(), 1, MAX_PAGE, None);
    if query.as_of.is_some() {
        check.error("asOf applies to page mode only; cursors need no snapshot");
    }
    limit
}

/// Whether a message-list query is in cursor mode.
pub fn is_cursor_query(query: &MessageListQuery) -> bool {
    !query.cursor_params().is_empty()
}

impl CursorQuery {
    /// Reads a cursor-mode query for the chat `chat` (a cursor of another chat is refused). `page` is
    /// ignored, as API.md says (but must still be a valid page number, as the document says); `asOf`
    /// belongs to page mode and is refused here.
    pub fn parse(query: &MessageListQuery, chat: &ChatId) -> Result<Self> {
        let mut check = Checks::new();
        let limit = cursor_mode_limit(&mut check, query);
        let window = parse_window(&mut check, query, chat);
        check.finish()?;
        match (limit, window) {
            (Some(limit), Some(window)) => Ok(CursorQuery { limit, window }),
            _ => Err(ApiError::bad_request("invalid cursor query")),
        }
    }
}

fn parse_window(check: &mut Checks, query: &MessageListQuery, chat: &ChatId) -> Option<Window> {
    let given = query.cursor_params();
    let named = |names: &[&str]| -> Vec<&'static str> {
        given
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| names.contains(name))
            .collect()
    };
    let range = named(&["before", "after"]);
    let sync = named(&[
        "updatedAfter",
        "updatedBefore",
        "updated_at.gt",
        "updated_at.lt",
    ]);
    let ids = query.ids.is_some();
    if let Some(raw) = &query.cursor {
        let others: Vec<&str> = given
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| *name != "cursor")
            .collect();
        // (`around` is parsed by `AroundQuery`, which refuses a cursor beside it.)
        if !others.is_empty() {
            check.error(format!(
                "cursor continues an earlier query and cannot be combined with {}",
                others.join(", ")
            ));
            return None;
        }
        return match Cursor::decode(raw, chat) {
            Ok(window) => Some(window),
            Err(message) => {
                check.error(message);
                None
            }
        };
    }
    let modes = [!range.is_empty(), !sync.is_empty(), ids]
        .iter()
        .filter(|m| **m)
        .count();
    if modes > 1 {
        check.error(
            "before/after, ids and updatedAfter/updatedBefore are different modes; use one of them",
        );
        return None;
    }
    if let Some(raw) = &query.ids {
        return parse_ids(check, raw).map(Window::Ids);
    }
    if !sync.is_empty() {
        return parse_sync(check, query);
    }
    let after = bound(check, "after", query.after.as_deref());
    let before = bound(check, "before", query.before.as_deref());
    let (after, before) = (after?, before?);
    if let (Some(Bound::Time(a)), Some(Bound::Time(b))) = (&after, &before) {
        if b <= a {
            check.error("before must be later than after");
            return None;
        }
    }
    match (after, before) {
        (None, Some(before)) => Some(Window::Backward { before }),
        (after, before) => Some(Window::Forward { after, before }),
    }
}

/// `before` / `after`: a message id (24 hex) or a time. `Some(None)` when absent, `None` when invalid.
pub(super) fn bound(check: &mut Checks, name: &str, raw: Option<&str>) -> Option<Option<Bound>> {
    let Some(raw) = raw else {
        return Some(None);
    };
    let Some(value) = raw_bound(raw) else {
        check.error(format!(
            "{name} must be a message id (24 lowercase hex characters) or a time \
             (RFC 3339, or milliseconds since the epoch, up to year 9999)"
        ));
        return None;
    };
    Some(Some(value))
}

fn raw_bound(raw: &str) -> Option<Bound> {
    if is_object_id(raw) {
        return MessageId::parse(raw, "id").ok().map(Bound::Message);
    }
    parse_time_param(raw).map(Bound::Time)
}

/// One time of the sync window, given under either of its two names (both given: a 400).
fn time(check: &mut Checks, names: [(&str, Option<&str>); 2]) -> Option<Option<i64>> {
    let present: Vec<(&str, &str)> = names
        .iter()
        .filter_map(|(name, raw)| raw.map(|raw| (*name, raw)))
        .collect();
    if present.len() > 1 {
        check.error(format!(
            "{} and {} are the same parameter; give one",
            names[0].0, names[1].0
        ));
        return None;
    }
    let Some((name, raw)) = present.first() else {
        return Some(None);
    };
    match parse_time_param(raw) {
        Some(ms) => Some(Some(ms)),
        None => {
            check.error(format!(
                "{name} must be a time (RFC 3339, or milliseconds since the epoch, up to year 9999)"
            ));
            None
        }
    }
}

fn parse_sync(check: &mut Checks, query: &MessageListQuery) -> Option<Window> {
    let after = time(
        check,
        [
            ("updatedAfter", query.updated_after.as_deref()),
            ("updated_at.gt", query.updated_at_gt.as_deref()),
        ],
    );
    let before = time(
        check,
        [
            ("updatedBefore", query.updated_before.as_deref()),
            ("updated_at.lt", query.updated_at_lt.as_deref()),
        ],
    );
    let (after, before) = (after?, before?);
    if let (Some(a), Some(b)) = (after, before) {
        if b <= a {
            check.error("updatedBefore must be later than updatedAfter");
            return None;
        }
    }
    Some(Window::Sync {
        after: SyncPosition {
            // Strictly after `updatedAfter`; from the beginning without it.
            updated_at: after.unwrap_or(-1),
            id: None,
        },
        before,
    })
}

fn parse_ids(check: &mut Checks, raw: &str) -> Option<Vec<MessageId>> {
    let parts: Vec<&str> = raw.split(',').map(|p| p.trim_matches(' ')).collect();
    if parts.len() > MAX_IDS {
        check.error(format!(
            "ids holds at most {MAX_IDS} message ids, got {}",
            parts.len()
        ));
        return None;
    }
    let mut ids = Vec::with_capacity(parts.len());
    for part in parts {
        match MessageId::parse(part, "ids") {
            Ok(id) if !ids.contains(&id) => ids.push(id),
            Ok(_) => {}
            Err(_) => {
                let shown: String = part.chars().take(40).collect();
                check.error(format!(
                    "ids must be comma-separated message ids of 24 lowercase hex characters; \
                     {shown:?} is not one"
                ));
                return None;
            }
        }
    }
    Some(ids)
}

/// The opaque continuation of a page: its end position and its chat.
pub struct Cursor;

const CURSOR_VERSION: &str = "m1";

impl Cursor {
    /// The cursor that continues `window` (already advanced to the end of the page) in chat `chat`.
    /// Only windows made of sequence numbers and sync positions can be continued.
    pub fn encode(chat: &ChatId, window: &Window) -> Option<String> {
        let seq = |b: &Option<Bound>| match b {
            None => Some("-".to_string()),
            Some(Bound::Seq(n)) => Some(n.to_string()),
            Some(_) => None,
        };
        let body = match window {
            Window::Backward {
                before: Bound::Seq(b),
            } => format!("b.{b}"),
            Window::Forward { after, before } => format!("f.{}.{}", seq(after)?, seq(before)?),
            Window::Sync { after, before } => format!(
                "s.{}.{}.{}",
                after.updated_at,
                after.id.as_ref().map_or("-", |id| id.as_str()),
                before.map_or("-".to_string(), |b| b.to_string())
            ),
            _ => return None,
        };
        let text = format!("{CURSOR_VERSION}.{}.{body}", chat.as_str());
        Some(hex::encode(text))
    }

    /// The window a cursor continues. Errors name the problem (for the 400).
    pub fn decode(raw: &str, chat: &ChatId) -> std::result::Result<Window, String> {
        let invalid =
            || "cursor is not a valid message-list cursor (pass back nextCursor as given)";
        let text = hex_decode(raw).ok_or_else(|| invalid().to_string())?;
        let fields: Vec<&str> = text.split('.').collect();
        if fields.len() < 3 || fields[0] != CURSOR_VERSION {
            return Err(invalid().into());
        }
        if fields[1] != chat.as_str() {
            return Err("cursor belongs to another chat".into());
        }
        let number = |s: &str, min: i64| -> std::result::Result<i64, String> {
            if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid().into());
            }
            s.parse::<i64>()
                .ok()
                .filter(|n| (min..=MAX_SAFE_INTEGER).contains(n))
                .ok_or_else(|| invalid().to_string())
        };
        let optional = |s: &str, min: i64| -> std::result::Result<Option<i64>, String> {
            if s == "-" {
                Ok(None)
            } else {
                number(s, min).map(Some)
            }
        };
        match &fields[2..] {
            ["b", before] => Ok(Window::Backward {
                before: Bound::Seq(number(before, 1)?),
            }),
            ["f", after, before] => Ok(Window::Forward {
                after: optional(after, 0)?.map(Bound::Seq),
                before: optional(before, 1)?.map(Bound::Seq),
            }),
            ["s", updated_at, id, before] => {
                let updated_at = if *updated_at == "-1" {
                    -1
                } else {
                    number(updated_at, 0)?
                };
                let id = match *id {
                    "-" => None,
                    id => Some(MessageId::parse(id, "cursor").map_err(|_| invalid().to_string())?),
                };
                Ok(Window::Sync {
                    after: SyncPosition { updated_at, id },
                    before: optional(before, 0)?,
                })
            }
            _ => Err(invalid().into()),
        }
    }
}

/// How a `before` / `after` page ends, from its rows' sequence numbers (ascending, as read by the store:
/// for `Backward` the newest `limit` below the bound, for `Forward` the oldest `limit` above it).
/// `after` / `before` are the resolved exclusive bounds (`before` None: open), `last_seq` the chat's
/// last sequence number. Returns how many of the rows belong to the page (a forward read may run past
/// `before`) and the window that continues it, if anything is left. Sequence numbers are dense, so
/// "is there more" is arithmetic, not another read.
pub fn continue_range(
    window: &Window,
    after: i64,
    before: Option<i64>,
    last_seq: i64,
    seqs: &[i64],
) -> (usize, Option<Window>) {
    match window {
        Window::Backward { .. } => match seqs.first() {
            Some(&first) if first > 1 => (
                seqs.len(),
                Some(Window::Backward {
                    before: Bound::Seq(first),
                }),
            ),
            _ => (seqs.len(), None),
        },
        _ => {
            let upper = before.map_or(last_seq, |b| (b - 1).min(last_seq));
            let kept = seqs
                .iter()
                .take_while(|s| **s <= upper && **s > after)
                .count();
            match seqs[..kept].last() {
                Some(&last) if last < upper => (
                    kept,
                    Some(Window::Forward {
                        after: Some(Bound::Seq(last)),
                        before: before.map(|b| Bound::Seq(b.min(last_seq + 1))),
                    }),
                ),
                _ => (kept, None),
            }
        }
    }
}

/// How a sync page ends: the store reads `limit + 1` rows in (`updatedAt`, `_id`) order, and the extra
/// row only says that more follow. `positions` are the rows' (`updatedAt`, `_id`).
pub fn continue_sync(
    limit: i64,
    before: Option<i64>,
    positions: &[(i64, &str)],
) -> (usize, Option<Window>) {
    let limit = usize::try_from(limit).unwrap_or(0);
    if positions.len() <= limit {
        return (positions.len(), None);
    }
    let (updated_at, id) = positions[limit - 1];
    let next = MessageId::parse(id, "_id").ok().map(|id| Window::Sync {
        after: SyncPosition {
            updated_at,
            id: Some(id),
        },
        before,
    });
    (limit, next)
}

/// The text of a cursor (hex, either case, at most 512 characters).
fn hex_decode(raw: &str) -> Option<String> {
    if raw.is_empty() || raw.len() > 512 {
        return None;
    }
    let bytes = hex::decode(raw).ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> ChatId {
        ChatId::parse("64d15f9e2e6c8f4d5a654321", "chatId").unwrap()
    }

    fn q(pairs: &[(&str, &str)]) -> MessageListQuery {
        let pairs = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        crate::domain::wire::query(pairs).unwrap()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<CursorQuery> {
        CursorQuery::parse(&q(pairs), &chat())
    }

    fn errors(pairs: &[(&str, &str)]) -> String {
        let error = parse(pairs).unwrap_err();
        assert_eq!(error.status, 400);
        error.errors.join("; ")
    }

    const ID: &str = "64d15f9e2e6c8f4d5a123456";

    #[test]
    fn before_and_after_take_ids_and_times() {
        let id = MessageId::parse(ID, "x").unwrap();
        assert_eq!(
            parse(&[("before", ID)]).unwrap().window,
            Window::Backward {
                before: Bound::Message(id.clone())
            }
        );
        assert_eq!(
            parse(&[("after", "2024-01-15T10:30:00.000Z"), ("limit", "7")]).unwrap(),
            CursorQuery {
                limit: 7,
                window: Window::Forward {
                    after: Some(Bound::Time(1_705_314_600_000)),
                    before: None
                }
            }
        );
        assert_eq!(
            parse(&[("after", "5"), ("before", ID)]).unwrap().window,
            Window::Forward {
                after: Some(Bound::Time(5)),
                before: Some(Bound::Message(id))
            }
        );
        assert!(errors(&[("before", "yesterday")]).contains("before must be a message id"));
        assert!(errors(&[("after", "99999999999999999")]).contains("after must be"));
        assert!(errors(&[("after", "10"), ("before", "10")]).contains("later than"));
        assert!(errors(&[("before", ID), ("asOf", "3")]).contains("asOf"));
        // page is ignored in cursor mode, but must still be a page number.
        assert!(parse(&[("before", ID), ("page", "7")]).is_ok());
        assert!(errors(&[("before", ID), ("page", "x")]).contains("page"));
    }

    #[test]
    fn ids_are_checked_and_deduplicated() {
        let w = parse(&[("ids", &format!("{ID}, {ID}"))]).unwrap().window;
        assert_eq!(w, Window::Ids(vec![MessageId::parse(ID, "x").unwrap()]));
        assert!(errors(&[("ids", "abc")]).contains("\"abc\" is not one"));
        assert!(errors(&[("ids", "")]).contains("is not one"));
        let many = vec![ID; 101].join(",");
        assert!(errors(&[("ids", &many)]).contains("at most 100"));
        assert!(parse(&[("ids", &vec![ID; 100].join(","))]).is_ok());
    }

    #[test]
    fn sync_window_and_its_aliases() {
        let w = parse(&[("updated_at.gt", "1000"), ("updatedBefore", "2000")])
            .unwrap()
            .window;
        assert_eq!(
            w,
            Window::Sync {
                after: SyncPosition {
                    updated_at: 1000,
                    id: None
                },
                before: Some(2000)
            }
        );
        let w = parse(&[("updated_at.lt", "2000")]).unwrap().window;
        assert!(matches!(
            w,
            Window::Sync {
                after: SyncPosition { updated_at: -1, .. },
                before: Some(2000)
            }
        ));
        assert!(errors(&[("updatedAfter", "1"), ("updated_at.gt", "1")]).contains("give one"));
        assert!(errors(&[("updatedAfter", ID)]).contains("must be a time"));
        assert!(errors(&[("updatedAfter", "5"), ("updatedBefore", "5")]).contains("later than"));
    }

    #[test]
    fn modes_do_not_mix() {
        for pairs in [
            &[("before", ID), ("ids", ID)][..],
            &[("after", "1"), ("updatedAfter", "1")],
            &[("ids", ID), ("updated_at.lt", "1")],
        ] {
            assert!(errors(pairs).contains("different modes"), "{pairs:?}");
        }
        let cursor = Cursor::encode(
            &chat(),
            &Window::Backward {
                before: Bound::Seq(9),
            },
        )
        .unwrap();
        assert!(errors(&[("cursor", &cursor), ("before", ID)]).contains("cannot be combined"));
    }

    #[test]
    fn cursors_round_trip() {
        let windows = [
            Window::Backward {
                before: Bound::Seq(40),
            },
            Window::Forward {
                after: Some(Bound::Seq(0)),
                before: None,
            },
            Window::Forward {
                after: Some(Bound::Seq(12)),
                before: Some(Bound::Seq(99)),
            },
            Window::Sync {
                after: SyncPosition {
                    updated_at: 1_705_314_600_000,
                    id: Some(MessageId::parse(ID, "x").unwrap()),
                },
                before: Some(1_705_314_700_000),
            },
            Window::Sync {
                after: SyncPosition {
                    updated_at: -1,
                    id: None,
                },
                before: None,
            },
        ];
        for window in windows {
            let cursor = Cursor::encode(&chat(), &window).unwrap();
            assert!(cursor.bytes().all(|b| b.is_ascii_hexdigit()));
            let back = parse(&[("cursor", &cursor), ("limit", "3")]).unwrap();
            assert_eq!(back, CursorQuery { limit: 3, window });
        }
        // Windows still holding ids or times are not continuations.
        let unresolved = Window::Backward {
            before: Bound::Time(5),
        };
        assert!(Cursor::encode(&chat(), &unresolved).is_none());
    }

    #[test]
    fn bad_cursors_are_refused() {
        let other = ChatId::parse("64d15f9e2e6c8f4d5a000000", "chatId").unwrap();
        let foreign = Cursor::encode(
            &other,
            &Window::Backward {
                before: Bound::Seq(9),
            },
        )
        .unwrap();
        assert!(errors(&[("cursor", &foreign)]).contains("another chat"));
        let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
        let c = chat();
        for bad in [
            "zz".to_string(),
            "abc".to_string(),
            String::new(),
            "ff".repeat(300),
            hex("hello"),
            hex(&format!("m2.{c}.b.5")),
            hex(&format!("m1.{c}.x.5")),
            hex(&format!("m1.{c}.b.0")),
            hex(&format!("m1.{c}.b.-5")),
            hex(&format!("m1.{c}.b.99999999999999999")),
            hex(&format!("m1.{c}.f.1")),
            hex(&format!("m1.{c}.s.5.nothex.-")),
            hex(&format!("m1.{c}.s.5.{ID}")),
            hex(&format!("m1.{c}.b.5.extra")),
        ] {
            assert!(
                errors(&[("cursor", &bad)]).contains("not a valid message-list cursor"),
                "{bad}"
            );
        }
    }

    #[test]
    fn backward_pages_walk_to_the_first_message() {
        let w = Window::Backward {
            before: Bound::Seq(9),
        };
        assert_eq!(
            continue_range(&w, 0, Some(9), 20, &[5, 6, 7, 8]),
            (
                4,
                Some(Window::Backward {
                    before: Bound::Seq(5)
                })
            )
        );
        assert_eq!(continue_range(&w, 0, Some(5), 20, &[1, 2, 3, 4]), (4, None));
        assert_eq!(continue_range(&w, 0, Some(1), 20, &[]), (0, None));
    }

    #[test]
    fn forward_pages_stop_at_before_and_at_the_end() {
        let w = Window::Forward {
            after: None,
            before: None,
        };
        // Open end: more while the page ends below the last message.
        assert_eq!(
            continue_range(&w, 0, None, 10, &[1, 2, 3]),
            (
                3,
                Some(Window::Forward {
                    after: Some(Bound::Seq(3)),
                    before: None
                })
            )
        );
        assert_eq!(continue_range(&w, 7, None, 10, &[8, 9, 10]), (3, None));
        // A read past `before` is cut there; the cursor keeps the bound.
        assert_eq!(continue_range(&w, 2, Some(5), 10, &[3, 4, 5, 6]), (2, None));
        assert_eq!(
            continue_range(&w, 2, Some(9), 10, &[3, 4, 5]),
            (
                3,
                Some(Window::Forward {
                    after: Some(Bound::Seq(5)),
                    before: Some(Bound::Seq(9))
                })
            )
        );
        // `before` beyond the end (a time after every message) is capped in the cursor.
        assert_eq!(
            continue_range(&w, 0, Some(i64::MAX), 4, &[1, 2]).1,
            Some(Window::Forward {
                after: Some(Bound::Seq(2)),
                before: Some(Bound::Seq(5))
            })
        );
        assert_eq!(continue_range(&w, 5, Some(3), 10, &[6, 7]), (0, None));
    }

    #[test]
    fn sync_pages_continue_after_their_last_row() {
        let rows = [(5, ID), (5, "64d15f9e2e6c8f4d5a123457"), (6, ID)];
        assert_eq!(continue_sync(3, None, &rows), (3, None));
        assert_eq!(
            continue_sync(2, Some(9), &rows),
            (
                2,
                Some(Window::Sync {
                    after: SyncPosition {
                        updated_at: 5,
                        id: Some(MessageId::parse("64d15f9e2e6c8f4d5a123457", "x").unwrap())
                    },
                    before: Some(9)
                })
            )
        );
    }

    #[test]
    fn around_stands_alone_and_takes_an_id_or_a_time() {
        let around = |pairs: &[(&str, &str)]| AroundQuery::parse(&q(pairs));
        assert_eq!(around(&[("before", ID)]).unwrap(), None);
        let id = MessageId::parse(ID, "x").unwrap();
        assert_eq!(
            around(&[("around", ID), ("limit", "7")]).unwrap(),
            Some(AroundQuery {
                limit: 7,
                anchor: Bound::Message(id)
            })
        );
        let at = around(&[("around", "2024-01-15T10:30:00.000Z")])
            .unwrap()
            .unwrap();
        assert_eq!(
            (at.limit, &at.anchor),
            (20, &Bound::Time(1_705_314_600_000))
        );
        assert_eq!(at.older(), 9);
        assert_eq!(
            AroundQuery {
                limit: 1,
                anchor: Bound::Seq(1)
            }
            .older(),
            0
        );
        assert_eq!(
            AroundQuery {
                limit: 2,
                anchor: Bound::Seq(1)
            }
            .older(),
            0
        );
        assert_eq!(
            AroundQuery {
                limit: 100,
                anchor: Bound::Seq(1)
            }
            .older(),
            49
        );
        for other in [
            ("before", ID),
            ("after", "5"),
            ("ids", ID),
            ("updatedAfter", "5"),
            ("updated_at.lt", "5"),
            ("cursor", "abcd"),
        ] {
            let e = around(&[("around", ID), other]).unwrap_err();
            assert!(
                e.errors.join(" ").contains("around stands alone"),
                "{other:?}"
            );
        }
        let e = around(&[("around", "yesterday"), ("limit", "0")]).unwrap_err();
        assert_eq!(e.errors.len(), 2, "{:?}", e.errors);
        assert!(around(&[("around", ID), ("asOf", "3")]).is_err());
    }
}

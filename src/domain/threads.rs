//! A message's thread (`GET /api/v1/messages/{messageId}/replies`) and the caller's mentions
//! (`GET /api/v1/users/me/mentions`): their queries, parsed at the edge, and their opaque cursors.
//!
//! A thread page is a range of the thread's live replies by sequence number (the covering index
//! `messages_replies`), so a cursor is a sequence number tied to its parent. Mentions are listed newest
//! first across chats, so their cursor is the position (`createdAt`, chat, sequence number) of the
//! page's last mention.

use schemars::JsonSchema;
use serde::Deserialize;

use super::cursor::{bound, Bound, MessageOrTime};
use super::ids::{ChatId, MessageId};
use super::input::MAX_SAFE_INTEGER;
use super::pagination::{DEFAULT_LIMIT, MAX_LIMIT};
use super::wire::Checks;
use crate::error::{ApiError, Result};

/// `GET /api/v1/messages/{messageId}/replies`' query.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ReplyListParams {
    /// Default 20.
    #[schemars(with = "Option<u64>", range(min = 1, max = MAX_LIMIT))]
    pub limit: Option<String>,
    /// The newest `limit` replies strictly older than this message or time (with `after`: strictly
    /// between, oldest first).
    #[schemars(with = "Option<MessageOrTime>")]
    pub before: Option<String>,
    /// The oldest `limit` replies strictly newer than this message or time.
    #[schemars(with = "Option<MessageOrTime>")]
    pub after: Option<String>,
    /// The nextCursor of an earlier page of this thread (opaque): continues in the same direction.
    /// Not with before or after.
    #[schemars(with = "Option<String>", pattern("^(?:[0-9a-fA-F]{2}){1,256}$"))]
    pub cursor: Option<String>,
}

/// Which replies a thread page holds, by their bounds (exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyWindow {
    /// Oldest first from `after` (none: the thread's start), up to `before` if given.
    Forward {
        after: Option<Bound>,
        before: Option<Bound>,
    },
    /// Newest first below `before` (only `before` given), shown chronologically.
    Backward { before: Bound },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyQuery {
    pub limit: i64,
    pub window: ReplyWindow,
}

const REPLY_CURSOR_VERSION: &str = "r1";

impl ReplyQuery {
    /// The query for the thread of `parent` (a cursor of another thread is refused).
    pub fn parse(params: &ReplyListParams, parent: &MessageId) -> Result<Self> {
        let mut check = Checks::new();
        let limit = check.query_integer(
            "limit",
            params.limit.as_deref(),
            1,
            MAX_LIMIT,
            Some(DEFAULT_LIMIT),
        );
        let window = match params.cursor.as_deref() {
            Some(raw) => {
                if params.before.is_some() || params.after.is_some() {
                    check.error("cursor continues an earlier page and cannot be combined with before or after");
                    None
                } else {
                    check.cursor(Some(raw), "this thread", |raw| {
                        decode_reply_cursor(raw, parent)
                    })
                }
            }
            None => {
                let after = bound(&mut check, "after", params.after.as_deref());
                let before = bound(&mut check, "before", params.before.as_deref());
                match (after, before) {
                    (Some(None), Some(Some(before))) => Some(ReplyWindow::Backward { before }),
                    (Some(after), Some(before)) => Some(ReplyWindow::Forward { after, before }),
                    _ => None,
                }
            }
        };
        check.finish()?;
        match (limit, window) {
            (Some(limit), Some(window)) => Ok(ReplyQuery { limit, window }),
            _ => Err(ApiError::bad_request("invalid replies query")),
        }
    }
}

/// The cursor that continues a thread page of `parent`: `window` with its bounds as sequence numbers.
pub fn encode_reply_cursor(parent: &MessageId, window: &ReplyWindow) -> Option<String> {
    let seq = |b: &Option<Bound>| match b {
        None => Some("-".to_string()),
        Some(Bound::Seq(n)) => Some(n.to_string()),
        Some(_) => None,
    };
    let body = match window {
        ReplyWindow::Forward { after, before } => format!("f.{}.{}", seq(after)?, seq(before)?),
        ReplyWindow::Backward {
            before: Bound::Seq(n),
        } => format!("b.{n}"),
        ReplyWindow::Backward { .. } => return None,
    };
    Some(hex::encode(format!(
        "{REPLY_CURSOR_VERSION}.{}.{body}",
        parent.as_str()
    )))
}

fn decode_reply_cursor(raw: &str, parent: &MessageId) -> Option<ReplyWindow> {
    let text = hex_text(raw)?;
    let fields: Vec<&str> = text.split('.').collect();
    let number = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
            .filter(|n| (0..=MAX_SAFE_INTEGER).contains(n))
    };
    let optional = |s: &str| -> Option<Option<Bound>> {
        if s == "-" {
            Some(None)
        } else {
            number(s).map(|n| Some(Bound::Seq(n)))
        }
    };
    match fields.as_slice() {
        [REPLY_CURSOR_VERSION, p, "f", after, before] if *p == parent.as_str() => {
            Some(ReplyWindow::Forward {
                after: optional(after)?,
                before: optional(before)?,
            })
        }
        [REPLY_CURSOR_VERSION, p, "b", before] if *p == parent.as_str() => {
            Some(ReplyWindow::Backward {
                before: Bound::Seq(number(before)?),
            })
        }
        _ => None,
    }
}

/// How a thread page ends. The store reads `limit + 1` replies in the window's direction (the extra
/// one only says that more follow) and returns them chronologically with the window's resolved
/// bounds; this keeps the page's `limit` and makes the window that continues it.
pub fn continue_replies(
    window: &ReplyWindow,
    limit: i64,
    before_seq: Option<i64>,
    seqs: &[i64],
) -> (std::ops::Range<usize>, Option<ReplyWindow>) {
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = seqs.len() > limit;
    match window {
        ReplyWindow::Forward { .. } => {
            let kept = 0..seqs.len().min(limit);
            let next =
                seqs[kept.clone()]
                    .last()
                    .filter(|_| more)
                    .map(|last| ReplyWindow::Forward {
                        after: Some(Bound::Seq(*last)),
                        before: before_seq.map(Bound::Seq),
                    });
            (kept, next)
        }
        ReplyWindow::Backward { .. } => {
            // Read newest first: the extra reply, if any, is the oldest, first in chronological order.
            let skip = seqs.len().saturating_sub(limit);
            let kept = skip..seqs.len();
            let next =
                seqs[kept.clone()]
                    .first()
                    .filter(|_| more)
                    .map(|first| ReplyWindow::Backward {
                        before: Bound::Seq(*first),
                    });
            (kept, next)
        }
    }
}

/// `GET /api/v1/users/me/mentions`' query.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct MentionListParams {
    /// Default 20.
    #[schemars(with = "Option<u64>", range(min = 1, max = MAX_LIMIT))]
    pub limit: Option<String>,
    /// The nextCursor of an earlier page (opaque).
    #[schemars(with = "Option<String>", pattern("^(?:[0-9a-fA-F]{2}){1,256}$"))]
    pub cursor: Option<String>,
}

/// Where a page of mentions ends: the last mention's message, newest first across chats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionPosition {
    pub created_at: i64,
    pub chat_id: ChatId,
    pub seq: i64,
}

impl MentionPosition {
    /// Opaque: hex of "n1.<createdAt>.<chatId>.<seq>".
    pub fn encode(&self) -> String {
        hex::encode(format!(
            "n1.{}.{}.{}",
            self.created_at,
            self.chat_id.as_str(),
            self.seq
        ))
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let text = hex_text(raw)?;
        let fields: Vec<&str> = text.split('.').collect();
        let ["n1", created_at, chat, seq] = fields.as_slice() else {
            return None;
        };
        let number = |s: &str| {
            s.parse::<i64>()
                .ok()
                .filter(|n| (0..=MAX_SAFE_INTEGER).contains(n))
        };
        Some(MentionPosition {
            created_at: number(created_at)?,
            chat_id: ChatId::parse(chat, "cursor").ok()?,
            seq: number(seq)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionQuery {
    pub limit: i64,
    /// Mentions strictly older than this position (none: from the newest).
    pub after: Option<MentionPosition>,
}

impl TryFrom<MentionListParams> for MentionQuery {
    type Error = ApiError;

    fn try_from(params: MentionListParams) -> Result<Self> {
        let mut check = Checks::new();
        let limit = check.query_integer(
            "limit",
            params.limit.as_deref(),
            1,
            MAX_LIMIT,
            Some(DEFAULT_LIMIT),
        );
        let after = check.cursor(params.cursor.as_deref(), "this list", |raw| {
            MentionPosition::decode(raw)
        });
        check.finish()?;
        Ok(MentionQuery {
            limit: limit.unwrap_or(DEFAULT_LIMIT),
            after,
        })
    }
}

/// A cursor's text: hex (either case) of UTF-8, at most 512 characters.
pub(crate) fn hex_text(raw: &str) -> Option<String> {
    if raw.is_empty() || raw.len() > 512 {
        return None;
    }
    String::from_utf8(hex::decode(raw).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "64d15f9e2e6c8f4d5a123456";
    const OTHER: &str = "64d15f9e2e6c8f4d5a654321";

    fn parent() -> MessageId {
        MessageId::parse(PARENT, "messageId").unwrap()
    }

    fn params(pairs: &[(&str, &str)]) -> ReplyListParams {
        let pairs = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        crate::domain::wire::query(pairs).unwrap()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<ReplyQuery> {
        ReplyQuery::parse(&params(pairs), &parent())
    }

    #[test]
    fn a_thread_starts_at_its_oldest_reply_and_takes_ids_and_times_as_bounds() {
        assert_eq!(
            parse(&[]).unwrap(),
            ReplyQuery {
                limit: 20,
                window: ReplyWindow::Forward {
                    after: None,
                    before: None
                }
            }
        );
        let other = MessageId::parse(OTHER, "x").unwrap();
        assert_eq!(
            parse(&[("before", OTHER), ("limit", "5")]).unwrap(),
            ReplyQuery {
                limit: 5,
                window: ReplyWindow::Backward {
                    before: Bound::Message(other.clone())
                }
            }
        );
        assert_eq!(
            parse(&[("after", "1000"), ("before", OTHER)])
                .unwrap()
                .window,
            ReplyWindow::Forward {
                after: Some(Bound::Time(1000)),
                before: Some(Bound::Message(other))
            }
        );
        let errors = parse(&[("after", "soon"), ("limit", "101")]).unwrap_err();
        assert_eq!(errors.errors.len(), 2, "{:?}", errors.errors);
    }

    #[test]
    fn reply_cursors_round_trip_and_belong_to_their_thread() {
        for window in [
            ReplyWindow::Forward {
                after: Some(Bound::Seq(7)),
                before: None,
            },
            ReplyWindow::Forward {
                after: Some(Bound::Seq(7)),
                before: Some(Bound::Seq(90)),
            },
            ReplyWindow::Backward {
                before: Bound::Seq(3),
            },
        ] {
            let cursor = encode_reply_cursor(&parent(), &window).unwrap();
            assert_eq!(parse(&[("cursor", &cursor)]).unwrap().window, window);
            let elsewhere = MessageId::parse(OTHER, "x").unwrap();
            assert!(ReplyQuery::parse(&params(&[("cursor", &cursor)]), &elsewhere).is_err());
            let mixed = parse(&[("cursor", &cursor), ("after", "5")]).unwrap_err();
            assert!(mixed.errors[0].contains("cannot be combined"));
        }
        for bad in [
            "zz",
            "",
            &hex::encode(format!("r1.{PARENT}.x.1")),
            &hex::encode(format!("r1.{PARENT}.b.-1")),
        ] {
            assert!(parse(&[("cursor", bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn thread_pages_keep_limit_replies_and_continue_only_when_more_follow() {
        let forward = ReplyWindow::Forward {
            after: None,
            before: None,
        };
        let (kept, next) = continue_replies(&forward, 2, None, &[3, 5, 9]);
        assert_eq!(kept, 0..2);
        assert_eq!(
            next,
            Some(ReplyWindow::Forward {
                after: Some(Bound::Seq(5)),
                before: None
            })
        );
        assert_eq!(
            continue_replies(&forward, 3, Some(20), &[3, 5, 9]),
            (0..3, None)
        );
        let backward = ReplyWindow::Backward {
            before: Bound::Seq(30),
        };
        // Read newest first, handed over chronologically: 4 is the extra one.
        let (kept, next) = continue_replies(&backward, 2, Some(30), &[4, 8, 12]);
        assert_eq!(kept, 1..3);
        assert_eq!(
            next,
            Some(ReplyWindow::Backward {
                before: Bound::Seq(8)
            })
        );
        assert_eq!(
            continue_replies(&backward, 5, Some(30), &[4, 8]),
            (0..2, None)
        );
    }

    #[test]
    fn mention_cursors_round_trip_and_refuse_garbage() {
        let position = MentionPosition {
            created_at: 1_700_000_000_000,
            chat_id: ChatId::parse(OTHER, "x").unwrap(),
            seq: 12,
        };
        assert_eq!(MentionPosition::decode(&position.encode()), Some(position));
        for bad in [
            "",
            "zz",
            &hex::encode("n1.1.nope.2"),
            &hex::encode("n2.1.x.2"),
        ] {
            assert_eq!(MentionPosition::decode(bad), None, "{bad}");
        }
        let query = MentionQuery::try_from(MentionListParams {
            limit: Some("0".into()),
            cursor: Some("zz".into()),
        });
        assert_eq!(query.unwrap_err().errors.len(), 2);
    }
}

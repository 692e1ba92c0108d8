//! How a cursor-mode page of messages ends, for every surface that lists messages (the HTTP message
//! list, the socket's `message_list`, and the project and assistant surfaces): which of the rows read
//! belong to the page, whether more follow, and the cursor that continues it. Pure: the store reads the
//! rows and resolves the bounds, the surfaces shape the answer; this decides.

use super::cursor::{continue_range, continue_sync, Bound, Cursor, CursorQuery, Window};
use super::ids::ChatId;
use crate::error::{ApiError, Result};

/// What the store resolved while reading a window: the chat's last sequence number, and the
/// exclusive bounds of a `before` / `after` window as sequence numbers. For a bound given as a message
/// id, `None` means the id is not in this chat; `after_seq` is `None` for an open start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedBounds {
    pub chat_last_seq: i64,
    pub after_seq: Option<i64>,
    pub before_seq: Option<i64>,
}

/// Where one message read sits in the chat's orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position<'a> {
    pub seq: i64,
    pub updated_at: i64,
    pub id: &'a str,
}

/// The end of a page: the first `kept` rows read belong to it; `next_cursor` continues it (`None`:
/// nothing more, so `hasMore` is false).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowEnd {
    pub kept: usize,
    pub next_cursor: Option<String>,
}

impl WindowEnd {
    pub fn has_more(&self) -> bool {
        self.next_cursor.is_some()
    }
}

/// Ends a page of `request` in chat `chat`, whose rows (in the window's order) sit at `rows`. A
/// `before` / `after` message id that is not in the chat is a 400.
pub fn window_end(
    chat: &ChatId,
    request: &CursorQuery,
    bounds: &ResolvedBounds,
    rows: &[Position<'_>],
) -> Result<WindowEnd> {
    let unknown =
        |name: &str| ApiError::bad_request(format!("{name}: no message with this id in this chat"));
    let seqs = || rows.iter().map(|r| r.seq).collect::<Vec<_>>();
    let (kept, next) = match &request.window {
        Window::Ids(_) => (rows.len(), None),
        Window::Sync { before, .. } => {
            let positions: Vec<(i64, &str)> = rows.iter().map(|r| (r.updated_at, r.id)).collect();
            continue_sync(request.limit, *before, &positions)
        }
        Window::Backward { before } => {
            if matches!(before, Bound::Message(_)) && bounds.before_seq.is_none() {
                return Err(unknown("before"));
            }
            let seqs = seqs();
            let last = bounds.chat_last_seq;
            continue_range(&request.window, 0, bounds.before_seq, last, &seqs)
        }
        Window::Forward { after, before } => {
            if matches!(after, Some(Bound::Message(_))) && bounds.after_seq.is_none() {
                return Err(unknown("after"));
            }
            if matches!(before, Some(Bound::Message(_))) && bounds.before_seq.is_none() {
                return Err(unknown("before"));
            }
            let seqs = seqs();
            let after = bounds.after_seq.unwrap_or(0);
            let last = bounds.chat_last_seq;
            continue_range(&request.window, after, bounds.before_seq, last, &seqs)
        }
    };
    Ok(WindowEnd {
        kept,
        next_cursor: next.and_then(|window| Cursor::encode(chat, &window)),
    })
}

/// How an `around` page ends on both sides: a cursor further back when a message older than the
/// page exists, a cursor forward when a newer one does (`None`: nothing that way). Sequence numbers
/// are dense, so both are arithmetic on the page's first and last (`seqs`, ascending) and the chat's
/// last sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AroundEnd {
    pub older_cursor: Option<String>,
    pub newer_cursor: Option<String>,
}

pub fn around_end(chat: &ChatId, last_seq: i64, seqs: &[i64]) -> AroundEnd {
    let older = seqs
        .first()
        .filter(|first| **first > 1)
        .map(|first| Window::Backward {
            before: Bound::Seq(*first),
        });
    let newer = seqs
        .last()
        .filter(|last| **last < last_seq)
        .map(|last| Window::Forward {
            after: Some(Bound::Seq(*last)),
            before: None,
        });
    AroundEnd {
        older_cursor: older.and_then(|w| Cursor::encode(chat, &w)),
        newer_cursor: newer.and_then(|w| Cursor::encode(chat, &w)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cursor::SyncPosition;
    use crate::domain::ids::MessageId;

    const ID: &str = "64d15f9e2e6c8f4d5a123456";

    fn chat() -> ChatId {
        ChatId::parse("64d15f9e2e6c8f4d5a654321", "chatId").unwrap()
    }

    fn rows(seqs: &[i64]) -> Vec<Position<'static>> {
        seqs.iter()
            .map(|&seq| Position {
                seq,
                updated_at: 1000 + seq,
                id: ID,
            })
            .collect()
    }

    fn bounds(after: Option<i64>, before: Option<i64>) -> ResolvedBounds {
        ResolvedBounds {
            chat_last_seq: 10,
            after_seq: after,
            before_seq: before,
        }
    }

    fn query(limit: i64, window: Window) -> CursorQuery {
        CursorQuery { limit, window }
    }

    #[test]
    fn a_backward_page_continues_below_its_first_row() {
        let q = query(
            3,
            Window::Backward {
                before: Bound::Seq(8),
            },
        );
        let end = window_end(&chat(), &q, &bounds(None, Some(8)), &rows(&[5, 6, 7])).unwrap();
        assert_eq!(end.kept, 3);
        let next = Cursor::decode(end.next_cursor.as_deref().unwrap(), &chat()).unwrap();
        assert_eq!(
            next,
            Window::Backward {
                before: Bound::Seq(5)
            }
        );
        let end = window_end(&chat(), &q, &bounds(None, Some(4)), &rows(&[1, 2, 3])).unwrap();
        assert!(!end.has_more());
    }

    #[test]
    fn a_forward_page_is_cut_at_before_and_ends_at_the_last_message() {
        let q = query(
            4,
            Window::Forward {
                after: Some(Bound::Seq(2)),
                before: Some(Bound::Seq(5)),
            },
        );
        let end = window_end(&chat(), &q, &bounds(Some(2), Some(5)), &rows(&[3, 4, 5, 6])).unwrap();
        assert_eq!((end.kept, end.has_more()), (2, false));
        let open = query(
            2,
            Window::Forward {
                after: None,
                before: None,
            },
        );
        let end = window_end(&chat(), &open, &bounds(None, None), &rows(&[9, 10])).unwrap();
        assert_eq!((end.kept, end.has_more()), (2, false));
        let end = window_end(&chat(), &open, &bounds(None, None), &rows(&[1, 2])).unwrap();
        assert!(end.has_more());
    }

    #[test]
    fn unknown_message_ids_are_400_naming_the_bound() {
        let id = MessageId::parse(ID, "x").unwrap();
        let before = query(
            5,
            Window::Backward {
                before: Bound::Message(id.clone()),
            },
        );
        let e = window_end(&chat(), &before, &bounds(None, None), &[]).unwrap_err();
        assert!(e.errors[0].starts_with("before:"), "{e}");
        let after = query(
            5,
            Window::Forward {
                after: Some(Bound::Message(id)),
                before: None,
            },
        );
        let e = window_end(&chat(), &after, &bounds(None, None), &[]).unwrap_err();
        assert!(e.errors[0].starts_with("after:"), "{e}");
    }

    #[test]
    fn a_sync_page_keeps_limit_rows_and_continues_after_the_last() {
        let q = query(
            2,
            Window::Sync {
                after: SyncPosition {
                    updated_at: -1,
                    id: None,
                },
                before: None,
            },
        );
        let end = window_end(&chat(), &q, &bounds(None, None), &rows(&[1, 2, 3])).unwrap();
        assert_eq!(end.kept, 2);
        assert!(matches!(
            Cursor::decode(end.next_cursor.as_deref().unwrap(), &chat()),
            Ok(Window::Sync {
                after: SyncPosition {
                    updated_at: 1002,
                    ..
                },
                ..
            })
        ));
        let ids = query(5, Window::Ids(vec![]));
        let end = window_end(&chat(), &ids, &bounds(None, None), &rows(&[4])).unwrap();
        assert_eq!((end.kept, end.has_more()), (1, false));
    }

    #[test]
    fn an_around_page_continues_on_the_sides_that_have_more() {
        let decode = |c: Option<String>| c.map(|c| Cursor::decode(&c, &chat()).unwrap());
        // The middle of a chat of 10: both ways.
        let end = around_end(&chat(), 10, &[4, 5, 6]);
        assert_eq!(
            decode(end.older_cursor),
            Some(Window::Backward {
                before: Bound::Seq(4)
            })
        );
        assert_eq!(
            decode(end.newer_cursor),
            Some(Window::Forward {
                after: Some(Bound::Seq(6)),
                before: None
            })
        );
        // At the first and the last message; an empty chat.
        let start = around_end(&chat(), 10, &[1, 2, 3]);
        assert!(start.older_cursor.is_none() && start.newer_cursor.is_some());
        let last = around_end(&chat(), 10, &[8, 9, 10]);
        assert!(last.older_cursor.is_some() && last.newer_cursor.is_none());
        assert_eq!(
            around_end(&chat(), 0, &[]),
            AroundEnd {
                older_cursor: None,
                newer_cursor: None
            }
        );
    }
}

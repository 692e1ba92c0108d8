//! What the compatibility surfaces (API.md "Compatibility surfaces") take: their query parameters and
//! the assistant surface's send, parsed into the core's values (cursor windows, page requests, a
//! `NewMessage`), so that every surface reads and writes through the same paths as the main one.

use serde_json::Value;

use super::cursor::{Bound, CursorQuery, Window};
use super::ids::ChatId;
use super::input::{is_blank, is_header_text, is_https_url, JsonBody, Query, MAX_SAFE_INTEGER};
use super::message::{metadata, sender_role, Media, NewMessage, SendKind, MAX_CONTENT_CHARS};
use super::pagination::{PageRequest, MAX_LIMIT};
use super::time::parse_time_param;
use crate::error::{ApiError, Result};

/// Most messages of one AI-session response.
pub const SESSION_LIMIT: i64 = 1000;
/// The assistant surface's default page size.
pub const ASSISTANT_LIMIT: i64 = 50;

/// `afterSequence` (integer ≥ 0, default 0).
pub fn session_after(mut query: Query) -> Result<i64> {
    let after = query.integer("afterSequence", 0, MAX_SAFE_INTEGER, Some(0));
    query.finish()?;
    after.ok_or_else(|| ApiError::bad_request("invalid afterSequence"))
}

/// The project surface's read: a page of page mode, or a `before` / `after` window of times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectRead {
    Page(PageRequest),
    Window(CursorQuery),
}

/// `page` and `limit` (1–100, default 20), or `before` / `after` (RFC 3339 or epoch ms; `page` is then
/// ignored, but must still be a page number).
pub fn project_read(mut query: Query) -> Result<ProjectRead> {
    let page = PageRequest::from_query(&mut query);
    let mut time = |name: &str| match query.get(name).map(str::to_string) {
        None => Some(None),
        Some(raw) => match parse_time_param(&raw) {
            Some(ms) => Some(Some(Bound::Time(ms))),
            None => {
                query.error(format!(
                    "{name} must be a time (RFC 3339, or 1 to 15 digits of milliseconds since the epoch)"
                ));
                None
            }
        },
    };
    let (after, before) = (time("after"), time("before"));
    if let (Some(Some(Bound::Time(a))), Some(Some(Bound::Time(b)))) = (&after, &before) {
        if b <= a {
            query.error("before must be later than after".into());
        }
    }
    query.finish()?;
    let (Some(page), Some(after), Some(before)) = (page, after, before) else {
        return Err(ApiError::bad_request("invalid query"));
    };
    let limit = page.limit;
    Ok(match (after, before) {
        (None, None) => ProjectRead::Page(page),
        (None, Some(before)) => ProjectRead::Window(CursorQuery {
            limit,
            window: Window::Backward { before },
        }),
        (after, before) => ProjectRead::Window(CursorQuery {
            limit,
            window: Window::Forward { after, before },
        }),
    })
}

/// `offset` (≥ 0, default 0: the oldest message) and `limit` (1–100, default 50), with the forward
/// window that reads them: the messages after sequence number `offset`, at any depth one key range.
pub fn assistant_window(mut query: Query) -> Result<(i64, CursorQuery)> {
    let offset = query.integer("offset", 0, MAX_SAFE_INTEGER, Some(0));
    let limit = query.integer("limit", 1, MAX_LIMIT, Some(ASSISTANT_LIMIT));
    query.finish()?;
    match (offset, limit) {
        (Some(offset), Some(limit)) => Ok((
            offset,
            CursorQuery {
                limit,
                window: Window::Forward {
                    after: Some(Bound::Seq(offset)),
                    before: None,
                },
            },
        )),
        _ => Err(ApiError::bad_request("invalid query")),
    }
}

/// The assistant surface's send: `{"content", "sender_role", "media_type", "media_url", "metadata"}`
/// with an optional `Idempotency-Key` header (the message's `clientMessageId`). `media_url` (https)
/// with `media_type` makes a media message (a `file` message for `media_type: file`), `content` then
/// optional; else `content` is required.
pub fn assistant_message(chat_id: &ChatId, bytes: &[u8], key: Option<&str>) -> Result<NewMessage> {
    let mut body = JsonBody::parse(bytes)?;
    let content = body.string("content", 0, MAX_CONTENT_CHARS);
    let role = sender_role(&mut body, "sender_role");
    let media = assistant_media(&mut body);
    let metadata = metadata(&mut body);
    let client_message_id = key.map(|k| k.trim_end_matches([' ', '\t']).to_string());
    if client_message_id
        .as_deref()
        .is_some_and(|k| !is_header_text(k) || k.len() > 64)
    {
        body.error(
            "Idempotency-Key must be 1 to 64 characters of visible ASCII (spaces inside allowed)"
                .into(),
        );
    }
    let kind = match &media {
        Some(m) if m.kind == "file" => SendKind::File,
        Some(_) => SendKind::Media,
        None => {
            if content.as_deref().is_none_or(is_blank) {
                body.error(format!(
                    "content is required without media_url: a non-empty string of at most {MAX_CONTENT_CHARS} characters"
                ));
            }
            SendKind::Text
        }
    };
    body.finish()?;
    Ok(NewMessage {
        chat_id: chat_id.clone(),
        kind,
        content: content.filter(|c| !c.is_empty()),
        media,
        metadata,
        client_message_id,
        role,
    })
}

/// `media_url` and `media_type` go together.
fn assistant_media(body: &mut JsonBody) -> Option<Media> {
    let url = body.value("media_url").cloned();
    let kind = body.value("media_type").cloned();
    let url = match url {
        None => None,
        Some(Value::String(u)) if is_https_url(&u) => Some(u),
        Some(_) => {
            body.error("media_url must be an https:// URL".into());
            return None;
        }
    };
    let kind = match kind.as_ref().and_then(Value::as_str) {
        None if kind.is_none() => None,
        Some(k @ ("image" | "video" | "audio" | "file")) => Some(k.to_string()),
        _ => {
            body.error("media_type must be one of image, video, audio, file".into());
            return None;
        }
    };
    match (url, kind) {
        (Some(url), Some(kind)) => Some(Media {
            duration: None,
            height: None,
            name: None,
            size: None,
            thumbnail_url: None,
            kind,
            url,
            width: None,
        }),
        (None, None) => None,
        _ => {
            body.error("media_url and media_type are given together".into());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::SenderRole;

    fn q(pairs: &[(&str, &str)]) -> Query {
        Query::of(pairs)
    }

    fn chat() -> ChatId {
        ChatId::parse("64d15f9e2e6c8f4d5a654321", "chatId").unwrap()
    }

    #[test]
    fn session_after_sequence() {
        assert_eq!(session_after(q(&[])).unwrap(), 0);
        assert_eq!(
            session_after(q(&[("afterSequence", "1000")])).unwrap(),
            1000
        );
        for bad in ["-1", "x", "1.5", ""] {
            assert_eq!(
                session_after(q(&[("afterSequence", bad)]))
                    .unwrap_err()
                    .status,
                400
            );
        }
    }

    #[test]
    fn project_reads_pages_and_time_windows() {
        assert_eq!(
            project_read(q(&[("page", "3"), ("limit", "10")])).unwrap(),
            ProjectRead::Page(PageRequest { page: 3, limit: 10 })
        );
        assert_eq!(
            project_read(q(&[("before", "2024-01-15T10:30:00.000Z")])).unwrap(),
            ProjectRead::Window(CursorQuery {
                limit: 20,
                window: Window::Backward {
                    before: Bound::Time(1_705_314_600_000)
                }
            })
        );
        assert_eq!(
            project_read(q(&[("after", "5"), ("before", "9"), ("limit", "2")])).unwrap(),
            ProjectRead::Window(CursorQuery {
                limit: 2,
                window: Window::Forward {
                    after: Some(Bound::Time(5)),
                    before: Some(Bound::Time(9))
                }
            })
        );
        for bad in [
            &[("before", "yesterday")][..],
            &[("after", "9"), ("before", "5")],
            &[("limit", "0")],
            &[("page", "0")],
        ] {
            assert_eq!(project_read(q(bad)).unwrap_err().status, 400, "{bad:?}");
        }
    }

    #[test]
    fn assistant_offsets_are_forward_windows() {
        assert_eq!(
            assistant_window(q(&[("offset", "7")])).unwrap(),
            (
                7,
                CursorQuery {
                    limit: 50,
                    window: Window::Forward {
                        after: Some(Bound::Seq(7)),
                        before: None
                    }
                }
            )
        );
        assert!(assistant_window(q(&[("offset", "-1")])).is_err());
        assert!(assistant_window(q(&[("limit", "101")])).is_err());
    }

    #[test]
    fn assistant_sends_map_onto_messages() {
        let text = assistant_message(
            &chat(),
            br#"{"content":"hi","metadata":{"a":1}}"#,
            Some("k1"),
        )
        .unwrap();
        assert_eq!(
            (text.kind, text.client_message_id.as_deref(), text.role),
            (SendKind::Text, Some("k1"), None)
        );
        let media = assistant_message(
            &chat(),
            br#"{"media_url":"https://cdn.example.com/a.png","media_type":"image","sender_role":"system"}"#,
            None,
        )
        .unwrap();
        assert_eq!(
            (media.kind, media.role),
            (SendKind::Media, Some(SenderRole::System))
        );
        let file = assistant_message(
            &chat(),
            br#"{"media_url":"https://cdn.example.com/a.pdf","media_type":"file"}"#,
            None,
        )
        .unwrap();
        assert_eq!(file.kind, SendKind::File);
        for bad in [
            br#"{}"#.as_slice(),
            br#"{"content":"  "}"#,
            br#"{"content":"x","media_url":"http://x.example/a"}"#,
            br#"{"content":"x","media_url":"https://x.example/a"}"#,
            br#"{"content":"x","media_type":"pdf","media_url":"https://x.example/a"}"#,
            br#"{"content":"x","sender_role":"bot"}"#,
        ] {
            assert_eq!(
                assistant_message(&chat(), bad, None).unwrap_err().status,
                400,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(assistant_message(&chat(), br#"{"content":"x"}"#, Some("")).is_err());
    }
}

//! What the compatibility surfaces (API.md "Compatibility surfaces") take: their query parameters and
//! the assistant surface's send, parsed into the core's values (cursor windows, page requests, a
//! `NewMessage`), so that every surface reads and writes through the same paths as the main one.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::cursor::{Bound, CursorQuery, Window};
use super::ids::ChatId;
use super::input::{is_blank, is_header_text, is_https_url, MAX_SAFE_INTEGER, NOT_BLANK_PATTERN};
use super::message::{
    metadata, sender_role, Media, MediaKind, Metadata, NewMessage, SendKind, SenderRole,
    MAX_CONTENT_CHARS,
};
use super::pagination::{PageRequest, MAX_LIMIT, MAX_PAGE};
use super::time::{parse_time_param, TimeParam};
use super::url::HttpsUrl;
use super::wire::{self, Checks};
use crate::error::{ApiError, Result};

/// Most messages of one AI-session response.
pub const SESSION_LIMIT: i64 = 1000;
/// The assistant surface's default page size.
pub const ASSISTANT_LIMIT: i64 = 50;

/// The AI-session surface's query.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionQuery {
    /// The messages after this sequence number (default 0: from the first).
    #[schemars(with = "Option<u64>", range(max = MAX_SAFE_INTEGER))]
    pub after_sequence: Option<String>,
}

/// `afterSequence` (integer ≥ 0, default 0).
pub fn session_after(query: SessionQuery) -> Result<i64> {
    let mut check = Checks::new();
    let after = check.query_integer(
        "afterSequence",
        query.after_sequence.as_deref(),
        0,
        MAX_SAFE_INTEGER,
        Some(0),
    );
    check.finish()?;
    after.ok_or_else(|| ApiError::bad_request("invalid afterSequence"))
}

/// The project surface's read: a page of page mode, or a `before` / `after` window of times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectRead {
    Page(PageRequest),
    Window(CursorQuery),
}

/// The project-chat surface's query.
#[derive(Deserialize, JsonSchema)]
pub struct ProjectQuery {
    /// Page mode (default 1: the newest messages); ignored with before or after.
    #[schemars(with = "Option<u64>", range(min = 1, max = MAX_PAGE))]
    pub page: Option<String>,
    /// Default 20.
    #[schemars(with = "Option<u64>", range(min = 1, max = MAX_LIMIT))]
    pub limit: Option<String>,
    /// The messages strictly before this time (with after: strictly between), chronological.
    #[schemars(with = "Option<TimeParam>")]
    pub before: Option<String>,
    /// The messages strictly after this time.
    #[schemars(with = "Option<TimeParam>")]
    pub after: Option<String>,
}

/// `page` and `limit` (1–100, default 20), or `before` / `after` (RFC 3339 or epoch ms; `page` is then
/// ignored, but must still be a page number).
pub fn project_read(query: ProjectQuery) -> Result<ProjectRead> {
    let mut check = Checks::new();
    let page = PageRequest::from_parts(&mut check, query.page.as_deref(), query.limit.as_deref());
    let mut time = |name: &str, raw: Option<&str>| match raw {
        None => Some(None),
        Some(raw) => match parse_time_param(raw) {
            Some(ms) => Some(Some(Bound::Time(ms))),
            None => {
                check.error(format!(
                    "{name} must be a time (RFC 3339, or 1 to 15 digits of milliseconds since the epoch)"
                ));
                None
            }
        },
    };
    let (after, before) = (
        time("after", query.after.as_deref()),
        time("before", query.before.as_deref()),
    );
    if let (Some(Some(Bound::Time(a))), Some(Some(Bound::Time(b)))) = (&after, &before) {
        if b <= a {
            check.error("before must be later than after");
        }
    }
    check.finish()?;
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

/// The assistant surface's query.
#[derive(Deserialize, JsonSchema)]
pub struct AssistantQuery {
    /// How many of the oldest messages to skip (default 0); the cost does not grow with it.
    #[schemars(with = "Option<u64>", range(max = MAX_SAFE_INTEGER))]
    pub offset: Option<String>,
    /// Default 50.
    #[schemars(with = "Option<u64>", range(min = 1, max = MAX_LIMIT))]
    pub limit: Option<String>,
}

/// `offset` (≥ 0, default 0: the oldest message) and `limit` (1–100, default 50), with the forward
/// window that reads them: the messages after sequence number `offset`, at any depth one key range.
pub fn assistant_window(query: AssistantQuery) -> Result<(i64, CursorQuery)> {
    let mut check = Checks::new();
    let offset = check.query_integer(
        "offset",
        query.offset.as_deref(),
        0,
        MAX_SAFE_INTEGER,
        Some(0),
    );
    let limit = check.query_integer(
        "limit",
        query.limit.as_deref(),
        1,
        MAX_LIMIT,
        Some(ASSISTANT_LIMIT),
    );
    check.finish()?;
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

/// A message to send on the assistant surface.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "AssistantSend", transform = media_or_content)]
pub struct AssistantSendBody {
    #[schemars(with = "Option<String>", length(max = MAX_CONTENT_CHARS))]
    pub content: Option<Value>,
    /// As the main send's senderRole.
    #[schemars(with = "Option<SenderRole>")]
    pub sender_role: Option<Value>,
    #[schemars(with = "Option<MediaKind>")]
    pub media_type: Option<Value>,
    #[schemars(with = "Option<HttpsUrl>")]
    pub media_url: Option<Value>,
    #[schemars(with = "Option<Metadata>")]
    pub metadata: Option<Value>,
    /// The `Idempotency-Key` header (the message's `clientMessageId`), set by the handler.
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

/// `media_url` with `media_type` makes a media message (a file message for media_type file),
/// `content` then optional; else `content` is required.
fn media_or_content(schema: &mut schemars::Schema) {
    schema.insert(
        "allOf".into(),
        serde_json::json!([{
            "if": {"anyOf": [
                {"required": ["media_url"], "properties": {"media_url": {"type": "string"}}},
                {"required": ["media_type"], "properties": {"media_type": {"type": "string"}}}
            ]},
            "then": {
                "required": ["media_url", "media_type"],
                "properties": {
                    "media_url": {"$ref": "#/components/schemas/HttpsUrl"},
                    "media_type": {"type": "string"}
                }
            },
            "else": {
                "required": ["content"],
                "properties": {"content": {
                    "type": "string", "minLength": 1, "maxLength": MAX_CONTENT_CHARS,
                    "pattern": NOT_BLANK_PATTERN,
                    "description": "Not blank (not only spaces, tabs and line breaks)."
                }}
            }
        }]),
    );
    schema.insert(
        "description".into(),
        "media_url with media_type makes a media message (a file message for media_type file), content then optional; else content is required.".into(),
    );
}

/// The assistant surface's send in chat `chat_id`, with an optional `Idempotency-Key` header.
pub fn assistant_message(chat_id: &ChatId, bytes: &[u8], key: Option<&str>) -> Result<NewMessage> {
    let mut body: AssistantSendBody = wire::body(bytes)?;
    body.idempotency_key = key.map(str::to_string);
    let message = NewMessageOf {
        chat_id: chat_id.clone(),
        body,
    };
    message.try_into()
}

/// An assistant send and the chat its path names.
pub struct NewMessageOf {
    pub chat_id: ChatId,
    pub body: AssistantSendBody,
}

impl TryFrom<NewMessageOf> for NewMessage {
    type Error = ApiError;

    fn try_from(NewMessageOf { chat_id, body }: NewMessageOf) -> Result<Self> {
        let mut check = Checks::new();
        let content = check.string("content", body.content.as_ref(), 0, MAX_CONTENT_CHARS);
        let role = sender_role(&mut check, "sender_role", body.sender_role.as_ref());
        let media = assistant_media(
            &mut check,
            body.media_url.as_ref(),
            body.media_type.as_ref(),
        );
        let metadata = metadata(&mut check, body.metadata.as_ref());
        let client_message_id = body
            .idempotency_key
            .map(|k| k.trim_end_matches([' ', '\t']).to_string());
        if client_message_id
            .as_deref()
            .is_some_and(|k| !is_header_text(k) || k.len() > 64)
        {
            check.error(
                "Idempotency-Key must be 1 to 64 characters of visible ASCII (spaces inside allowed)",
            );
        }
        let kind = match &media {
            Some(m) if m.kind == Some(MediaKind::File) => SendKind::File,
            Some(_) => SendKind::Media,
            None => {
                if content.as_deref().is_none_or(is_blank) {
                    check.error(format!(
                        "content is required without media_url: a non-empty string of at most {MAX_CONTENT_CHARS} characters"
                    ));
                }
                SendKind::Text
            }
        };
        check.finish()?;
        Ok(NewMessage {
            chat_id,
            kind,
            content: content.filter(|c| !c.is_empty()),
            media,
            metadata,
            client_message_id,
            role,
            parent_id: None,
            mentions: None,
        })
    }
}

/// `media_url` and `media_type` go together.
fn assistant_media(check: &mut Checks, url: Option<&Value>, kind: Option<&Value>) -> Option<Media> {
    let url = match url {
        None => None,
        Some(Value::String(u)) if is_https_url(u) => Some(u.clone()),
        Some(_) => {
            check.error("media_url must be an https:// URL");
            return None;
        }
    };
    let kind = match kind {
        None => None,
        Some(k) => match k.as_str().and_then(MediaKind::parse) {
            Some(kind) => Some(kind),
            None => {
                check.error("media_type must be one of image, video, audio, file");
                return None;
            }
        },
    };
    match (url, kind) {
        (Some(url), Some(kind)) => Some(Media {
            duration: None,
            height: None,
            name: None,
            size: None,
            thumbnail_url: None,
            kind: Some(kind),
            url,
            width: None,
            file_id: None,
        }),
        (None, None) => None,
        _ => {
            check.error("media_url and media_type are given together");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::SenderRole;

    fn q<Q: serde::de::DeserializeOwned>(pairs: &[(&str, &str)]) -> Q {
        let pairs = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        wire::query(pairs).unwrap()
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

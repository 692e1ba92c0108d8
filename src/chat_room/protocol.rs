//! What the worker and a chat's Durable Object say to each other, as typed values (serde both ways),
//! and the frames the object sends on the chat's live sockets.
//!
//! The worker parses and checks a request once, at the edge, into domain values (`NewMessage`,
//! `NewTransfer`, `Change`), and sends those with the caller. The object runs the write and answers
//! with the stored message, or with the typed error, and the D1 cost it incurred.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::auth::Author;
use crate::domain::credits::NewTransfer;
use crate::domain::ids::{ChatId, MessageId, UserId};
pub use crate::domain::live::MessageEvent;
use crate::domain::members::MemberChange;
use crate::domain::message::{Change, NewMessage, SenderRole};
use crate::domain::reactions::{ReactionChange, ReactionKey};
use crate::error::ApiError;
use crate::store::rows::MessageRow;
use crate::store::Cost;

/// The body of the worker's `POST` to a chat's Durable Object. (Built once per request and serialized
/// at once, so the size difference of its variants costs nothing.) Enums here are externally tagged
/// (`{"write": {...}}`): an internally tagged enum buffers its content on the way in, which cost 65 KB
/// of wasm.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RoomRequest {
    /// A write of the chat by `author`, already checked by the worker.
    Write { author: Author, write: Write },
    /// A read mark moved (the worker committed it): tell the chat's live sockets.
    ReadMoved(ReadEvent),
    /// Who has a socket open: answered with the users' ids (`Vec<String>`), each once.
    Presence,
}

/// A write of one chat: every one goes through the chat's Durable Object. (One per request, moved
/// into its `RoomRequest` and serialized at once: the size of its largest variant costs nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Write {
    /// A message, sent as `role` (decided by the worker: `SenderRole::for_sender`).
    Send {
        message: NewMessage,
        role: SenderRole,
    },
    Transfer(NewTransfer),
    /// An edit or a delete of message `message_id` of chat `chat_id`.
    #[serde(rename_all = "camelCase")]
    Change {
        chat_id: ChatId,
        message_id: MessageId,
        change: Change,
    },
    /// A change of the group's members, roles or title (committed alone in its group: its decision
    /// reads the chat first).
    #[serde(rename_all = "camelCase")]
    Members {
        chat_id: ChatId,
        change: MemberChange,
    },
    /// The author's reaction `key` added to or removed from message `message_id`.
    #[serde(rename_all = "camelCase")]
    React {
        chat_id: ChatId,
        message_id: MessageId,
        key: ReactionKey,
        change: ReactionChange,
    },
    /// Message `message_id` pinned (`pin` true) or unpinned by the author (a user: keys may not pin).
    #[serde(rename_all = "camelCase")]
    Pin {
        chat_id: ChatId,
        message_id: MessageId,
        pin: bool,
    },
    /// No write: the outbox sweep's call, to queue the webhook events a crash left (in the line, so
    /// that it runs between commits).
    #[serde(rename_all = "camelCase")]
    Recover {
        chat_id: ChatId,
    },
    /// A step of user `user_id`'s erasure in this chat (the admin's): a batch of its messages become
    /// tombstones; once none is left, its reactions go and it leaves the group.
    #[serde(rename_all = "camelCase")]
    Erase {
        chat_id: ChatId,
        user_id: UserId,
    },
}

impl Write {
    pub fn chat_id(&self) -> &ChatId {
        match self {
            Write::Send { message, .. } => &message.chat_id,
            Write::Transfer(transfer) => &transfer.chat_id,
            Write::Change { chat_id, .. }
            | Write::Members { chat_id, .. }
            | Write::React { chat_id, .. }
            | Write::Pin { chat_id, .. }
            | Write::Recover { chat_id }
            | Write::Erase { chat_id, .. } => chat_id,
        }
    }

    /// The HTTP status of its success: 201 for what creates a message (a replay too: it answers with
    /// the original status), 200 for a change.
    pub fn success_status(&self) -> u16 {
        match self {
            Write::Send { .. } | Write::Transfer(_) => 201,
            Write::Change { .. }
            | Write::Members { .. }
            | Write::React { .. }
            | Write::Pin { .. }
            | Write::Recover { .. }
            | Write::Erase { .. } => 200,
        }
    }

    /// The live event a committed write sends.
    pub fn event(&self) -> MessageEvent {
        match self {
            Write::Send { .. } | Write::Transfer(_) | Write::Members { .. } => {
                MessageEvent::Created
            }
            Write::Change {
                change: Change::Edit { .. },
                ..
            }
            | Write::Pin { .. }
            | Write::Recover { .. } => MessageEvent::Updated,
            Write::Erase { .. } => MessageEvent::Deleted,
            Write::Change {
                change: Change::Delete | Change::Takedown,
                ..
            } => MessageEvent::Deleted,
            Write::React { .. } => MessageEvent::Reaction,
        }
    }

    pub fn event_name(&self) -> &'static str {
        self.event().name()
    }
}

/// The object's answer to a `RoomRequest::Write`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomReply {
    /// The write as stored; `None` for a change of members that altered nothing (nothing written).
    pub outcome: Result<Option<Written>, ApiError>,
    /// The D1 work the object did for this request, for the worker's `X-D1-*` headers.
    pub cost: Cost,
    /// The bookmark of the write's D1 session, for the worker's `X-D1-Bookmark`.
    #[serde(default)]
    pub bookmark: Option<String>,
    /// The object's own note, not sent: the write left the members' list order behind, so a catch-up
    /// is due (`Stored::list_behind`).
    #[serde(skip)]
    pub list_behind: bool,
    /// An erasure step's work: the messages it tombstoned, whether the user left the group, whether
    /// more of its messages are left in the chat.
    #[serde(default)]
    pub erased: Option<(i64, bool, bool)>,
}

/// A write as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Written {
    pub message: MessageRow,
    /// The message's `readBy`.
    pub read_by: Vec<String>,
    /// True when nothing new was committed: an idempotent retry answered with the original.
    pub replayed: bool,
    /// The parent of a reply this write added or deleted, as the write left it (its `replyCount` and
    /// `lastReplyAt` moved), with its `readBy`: announced as `message.updated` after the write's own
    /// event.
    #[serde(default)]
    pub parent: Option<(MessageRow, Vec<String>)>,
}

/// Who holds a live socket, until when: what the worker vouches for when it hands an upgrade to the
/// object (token and membership checked), sent as JSON in the `X-Chat-Room-Socket` header.
pub const SOCKET_HEADER: &str = "X-Chat-Room-Socket";

/// `{"event": "read.updated", "data": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadEvent {
    pub chat_id: ChatId,
    pub user_id: UserId,
    #[schemars(range(min = 0, max = crate::domain::input::MAX_SAFE_INTEGER))]
    pub last_read_sequence: i64,
}

/// `{"event": "reaction.updated", "data": {...}}`: a reaction added or removed (live and webhooks).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReactionEvent<'a> {
    #[schemars(with = "ChatId")]
    pub chat_id: &'a str,
    #[schemars(with = "crate::domain::ids::ObjectId")]
    pub message_id: &'a str,
    #[schemars(with = "UserId")]
    pub user_id: &'a str,
    #[schemars(with = "ReactionKey")]
    pub key: &'a str,
    /// true: added; false: removed.
    pub added: bool,
    #[schemars(with = "crate::views::ReactionCounts")]
    pub reaction_counts: crate::views::CountsOrEmpty<'a>,
}

/// `{"event": "typing", "data": {...}}`: someone else in the chat started or stopped typing.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypingEvent<'a> {
    #[schemars(with = "ChatId")]
    pub chat_id: &'a ChatId,
    #[schemars(with = "UserId")]
    pub user_id: &'a UserId,
    pub typing: bool,
}

/// `{"event": "presence", "data": {...}}`: a user's first socket to the chat opened, or its last closed.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PresenceEvent<'a> {
    #[schemars(with = "ChatId")]
    pub chat_id: &'a ChatId,
    #[schemars(with = "UserId")]
    pub user_id: &'a UserId,
    pub online: bool,
}

/// `{"event": "presence.snapshot", "data": {...}}`: right after the handshake, who is online (the
/// socket's own user included).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PresenceSnapshot<'a> {
    #[schemars(with = "ChatId")]
    pub chat_id: &'a ChatId,
    #[schemars(with = "Vec<UserId>")]
    pub online: Vec<String>,
}

/// A server-to-client frame on the chat's WebSocket, in the document (`LiveEvent`): the frames are
/// `Event`s built from these names and values.
#[derive(JsonSchema)]
#[schemars(description = "A server-to-client frame on the chat's WebSocket.")]
#[serde(untagged)]
// Only its schema is used: never built, so its size does not matter.
#[allow(dead_code, clippy::large_enum_variant)]
pub enum LiveEvent<'a> {
    Message {
        event: MessageEvent,
        data: crate::views::Message<'a>,
    },
    Read {
        event: ReadUpdated,
        data: ReadEvent,
    },
    Typing {
        event: TypingName,
        data: TypingEvent<'a>,
    },
    Presence {
        event: PresenceName,
        data: PresenceEvent<'a>,
    },
    Snapshot {
        event: SnapshotName,
        data: PresenceSnapshot<'a>,
    },
    Reaction {
        event: ReactionName,
        data: ReactionEvent<'a>,
    },
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub enum ReactionName {
    #[serde(rename = "reaction.updated")]
    Reaction,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub enum TypingName {
    #[serde(rename = "typing")]
    Typing,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub enum PresenceName {
    #[serde(rename = "presence")]
    Presence,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub enum SnapshotName {
    #[serde(rename = "presence.snapshot")]
    Snapshot,
}

/// The name of a read mark's event.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub enum ReadUpdated {
    #[serde(rename = "read.updated")]
    ReadUpdated,
}

/// A server-to-client event frame: `{"event": <name>, "data": <data>}`.
#[derive(Serialize)]
pub struct Event<T: Serialize> {
    pub event: &'static str,
    pub data: T,
}

/// The answer to a client request frame: `{"response": {...}}`.
#[derive(Serialize)]
pub struct ResponseFrame<T: Serialize> {
    pub response: T,
}

/// `{"id", "error": {"status", "message"}}` inside a `ResponseFrame`.
#[derive(Serialize, JsonSchema)]
pub struct ErrorResponse<'a> {
    #[schemars(with = "FrameId")]
    pub id: &'a serde_json::Value,
    pub error: FrameFailure,
}

#[derive(Serialize, JsonSchema)]
pub struct FrameFailure {
    pub status: u16,
    pub message: String,
}

/// `{"id", "messages", "hasMore", "nextCursor"}` inside a `ResponseFrame`: a `message_list` answer.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "MessageListPage")]
pub struct MessageListResponse<'a> {
    /// The request's `id`, as sent.
    #[schemars(with = "FrameId")]
    pub id: &'a serde_json::Value,
    pub messages: Vec<crate::views::SamaMessage<'a>>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// A request frame's `id`: a string or a number, echoed.
pub struct FrameId;

impl JsonSchema for FrameId {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FrameId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": ["string", "number", "null"]})
    }
}

/// The answer to a `message_list` request frame, in the document (`MessageListResponse`).
#[derive(JsonSchema)]
#[schemars(description = "The answer to a message_list request frame.")]
#[schemars(rename = "MessageListResponse")]
#[allow(dead_code)]
pub struct MessageListAnswer<'a> {
    response: ListOrError<'a>,
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ListOrError<'a> {
    List(MessageListResponse<'a>),
    Error(ErrorResponse<'a>),
}

/// `{"pong": <what the ping carried>}`.
#[derive(Serialize)]
pub struct Pong<'a> {
    pub pong: &'a serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Caller;
    use crate::domain::ids::UserId;

    fn caller() -> Caller {
        Caller {
            id: UserId::parse("u1", "sub").unwrap(),
            username: Some("jo".into()),
            first_name: None,
            picture: Some("https://x.test/p.png".into()),
            expires_at_ms: 1_700_000_000_000,
        }
    }

    /// What the worker sends is exactly what the object reads, for every kind of write.
    #[test]
    fn requests_round_trip() {
        let chat = "64d15f9e2e6c8f4d5a654321";
        let message = NewMessage::parse(
            format!(
                r#"{{"chatId":"{chat}","content":"hi","metadata":{{"a":1}},"clientMessageId":"c"}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        let transfer = NewTransfer::parse(
            format!(r#"{{"chatId":"{chat}","recipientId":"u2","amount":5,"note":"n"}}"#).as_bytes(),
            Some("k"),
        )
        .unwrap();
        let change = Write::Change {
            chat_id: ChatId::parse(chat, "chatId").unwrap(),
            message_id: MessageId::parse(chat, "messageId").unwrap(),
            change: Change::Edit {
                content: "new".into(),
                mentions: None,
            },
        };
        let read = RoomRequest::ReadMoved(ReadEvent {
            chat_id: ChatId::parse(chat, "chatId").unwrap(),
            user_id: UserId::parse("u2", "sub").unwrap(),
            last_read_sequence: 4,
        });
        for request in [
            RoomRequest::Write {
                author: Author::User(caller()),
                write: Write::Send {
                    message,
                    role: SenderRole::User,
                },
            },
            RoomRequest::Write {
                author: Author::User(caller()),
                write: Write::Transfer(transfer),
            },
            RoomRequest::Write {
                author: Author::Service(crate::domain::keys::ServiceKey {
                    id: "64d15f9e2e6c8f4d5a000001".into(),
                    project: None,
                    sender: UserId::parse("assistant", "senderId").unwrap(),
                }),
                write: change,
            },
            read,
        ] {
            let text = serde_json::to_string(&request).unwrap();
            let back: RoomRequest = serde_json::from_str(&text).unwrap();
            assert_eq!(back, request, "{text}");
        }
    }

    #[test]
    fn ids_are_checked_when_read_back() {
        let text = r#"{"readMoved":{"chatId":"nope","userId":"u2","lastReadSequence":1}}"#;
        assert!(serde_json::from_str::<RoomRequest>(text).is_err());
    }

    #[test]
    fn event_frames_have_the_documented_shape() {
        let event = Event {
            event: "read.updated",
            data: ReadEvent {
                chat_id: ChatId::parse("64d15f9e2e6c8f4d5a654321", "chatId").unwrap(),
                user_id: UserId::parse("u2", "sub").unwrap(),
                last_read_sequence: 4,
            },
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"event":"read.updated","data":{"chatId":"64d15f9e2e6c8f4d5a654321","userId":"u2","lastReadSequence":4}}"#
        );
        let error = ResponseFrame {
            response: ErrorResponse {
                id: &serde_json::json!("r1"),
                error: FrameFailure {
                    status: 400,
                    message: "bad".into(),
                },
            },
        };
        assert_eq!(
            serde_json::to_string(&error).unwrap(),
            r#"{"response":{"id":"r1","error":{"status":400,"message":"bad"}}}"#
        );
    }
}

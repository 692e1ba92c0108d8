//! Live delivery (API.md "Live delivery (WebSocket)"): the frames a client may send on a chat's socket,
//! parsed into domain values, and the socket's own record (who holds it, until when).
//!
//! Client frames: `{"ping": <any>}`, or a SAMA request
//! `{"request": {"message_list": {"cid", "ids", "limit", "updated_at": {"gt", "lt"}, "cursor"}, "id"}}`
//! (SAMA puts the request's `id` inside `request`; a top-level `id` is read too, as an earlier README
//! showed it there).
//! `message_list` maps onto the HTTP cursor mode (`domain::cursor`): `ids`, the `updated_at` sync window
//! (epoch milliseconds, ordered by (`updatedAt`, `_id`)), or, with neither, the newest `limit` messages.
//! `cursor` (our addition, the `nextCursor` of an earlier answer) continues a window without skipping
//! messages that share a millisecond, which `updated_at.gt` alone cannot promise.

use serde_json::{Map, Value};

use super::cursor::{Bound, Cursor, CursorQuery, SyncPosition, Window, MAX_IDS};
use super::ids::{ChatId, MessageId, UserId};
use super::input::MAX_SAFE_INTEGER;
use super::pagination::MAX_LIMIT;
use super::time::MAX_MS;

/// Default `limit` of `message_list` (API.md).
pub const DEFAULT_LIST_LIMIT: i64 = 50;
/// Largest client frame read (a `message_list` with 100 ids is about 3 KB).
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
/// Close code for a socket whose token expired (API.md).
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;
/// Close code for a socket whose user is no longer a participant of the chat.
pub const CLOSE_NOT_PARTICIPANT: u16 = 4003;

/// Close code for a socket whose client sent frames too fast (RFC 6455 "policy violation").
pub const CLOSE_POLICY: u16 = 1008;
/// At most this many client frames per `FRAME_WINDOW_MS` (API.md "Rate limits").
pub const MAX_FRAMES_PER_WINDOW: u32 = 20;
pub const FRAME_WINDOW_MS: i64 = 10_000;

/// A committed write's event (live and to webhooks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "EventType")]
pub enum MessageEvent {
    #[serde(rename = "message.created")]
    Created,
    #[serde(rename = "message.updated")]
    Updated,
    #[serde(rename = "message.deleted")]
    Deleted,
    /// A reaction added or removed (its data is a `ReactionEvent`, not a Message).
    #[serde(rename = "reaction.updated")]
    Reaction,
}

impl MessageEvent {
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Created, Self::Updated, Self::Deleted, Self::Reaction]
            .into_iter()
            .find(|e| e.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            MessageEvent::Created => "message.created",
            MessageEvent::Updated => "message.updated",
            MessageEvent::Deleted => "message.deleted",
            MessageEvent::Reaction => "reaction.updated",
        }
    }
}

/// The live route's query: the token, for browsers that cannot set headers on a WebSocket (the
/// document's `accessToken` security scheme).
#[derive(serde::Deserialize)]
pub struct SocketQuery {
    pub access_token: Option<String>,
}

/// What the chat's Durable Object keeps with each socket (its hibernation attachment).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LiveSocket {
    pub user: UserId,
    pub chat: ChatId,
    /// The token's `exp`, in epoch milliseconds: the socket is closed with 4001 then.
    pub expires_at_ms: i64,
    /// The client's frames in the current window (it kept in the attachment, so that hibernation
    /// does not reset it).
    #[serde(default)]
    pub window_start_ms: i64,
    #[serde(default)]
    pub frames_in_window: u32,
    /// Until when (epoch ms) this socket's user is typing; 0: not typing. A `true` lapses after
    /// `TYPING_LAPSE_MS` (the object's alarm sends the `false`).
    #[serde(default)]
    pub typing_until: i64,
    /// Whether the user may be shown online: their availabilityStatus was not `offline` when the socket
    /// opened (a later change shows in `GET /presence`, read from D1, and on the next socket).
    #[serde(default = "shown_by_default")]
    pub shown: bool,
    /// The server closed this socket (its presence was announced gone then).
    #[serde(default)]
    pub closed: bool,
}

fn shown_by_default() -> bool {
    true
}

/// How long a `{"typing": true}` holds without another (API.md "Typing and presence").
pub const TYPING_LAPSE_MS: i64 = 6_000;

impl LiveSocket {
    /// Counts a client frame received at `now_ms`; `false` once the client is past
    /// `MAX_FRAMES_PER_WINDOW` frames in a `FRAME_WINDOW_MS` window (the socket is then closed).
    pub fn count_frame(&mut self, now_ms: i64) -> bool {
        if now_ms - self.window_start_ms >= FRAME_WINDOW_MS {
            self.window_start_ms = now_ms;
            self.frames_in_window = 0;
        }
        self.frames_in_window += 1;
        self.frames_in_window <= MAX_FRAMES_PER_WINDOW
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame {
    Ping(Value),
    /// `{"typing": true | false}`.
    Typing(bool),
    MessageList {
        id: Value,
        query: CursorQuery,
    },
}

/// A frame that could not be served: answered with `{"response": {"id", "error": {"status", "message"}}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    pub id: Value,
    pub status: u16,
    pub message: String,
}

impl FrameError {
    fn bad(id: &Value, message: impl Into<String>) -> Self {
        FrameError {
            id: id.clone(),
            status: 400,
            message: message.into(),
        }
    }
}

/// Parses one text frame of a socket on chat `chat`.
pub fn parse_frame(text: &str, chat: &ChatId) -> Result<ClientFrame, FrameError> {
    let none = Value::Null;
    if text.len() > MAX_FRAME_BYTES {
        return Err(FrameError::bad(
            &none,
            format!("frames are at most {MAX_FRAME_BYTES} bytes"),
        ));
    }
    let frame: Value = serde_json::from_str(text)
        .map_err(|_| FrameError::bad(&none, "frames must be JSON objects"))?;
    let Some(object) = frame.as_object() else {
        return Err(FrameError::bad(&none, "frames must be JSON objects"));
    };
    if let Some(ping) = object.get("ping") {
        return Ok(ClientFrame::Ping(ping.clone()));
    }
    if let Some(typing) = object.get("typing") {
        return match typing {
            Value::Bool(b) => Ok(ClientFrame::Typing(*b)),
            _ => Err(FrameError::bad(&none, "typing must be true or false")),
        };
    }
    let (id, request) = request_of(object)?;
    let list = match request.get("message_list") {
        Some(Value::Object(list)) => list,
        Some(_) => return Err(FrameError::bad(&id, "message_list must be an object")),
        None => {
            let names: Vec<&str> = request
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "id")
                .collect();
            return Err(FrameError::bad(
                &id,
                format!("unknown request {names:?}; supported: message_list"),
            ));
        }
    };
    match list_query(list, chat) {
        Ok(query) => Ok(ClientFrame::MessageList { id, query }),
        Err(message) => Err(FrameError::bad(&id, message)),
    }
}

/// The request object of a frame and its `id` (inside `request`, where SAMA puts it, or at the top).
fn request_of(object: &Map<String, Value>) -> Result<(Value, &Map<String, Value>), FrameError> {
    let request = object.get("request").and_then(Value::as_object);
    let id = request
        .and_then(|r| r.get("id"))
        .or_else(|| object.get("id"))
        .cloned()
        .unwrap_or(Value::Null);
    if !(id.is_string() || id.is_number()) {
        return Err(FrameError::bad(
            &id,
            "a request needs an \"id\" (string or number) inside \"request\"",
        ));
    }
    match request {
        Some(request) => Ok((id, request)),
        None => Err(FrameError::bad(
            &id,
            "expected {\"request\": {...,\"id\": ...}} or {\"ping\": ...}",
        )),
    }
}

/// A `message_list` request as a cursor-mode query of this socket's chat.
fn list_query(list: &Map<String, Value>, chat: &ChatId) -> Result<CursorQuery, String> {
    match list.get("cid").and_then(Value::as_str) {
        Some(cid) if cid == chat.as_str() => {}
        Some(_) => return Err("message_list.cid must be this socket's chat".into()),
        None => return Err("message_list.cid is required".into()),
    }
    let limit = match list.get("limit") {
        None | Some(Value::Null) => DEFAULT_LIST_LIMIT,
        Some(v) => v
            .as_i64()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                format!("message_list.limit must be an integer between 1 and {MAX_LIMIT}")
            })?,
    };
    Ok(CursorQuery {
        limit,
        window: list_window(list, chat)?,
    })
}

/// `cursor`, `ids`, the `updated_at` window (nested, or SAMA's flat keys), or the newest messages.
fn list_window(list: &Map<String, Value>, chat: &ChatId) -> Result<Window, String> {
    let given = |key: &str| list.get(key).filter(|v| !v.is_null());
    let flat = given("updated_at.gt").is_some() || given("updated_at.lt").is_some();
    if flat && given("updated_at").is_some() {
        return Err(
            "message_list takes updated_at or its flat keys updated_at.gt / updated_at.lt, not both"
                .into(),
        );
    }
    let sync = flat || given("updated_at").is_some();
    if [given("ids").is_some(), sync, given("cursor").is_some()]
        .iter()
        .filter(|g| **g)
        .count()
        > 1
    {
        return Err("message_list takes one of ids, updated_at and cursor".into());
    }
    if let Some(cursor) = given("cursor") {
        let raw = cursor
            .as_str()
            .ok_or("message_list.cursor must be a string")?;
        return Cursor::decode(raw, chat).map_err(|e| format!("message_list.{e}"));
    }
    if let Some(ids_given) = given("ids") {
        return ids(ids_given).map(Window::Ids);
    }
    if !sync {
        // The newest `limit` messages, oldest first; the cursor walks further back.
        return Ok(Window::Backward {
            before: Bound::Seq(MAX_SAFE_INTEGER),
        });
    }
    let (gt, lt) = match given("updated_at") {
        Some(nested) => {
            let object = nested
                .as_object()
                .ok_or("message_list.updated_at must be an object {\"gt\", \"lt\"}")?;
            window_bounds(object.get("gt"), object.get("lt"))?
        }
        None => window_bounds(given("updated_at.gt"), given("updated_at.lt"))?,
    };
    Ok(Window::Sync {
        after: SyncPosition {
            updated_at: gt.unwrap_or(-1),
            id: None,
        },
        before: lt,
    })
}

fn ids(value: &Value) -> Result<Vec<MessageId>, String> {
    let list = value
        .as_array()
        .ok_or("message_list.ids must be an array of message ids")?;
    if list.is_empty() || list.len() > MAX_IDS {
        return Err(format!("message_list.ids holds 1 to {MAX_IDS} message ids"));
    }
    let mut ids = Vec::with_capacity(list.len());
    for item in list {
        let id = item
            .as_str()
            .and_then(|s| MessageId::parse(s, "ids").ok())
            .ok_or("message_list.ids must hold message ids of 24 lowercase hex characters")?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// The `gt` / `lt` bounds of a sync window, in epoch milliseconds.
fn window_bounds(
    gt: Option<&Value>,
    lt: Option<&Value>,
) -> Result<(Option<i64>, Option<i64>), String> {
    let bound = |key: &str, v: Option<&Value>| -> Result<Option<i64>, String> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .filter(|ms| (0..=MAX_MS).contains(ms))
                .map(Some)
                .ok_or(format!(
                "message_list.updated_at.{key} must be epoch milliseconds between 0 and {MAX_MS}"
            )),
        }
    };
    let (gt, lt) = (bound("gt", gt)?, bound("lt", lt)?);
    if let (Some(gt), Some(lt)) = (gt, lt) {
        if lt <= gt {
            return Err("message_list.updated_at.lt must be greater than gt".into());
        }
    }
    Ok((gt, lt))
}

/// A close code a server may send back in answer to the client's close: 1005/1006 (no code, abnormal)
/// and reserved codes cannot be sent, so those become 1000.
pub fn echo_close_code(code: usize) -> u16 {
    u16::try_from(code)
        .ok()
        .filter(|c| matches!(c, 1000..=1003 | 1007..=1014 | 3000..=4999))
        .unwrap_or(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_frames_are_booleans() {
        let chat = ChatId::parse("0123456789abcdef01234567", "chatId").unwrap();
        assert_eq!(
            parse_frame(r#"{"typing":true}"#, &chat),
            Ok(ClientFrame::Typing(true))
        );
        assert_eq!(
            parse_frame(r#"{"typing":false}"#, &chat),
            Ok(ClientFrame::Typing(false))
        );
        for bad in [
            r#"{"typing":1}"#,
            r#"{"typing":"yes"}"#,
            r#"{"typing":null}"#,
        ] {
            assert_eq!(parse_frame(bad, &chat).unwrap_err().status, 400, "{bad}");
        }
        // Attachments written before typing and presence existed still read.
        let old: LiveSocket = serde_json::from_str(
            r#"{"user":"u","chat":"0123456789abcdef01234567","expires_at_ms":5}"#,
        )
        .unwrap();
        assert!(old.shown && !old.closed && old.typing_until == 0);
    }

    #[test]
    fn twenty_frames_per_ten_seconds_pass_the_twenty_first_does_not() {
        let mut socket = LiveSocket {
            user: UserId::parse("u", "sub").unwrap(),
            chat: ChatId::parse("0123456789abcdef01234567", "chatId").unwrap(),
            expires_at_ms: 0,
            window_start_ms: 0,
            frames_in_window: 0,
            typing_until: 0,
            shown: true,
            closed: false,
        };
        let start = 1_000_000;
        for i in 0..20 {
            assert!(socket.count_frame(start + i * 100), "frame {i}");
        }
        assert!(!socket.count_frame(start + 9_999));
        // A new window starts 10 s after the first frame of the last one.
        assert!(socket.count_frame(start + 10_000));
        assert_eq!(socket.frames_in_window, 1);
    }
    use serde_json::json;

    fn chat() -> ChatId {
        ChatId::parse("64d15f9e2e6c8f4d5a654321", "chatId").unwrap()
    }

    fn list(body: Value) -> Result<ClientFrame, FrameError> {
        parse_frame(
            &json!({"request": {"message_list": body, "id": "r1"}}).to_string(),
            &chat(),
        )
    }

    #[test]
    fn the_window_may_come_as_flat_sama_keys() {
        let cid = chat().as_str().to_string();
        let flat = list(json!({"cid": cid, "updated_at.gt": 1000, "updated_at.lt": 2000})).unwrap();
        let nested = list(json!({"cid": cid, "updated_at": {"gt": 1000, "lt": 2000}})).unwrap();
        assert_eq!(flat, nested);
        let only_lt = list(json!({"cid": cid, "updated_at.lt": 2000})).unwrap();
        assert!(matches!(
            only_lt,
            ClientFrame::MessageList {
                query: CursorQuery {
                    window: Window::Sync {
                        after: SyncPosition { updated_at: -1, .. },
                        before: Some(2000)
                    },
                    ..
                },
                ..
            }
        ));
        for (body, mention) in [
            (
                json!({"cid": cid, "updated_at.gt": 1, "updated_at": {"gt": 1}}),
                "not both",
            ),
            (json!({"cid": cid, "updated_at.gt": "x"}), "updated_at.gt"),
            (
                json!({"cid": cid, "updated_at.gt": 5, "ids": [ID]}),
                "one of",
            ),
        ] {
            let e = list(body.clone()).unwrap_err();
            assert!(e.message.contains(mention), "{body}: {}", e.message);
        }
    }

    #[test]
    fn the_request_id_is_read_where_sama_puts_it_and_at_the_top_level() {
        let cid = chat().as_str().to_string();
        let sama = json!({"request": {"message_list": {"cid": cid}, "id": "s1"}});
        let top = json!({"request": {"message_list": {"cid": cid}}, "id": 7});
        for (frame, id) in [(sama, json!("s1")), (top, json!(7))] {
            match parse_frame(&frame.to_string(), &chat()) {
                Ok(ClientFrame::MessageList { id: got, .. }) => assert_eq!(got, id),
                other => panic!("{frame}: {other:?}"),
            }
        }
        let both = json!({"request": {"message_list": {"cid": cid}, "id": "inner"}, "id": "outer"});
        assert!(matches!(
            parse_frame(&both.to_string(), &chat()),
            Ok(ClientFrame::MessageList { id, .. }) if id == json!("inner")
        ));
    }

    const ID: &str = "64d15f9e2e6c8f4d5a123456";

    #[test]
    fn pings_and_the_three_list_forms() {
        assert_eq!(
            parse_frame(r#"{"ping": {"n": 1}}"#, &chat()),
            Ok(ClientFrame::Ping(json!({"n": 1})))
        );
        let cid = chat().as_str().to_string();
        let newest = list(json!({"cid": cid})).unwrap();
        assert_eq!(
            newest,
            ClientFrame::MessageList {
                id: json!("r1"),
                query: CursorQuery {
                    limit: 50,
                    window: Window::Backward {
                        before: Bound::Seq(MAX_SAFE_INTEGER)
                    }
                }
            }
        );
        let synced = list(json!({"cid": cid, "limit": 7, "updated_at": {"gt": 1000}})).unwrap();
        assert!(matches!(
            synced,
            ClientFrame::MessageList {
                query: CursorQuery {
                    limit: 7,
                    window: Window::Sync {
                        after: SyncPosition {
                            updated_at: 1000,
                            id: None
                        },
                        before: None
                    }
                },
                ..
            }
        ));
        let by_id = list(json!({"cid": cid, "ids": [ID, ID]})).unwrap();
        assert!(matches!(
            by_id,
            ClientFrame::MessageList { query: CursorQuery { window: Window::Ids(ref v), .. }, .. } if v.len() == 1
        ));
        let cursor = Cursor::encode(
            &chat(),
            &Window::Backward {
                before: Bound::Seq(4),
            },
        )
        .unwrap();
        let continued = list(json!({"cid": cid, "cursor": cursor})).unwrap();
        assert!(matches!(
            continued,
            ClientFrame::MessageList {
                query: CursorQuery {
                    window: Window::Backward {
                        before: Bound::Seq(4)
                    },
                    ..
                },
                ..
            }
        ));
    }

    #[test]
    fn bad_frames_name_the_problem_and_keep_the_id() {
        let cid = chat().as_str().to_string();
        for (frame, mention) in [
            ("not json".to_string(), "JSON"),
            ("[1]".to_string(), "JSON objects"),
            (json!({"request": {}, "id": {}}).to_string(), "\"id\""),
            (
                json!({"request": {"typing": {}, "id": 1}}).to_string(),
                "unknown request",
            ),
            (json!({"id": 1}).to_string(), "expected"),
            (
                json!({"request": {"message_list": 5, "id": 1}}).to_string(),
                "must be an object",
            ),
            ("x".repeat(MAX_FRAME_BYTES + 1), "at most"),
        ] {
            let e = parse_frame(&frame, &chat()).unwrap_err();
            assert_eq!(e.status, 400);
            assert!(e.message.contains(mention), "{frame}: {}", e.message);
        }
        for (body, mention) in [
            (json!({}), "cid is required"),
            (
                json!({"cid": "64d15f9e2e6c8f4d5a000000"}),
                "this socket's chat",
            ),
            (json!({"cid": cid, "limit": 0}), "limit"),
            (json!({"cid": cid, "limit": "5"}), "limit"),
            (json!({"cid": cid, "ids": []}), "1 to 100"),
            (json!({"cid": cid, "ids": ["nope"]}), "24 lowercase hex"),
            (json!({"cid": cid, "ids": vec![ID; 101]}), "1 to 100"),
            (
                json!({"cid": cid, "updated_at": {"gt": -1}}),
                "updated_at.gt",
            ),
            (
                json!({"cid": cid, "updated_at": {"lt": "soon"}}),
                "updated_at.lt",
            ),
            (
                json!({"cid": cid, "updated_at": {"gt": 5, "lt": 5}}),
                "greater than",
            ),
            (json!({"cid": cid, "updated_at": 5}), "must be an object"),
            (json!({"cid": cid, "ids": [ID], "updated_at": {}}), "one of"),
            (json!({"cid": cid, "cursor": "zz"}), "cursor"),
        ] {
            let e = list(body.clone()).unwrap_err();
            assert_eq!((e.status, &e.id), (400, &json!("r1")));
            assert!(e.message.contains(mention), "{body}: {}", e.message);
        }
    }

    #[test]
    fn close_codes_that_can_be_sent_back() {
        assert_eq!(echo_close_code(1000), 1000);
        assert_eq!(echo_close_code(4001), 4001);
        assert_eq!(echo_close_code(1005), 1000);
        assert_eq!(echo_close_code(1006), 1000);
        assert_eq!(echo_close_code(70_000), 1000);
    }
}

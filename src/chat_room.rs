//! The chat's Durable Object (one per chat, `id_from_name(chatId)`): every write to a chat's messages goes
//! through it.
//!
//! Why: a Durable Object is a single instance worldwide, so it can run the chat's writes one at a time, in
//! the order their sequence numbers are assigned. Credit transfers need exactly that, and live delivery
//! will broadcast from here in sequence order once a write commits. Its requests would otherwise
//! interleave while it awaits D1, so writes queue on `writes`, an async mutex held across the awaits.
//!
//! What it is not: the source of truth. Sequence numbers are assigned inside each write's D1 transaction
//! from `chats.last_seq`, so a restarted or evicted object picks up exactly where D1 is, and idempotency
//! rests on UNIQUE constraints, not on memory.
//!
//! Live delivery: the object also holds the chat's WebSockets, accepted with the hibernation API (an idle
//! socket costs no CPU; the object may be evicted and woken by the next frame, alarm or write). After a
//! write commits, and while the write lock is still held, it sends the write's events to every socket,
//! so events leave in commit order, which is sequence order. A write that fails sends nothing. Each
//! socket's attachment (`LiveSocket`) holds its user and token expiry: an alarm closes expired sockets
//! with 4001, and a write that read the participant list closes the sockets of users no longer in it
//! (4003) instead of sending to them.
//!
//! Protocol (worker -> object, internal only): `GET /live` with `Upgrade: websocket` and the headers
//! `X-Live-User`, `X-Live-Expires` (the worker has checked the token and the membership); `POST /announce`
//! with one event frame to send to every socket (read marks, which do not go through the object);
//! `POST /send`, `/transfer`, `/edit` or `/delete` with
//! `{"caller": {"id","username","firstName","picture"}, "chatId", "body": "<the client's JSON body>",
//! "idempotencyKey": <the Idempotency-Key header or null>, "messageId": <for edits and deletes>}`. The object
//! re-parses the body with the same domain rules, answers the API's JSON (message or error envelope) with
//! its status, and reports its D1 cost in the `X-D1-*` headers for the worker to add to its own.

use std::collections::HashSet;

use futures_util::lock::Mutex;
use serde_json::{json, Value};
use worker::wasm_bindgen::JsValue;
use worker::{
    console_error, durable_object, DurableObject, Env, Method, Request, RequestInit, Response,
    State, WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

use crate::auth::Caller;
use crate::domain::credits::NewTransfer;
use crate::domain::cursor::Cursor;
use crate::domain::ids::{ChatId, MessageId, UserId};
use crate::domain::live::{
    echo_close_code, parse_frame, ClientFrame, FrameError, LiveSocket, CLOSE_NOT_PARTICIPANT,
    CLOSE_TOKEN_EXPIRED,
};
use crate::domain::message::{Change, NewMessage};
use crate::domain::time::now_ms;
use crate::error::{ApiError, Result};
use crate::handlers::Ctx;
use crate::http::{json_response, read_cost, write_cost, Reply};
use crate::store::{credits, messages, Db};
use crate::views;

pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
const USER_HEADER: &str = "X-Live-User";
const EXPIRES_HEADER: &str = "X-Live-Expires";

#[durable_object]
pub struct ChatRoom {
    state: State,
    env: Env,
    /// Held for the whole of each write, D1 awaits and the broadcast included: one write at a time per
    /// chat, and its events out before the next write starts.
    writes: Mutex<()>,
}

impl DurableObject for ChatRoom {
    fn new(state: State, env: Env) -> Self {
        ChatRoom {
            state,
            env,
            writes: Mutex::new(()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        match req.path().as_str() {
            "/live" => {
                return match self.accept(&req).await {
                    Ok(response) => Ok(response),
                    Err(err) => {
                        console_error!("chat room live: {err}");
                        json_response(err.status, err.envelope(now_ms()).to_string())
                            .map_err(|e| worker::Error::RustError(e.to_string()))
                    }
                }
            }
            "/announce" => {
                let frame = req.text().await?;
                self.broadcast(&[frame], None, now_ms());
                return Ok(Response::empty()?.with_status(204));
            }
            _ => {}
        }
        let db = Db::new(self.env.d1("DB")?);
        let outcome = self.handle(&mut req, &db).await;
        let (status, body, replayed) = match outcome {
            Ok(reply) => (
                reply.status,
                reply.body,
                reply
                    .headers
                    .iter()
                    .any(|(name, _)| *name == REPLAYED_HEADER),
            ),
            Err(err) => {
                if err.status >= 500 {
                    console_error!("chat room: {err}");
                }
                (err.status, err.envelope(now_ms()).to_string(), false)
            }
        };
        let mut response =
            json_response(status, body).map_err(|e| worker::Error::RustError(e.to_string()))?;
        write_cost(response.headers_mut(), db.cost())
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        if replayed {
            response.headers_mut().set(REPLAYED_HEADER, "true")?;
        }
        Ok(response)
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> worker::Result<()> {
        let Some(socket) = ws.deserialize_attachment::<LiveSocket>().ok().flatten() else {
            let _ = ws.close(Some(1011), Some("socket state lost; reconnect"));
            return Ok(());
        };
        if socket.expires_at_ms <= now_ms() {
            let _ = ws.close(Some(CLOSE_TOKEN_EXPIRED), Some("token expired"));
            return Ok(());
        }
        let answer = match message {
            WebSocketIncomingMessage::Binary(_) => error_frame(&FrameError {
                id: Value::Null,
                status: 400,
                message: "frames must be JSON text, not binary".into(),
            }),
            WebSocketIncomingMessage::String(text) => self.answer(&socket, &ws, &text).await,
        };
        // A send fails only when the socket is already closing; the client is gone then. An empty
        // answer was already sent (the socket was closed after it).
        if !answer.is_empty() {
            let _ = ws.send_with_str(answer);
        }
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _was_clean: bool,
    ) -> worker::Result<()> {
        // Complete the closing handshake (without this the client's close never finishes).
        let _ = ws.close(Some(echo_close_code(code)), Some(reason));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, error: worker::Error) -> worker::Result<()> {
        console_error!("chat room socket error: {error}");
        let _ = ws.close(Some(1011), Some("socket error"));
        Ok(())
    }

    /// Closes the sockets whose token expired (4001) and sets the alarm for the next expiry.
    async fn alarm(&self) -> worker::Result<Response> {
        let now = now_ms();
        let mut next: Option<i64> = None;
        for ws in self.state.get_websockets() {
            match ws.deserialize_attachment::<LiveSocket>().ok().flatten() {
                Some(s) if s.expires_at_ms <= now => {
                    let _ = ws.close(Some(CLOSE_TOKEN_EXPIRED), Some("token expired"));
                }
                Some(s) => next = Some(next.map_or(s.expires_at_ms, |n| n.min(s.expires_at_ms))),
                None => {}
            }
        }
        if let Some(at) = next {
            self.set_alarm_at(at).await?;
        }
        Response::ok("")
    }
}

/// `{"response": {"id", "error": {"status", "message"}}}`.
fn error_frame(e: &FrameError) -> String {
    json!({"response": {"id": e.id, "error": {"status": e.status, "message": e.message}}})
        .to_string()
}

/// `{"event": <name>, "data": <data JSON>}`, from JSON text already serialized.
fn event_frame(name: &str, data: &str) -> String {
    format!("{{\"event\":\"{name}\",\"data\":{data}}}")
}

/// The `read.updated` event of API.md.
pub fn read_event(chat_id: &str, user_id: &str, last_read_seq: i64) -> String {
    event_frame(
        "read.updated",
        &json!({"chatId": chat_id, "userId": user_id, "lastReadSequence": last_read_seq})
            .to_string(),
    )
}

/// The writes a chat's Durable Object runs; the path of the internal request names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Send,
    Transfer,
    Edit,
    Delete,
}

const OPERATIONS: [Operation; 4] = [
    Operation::Send,
    Operation::Transfer,
    Operation::Edit,
    Operation::Delete,
];

impl Operation {
    fn path(self) -> &'static str {
        match self {
            Operation::Send => "/send",
            Operation::Transfer => "/transfer",
            Operation::Edit => "/edit",
            Operation::Delete => "/delete",
        }
    }

    fn from_path(path: &str) -> Option<Self> {
        OPERATIONS.into_iter().find(|op| op.path() == path)
    }
}

/// A write, parsed (again, with the same rules as the worker) before it waits for the chat's turn.
enum Write {
    Send(NewMessage),
    Transfer(NewTransfer),
    Change(ChatId, MessageId, Change),
}

impl ChatRoom {
    async fn handle(&self, req: &mut Request, db: &Db) -> Result<Reply> {
        let operation = Operation::from_path(&req.path())
            .filter(|_| req.method() == Method::Post)
            .ok_or_else(|| ApiError::not_found("chat room operation"))?;
        let command: Value = req
            .json()
            .await
            .map_err(|_| ApiError::bad_request("malformed chat room command"))?;
        let caller = caller_from_json(&command["caller"])?;
        let body = command["body"].as_str().unwrap_or_default().as_bytes();
        let text = |key: &str| command[key].as_str().unwrap_or_default();
        let write = match operation {
            Operation::Send => Write::Send(NewMessage::parse(body)?),
            Operation::Transfer => Write::Transfer(NewTransfer::parse(
                body,
                command["idempotencyKey"].as_str(),
            )?),
            Operation::Edit | Operation::Delete => Write::Change(
                ChatId::parse(text("chatId"), "chatId")?,
                MessageId::parse(text("messageId"), "messageId")?,
                if operation == Operation::Edit {
                    Change::parse_edit(body)?
                } else {
                    Change::Delete
                },
            ),
        };

        let _turn = self.writes.lock().await;
        // With sockets open, the write also reads the participant list, so that users no longer in
        // the chat are cut off instead of sent to.
        let listening = !self.state.get_websockets().is_empty();
        let (row, status, replayed, read_marks, event) = match write {
            Write::Send(message) => {
                let o = messages::send(db, &caller, &message, now_ms(), listening).await?;
                (o.message, 201, !o.created, o.read_marks, "message.created")
            }
            Write::Transfer(transfer) => {
                let o = credits::transfer(db, &caller, &transfer, now_ms(), listening).await?;
                (o.message, 201, !o.created, o.read_marks, "message.created")
            }
            Write::Change(chat_id, message_id, change) => {
                let c = messages::change(db, &caller.id, &chat_id, &message_id, &change, now_ms())
                    .await?;
                let event = match change {
                    Change::Edit(_) => "message.updated",
                    Change::Delete => "message.deleted",
                };
                (c.message, 200, !c.changed, c.read_marks, event)
            }
        };
        let marks = read_marks.iter().map(|(user, mark)| (user.as_str(), *mark));
        let read_by = views::read_by(row.seq, &row.sender_id, marks);
        let reply = Reply::json(status, &views::Message { row: &row, read_by })?;
        if replayed {
            // Nothing new was committed: nothing to announce.
            return Ok(reply.with_header(REPLAYED_HEADER, "true"));
        }
        if listening {
            let mut frames = vec![event_frame(event, &reply.body)];
            if status == 201 {
                // A new message moves its sender's read mark to it.
                frames.push(read_event(&row.chat_id, &row.sender_id, row.seq));
            }
            let members: Option<HashSet<&str>> = (!read_marks.is_empty())
                .then(|| read_marks.iter().map(|(user, _)| user.as_str()).collect());
            self.broadcast(&frames, members.as_ref(), now_ms());
        }
        Ok(reply)
    }

    /// Accepts a socket for the user the worker vouches for (token and membership checked there).
    async fn accept(&self, req: &Request) -> Result<Response> {
        let header = |name: &str| req.headers().get(name).ok().flatten();
        let user = UserId::parse(&header(USER_HEADER).unwrap_or_default(), "user")?;
        let expires_at_ms = header(EXPIRES_HEADER)
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| ApiError::bad_request("live: missing expiry"))?;
        let chat = req
            .url()
            .ok()
            .and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == "chat")
                    .map(|(_, v)| v.to_string())
            })
            .ok_or_else(|| ApiError::bad_request("live: missing chat"))?;
        let chat = ChatId::parse(&chat, "chat")?;
        let pair = WebSocketPair::new().map_err(internal)?;
        self.state.accept_web_socket(&pair.server);
        pair.server
            .serialize_attachment(&LiveSocket {
                user: user.as_str().to_string(),
                chat: chat.as_str().to_string(),
                expires_at_ms,
            })
            .map_err(internal)?;
        self.set_alarm_at(expires_at_ms).await.map_err(internal)?;
        Response::from_websocket(pair.client).map_err(internal)
    }

    /// Makes the alarm fire no later than `at` (epoch ms).
    async fn set_alarm_at(&self, at: i64) -> worker::Result<()> {
        let storage = self.state.storage();
        let current = storage.get_alarm().await?;
        if current.is_none_or(|c| at < c) {
            let when = chrono::DateTime::from_timestamp_millis(at).unwrap_or_default();
            storage.set_alarm(when).await?;
        }
        Ok(())
    }

    /// Sends `frames` to every socket, in order. Sockets past their token's expiry are closed with
    /// 4001; with `members` known, sockets of users not in it are closed with 4003.
    fn broadcast(&self, frames: &[String], members: Option<&HashSet<&str>>, now: i64) {
        for ws in self.state.get_websockets() {
            let Some(socket) = ws.deserialize_attachment::<LiveSocket>().ok().flatten() else {
                continue;
            };
            if socket.expires_at_ms <= now {
                let _ = ws.close(Some(CLOSE_TOKEN_EXPIRED), Some("token expired"));
                continue;
            }
            if members.is_some_and(|m| !m.contains(socket.user.as_str())) {
                let _ = ws.close(
                    Some(CLOSE_NOT_PARTICIPANT),
                    Some("not a participant of this chat"),
                );
                continue;
            }
            for frame in frames {
                // Fails only for a socket that is closing; the others still get the frame.
                let _ = ws.send_with_str(frame);
            }
        }
    }

    /// The answer to one client frame.
    async fn answer(&self, socket: &LiveSocket, ws: &WebSocket, text: &str) -> String {
        let Ok(chat) = ChatId::parse(&socket.chat, "chat") else {
            return error_frame(&FrameError {
                id: Value::Null,
                status: 500,
                message: "internal error".into(),
            });
        };
        let (id, query) = match parse_frame(text, &chat) {
            Ok(ClientFrame::Ping(value)) => return json!({ "pong": value }).to_string(),
            Ok(ClientFrame::MessageList { id, query }) => (id, query),
            Err(e) => return error_frame(&e),
        };
        let failed = |e: ApiError| {
            if e.status >= 500 {
                console_error!("chat room message_list: {e}");
            }
            error_frame(&FrameError {
                id: id.clone(),
                status: e.status,
                message: if e.status >= 500 {
                    "internal error".into()
                } else {
                    e.errors.join("; ")
                },
            })
        };
        let user = match UserId::parse(&socket.user, "user") {
            Ok(user) => user,
            Err(e) => return failed(e),
        };
        let db = match self.env.d1("DB") {
            Ok(db) => Db::new(db),
            Err(e) => return failed(internal(e)),
        };
        let page = match messages::list_window(&db, &user, &chat, &query).await {
            Ok(Some(page)) => page,
            Ok(None) => {
                // No longer a participant: say so, then close (the error frame goes out first).
                let _ = ws.send_with_str(failed(ApiError::not_found("chat")));
                let _ = ws.close(
                    Some(CLOSE_NOT_PARTICIPANT),
                    Some("not a participant of this chat"),
                );
                return String::new();
            }
            Err(e) => return failed(e),
        };
        match crate::handlers::messages::window_outcome(&query, &page) {
            Ok((kept, next)) => serde_json::to_string(&views::SamaList {
                id: &id,
                messages: &page.messages[..kept],
                participants: &page.participants,
                next_cursor: next.and_then(|w| Cursor::encode(&chat, &w)),
            })
            .unwrap_or_else(|e| failed(ApiError::internal(e.to_string()))),
            Err(e) => failed(e),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

/// What the worker asks the chat's Durable Object to do.
pub struct Command {
    pub operation: Operation,
    /// The client's JSON body, re-parsed by the object.
    pub body: Vec<u8>,
    /// The `Idempotency-Key` header, if any.
    pub idempotency_key: Option<String>,
    /// The message an edit or delete is about.
    pub message_id: Option<MessageId>,
}

fn caller_to_json(caller: &Caller) -> Value {
    json!({
        "id": caller.id.as_str(), "username": caller.username, "firstName": caller.first_name,
        "picture": caller.picture, "expiresAtMs": caller.expires_at_ms,
    })
}

fn caller_from_json(value: &Value) -> Result<Caller> {
    let text = |key: &str| value[key].as_str().map(str::to_string);
    Ok(Caller {
        id: UserId::parse(value["id"].as_str().unwrap_or_default(), "caller.id")?,
        username: text("username"),
        first_name: text("firstName"),
        picture: text("picture"),
        expires_at_ms: value["expiresAtMs"].as_i64().unwrap_or_default(),
    })
}

/// The chat's Durable Object: one per chat, wherever in the world it lives.
fn stub(ctx: &Ctx, chat_id: &ChatId) -> Result<worker::Stub> {
    Ok(ctx
        .env
        .durable_object("CHAT_ROOM")?
        .id_from_name(chat_id.as_str())?
        .get_stub()?)
}

/// Worker side: runs a validated write of the chat in the chat's Durable Object. `body` is the client's
/// JSON body (re-parsed there with the same rules), `key` the `Idempotency-Key` header if any.
pub async fn call(ctx: &Ctx, caller: &Caller, chat_id: &ChatId, command: Command) -> Result<Reply> {
    let operation = command.operation;
    let body = String::from_utf8(command.body)
        .map_err(|_| ApiError::bad_request("request body must be UTF-8"))?;
    let command = json!({
        "caller": caller_to_json(caller), "chatId": chat_id.as_str(), "body": body,
        "idempotencyKey": command.idempotency_key, "messageId": command.message_id.as_ref().map(MessageId::as_str),
    });
    let stub = stub(ctx, chat_id)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(&command.to_string())));
    let request = Request::new_with_init(&format!("https://chat-room{}", operation.path()), &init)?;
    let mut response = stub.fetch_with_request(request).await?;
    ctx.db.add_cost(read_cost(&response));
    let status = response.status_code();
    let replayed = response
        .headers()
        .get(REPLAYED_HEADER)
        .ok()
        .flatten()
        .is_some();
    let text = response.text().await?;
    if status >= 400 {
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let errors = answer["errors"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_else(|| vec!["internal error".to_string()]);
        let retry_after = (status == 503).then_some(1);
        return Err(ApiError {
            status,
            errors,
            retry_after,
            log_detail: None,
        });
    }
    let reply = Reply {
        status,
        body: text,
        headers: Vec::new(),
    };
    Ok(if replayed {
        reply.with_header(REPLAYED_HEADER, "true")
    } else {
        reply
    })
}

/// Worker side: hands a checked WebSocket upgrade to the chat's Durable Object and returns its 101.
pub async fn open_live(ctx: &Ctx, caller: &Caller, chat_id: &ChatId) -> Result<Response> {
    let stub = stub(ctx, chat_id)?;
    let mut init = RequestInit::new();
    let headers = worker::Headers::new();
    headers.set("Upgrade", "websocket")?;
    headers.set(USER_HEADER, caller.id.as_str())?;
    headers.set(EXPIRES_HEADER, &caller.expires_at_ms.to_string())?;
    init.with_method(Method::Get).with_headers(headers);
    let request = Request::new_with_init(
        &format!("https://chat-room/live?chat={}", chat_id.as_str()),
        &init,
    )?;
    Ok(stub.fetch_with_request(request).await?)
}

/// Worker side: tells the chat's live sockets that a read mark moved (after its commit). Best effort: a
/// failure is logged, the read mark stands, and clients that missed the event see it in the chat.
pub async fn announce_read(ctx: &Ctx, chat_id: &ChatId, user: &UserId, last_read_seq: i64) {
    let frame = read_event(chat_id.as_str(), user.as_str(), last_read_seq);
    let outcome: Result<()> = async {
        let stub = stub(ctx, chat_id)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(JsValue::from_str(&frame)));
        let request = Request::new_with_init("https://chat-room/announce", &init)?;
        stub.fetch_with_request(request).await?;
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        console_error!("announcing a read mark of chat {chat_id}: {e}");
    }
}

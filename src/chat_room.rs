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
//! Protocol (worker -> object, internal only): `POST /send`, `/transfer`, `/edit` or `/delete` with
//! `{"caller": {"id","username","firstName","picture"}, "chatId", "body": "<the client's JSON body>",
//! "idempotencyKey": <the Idempotency-Key header or null>, "messageId": <for edits and deletes>}`. The object
//! re-parses the body with the same domain rules, answers the API's JSON (message or error envelope) with
//! its status, and reports its D1 cost in the `X-D1-*` headers for the worker to add to its own.

use futures_util::lock::Mutex;
use serde_json::{json, Value};
use worker::wasm_bindgen::JsValue;
use worker::{
    console_error, durable_object, DurableObject, Env, Method, Request, RequestInit, Response,
    State,
};

use crate::auth::Caller;
use crate::domain::credits::NewTransfer;
use crate::domain::ids::{ChatId, MessageId, UserId};
use crate::domain::message::{Change, NewMessage};
use crate::domain::time::now_ms;
use crate::error::{ApiError, Result};
use crate::handlers::Ctx;
use crate::http::{json_response, read_cost, write_cost, Reply};
use crate::store::{credits, messages, Db};
use crate::views;

pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

#[durable_object]
pub struct ChatRoom {
    env: Env,
    /// Held for the whole of each write, D1 awaits included: one write at a time per chat.
    writes: Mutex<()>,
}

impl DurableObject for ChatRoom {
    fn new(_state: State, env: Env) -> Self {
        ChatRoom {
            env,
            writes: Mutex::new(()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
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
        let (row, status, replayed, read_marks) = match write {
            Write::Send(message) => {
                let o = messages::send(db, &caller, &message, now_ms()).await?;
                (o.message, 201, !o.created, o.read_marks)
            }
            Write::Transfer(transfer) => {
                let o = credits::transfer(db, &caller, &transfer, now_ms()).await?;
                (o.message, 201, !o.created, o.read_marks)
            }
            Write::Change(chat_id, message_id, change) => {
                let (row, marks) =
                    messages::change(db, &caller.id, &chat_id, &message_id, &change, now_ms())
                        .await?;
                (row, 200, false, marks)
            }
        };
        let marks = read_marks.iter().map(|(user, mark)| (user.as_str(), *mark));
        let read_by = views::read_by(row.seq, &row.sender_id, marks);
        let reply = Reply::json(status, &views::Message { row: &row, read_by })?;
        Ok(if replayed {
            reply.with_header(REPLAYED_HEADER, "true")
        } else {
            reply
        })
    }
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
    let stub = ctx
        .env
        .durable_object("CHAT_ROOM")?
        .id_from_name(chat_id.as_str())?
        .get_stub()?;
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

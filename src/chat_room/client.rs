//! The worker's side of the chat room: sends a checked write, a socket upgrade or a read-mark notice to
//! the chat's Durable Object, and turns its typed answer into the HTTP reply.

use worker::wasm_bindgen::JsValue;
use worker::{console_error, Headers, Method, Request, RequestInit, Response, Stub, WebSocket};

use super::protocol::{ReadEvent, RoomReply, RoomRequest, Write, Written, SOCKET_HEADER};
use crate::auth::{Author, Caller};
use crate::context::Ctx;
use crate::domain::ids::{ChatId, UserId};
use crate::domain::live::LiveSocket;
use crate::error::{ApiError, Result};
use crate::http::{Reply, REPLAYED_HEADER};
use crate::views;

/// The chat's Durable Object: one per chat, wherever in the world it lives.
fn stub(ctx: &Ctx, chat_id: &ChatId) -> Result<Stub> {
    Ok(ctx
        .env
        .durable_object("CHAT_ROOM")?
        .id_from_name(chat_id.as_str())?
        .get_stub()?)
}

/// The header that tells the chat's Durable Object the origin the request came to (for the file URLs
/// of the events it sends, when `PUBLIC_ORIGIN` is not set).
pub const ORIGIN_HEADER: &str = "X-Edge-Chat-Origin";

async fn post(ctx: &Ctx, chat_id: &ChatId, request: &RoomRequest) -> Result<Response> {
    let headers = Headers::new();
    headers.set(ORIGIN_HEADER, &ctx.here)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&serde_json::to_string(request)?)));
    let request = Request::new_with_init("https://chat-room/", &init)?;
    Ok(stub(ctx, chat_id)?.fetch_with_request(request).await?)
}

/// A write of the service itself (no request behind it: the cron trigger's jobs) in its chat's
/// Durable Object.
async fn call(env: &worker::Env, write: Write) -> Result<RoomReply> {
    let chat_id = write.chat_id().clone();
    let request = RoomRequest::Write {
        author: Author::moderator()?,
        write,
    };
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(&serde_json::to_string(&request)?)));
    let request = Request::new_with_init("https://chat-room/", &init)?;
    let stub = env
        .durable_object("CHAT_ROOM")?
        .id_from_name(chat_id.as_str())?
        .get_stub()?;
    Ok(stub.fetch_with_request(request).await?.json().await?)
}

/// Asks chat `chat_id`'s Durable Object to queue the webhook events a crash left in the outbox (the
/// sweep's call).
pub async fn recover(env: &worker::Env, chat_id: &ChatId) -> Result<()> {
    let chat_id = chat_id.clone();
    call(env, Write::Recover { chat_id })
        .await?
        .outcome
        .map(|_| ())
}

/// A step of user `user`'s erasure in chat `chat_id` (the erasure's driver's call): the messages it
/// tombstoned, whether the user left, whether more are left, and the D1 work the object did.
pub async fn erase(
    env: &worker::Env,
    chat_id: &ChatId,
    user: &UserId,
) -> Result<((i64, bool, bool), crate::store::Cost)> {
    let write = Write::Erase {
        chat_id: chat_id.clone(),
        user_id: user.clone(),
    };
    let reply = call(env, write).await?;
    reply.outcome?;
    Ok((reply.erased.unwrap_or((0, false, false)), reply.cost))
}

/// Runs a checked write in its chat's Durable Object; the stored message (`None`: a change of members
/// that altered nothing), or the object's error.
pub async fn run(ctx: &Ctx, author: Author, write: Write) -> Result<Option<Written>> {
    let chat_id = write.chat_id().clone();
    let request = RoomRequest::Write { author, write };
    let reply: RoomReply = post(ctx, &chat_id, &request).await?.json().await?;
    ctx.db.add_cost(reply.cost);
    ctx.db.note_bookmark(reply.bookmark);
    reply.outcome
}

/// `run` for a write that always stores a message (a send, a transfer, an edit, a delete).
pub async fn write(ctx: &Ctx, author: Author, write: Write) -> Result<Written> {
    run(ctx, author, write)
        .await?
        .ok_or_else(|| ApiError::internal("chat room: a write stored no message"))
}

/// `write`, answered as the main API does: the Message with the write's status, and
/// `Idempotent-Replayed: true` on a replay.
pub async fn write_reply(ctx: &Ctx, author: Author, write: Write) -> Result<Reply> {
    let status = write.success_status();
    let written = self::write(ctx, author, write).await?;
    let read_by = written.read_by.iter().map(String::as_str).collect();
    let body = Reply::json(status, &views::Message::new(&written.message, read_by))?;
    Ok(if written.replayed {
        body.with_header(REPLAYED_HEADER, "true")
    } else {
        body
    })
}

/// Hands a checked WebSocket upgrade (token and membership checked here) to the chat's Durable
/// Object; returns the client end of the socket it accepted.
/// `shown`: the user's availability is not `offline` (they may be shown online).
pub async fn open_live(
    ctx: &Ctx,
    caller: &Caller,
    chat_id: &ChatId,
    shown: bool,
) -> Result<WebSocket> {
    let socket = LiveSocket {
        user: caller.id.clone(),
        chat: chat_id.clone(),
        expires_at_ms: caller.expires_at_ms,
        window_start_ms: 0,
        frames_in_window: 0,
        typing_until: 0,
        shown,
        closed: false,
    };
    let headers = Headers::new();
    headers.set("Upgrade", "websocket")?;
    headers.set(SOCKET_HEADER, &serde_json::to_string(&socket)?)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let request = Request::new_with_init("https://chat-room/live", &init)?;
    let mut response = stub(ctx, chat_id)?.fetch_with_request(request).await?;
    if response.status_code() == 101 {
        if let Some(ws) = response.websocket() {
            return Ok(ws);
        }
        return Err(ApiError::internal(
            "chat room answered 101 without a socket",
        ));
    }
    Err(response
        .json::<ApiError>()
        .await
        .unwrap_or_else(|e| ApiError::internal(format!("chat room live: {e}"))))
}

/// The users with a live socket open to the chat, each once (the object's own view: membership and
/// availability are the caller's to check).
pub async fn presence(ctx: &Ctx, chat_id: &ChatId) -> Result<Vec<String>> {
    Ok(post(ctx, chat_id, &RoomRequest::Presence)
        .await?
        .json()
        .await?)
}

/// Tells the chat's live sockets that a read mark moved (after its commit). Best effort: a failure is
/// logged, the read mark stands, and clients that missed the event see it in the chat.
pub async fn announce_read(ctx: &Ctx, event: ReadEvent) {
    let chat_id = event.chat_id.clone();
    if let Err(e) = post(ctx, &chat_id, &RoomRequest::ReadMoved(event)).await {
        console_error!("announcing a read mark of chat {chat_id}: {e}");
    }
}

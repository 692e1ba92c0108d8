//! `GET /api/v1/chats/{chatId}/live`: a WebSocket on one chat (API.md "Live delivery"). Everything a
//! client can get wrong is answered here as plain HTTP in the error envelope, before any upgrade: a bad
//! token (401, checked by the route's target), a request without `Upgrade: websocket` (426), a chat the
//! caller is not in (404). Only then is the upgrade handed to the chat's Durable Object, which holds the
//! socket. The rest of the client's handshake (`Sec-WebSocket-Version: 13`, `Sec-WebSocket-Key`) never
//! reaches the worker: workerd shows it a handshake of its own and checks the client's when the 101
//! goes out, answering a bad one with a plain-text 400 of its own.

use worker::Request;

use crate::auth::Caller;
use crate::chat_room::client;
use crate::context::Ctx;
use crate::domain::ids::ChatId;
use crate::domain::user::Availability;
use crate::error::{ApiError, Result};
use crate::http::{header, Reply};
use crate::store::chats;

pub async fn open(req: &Request, ctx: &Ctx, caller: &Caller, chat_id: &ChatId) -> Result<Reply> {
    let upgrade = header(req, "Upgrade");
    if !upgrade.is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket")) {
        return Err(ApiError::new(
            426,
            "this endpoint opens a WebSocket: send Upgrade: websocket",
        ));
    }
    let availability = chats::membership(&ctx.db, &caller.id, chat_id)
        .await?
        .ok_or_else(|| ApiError::not_found("chat"))?;
    let shown = availability != Availability::Offline;
    Ok(Reply::upgrade(
        client::open_live(ctx, caller, chat_id, shown).await?,
    ))
}

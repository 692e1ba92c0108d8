//! `GET /api/v1/chats/{chatId}/live`: a WebSocket on one chat (API.md "Live delivery"). Everything a
//! client can get wrong is answered here as plain HTTP in the error envelope, before any upgrade: a bad
//! token (401), a chat the caller is not in (404), a request without `Upgrade: websocket` (426). Only
//! then is the upgrade handed to the chat's Durable Object, which holds the socket.

use worker::{Request, Response};

use super::Ctx;
use crate::auth::Caller;
use crate::chat_room;
use crate::domain::ids::ChatId;
use crate::error::{ApiError, Result};
use crate::http::{header, query};
use crate::store::chats;

/// The caller: from the `Authorization` header, or (for browsers, which cannot set headers on a
/// WebSocket) from the `access_token` query parameter.
fn caller(req: &Request, ctx: &Ctx) -> Result<Caller> {
    if header(req, "Authorization").is_some() {
        return ctx.authenticate(req);
    }
    let token = query(req)?.get("access_token").map(str::to_string);
    ctx.authenticate_token(token.as_deref())
}

pub async fn open(req: &Request, ctx: &Ctx, chat_id: &ChatId) -> Result<Response> {
    let caller = caller(req, ctx)?;
    let upgrade = header(req, "Upgrade");
    if !upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Err(ApiError::new(
            426,
            "this endpoint opens a WebSocket: send Upgrade: websocket",
        ));
    }
    if !chats::is_member(&ctx.db, &caller.id, chat_id).await? {
        return Err(ApiError::not_found("chat"));
    }
    chat_room::open_live(ctx, &caller, chat_id).await
}

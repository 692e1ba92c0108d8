//! `POST /api/v1/messages/credit-transfer`, `POST /api/v1/admin/credits`,
//! `GET /api/v1/users/me/credits/ledger`.

use serde_json::json;
use worker::Request;

use super::Ctx;
use crate::auth::{constant_time_eq, Caller};
use crate::chat_room::{self, Command, Operation};
use crate::domain::credits::{NewGrant, NewTransfer};
use crate::domain::pagination::{PageInfo, PageRequest};
use crate::error::{ApiError, Result};
use crate::http::{header, query, read_json_body, Reply};
use crate::store::credits;
use crate::views;

/// Validated here (bad input never reaches the Durable Object), executed by the chat's Durable Object.
pub async fn credit_transfer(req: &mut Request, ctx: &Ctx, caller: &Caller) -> Result<Reply> {
    let key = header(req, "Idempotency-Key");
    let body = read_json_body(req).await?;
    let transfer = NewTransfer::parse(&body, key.as_deref())?;
    chat_room::call(
        ctx,
        caller,
        &transfer.chat_id,
        Command {
            operation: Operation::Transfer,
            body,
            idempotency_key: key,
            message_id: None,
        },
    )
    .await
}

/// Admin only: the `X-API-Key` header must equal the `ADMIN_API_KEY` secret (compared in constant time).
pub async fn grant_credits(req: &mut Request, ctx: &Ctx) -> Result<Reply> {
    let given = header(req, "X-API-Key").unwrap_or_default();
    let expected = &ctx.config.admin_api_key;
    if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::unauthorized("a valid X-API-Key is required"));
    }
    let key = header(req, "Idempotency-Key");
    let grant = NewGrant::parse(&read_json_body(req).await?, key.as_deref())?;
    let (credits, created) = credits::grant(&ctx.db, &grant, ctx.now_ms).await?;
    let reply = Reply::created(&json!({"userId": grant.user.as_str(), "credits": credits}))?;
    Ok(if created {
        reply
    } else {
        reply.with_header(chat_room::REPLAYED_HEADER, "true")
    })
}

pub async fn ledger(req: &Request, ctx: &Ctx, caller: &Caller) -> Result<Reply> {
    let page = PageRequest::parse(query(req)?)?;
    let (entries, total) = credits::ledger_page(&ctx.db, &caller.id, page).await?;
    Reply::ok(&views::Ledger {
        entries: &entries,
        info: PageInfo::new(page, total),
    })
}

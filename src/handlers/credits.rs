//! `POST /api/v1/messages/credit-transfer`, `POST /api/v1/admin/credits`,
//! `GET /api/v1/users/me/credits/ledger`.

use worker::Request;

use crate::auth::{Author, Caller};
use crate::chat_room::client;
use crate::chat_room::protocol::Write;
use crate::context::Ctx;
use crate::domain::credits::{NewGrant, NewTransfer};
use crate::domain::pagination::{PageInfo, PageRequest};
use crate::error::Result;
use crate::http::{header, query, read_json_body, Reply, REPLAYED_HEADER};
use crate::store::credits;
use crate::views;

/// Checked here (bad input never reaches the Durable Object), executed by the chat's Durable Object.
pub async fn credit_transfer(req: &mut Request, ctx: &Ctx, caller: &Caller) -> Result<Reply> {
    let key = header(req, "Idempotency-Key");
    let transfer = NewTransfer::parse(&read_json_body(req).await?, key.as_deref())?;
    client::write_reply(ctx, Author::User(caller.clone()), Write::Transfer(transfer)).await
}

/// Admin only (checked by the route's target).
pub async fn grant_credits(req: &mut Request, ctx: &Ctx) -> Result<Reply> {
    let key = header(req, "Idempotency-Key");
    let grant = NewGrant::parse(&read_json_body(req).await?, key.as_deref())?;
    let (credits, created) = credits::grant(&ctx.db, &grant, ctx.now_ms).await?;
    let reply = Reply::created(&views::Grant {
        user_id: grant.user.as_str(),
        credits,
    })?;
    Ok(if created {
        reply
    } else {
        reply.with_header(REPLAYED_HEADER, "true")
    })
}

pub async fn ledger(req: &Request, ctx: &Ctx, caller: &Caller) -> Result<Reply> {
    let page = PageRequest::parse(query(req)?)?;
    let (entries, total) = credits::ledger_page(&ctx.db, &caller.id, page).await?;
    Reply::ok(&views::Ledger::new(&entries, PageInfo::new(page, total)))
}

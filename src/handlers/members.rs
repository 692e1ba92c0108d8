//! A group's members, roles and title (`/api/v1/chats/{chatId}/members...`, `PATCH /api/v1/chats/{id}`),
//! the caller's own settings of a chat (`PATCH /api/v1/chats/{chatId}/me`), the unread totals
//! (`GET /api/v1/users/me/unread`) and who is online (`GET /api/v1/chats/{chatId}/presence`).

use worker::Request;

use crate::auth::{Author, Caller};
use crate::chat_room::client;
use crate::chat_room::protocol::Write;
use crate::context::Ctx;
use crate::domain::ids::{ChatId, UserId};
use crate::domain::members::{MemberChange, Settings};
use crate::error::{ApiError, Result};
use crate::http::{read_json_body, Reply};
use crate::store::{chats, Reach};
use crate::views;

/// Runs a change in the chat's Durable Object (which decides it against the chat as it is, in line
/// with the chat's other writes), then answers the chat as the caller now sees it.
async fn change(
    ctx: &Ctx,
    caller: &Caller,
    chat_id: &ChatId,
    change: MemberChange,
) -> Result<Reply> {
    let write = Write::Members {
        chat_id: chat_id.clone(),
        change,
    };
    client::run(ctx, Author::User(caller.clone()), write).await?;
    chat_reply(ctx, caller, chat_id).await
}

async fn chat_reply(ctx: &Ctx, caller: &Caller, chat_id: &ChatId) -> Result<Reply> {
    let chat = chats::find_for(&ctx.db, Reach::Member(&caller.id), chat_id)
        .await?
        .ok_or_else(|| ApiError::not_found("chat"))?
        .decode()?;
    Reply::ok(&views::Chat::new(&chat))
}

pub async fn add(req: &mut Request, ctx: &Ctx, caller: &Caller, chat_id: &ChatId) -> Result<Reply> {
    let added = MemberChange::parse_add(&read_json_body(req).await?)?;
    change(ctx, caller, chat_id, added).await
}

/// Removing a member, or leaving (the caller's own id): 204.
/// A member named in the path: `me` is the caller (docs/CHOICES.md), like `/users/me`.
fn named(caller: &Caller, user: UserId) -> UserId {
    if user.as_str() == "me" {
        caller.id.clone()
    } else {
        user
    }
}

pub async fn remove(ctx: &Ctx, caller: &Caller, chat_id: &ChatId, user: UserId) -> Result<Reply> {
    let write = Write::Members {
        chat_id: chat_id.clone(),
        change: MemberChange::Remove(named(caller, user)),
    };
    client::run(ctx, Author::User(caller.clone()), write).await?;
    Ok(Reply::json_text(204, ""))
}

pub async fn set_role(
    req: &mut Request,
    ctx: &Ctx,
    caller: &Caller,
    chat_id: &ChatId,
    user: UserId,
) -> Result<Reply> {
    let role = MemberChange::parse_role(&read_json_body(req).await?, named(caller, user))?;
    change(ctx, caller, chat_id, role).await
}

pub async fn rename(
    req: &mut Request,
    ctx: &Ctx,
    caller: &Caller,
    chat_id: &ChatId,
) -> Result<Reply> {
    let renamed = MemberChange::parse_rename(&read_json_body(req).await?)?;
    change(ctx, caller, chat_id, renamed).await
}

/// The caller's own settings: written here, not in the chat's object (they order nothing). One round
/// trip.
pub async fn settings(
    req: &mut Request,
    ctx: &Ctx,
    caller: &Caller,
    chat_id: &ChatId,
) -> Result<Reply> {
    let settings = Settings::parse(&read_json_body(req).await?)?;
    let chat = chats::change_settings(&ctx.db, &caller.id, chat_id, settings)
        .await?
        .ok_or_else(|| ApiError::not_found("chat"))?
        .decode()?;
    Reply::ok(&views::Chat::new(&chat))
}

pub async fn unread(ctx: &Ctx, caller: &Caller) -> Result<Reply> {
    let totals = chats::unread(&ctx.db, &caller.id).await?;
    Reply::ok(&views::Unread::new(totals))
}

/// Who is online in the chat: the object's sockets, narrowed by D1 to the members now whose
/// availability is not `offline` (and 404 unless the caller is one of them).
pub async fn presence(ctx: &Ctx, caller: &Caller, chat_id: &ChatId) -> Result<Reply> {
    let online = client::presence(ctx, chat_id).await?;
    let shown = chats::shown_online(&ctx.db, &caller.id, chat_id, &online)
        .await?
        .ok_or_else(|| ApiError::not_found("chat"))?;
    Reply::ok(&views::Presence { online: shown })
}

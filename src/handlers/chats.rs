//! `POST /api/v1/chats`, `GET /api/v1/chats`, `GET /api/v1/chats/{chatId}`.

use worker::Request;

use super::Ctx;
use crate::auth::Caller;
use crate::domain::chat::NewChat;
use crate::domain::ids::ChatId;
use crate::domain::pagination::{PageInfo, PageRequest};
use crate::error::{ApiError, Result};
use crate::http::{query, read_json_body, Reply};
use crate::store::chats;
use crate::views;

pub async fn create_chat(req: &mut Request, ctx: &Ctx, caller: &Caller) -> Result<Reply> {
    let new_chat = NewChat::parse(&read_json_body(req).await?, &caller.id)?;
    let (row, created) = chats::create(&ctx.db, caller, &new_chat, ctx.now_ms).await?;
    Reply::json(if created { 201 } else { 200 }, &views::Chat::new(row)?)
}

pub async fn list_chats(req: &Request, ctx: &Ctx, caller: &Caller) -> Result<Reply> {
    let page = PageRequest::parse(query(req)?)?;
    let (rows, total) = chats::list_for(&ctx.db, &caller.id, page).await?;
    let chats = rows
        .into_iter()
        .map(views::Chat::new)
        .collect::<Result<Vec<_>>>()?;
    Reply::ok(&views::ChatList {
        chats,
        info: PageInfo::new(page, total),
    })
}

pub async fn get_chat(ctx: &Ctx, caller: &Caller, chat_id: &ChatId) -> Result<Reply> {
    let row = chats::find_for(&ctx.db, &caller.id, chat_id)
        .await?
        .ok_or_else(|| ApiError::not_found("chat"))?;
    Reply::ok(&views::Chat::new(row)?)
}

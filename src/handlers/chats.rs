//! `POST /api/v1/chats`, `GET /api/v1/chats`, `GET /api/v1/chats/{chatId}`.

use worker::Request;

use crate::auth::{Caller, Credential};
use crate::context::{reach, Ctx};
use crate::domain::chat::{ChatListParams, ChatListQuery, NewChat};
use crate::domain::ids::ChatId;
use crate::domain::pagination::PageInfo;
use crate::error::{ApiError, Result};
use crate::http::{query, read_json_body, Reply};
use crate::store::{chat_list, chats};
use crate::views;

pub async fn create_chat(req: &mut Request, ctx: &Ctx, caller: &Caller) -> Result<Reply> {
    let new_chat = NewChat::parse(&read_json_body(req).await?, &caller.id)?;
    let (row, created) = chats::create(&ctx.db, caller, &new_chat, ctx.now_ms).await?;
    let chat = row.decode()?;
    Reply::json(if created { 201 } else { 200 }, &views::Chat::new(&chat))
}

pub async fn list_chats(req: &Request, ctx: &Ctx, caller: &Caller) -> Result<Reply> {
    let list = ChatListQuery::try_from(query::<ChatListParams>(req)?)?;
    let (records, total) =
        chat_list::page(&ctx.db, &caller.id, list.page, &list.list_key()).await?;
    Reply::ok(&views::ChatList {
        chats: records.iter().map(views::Chat::new).collect(),
        info: PageInfo::new(list.page, total),
    })
}

pub async fn get_chat(ctx: &Ctx, who: &Credential, chat_id: &ChatId) -> Result<Reply> {
    let chat = chats::find_for(&ctx.db, reach(who), chat_id)
        .await?
        .ok_or_else(|| ApiError::not_found("chat"))?
        .decode()?;
    Reply::ok(&views::Chat::new(&chat))
}

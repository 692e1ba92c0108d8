//! `GET /api/v1/messages/chat/{chatId}`, `POST /api/v1/messages`, `POST /api/v1/messages/chat/{chatId}/read`.

use serde_json::json;
use worker::Request;

use super::Ctx;
use crate::auth::Caller;
use crate::chat_room::{self, Command, Operation};
use crate::domain::cursor::{
    continue_range, continue_sync, is_cursor_query, Bound, Cursor, CursorQuery, Window,
};
use crate::domain::ids::ChatId;
use crate::domain::ids::MessageId;
use crate::domain::input::{JsonBody, MAX_SAFE_INTEGER};
use crate::domain::message::{Change, NewMessage};
use crate::domain::pagination::{MessagePageQuery, PageInfo};
use crate::error::{ApiError, Result};
use crate::http::{query, read_json_body, Reply};
use crate::store::messages::WindowPage;
use crate::store::{chats, messages};
use crate::views;

pub async fn list_messages(
    req: &Request,
    ctx: &Ctx,
    caller: &Caller,
    chat_id: &ChatId,
) -> Result<Reply> {
    let params = query(req)?;
    if is_cursor_query(&params) {
        return list_window(ctx, caller, chat_id, CursorQuery::parse(params, chat_id)?).await;
    }
    let request = MessagePageQuery::parse(params)?;
    let page = messages::list_page(&ctx.db, &caller.id, chat_id, request.page, request.as_of)
        .await?
        .ok_or_else(|| ApiError::not_found("chat"))?;
    let snapshot = request.as_of.unwrap_or(page.chat_last_seq);
    if snapshot > page.chat_last_seq {
        return Err(ApiError::bad_request(format!(
            "asOf must be between 0 and the chat's last sequence number ({})",
            page.chat_last_seq
        )));
    }
    // Sequence numbers are dense, so the snapshot's last sequence number is its message count.
    Reply::ok(&views::MessageList {
        messages: &page.messages,
        participants: &page.participants,
        info: PageInfo::new(request.page, snapshot),
        as_of_sequence: snapshot,
    })
}

/// Cursor mode: `before` / `after`, `ids`, the sync window, or a `cursor` continuing one of them.
async fn list_window(
    ctx: &Ctx,
    caller: &Caller,
    chat_id: &ChatId,
    request: CursorQuery,
) -> Result<Reply> {
    let page = messages::list_window(&ctx.db, &caller.id, chat_id, &request)
        .await?
        .ok_or_else(|| ApiError::not_found("chat"))?;
    let (kept, next) = window_outcome(&request, &page)?;
    Reply::ok(&views::MessageWindow {
        messages: &page.messages[..kept],
        participants: &page.participants,
        limit: request.limit,
        total: page.chat_last_seq,
        next_cursor: next.and_then(|window| Cursor::encode(chat_id, &window)),
    })
}

/// How a cursor-mode page ends: how many of the rows read belong to it, and the window that continues
/// it. Also refuses a `before` / `after` message id that is not in the chat. (The WebSocket's
/// `message_list` shares it.)
pub fn window_outcome(request: &CursorQuery, page: &WindowPage) -> Result<(usize, Option<Window>)> {
    let unknown =
        |name: &str| ApiError::bad_request(format!("{name}: no message with this id in this chat"));
    Ok(match &request.window {
        Window::Ids(_) => (page.messages.len(), None),
        Window::Sync { before, .. } => {
            let positions: Vec<(i64, &str)> = page
                .messages
                .iter()
                .map(|m| (m.updated_at, m.id.as_str()))
                .collect();
            continue_sync(request.limit, *before, &positions)
        }
        Window::Backward { before } => {
            if matches!(before, Bound::Message(_)) && page.before_seq.is_none() {
                return Err(unknown("before"));
            }
            let seqs: Vec<i64> = page.messages.iter().map(|m| m.seq).collect();
            continue_range(
                &request.window,
                0,
                page.before_seq,
                page.chat_last_seq,
                &seqs,
            )
        }
        Window::Forward { after, before } => {
            if matches!(after, Some(Bound::Message(_))) && page.after_seq.is_none() {
                return Err(unknown("after"));
            }
            if matches!(before, Some(Bound::Message(_))) && page.before_seq.is_none() {
                return Err(unknown("before"));
            }
            let seqs: Vec<i64> = page.messages.iter().map(|m| m.seq).collect();
            let after = page.after_seq.unwrap_or(0);
            continue_range(
                &request.window,
                after,
                page.before_seq,
                page.chat_last_seq,
                &seqs,
            )
        }
    })
}

/// Validated here (bad input never reaches the Durable Object), stored by the chat's Durable Object.
pub async fn send_message(req: &mut Request, ctx: &Ctx, caller: &Caller) -> Result<Reply> {
    let body = read_json_body(req).await?;
    let message = NewMessage::parse(&body)?;
    chat_room::call(
        ctx,
        caller,
        &message.chat_id,
        Command {
            operation: Operation::Send,
            body,
            idempotency_key: None,
            message_id: None,
        },
    )
    .await
}

pub async fn mark_read(
    req: &mut Request,
    ctx: &Ctx,
    caller: &Caller,
    chat_id: &ChatId,
) -> Result<Reply> {
    let mut body = JsonBody::parse(&read_json_body(req).await?)?;
    let up_to = body.integer("upToSequence", 0, MAX_SAFE_INTEGER);
    body.finish()?;
    let mark = chats::mark_read(&ctx.db, &caller.id, chat_id, up_to)
        .await?
        .ok_or_else(|| ApiError::not_found("chat"))?;
    let (last_read, last_seq) = (mark.last_read_seq, mark.last_seq);
    if up_to.is_some_and(|n| n > last_seq) {
        return Err(ApiError::bad_request(format!(
            "upToSequence must be between 0 and the chat's last sequence number ({last_seq})"
        )));
    }
    if mark.moved {
        // Live listeners learn of it after the commit; a failed notice only costs them the event.
        chat_room::announce_read(ctx, chat_id, &caller.id, last_read).await;
    }
    Reply::ok(&json!({
        "chatId": chat_id.as_str(),
        "lastReadSequence": last_read,
        "unreadCount": (last_seq - last_read).max(0),
    }))
}

/// `PATCH` and `DELETE /api/v1/messages/{messageId}`: checked here, applied by the chat's Durable Object.
/// Two round trips: which chat the message is in, then the change.
pub async fn change_message(
    req: &mut Request,
    ctx: &Ctx,
    caller: &Caller,
    message_id: MessageId,
    operation: Operation,
) -> Result<Reply> {
    let body = if operation == Operation::Edit {
        read_json_body(req).await?
    } else {
        Vec::new()
    };
    if operation == Operation::Edit {
        Change::parse_edit(&body)?;
    }
    let chat_id = messages::chat_of(&ctx.db, &message_id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    let command = Command {
        operation,
        body,
        idempotency_key: None,
        message_id: Some(message_id),
    };
    chat_room::call(ctx, caller, &chat_id, command).await
}

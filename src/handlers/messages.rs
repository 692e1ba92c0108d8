//! `GET /api/v1/messages/chat/{chatId}`, `POST /api/v1/messages`,
//! `POST /api/v1/messages/chat/{chatId}/read`, `PATCH` and `DELETE /api/v1/messages/{messageId}`, and
//! the message's reactions.

use worker::Request;

use crate::auth::{Author, Caller, Credential};
use crate::chat_room::client;
use crate::chat_room::protocol::{ReadEvent, Write};
use crate::context::{reach, Ctx};
use crate::domain::cursor::{is_cursor_query, AroundQuery, Bound, CursorQuery, MessageListQuery};
use crate::domain::ids::{ChatId, MessageId};
use crate::domain::listing::{around_end, window_end};
use crate::domain::message::{Change, NewMessage, ReadMarkBody, SenderRole};
use crate::domain::pagination::{MessagePageQuery, PageInfo};
use crate::domain::reactions::{
    ReactionChange, ReactionKey, ReactionListParams, ReactionListQuery,
};
use crate::domain::time::Timestamp;
use crate::error::{ApiError, Result};
use crate::http::{query, read_json_body, Reply};
use crate::store::listing::Reader;
use crate::store::{chats, listing, reactions, writes};
use crate::views;

pub async fn list_messages(
    req: &Request,
    ctx: &Ctx,
    who: &Credential,
    chat_id: &ChatId,
) -> Result<Reply> {
    let params: MessageListQuery = query(req)?;
    if let Some(around) = AroundQuery::parse(&params)? {
        return list_around(ctx, who, chat_id, around).await;
    }
    if is_cursor_query(&params) {
        return list_window(ctx, who, chat_id, CursorQuery::parse(&params, chat_id)?).await;
    }
    let request = MessagePageQuery::parse(&params)?;
    let page = listing::list_page(
        &ctx.db,
        reach(who),
        Reader::Caller,
        chat_id,
        request.page,
        request.as_of,
    )
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
        messages: views::Message::all(&page.messages, &page.participants),
        participants: views::Participant::all(&page.participants),
        info: PageInfo::new(request.page, snapshot),
        as_of_sequence: snapshot,
    })
}

/// Cursor mode: `before` / `after`, `ids`, the sync window, or a `cursor` continuing one of them.
async fn list_window(
    ctx: &Ctx,
    who: &Credential,
    chat_id: &ChatId,
    request: CursorQuery,
) -> Result<Reply> {
    let page = listing::list_window(&ctx.db, reach(who), Reader::Caller, chat_id, &request)
        .await?
        .ok_or_else(|| ApiError::not_found("chat"))?;
    let end = window_end(chat_id, &request, &page.bounds, &page.positions())?;
    Reply::ok(&views::MessageWindow {
        messages: views::Message::all(&page.messages[..end.kept], &page.participants),
        participants: views::Participant::all(&page.participants),
        limit: request.limit,
        total: page.bounds.chat_last_seq,
        has_more: end.has_more(),
        next_cursor: end.next_cursor,
    })
}

/// `around`: the anchor message with older and newer ones, and cursors both ways. An anchor id that
/// is not in this chat is a 404 (a time always finds one, or nothing in an empty chat).
async fn list_around(
    ctx: &Ctx,
    who: &Credential,
    chat_id: &ChatId,
    request: AroundQuery,
) -> Result<Reply> {
    let (page, anchor) = listing::list_around(&ctx.db, reach(who), chat_id, &request)
        .await?
        .ok_or_else(|| ApiError::not_found("chat"))?;
    if anchor.is_none() && matches!(request.anchor, Bound::Message(_)) {
        return Err(ApiError::not_found("message"));
    }
    let seqs: Vec<i64> = page.messages.iter().map(|m| m.seq).collect();
    let end = around_end(chat_id, page.bounds.chat_last_seq, &seqs);
    Reply::ok(&views::MessageAround {
        window: views::MessageWindow {
            messages: views::Message::all(&page.messages, &page.participants),
            participants: views::Participant::all(&page.participants),
            limit: request.limit,
            total: page.bounds.chat_last_seq,
            has_more: end.older_cursor.is_some() || end.newer_cursor.is_some(),
            next_cursor: end.newer_cursor.clone(),
        },
        has_older: end.older_cursor.is_some(),
        has_newer: end.newer_cursor.is_some(),
        older_cursor: end.older_cursor,
        newer_cursor: end.newer_cursor,
    })
}

/// Checked here (bad input never reaches the Durable Object), stored by the chat's Durable Object.
pub async fn send_message(req: &mut Request, ctx: &Ctx, who: &Credential) -> Result<Reply> {
    let message = NewMessage::parse(&read_json_body(req).await?)?;
    let (author, write) = send(ctx, who, message).await?;
    client::write_reply(ctx, author, write).await
}

/// The send of every surface (the main one, the assistant surface's POST): the author (a service key
/// is checked: one round trip) and the role it may send as (403 otherwise), as a write for the chat's
/// Durable Object, where idempotency, sequence numbers and live events are the same for all.
pub async fn send(ctx: &Ctx, who: &Credential, message: NewMessage) -> Result<(Author, Write)> {
    let author = ctx.author(who).await?;
    let service = matches!(author, Author::Service(_));
    let role = SenderRole::for_sender(message.role, service)?;
    Ok((author, Write::Send { message, role }))
}

pub async fn mark_read(
    req: &mut Request,
    ctx: &Ctx,
    caller: &Caller,
    chat_id: &ChatId,
) -> Result<Reply> {
    let up_to = ReadMarkBody::parse(&read_json_body(req).await?)?;
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
        let event = ReadEvent {
            chat_id: chat_id.clone(),
            user_id: caller.id.clone(),
            last_read_sequence: last_read,
        };
        client::announce_read(ctx, event).await;
    }
    Reply::ok(&views::ReadMark {
        chat_id: chat_id.as_str(),
        last_read_sequence: last_read,
        unread_count: (last_seq - last_read).max(0),
    })
}

/// `PATCH /api/v1/messages/{messageId}` `{"content"}`.
pub async fn edit_message(
    req: &mut Request,
    ctx: &Ctx,
    who: &Credential,
    message_id: MessageId,
) -> Result<Reply> {
    let change = Change::parse_edit(&read_json_body(req).await?)?;
    change_message(ctx, who, message_id, change).await
}

/// `DELETE /api/v1/messages/{messageId}`.
pub async fn delete_message(ctx: &Ctx, who: &Credential, message_id: MessageId) -> Result<Reply> {
    change_message(ctx, who, message_id, Change::Delete).await
}

/// Two round trips: which chat the message is in (with a service key's check), then the change in that
/// chat's Durable Object.
async fn change_message(
    ctx: &Ctx,
    who: &Credential,
    message_id: MessageId,
    change: Change,
) -> Result<Reply> {
    let (author, chat_id) = writes::chat_of(&ctx.db, who, &message_id).await?;
    let chat_id = chat_id.ok_or_else(|| ApiError::not_found("message"))?;
    let write = Write::Change {
        chat_id,
        message_id,
        change,
    };
    client::write_reply(ctx, author, write).await
}

/// `PUT` / `DELETE /api/v1/messages/{messageId}/reactions/{key}`: two round trips (the message's chat,
/// then the write in its Durable Object) → `{"messageId", "reactionCounts", "myReactions"}`.
pub async fn react(
    ctx: &Ctx,
    who: &Credential,
    message_id: MessageId,
    key: ReactionKey,
    change: ReactionChange,
) -> Result<Reply> {
    let (author, chat_id) = writes::chat_of(&ctx.db, who, &message_id).await?;
    let chat_id = chat_id.ok_or_else(|| ApiError::not_found("message"))?;
    let write = Write::React {
        chat_id,
        message_id,
        key,
        change,
    };
    let written = client::write(ctx, author, write).await?;
    Reply::ok(&views::ReactionState::new(&written.message))
}

/// `GET /api/v1/messages/{messageId}/reactions?key&limit&cursor`: one round trip.
pub async fn reactions(
    req: &Request,
    ctx: &Ctx,
    who: &Credential,
    message_id: &MessageId,
) -> Result<Reply> {
    let params: ReactionListParams = query(req)?;
    let request = ReactionListQuery::try_from(params)?;
    let page = reactions::list(&ctx.db, who, message_id, &request).await?;
    Reply::ok(&views::ReactionList {
        reactions: page
            .reactions
            .iter()
            .map(|r| views::Reaction {
                user_id: &r.user_id,
                key: &r.key,
                created_at: Timestamp(r.created_at),
            })
            .collect(),
        has_more: page.next.is_some(),
        next_cursor: page.next.as_ref().map(|p| p.encode()),
    })
}

/// `PUT` / `DELETE /api/v1/messages/{messageId}/pin`: two round trips (the message's chat, then the
/// write in its Durable Object) → the Message.
pub async fn pin(ctx: &Ctx, caller: &Caller, message_id: MessageId, pin: bool) -> Result<Reply> {
    let who = Credential::User(caller.clone());
    let (author, chat_id) = writes::chat_of(&ctx.db, &who, &message_id).await?;
    let chat_id = chat_id.ok_or_else(|| ApiError::not_found("message"))?;
    let write = Write::Pin {
        chat_id,
        message_id,
        pin,
    };
    client::write_reply(ctx, author, write).await
}

/// `GET /api/v1/chats/{chatId}/pins`: one round trip → `{"messages"}`, newest pin first.
pub async fn pins(ctx: &Ctx, who: &Credential, chat_id: &ChatId) -> Result<Reply> {
    let page = listing::list_pins(&ctx.db, reach(who), chat_id)
        .await?
        .ok_or_else(|| ApiError::not_found("chat"))?;
    Reply::ok(&views::PinList {
        messages: views::Message::all(&page.messages, &page.participants),
    })
}

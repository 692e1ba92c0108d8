//! `GET /api/v1/messages/{messageId}/replies` (a message's thread) and `GET /api/v1/users/me/mentions`
//! (the messages that mention the caller). Replies and mentions are written by a send or an edit
//! (`messages`).

use worker::Request;

use crate::auth::{Caller, Credential};
use crate::context::Ctx;
use crate::domain::cursor::Bound;
use crate::domain::ids::MessageId;
use crate::domain::threads::{
    continue_replies, encode_reply_cursor, MentionListParams, MentionPosition, MentionQuery,
    ReplyListParams, ReplyQuery, ReplyWindow,
};
use crate::error::{ApiError, Result};
use crate::http::{query, Reply};
use crate::store::threads;
use crate::views;

/// One round trip → `{"parent", "messages", "total", "hasMore", "nextCursor"}`: the thread's live
/// replies, chronological. A `before` / `after` message id that is not in the chat is a 400.
pub async fn replies(
    req: &Request,
    ctx: &Ctx,
    who: &Credential,
    parent_id: &MessageId,
) -> Result<Reply> {
    let params: ReplyListParams = query(req)?;
    let request = ReplyQuery::parse(&params, parent_id)?;
    let page = threads::replies(&ctx.db, who, parent_id, &request)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    let unknown =
        |name: &str| ApiError::bad_request(format!("{name}: no message with this id in this chat"));
    let (after, before) = match &request.window {
        ReplyWindow::Forward { after, before } => (after.as_ref(), before.as_ref()),
        ReplyWindow::Backward { before } => (None, Some(before)),
    };
    if matches!(after, Some(Bound::Message(_))) && page.after_seq.is_none() {
        return Err(unknown("after"));
    }
    if matches!(before, Some(Bound::Message(_))) && page.before_seq.is_none() {
        return Err(unknown("before"));
    }
    let seqs: Vec<i64> = page.replies.iter().map(|m| m.seq).collect();
    let (kept, next) = continue_replies(&request.window, request.limit, page.before_seq, &seqs);
    Reply::ok(&views::ReplyList {
        parent: views::Message::with_marks(&page.parent, &page.participants),
        messages: views::Message::all(&page.replies[kept], &page.participants),
        total: page.parent.reply_count,
        has_more: next.is_some(),
        next_cursor: next.and_then(|window| encode_reply_cursor(parent_id, &window)),
    })
}

/// One round trip → `{"messages", "hasMore", "nextCursor"}`: the live messages that mention the
/// caller in the chats it is in, newest first.
pub async fn mentions(req: &Request, ctx: &Ctx, caller: &Caller) -> Result<Reply> {
    let params: MentionListParams = query(req)?;
    let request = MentionQuery::try_from(params)?;
    let page = threads::mentions(&ctx.db, &caller.id, &request).await?;
    let next = page.messages.last().filter(|_| page.more).and_then(|last| {
        Some(MentionPosition {
            created_at: last.created_at,
            chat_id: crate::domain::ids::ChatId::parse(&last.chat_id, "chatId").ok()?,
            seq: last.seq,
        })
    });
    Reply::ok(&views::MentionList {
        messages: page
            .messages
            .iter()
            .map(|m| {
                views::Message::with_marks(
                    m,
                    views::participants_of(&page.participants, &m.chat_id),
                )
            })
            .collect(),
        has_more: next.is_some(),
        next_cursor: next.map(|p| p.encode()),
    })
}

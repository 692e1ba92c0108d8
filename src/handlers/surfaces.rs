//! The compatibility surfaces (API.md "Compatibility surfaces"): three existing chat-history APIs served
//! over the same chats and messages. Each read goes through the main surface's store reads (one D1
//! round trip, the same row budget, a service key checked in the same batch) and the shared listing
//! logic; the assistant surface's send goes through the main send into the chat room.

use worker::Request;

use crate::auth::Credential;
use crate::chat_room::client;
use crate::context::{reach, Ctx};
use crate::domain::cursor::CursorQuery;
use crate::domain::ids::{ChatId, ProjectId};
use crate::domain::listing::window_end;
use crate::domain::surfaces::{self, ProjectRead, SESSION_LIMIT};
use crate::error::{ApiError, Result};
use crate::http::{header, query, read_json_body, Reply, REPLAYED_HEADER};
use crate::store::listing::{self, Reader, WindowPage};
use crate::store::rows::MessageRow;
use crate::views;

/// `GET /api/v1/chat/{chatId}/messages`: every message after `afterSequence` (at most 1,000, deleted
/// ones left out), oldest first; `X-Next-After-Sequence` when more follow.
pub async fn session(
    req: &Request,
    ctx: &Ctx,
    who: &Credential,
    chat_id: &ChatId,
) -> Result<Reply> {
    let after = surfaces::session_after(query(req)?)?;
    let (last_seq, rows) =
        listing::list_session(&ctx.db, reach(who), chat_id, after, SESSION_LIMIT)
            .await?
            .ok_or_else(|| ApiError::not_found("chat"))?;
    // The last sequence number read (a deleted one too, so that the next page does not read it again).
    let read_up_to = rows.last().map_or(after, |m| m.seq);
    let reply = Reply::ok(&views::SessionList::new(&rows))?;
    Ok(if read_up_to < last_seq && !rows.is_empty() {
        reply.with_header("X-Next-After-Sequence", read_up_to.to_string())
    } else {
        reply
    })
}

/// `GET /api/chat/projects/{projectId}/chats/{chatId}/messages`: page mode, or `before` / `after`
/// times, of a chat of that project (a chat of another project, or of none, is a 404).
pub async fn project(
    req: &Request,
    ctx: &Ctx,
    who: &Credential,
    project: &ProjectId,
    chat_id: &ChatId,
) -> Result<Reply> {
    let in_project = |p: &Option<String>| p.as_deref() == Some(project.as_str());
    let not_found = || ApiError::not_found("chat");
    match surfaces::project_read(query(req)?)? {
        ProjectRead::Page(page) => {
            let read = listing::list_page(&ctx.db, reach(who), Reader::Nobody, chat_id, page, None)
                .await?
                .filter(|p| in_project(&p.project_id))
                .ok_or_else(not_found)?;
            let list =
                views::ProjectList::new(&read.messages, &read.participants, read.chat_last_seq);
            Reply::ok(&list)
        }
        ProjectRead::Window(request) => {
            let page = read_window(ctx, who, chat_id, &request).await?;
            if !in_project(&page.project_id) {
                return Err(not_found());
            }
            let kept = window_end(chat_id, &request, &page.bounds, &page.positions())?.kept;
            let rows = &page.messages[..kept];
            Reply::ok(&views::ProjectList::new(
                rows,
                &page.participants,
                page.bounds.chat_last_seq,
            ))
        }
    }
}

async fn read_window(
    ctx: &Ctx,
    who: &Credential,
    chat_id: &ChatId,
    request: &CursorQuery,
) -> Result<WindowPage> {
    listing::list_window(&ctx.db, reach(who), Reader::Nobody, chat_id, request)
        .await?
        .ok_or_else(|| ApiError::not_found("chat"))
}

/// `GET /api/v1/chats/{chatId}/messages`: `offset` / `limit`, oldest first, `has_more`.
pub async fn assistant_list(
    req: &Request,
    ctx: &Ctx,
    who: &Credential,
    chat_id: &ChatId,
) -> Result<Reply> {
    let (offset, request) = surfaces::assistant_window(query(req)?)?;
    let page = read_window(ctx, who, chat_id, &request).await?;
    let end = window_end(chat_id, &request, &page.bounds, &page.positions())?;
    let rows: &[MessageRow] = &page.messages[..end.kept];
    Reply::ok(&views::AssistantList {
        messages: rows.iter().map(views::AssistantMessage::new).collect(),
        total: page.bounds.chat_last_seq,
        offset,
        limit: request.limit,
        has_more: end.has_more(),
    })
}

/// `POST /api/v1/chats/{chatId}/messages`: the main send's path into the chat room, answered in this
/// surface's shape (201; `Idempotent-Replayed: true` on a replay).
pub async fn assistant_send(
    req: &mut Request,
    ctx: &Ctx,
    who: &Credential,
    chat_id: &ChatId,
) -> Result<Reply> {
    let key = header(req, "Idempotency-Key");
    let message =
        surfaces::assistant_message(chat_id, &read_json_body(req).await?, key.as_deref())?;
    let (author, write) = super::messages::send(ctx, who, message).await?;
    let written = client::write(ctx, author, write).await?;
    let reply = Reply::created(&views::AssistantMessage::new(&written.message))?;
    Ok(if written.replayed {
        reply.with_header(REPLAYED_HEADER, "true")
    } else {
        reply
    })
}

//! Blocks, reports, the admin's moderation (the report queue, deleting any message) and the export
//! (API.md "Safety and privacy").

use futures_util::stream;
use worker::{console_error, Request, Response, ResponseBody};

use crate::auth::{Author, Caller};
use crate::chat_room::client;
use crate::chat_room::protocol::Write;
use crate::context::Ctx;
use crate::domain::ids::{MessageId, ReportId, UserId};
use crate::domain::message::Change;
use crate::domain::safety::{self, NewReport, ReportListParams, ReportPosition, ReportQuery};
use crate::error::{ApiError, Result};
use crate::http::{query, read_json_body, Reply};
use crate::store::safety as store;
use crate::store::{Db, SessionStart};
use crate::views;

/// `PUT /api/v1/users/me/blocks/{userId}`: 204, also when the block stood already.
pub async fn block(ctx: &Ctx, caller: &Caller, other: &UserId) -> Result<Reply> {
    safety::check_block(&caller.id, other)?;
    store::block(&ctx.db, &caller.id, other, ctx.now_ms).await?;
    Ok(Reply::json_text(204, ""))
}

/// `DELETE /api/v1/users/me/blocks/{userId}`: 204, also when there was no block (oneself included).
pub async fn unblock(ctx: &Ctx, caller: &Caller, other: &UserId) -> Result<Reply> {
    store::unblock(&ctx.db, &caller.id, other).await?;
    Ok(Reply::json_text(204, ""))
}

/// `GET /api/v1/users/me/blocks`.
pub async fn blocks(ctx: &Ctx, caller: &Caller) -> Result<Reply> {
    Ok(Reply::json_text(
        200,
        store::blocks(&ctx.db, &caller.id).await?,
    ))
}

/// `POST /api/v1/messages/{messageId}/reports`: 201 the new report, 200 the caller's earlier one.
pub async fn report(
    req: &mut Request,
    ctx: &Ctx,
    caller: &Caller,
    message_id: &MessageId,
) -> Result<Reply> {
    let new = NewReport::parse(&read_json_body(req).await?)?;
    let (row, created) = store::report(&ctx.db, &caller.id, message_id, &new, ctx.now_ms)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    Reply::json(if created { 201 } else { 200 }, &views::Report::new(&row))
}

/// `GET /api/v1/admin/reports`: a status's reports, oldest first, each with its message.
pub async fn reports(req: &Request, ctx: &Ctx) -> Result<Reply> {
    let params: ReportListParams = query(req)?;
    let query = ReportQuery::try_from(params)?;
    let mut rows = store::reports(&ctx.db, &query).await?;
    let has_more = rows.len() as i64 > query.limit;
    rows.truncate(usize::try_from(query.limit).unwrap_or(0));
    let messages = rows
        .iter()
        .map(store::ReportRow::message)
        .collect::<Result<Vec<_>>>()?;
    let next_cursor = match rows.last() {
        Some(last) if has_more => Some(
            ReportPosition {
                created_at: last.created_at,
                id: last.id.clone(),
            }
            .encode(),
        ),
        _ => None,
    };
    Reply::ok(&views::Reports {
        reports: rows
            .iter()
            .zip(&messages)
            .map(|(row, message)| {
                let message = message.as_ref().map(|m| views::Message::new(m, Vec::new()));
                views::QueuedReport::new(row, message)
            })
            .collect(),
        has_more,
        next_cursor,
    })
}

/// `PATCH /api/v1/admin/reports/{reportId}`.
pub async fn update_report(req: &mut Request, ctx: &Ctx, id: &ReportId) -> Result<Reply> {
    let status = safety::parse_report_change(&read_json_body(req).await?)?;
    let row = store::set_report_status(&ctx.db, id, status, ctx.now_ms)
        .await?
        .ok_or_else(|| ApiError::not_found("report"))?;
    Reply::ok(&views::Report::new(&row))
}

/// `DELETE /api/v1/admin/messages/{messageId}`: the tombstone (`deletedBy: moderator`), made in the
/// chat's Durable Object like every write of the chat (live sockets and webhooks hear
/// `message.deleted`). Deleting a tombstone again answers it as it is.
pub async fn take_down(ctx: &Ctx, message_id: MessageId) -> Result<Reply> {
    let chat_id = store::chat_of_message(&ctx.db, &message_id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    let write = Write::Change {
        chat_id,
        message_id,
        change: Change::Takedown,
    };
    client::write_reply(ctx, Author::moderator()?, write).await
}

/// Rows per page of the export's reads: a page of messages is at most this many 64 KiB messages.
const EXPORT_PAGE: i64 = 200;

/// Where the export's stream is: the part it reads next and where that part's last page ended.
enum Part {
    /// The profile's line, written before the stream starts.
    Profile(Vec<u8>),
    Memberships(i64, String),
    Messages(String, i64),
    Ledger(i64),
    Blocks,
    Done,
}

/// `{"kind": <kind>, "data": <data>}` and a line break.
fn line(out: &mut Vec<u8>, kind: &str, data: &impl serde::Serialize) -> Result<()> {
    out.extend_from_slice(br#"{"kind":""#);
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(br#"","data":"#);
    serde_json::to_writer(&mut *out, data)?;
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// The last of a page of lines written by SQLite, as JSON (its `data` says where the page ended).
fn last_data(lines: &str) -> Option<serde_json::Value> {
    let last: serde_json::Value = serde_json::from_str(lines.lines().last()?).ok()?;
    Some(last.get("data")?.clone())
}

/// One page of the export after `part`: its NDJSON lines and the part to read next.
async fn export_page(db: &Db, user: &str, part: Part) -> Result<(Vec<u8>, Part)> {
    let page = EXPORT_PAGE;
    let (text, next) = match part {
        Part::Profile(line) => (line, Part::Memberships(-1, String::new())),
        Part::Memberships(muted, chat) => {
            let args = [user.into(), muted.into(), chat.as_str().into(), page.into()];
            let text = store::export_lines(db, store::EXPORT_MEMBERSHIPS_SQL, &args).await?;
            let full = text
                .as_deref()
                .is_some_and(|t| t.lines().count() as i64 == page);
            let next = match text.as_deref().and_then(last_data).filter(|_| full) {
                Some(data) => Part::Memberships(
                    i64::from(data["muted"] == true),
                    data["chatId"].as_str().unwrap_or_default().to_string(),
                ),
                None => Part::Messages(String::new(), 0),
            };
            (text.unwrap_or_default().into_bytes(), next)
        }
        Part::Messages(chat, seq) => {
            let rows = store::export_messages(db, user, &(chat, seq), page).await?;
            let mut out = Vec::new();
            for row in &rows {
                line(&mut out, "message", &views::Message::new(row, Vec::new()))?;
            }
            let next = match rows.last() {
                Some(last) if rows.len() as i64 == page => {
                    Part::Messages(last.chat_id.clone(), last.seq)
                }
                _ => Part::Ledger(0),
            };
            (out, next)
        }
        Part::Ledger(after) => {
            let args = [user.into(), after.into(), page.into()];
            let text = store::export_lines(db, store::EXPORT_LEDGER_SQL, &args).await?;
            let full = text
                .as_deref()
                .is_some_and(|t| t.lines().count() as i64 == page);
            let next = match text.as_deref().and_then(last_data).filter(|_| full) {
                Some(data) => Part::Ledger(data["sequence"].as_i64().unwrap_or(i64::MAX)),
                None => Part::Blocks,
            };
            (text.unwrap_or_default().into_bytes(), next)
        }
        Part::Blocks => {
            let text = store::export_lines(db, store::EXPORT_BLOCKS_SQL, &[user.into()]).await?;
            (text.unwrap_or_default().into_bytes(), Part::Done)
        }
        Part::Done => (Vec::new(), Part::Done),
    };
    let mut out = text;
    if !out.is_empty() && out.last() != Some(&b'\n') {
        out.push(b'\n');
    }
    Ok((out, next))
}

/// `GET /api/v1/users/me/export`: the caller's data as NDJSON, streamed page by page (a page of at
/// most `EXPORT_PAGE` rows is all it holds at once, whatever the number of messages): the profile,
/// memberships, the messages it sent (tombstones included, without content), its ledger, its
/// blocks. The response's `X-D1-*` headers count the profile's read only: the rest is read while
/// the body streams. A read that fails mid-way ends the body early (and is logged); a complete
/// export ends with its blocks.
pub async fn export(ctx: &Ctx, caller: &Caller) -> Result<Reply> {
    let mut first = Vec::new();
    match crate::store::users::find(&ctx.db, caller.id.as_str()).await? {
        Some(row) => line(&mut first, "profile", &views::User::new(&row))?,
        None => line(&mut first, "profile", &views::User::from_claims(caller))?,
    }
    let db = Db::new(&ctx.env.d1("DB")?, SessionStart::Unconstrained)?;
    let user = caller.id.as_str().to_string();
    let start = Part::Profile(first);
    let pages = stream::unfold(Some((db, start)), move |state| {
        let user = user.clone();
        async move {
            let (db, part) = state?;
            if matches!(part, Part::Done) {
                return None;
            }
            match export_page(&db, &user, part).await {
                Ok((bytes, next)) => Some((Ok(bytes), Some((db, next)))),
                // The body fails (the client sees a broken transfer, never a short export that
                // looks whole).
                Err(e) => {
                    let why = e.errors.join("; ");
                    console_error!("export: a read failed, the body is cut: {why}");
                    Some((Err(worker::Error::RustError(why)), None))
                }
            }
        }
    });
    let response = Response::from_stream(pages)?;
    let stream = match response.body() {
        ResponseBody::Stream(s) => ResponseBody::Stream(s.clone()),
        _ => return Err(ApiError::internal("export: the body is not a stream")),
    };
    let mut reply = Reply::json_text(200, "")
        .with_header("Content-Type", "application/x-ndjson; charset=utf-8")
        .with_header(
            "Content-Disposition",
            "attachment; filename=\"edge-chat-export.ndjson\"",
        )
        .with_header("Cache-Control", "no-store");
    reply.download = Some(stream);
    Ok(reply)
}

/// Steps of an erasure the admin's request runs itself: a user with a few chats is erased at once
/// (`done` in the 202); the per-minute cron trigger continues the rest.
const INLINE_STEPS: usize = 5;

/// `DELETE /api/v1/admin/users/{userId}`: 202 the erasure (API.md "Erasure"). The parts that are not
/// a chat's happen at once (profile, blocks, reports, mentions, files); each chat is a step.
pub async fn erase_user(ctx: &Ctx, user: &UserId) -> Result<Reply> {
    let id = crate::domain::ids::new_object_id(ctx.now_ms)?;
    let row = crate::store::erasure::start(&ctx.db, &id, user.as_str(), ctx.now_ms).await?;
    let (row, _, _) = crate::erasure::advance(&ctx.env, &ctx.db, row, INLINE_STEPS).await?;
    Reply::json(202, &views::Erasure::new(&row))
}

/// `GET /api/v1/admin/erasures/{erasureId}`.
pub async fn erasure(ctx: &Ctx, id: &crate::domain::ids::ErasureId) -> Result<Reply> {
    let row = crate::store::erasure::find(&ctx.db, id.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("erasure"))?;
    Reply::ok(&views::Erasure::new(&row))
}

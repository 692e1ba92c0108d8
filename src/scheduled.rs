//! The daily clean-up (cron trigger in wrangler.toml; `wrangler dev --test-scheduled` runs it on
//! `GET /__scheduled`): the bytes of removed files (their message deleted) and of files never attached
//! within 24 hours leave R2, and webhook delivery records older than 30 days leave D1. Each run does a
//! bounded amount (the platform limits a run's subrequests and time) and is idempotent: what one run
//! leaves, the next finishes.

use serde::Serialize;
use worker::{event, Env, ScheduleContext, ScheduledEvent};

use crate::domain::time::now_ms;
use crate::error::{ApiError, Result};
use crate::store::{erasure, files, outbox, Db, SessionStart};

/// Files whose bytes one run deletes at most (R2 deletes up to 1,000 keys in one call).
pub const FILES_PER_RUN: i64 = 500;
/// Delivery records one run removes at most.
pub const DELIVERIES_PER_RUN: i64 = 5_000;
const THIRTY_DAYS_MS: i64 = 30 * 24 * 3600 * 1000;

/// What a run did: its log line.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CleanUpLine<'a> {
    event: &'static str,
    files_purged: u64,
    deliveries_removed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// The per-minute cron trigger's schedule: the webhook outbox sweep.
pub const SWEEP_CRON: &str = "* * * * *";
/// Outbox events older than this are swept (a live object queues and clears its own within a second).
pub const STALE_OUTBOX_MS: i64 = 10_000;
/// Chats one sweep calls at most.
pub const CHATS_PER_SWEEP: i64 = 50;
/// Erasure steps one run takes at most: each is two D1 round trips and one call of a chat's object
/// (which makes two), within an invocation's 1,000 subrequests and D1 queries.
pub const ERASURE_STEPS_PER_RUN: usize = 40;

#[event(scheduled)]
pub async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    if event.cron() == SWEEP_CRON {
        sweep(&env).await;
        return;
    }
    let line = match clean_up(&env).await {
        Ok((files_purged, deliveries_removed)) => CleanUpLine {
            event: "clean_up",
            files_purged,
            deliveries_removed,
            error: None,
        },
        Err(e) => {
            let text = e.to_string();
            crate::log::emit(&CleanUpLine {
                event: "clean_up",
                files_purged: 0,
                deliveries_removed: 0,
                error: Some(&text),
            });
            return;
        }
    };
    crate::log::emit(&line);
}

/// One run: two D1 round trips and at most one R2 call.
async fn clean_up(env: &Env) -> Result<(u64, u64)> {
    let db = env
        .d1("DB")
        .map_err(|e| ApiError::internal(format!("D1 binding DB: {e}")))
        .and_then(|db| Db::new(&db, SessionStart::Primary))?;
    let now = now_ms();
    let due = files::due_for_purge(&db, now, FILES_PER_RUN).await?;
    if !due.is_empty() {
        env.bucket("FILES")?
            .delete_multiple(due.iter().map(String::as_str).collect())
            .await?;
    }
    files::finish_purge(&db, &due, now, now - THIRTY_DAYS_MS, DELIVERIES_PER_RUN).await
}

/// The per-minute run's log line: the chats whose lost webhook events it had queued, the erasure
/// steps it took (and of which erasures, with their counts so far), and its own D1 work.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SweepLine<'a> {
    event: &'static str,
    chats: usize,
    erasure_steps: usize,
    erasures: Vec<(String, String, i64)>,
    d1_queries: u64,
    d1_rows_read: u64,
    d1_rows_written: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// The per-minute run: each chat with webhook events older than `STALE_OUTBOX_MS` (its object
/// crashed between a commit and queueing its deliveries, and has had no write since) is called to
/// queue them; then running erasures take up to `ERASURE_STEPS_PER_RUN` steps, oldest first. With
/// nothing to do, two D1 round trips reading 0 rows, and no line.
async fn sweep(env: &Env) {
    let db = env
        .d1("DB")
        .map_err(|e| ApiError::internal(format!("D1 binding DB: {e}")))
        .and_then(|db| Db::new(&db, SessionStart::Primary));
    let db = match db {
        Ok(db) => db,
        Err(e) => return crate::log::emit(&e.to_string()),
    };
    let mut line = SweepLine {
        event: "minutely",
        chats: 0,
        erasure_steps: 0,
        erasures: Vec::new(),
        d1_queries: 0,
        d1_rows_read: 0,
        d1_rows_written: 0,
        error: None,
    };
    let mut chats_work = crate::store::Cost::default();
    let outcome = async {
        let chats = outbox::stale_chats(&db, now_ms() - STALE_OUTBOX_MS, CHATS_PER_SWEEP).await?;
        for chat in &chats {
            let chat = crate::domain::ids::ChatId::parse(chat, "chatId")?;
            crate::chat_room::client::recover(env, &chat).await?;
        }
        line.chats = chats.len();
        for id in erasure::running(&db, 5).await? {
            let left = ERASURE_STEPS_PER_RUN - line.erasure_steps;
            if left == 0 {
                break;
            }
            let Some(row) = erasure::find(&db, &id).await? else {
                continue;
            };
            let (row, taken, objects) = crate::erasure::advance(env, &db, row, left).await?;
            line.erasure_steps += taken;
            chats_work = chats_work + objects;
            line.erasures
                .push((row.id, row.status, row.messages_erased));
        }
        Ok::<(), ApiError>(())
    }
    .await;
    let text;
    if let Err(e) = &outcome {
        text = e.to_string();
        line.error = Some(&text);
    }
    // Its own D1 work and that of the chats' objects it called.
    let cost = db.cost() + chats_work;
    (line.d1_queries, line.d1_rows_read, line.d1_rows_written) =
        (cost.queries, cost.rows_read, cost.rows_written);
    if line.chats > 0 || line.erasure_steps > 0 || line.error.is_some() {
        crate::log::emit(&line);
    }
}

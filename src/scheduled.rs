//! The daily clean-up (cron trigger in wrangler.toml; `wrangler dev --test-scheduled` runs it on
//! `GET /__scheduled`): the bytes of removed files (their message deleted) and of files never attached
//! within 24 hours leave R2, and webhook delivery records older than 30 days leave D1. Each run does a
//! bounded amount (the platform limits a run's subrequests and time) and is idempotent: what one run
//! leaves, the next finishes.

use serde::Serialize;
use worker::{event, Env, ScheduleContext, ScheduledEvent};

use crate::domain::time::now_ms;
use crate::error::{ApiError, Result};
use crate::store::{files, Db, SessionStart};

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

#[event(scheduled)]
pub async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
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

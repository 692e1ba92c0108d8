//! Calling the before-send hooks of a chat (API.md "Webhooks"): every hook at once, each signed like
//! a webhook delivery, each given `TIMEOUT_MS`; their answers combine by `domain::before_send::decide`.
//! A hook that does not answer is logged (its key and why, never the message).

use futures_util::future::{join_all, select, Either};
use serde::Serialize;
use worker::{console_error, AbortController, Delay, Fetch};

use crate::domain::before_send::{decide, Answer, Verdict, TIMEOUT_MS};
use crate::domain::time::{now_ms, Timestamp};
use crate::domain::webhooks as rules;
use crate::store::keys::BeforeSend;

/// The body a hook is sent: `{"id", "type": "message.sending" | "message.editing", "createdAt",
/// "data": <the message as it would be stored>}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Ask<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    created_at: Timestamp,
    data: &'a serde_json::value::RawValue,
}

/// Asks every hook about `data` (a `kind` event) and decides.
pub async fn ask(
    hooks: &[BeforeSend],
    kind: &'static str,
    data: &serde_json::value::RawValue,
    signing_key: &str,
) -> Verdict {
    let now = now_ms();
    let id = rules::new_event_id(now, 0).unwrap_or_default();
    let body = match serde_json::to_string(&Ask {
        id: &id,
        kind,
        created_at: Timestamp(now),
        data,
    }) {
        Ok(body) => body,
        Err(e) => {
            console_error!("before-send: the request body: {e}");
            String::new()
        }
    };
    let answers = join_all(hooks.iter().map(|hook| one(hook, &id, &body, signing_key))).await;
    let answers: Vec<(bool, Option<Answer>)> = hooks
        .iter()
        .zip(answers)
        .map(|(hook, answer)| (hook.before_send_fail_closed != 0, answer))
        .collect();
    decide(&answers)
}

/// One hook's answer: `None` when it gave no readable 2xx answer within `TIMEOUT_MS` (logged).
async fn one(hook: &BeforeSend, event_id: &str, body: &str, signing_key: &str) -> Option<Answer> {
    let signature = crate::config::webhook_signing_key(signing_key)
        .map_err(|e| e.to_string())
        .and_then(|key| {
            let nonce = hook.webhook_nonce.as_deref().unwrap_or_default();
            rules::secret(key, &hook.id, nonce)
        })
        .and_then(|secret| rules::signature(&secret, now_ms() / 1000, body));
    let signature = match signature {
        Ok(signature) => signature,
        Err(e) => {
            console_error!("before-send: key {}: cannot sign: {e}", hook.id);
            return None;
        }
    };
    let request = super::webhooks::signed_post(&hook.before_send_url, event_id, &signature, body)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let answering = Box::pin(async move {
        let mut response = Fetch::Request(request).send_with_signal(&signal).await?;
        let status = response.status_code();
        let body = response.bytes().await?;
        Ok::<_, worker::Error>((status, body))
    });
    let timeout = Box::pin(Delay::from(std::time::Duration::from_millis(TIMEOUT_MS)));
    let why = match select(answering, timeout).await {
        Either::Left((Ok((status, body)), _)) if (200..300).contains(&status) => {
            match Answer::parse(&body) {
                Some(answer) => return Some(answer),
                None => "an unreadable answer".to_string(),
            }
        }
        Either::Left((Ok((status, _)), _)) => format!("status {status}"),
        Either::Left((Err(e), _)) => format!("no answer ({e})"),
        Either::Right(_) => {
            controller.abort();
            format!("no answer within {TIMEOUT_MS} ms")
        }
    };
    let closed = if hook.before_send_fail_closed != 0 {
        "refused (fail closed)"
    } else {
        "allowed (fail open)"
    };
    console_error!("before-send: key {}: {why}; the write is {closed}", hook.id);
    None
}

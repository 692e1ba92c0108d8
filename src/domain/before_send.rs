//! Before-send hooks (API.md "Webhooks"): what a hook may answer and how the answers of every hook
//! that reaches the chat combine into one verdict. Pure, so every rule is unit-tested natively.

use serde_json::Value;

use super::input::is_blank;
use super::message::MAX_CONTENT_CHARS;

/// How long a write waits for the hooks (they are called at once).
pub const TIMEOUT_MS: u64 = 2_000;
/// The longest reject reason passed on to the client (longer ones are cut).
pub const MAX_REASON_CHARS: usize = 500;
/// `Retry-After` (seconds) of a fail-closed hook's 503.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// One hook's readable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Allow,
    Reject(String),
    Replace(String),
}

impl Answer {
    /// A 2xx response's body; `None` when it is not one of the three answers (an unreadable answer,
    /// like a replace whose content a send could not have).
    pub fn parse(body: &[u8]) -> Option<Answer> {
        // Read as a `Value` (whose parser the worker has anyway), not a derived struct.
        let value: Value = serde_json::from_slice(body).ok()?;
        let object = value.as_object()?;
        match object.get("action")?.as_str()? {
            "allow" => Some(Answer::Allow),
            "reject" => {
                let reason = match object.get("reason") {
                    Some(Value::String(r)) if !is_blank(r) => {
                        r.chars().take(MAX_REASON_CHARS).collect()
                    }
                    None | Some(Value::Null) | Some(Value::String(_)) => {
                        "the message was rejected".to_string()
                    }
                    Some(_) => return None,
                };
                Some(Answer::Reject(reason))
            }
            "replace" => match object.get("content") {
                Some(Value::String(c))
                    if !is_blank(c) && c.chars().count() <= MAX_CONTENT_CHARS =>
                {
                    Some(Answer::Replace(c.clone()))
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// What the hooks decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Store it, with this content instead when a hook replaced it.
    Allow(Option<String>),
    /// A 422 with this reason.
    Reject(String),
    /// A fail-closed hook did not answer: a 503 with `Retry-After`.
    Unavailable,
}

/// The hooks' answers in the keys' creation order, each with whether its key fails closed (`None`:
/// no answer in time, not 2xx, or unreadable). Any reject wins; else a fail-closed hook without an
/// answer refuses; else the replaces apply in order (the last one's content is stored).
pub fn decide(answers: &[(bool, Option<Answer>)]) -> Verdict {
    if let Some(reason) = answers.iter().find_map(|(_, a)| match a {
        Some(Answer::Reject(reason)) => Some(reason.clone()),
        _ => None,
    }) {
        return Verdict::Reject(reason);
    }
    if answers.iter().any(|(closed, a)| *closed && a.is_none()) {
        return Verdict::Unavailable;
    }
    let mut content = None;
    for (_, answer) in answers {
        if let Some(Answer::Replace(c)) = answer {
            content = Some(c.clone());
        }
    }
    Verdict::Allow(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_and_garbage_does_not() {
        assert_eq!(Answer::parse(br#"{"action":"allow"}"#), Some(Answer::Allow));
        assert_eq!(
            Answer::parse(br#"{"action":"reject","reason":"no links"}"#),
            Some(Answer::Reject("no links".into()))
        );
        assert_eq!(
            Answer::parse(br#"{"action":"reject"}"#),
            Some(Answer::Reject("the message was rejected".into()))
        );
        assert_eq!(
            Answer::parse(br#"{"action":"replace","content":"[redacted]"}"#),
            Some(Answer::Replace("[redacted]".into()))
        );
        let long = format!(
            r#"{{"action":"replace","content":"{}"}}"#,
            "x".repeat(MAX_CONTENT_CHARS + 1)
        );
        for bad in [
            &b""[..],
            b"not json",
            b"[]",
            br#"{"action":"maybe"}"#,
            br#"{"action":5}"#,
            br#"{"action":"replace"}"#,
            br#"{"action":"replace","content":"   "}"#,
            br#"{"action":"reject","reason":7}"#,
            long.as_bytes(),
        ] {
            assert_eq!(Answer::parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        let reason = format!(r#"{{"action":"reject","reason":"{}"}}"#, "r".repeat(900));
        assert_eq!(
            Answer::parse(reason.as_bytes()),
            Some(Answer::Reject("r".repeat(MAX_REASON_CHARS)))
        );
    }

    #[test]
    fn any_reject_wins_then_fail_closed_then_replaces_in_order() {
        let replace = |c: &str| (false, Some(Answer::Replace(c.into())));
        assert_eq!(decide(&[]), Verdict::Allow(None));
        assert_eq!(decide(&[(false, None)]), Verdict::Allow(None));
        assert_eq!(decide(&[(true, None)]), Verdict::Unavailable);
        assert_eq!(
            decide(&[
                replace("a"),
                (false, Some(Answer::Reject("no".into()))),
                (true, None)
            ]),
            Verdict::Reject("no".into())
        );
        assert_eq!(decide(&[replace("a"), (true, None)]), Verdict::Unavailable);
        assert_eq!(
            decide(&[
                replace("first"),
                (false, Some(Answer::Allow)),
                replace("second")
            ]),
            Verdict::Allow(Some("second".into()))
        );
    }
}

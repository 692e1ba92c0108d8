//! Structured logs: one JSON object per request, and one per live-socket event of note (open, close,
//! refusal), written with `console.log(object)` so that Workers Logs indexes each field (README
//! "Logs"). A line holds ids, names, counts, codes and durations only: never a token, a key, a secret
//! or message content. The user and key ids come from a verified credential, the chat id only when
//! the path's segment is a well-formed chat id.

use std::cell::RefCell;

use serde::Serialize;

use crate::cost::Cost;

/// Who a request turned out to be, as far as it got: noted by authentication (a user) or by the
/// storage check of a service key (its id, never the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(String),
    Key(String),
}

/// The actor of one request, noted where it is learned and read when its log line is written.
#[derive(Debug, Default)]
pub struct Trace {
    actor: RefCell<Option<Actor>>,
}

impl Trace {
    pub fn note(&self, actor: Actor) {
        *self.actor.borrow_mut() = Some(actor);
    }

    pub fn actor(&self) -> Option<Actor> {
        self.actor.borrow().clone()
    }
}

/// The log line of one HTTP request.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestLine<'a> {
    pub event: &'static str,
    pub request_id: &'a str,
    pub method: &'a str,
    /// The route's pattern (`/api/v1/chats/{chatId}`), not the path: ids stay out of the route field,
    /// so lines group by endpoint. Absent for a path no route matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<&'static str>,
    pub status: u16,
    pub duration_ms: i64,
    pub d1_queries: u64,
    pub d1_rows_read: u64,
    pub d1_rows_written: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<&'a str>,
    /// What failed inside, for a 5xx only: the failing step, never request data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

impl<'a> RequestLine<'a> {
    pub fn new(request_id: &'a str, method: &'a str, status: u16, cost: Cost) -> Self {
        RequestLine {
            event: "request",
            request_id,
            method,
            route: None,
            status,
            duration_ms: 0,
            d1_queries: cost.queries,
            d1_rows_read: cost.rows_read,
            d1_rows_written: cost.rows_written,
            user_id: None,
            key_id: None,
            chat_id: None,
            error: None,
        }
    }

    pub fn by(mut self, actor: Option<Actor>) -> Self {
        match actor {
            Some(Actor::User(id)) => self.user_id = Some(id),
            Some(Actor::Key(id)) => self.key_id = Some(id),
            None => {}
        }
        self
    }
}

/// What happened to a live socket.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SocketAction {
    /// Accepted by the chat's Durable Object.
    Open,
    /// Closed, by the client or by the server (`code` says which rule).
    Close,
    /// The request to open it was answered with an HTTP error instead.
    Refused,
}

/// The log line of a live-socket event. A close's reason is the client's free text: not logged.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SocketLine<'a> {
    pub event: &'static str,
    pub action: SocketAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<&'a str>,
    /// The WebSocket close code (close), or the HTTP status (refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// Who closed it: `client` or `server`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<&'static str>,
}

impl<'a> SocketLine<'a> {
    pub fn new(action: SocketAction) -> Self {
        SocketLine {
            event: "socket",
            action,
            request_id: None,
            chat_id: None,
            user_id: None,
            code: None,
            by: None,
        }
    }
}

/// The log line of an identity provider's key set that could not be used.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeySetLine<'a> {
    pub event: &'static str,
    pub action: &'static str,
    /// The key set's URL (configuration, not a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

impl<'a> KeySetLine<'a> {
    /// The set could not be fetched or parsed: tokens it would verify are refused meanwhile.
    pub fn failed(url: &'a str, error: &'a str) -> Self {
        KeySetLine {
            event: "jwks",
            action: "fetch_failed",
            url: Some(url),
            kid: None,
            error: Some(error),
        }
    }

    /// A key of the set that WebCrypto would not import.
    pub fn bad_key(kid: &'a str) -> Self {
        KeySetLine {
            event: "jwks",
            action: "bad_key",
            url: None,
            kid: Some(kid),
            error: None,
        }
    }
}

/// Writes `line` as one object to the runtime's log (`console.log`), so that its fields are indexed;
/// as JSON text if the runtime cannot take it as an object.
pub fn emit<T: Serialize>(line: &T) {
    let Ok(json) = serde_json::to_string(line) else {
        return;
    };
    match worker::js_sys::JSON::parse(&json) {
        Ok(object) => worker::web_sys::console::log_1(&object),
        Err(_) => worker::console_log!("{json}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, to_value};

    #[test]
    fn a_request_line_has_the_fields_workers_logs_indexes() {
        let cost = Cost {
            queries: 2,
            rows_read: 7,
            rows_written: 3,
        };
        let mut line =
            RequestLine::new("req-1", "POST", 201, cost).by(Some(Actor::Key("k1".into())));
        line.route = Some("/api/v1/chats/{chatId}/messages");
        line.duration_ms = 12;
        line.chat_id = Some("0123456789abcdef01234567");
        assert_eq!(
            to_value(&line).unwrap(),
            json!({
                "event": "request", "requestId": "req-1", "method": "POST",
                "route": "/api/v1/chats/{chatId}/messages", "status": 201, "durationMs": 12,
                "d1Queries": 2, "d1RowsRead": 7, "d1RowsWritten": 3, "keyId": "k1",
                "chatId": "0123456789abcdef01234567"
            })
        );
    }

    #[test]
    fn absent_fields_are_left_out_and_a_user_is_not_a_key() {
        let line = RequestLine::new("r", "GET", 404, Cost::default())
            .by(Some(Actor::User("alice".into())));
        let value = to_value(&line).unwrap();
        assert_eq!(value["userId"], "alice");
        for absent in ["keyId", "route", "chatId", "error"] {
            assert!(value.get(absent).is_none(), "{absent} present: {value}");
        }
    }

    #[test]
    fn a_socket_line_names_its_action_and_code() {
        let mut line = SocketLine::new(SocketAction::Close);
        line.code = Some(4001);
        line.by = Some("server");
        line.user_id = Some("bob");
        assert_eq!(
            to_value(&line).unwrap(),
            json!({"event": "socket", "action": "close", "userId": "bob", "code": 4001, "by": "server"})
        );
    }

    #[test]
    fn the_trace_keeps_the_last_actor_noted() {
        let trace = Trace::default();
        assert_eq!(trace.actor(), None);
        trace.note(Actor::User("u".into()));
        trace.note(Actor::Key("k".into()));
        assert_eq!(trace.actor(), Some(Actor::Key("k".into())));
    }
}

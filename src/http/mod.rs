//! The HTTP edge: reading bodies and query strings with their limits, the reply type handlers return,
//! and the response every request gets (`respond`: the reply with the common headers). Errors in their
//! envelopes, CORS and request ids have modules of their own.

pub mod cors;
pub mod errors;
pub mod request_id;

use serde::Serialize;
use worker::{Headers, Request, Response, WebSocket};

use crate::config::Config;
use crate::cost::Cost;
use crate::domain::input::{query_pairs, MAX_BODY_BYTES};
use crate::error::{ApiError, Result};
use crate::log::{self, Actor};
use crate::router;

/// What answering a request needs to know about it, read once when it arrives.
pub struct Exchange {
    pub request_id: String,
    /// The method's name as sent: the runtime's method enum reads unknown names as GET.
    pub method: String,
    pub path: String,
    pub origin: Option<String>,
    /// When it arrived (epoch ms).
    pub now: i64,
}

impl Exchange {
    pub fn of(req: &Request, now: i64) -> Self {
        Exchange {
            request_id: request_id::choose(header(req, "X-Request-Id"), now),
            method: req.inner().method(),
            path: req.path(),
            origin: header(req, "Origin"),
            now,
        }
    }
}

/// Set on a replayed idempotent write's answer (API.md "Send").
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// What a handler answers: a status and the JSON text of the body, or an accepted WebSocket (101);
/// `lib.rs` adds the common headers.
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
    pub websocket: Option<WebSocket>,
    /// A file's bytes, streamed from R2 by the runtime (never through the worker).
    pub download: Option<worker::ResponseBody>,
}

impl Reply {
    pub fn json(status: u16, body: &impl Serialize) -> Result<Self> {
        Ok(Self::json_text(status, serde_json::to_string(body)?))
    }

    /// A body that is JSON text already.
    pub fn json_text(status: u16, body: impl Into<String>) -> Self {
        Reply {
            status,
            body: body.into(),
            headers: Vec::new(),
            websocket: None,
            download: None,
        }
    }

    /// The 101 that hands the client its end of an accepted WebSocket.
    pub fn upgrade(websocket: WebSocket) -> Self {
        Reply {
            status: 101,
            body: String::new(),
            headers: Vec::new(),
            websocket: Some(websocket),
            download: None,
        }
    }

    pub fn ok(body: &impl Serialize) -> Result<Self> {
        Self::json(200, body)
    }

    pub fn created(body: &impl Serialize) -> Result<Self> {
        Self::json(201, body)
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

fn is_json_content_type(value: &str) -> bool {
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The request body, checked for size (413) and media type (415). An empty body is allowed without a
/// content type (it reads as `{}`), so bodiless POSTs of endpoints whose fields are optional work.
pub async fn read_json_body(req: &mut Request) -> Result<Vec<u8>> {
    let headers = req.headers();
    let declared_len = headers
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|l| l.trim().parse::<u64>().ok());
    if declared_len.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(ApiError::payload_too_large());
    }
    let content_type = headers.get("Content-Type").ok().flatten();
    let bytes = req
        .bytes()
        .await
        .map_err(|_| ApiError::bad_request("request body could not be read"))?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large());
    }
    match content_type {
        Some(ct) if is_json_content_type(&ct) => Ok(bytes),
        None if bytes.is_empty() => Ok(bytes),
        _ => Err(ApiError::unsupported_media_type()),
    }
}

/// The request's query string as its wire struct (`domain::wire`).
pub fn query<Q: serde::de::DeserializeOwned>(req: &Request) -> Result<Q> {
    crate::domain::wire::query(query_pairs(&req.inner().url()))
}

/// The client's `X-D1-Bookmark`, if it sent one; a malformed one is a 400.
pub fn bookmark(req: &Request) -> Result<Option<String>> {
    match header(req, "X-D1-Bookmark") {
        None => Ok(None),
        Some(value) => crate::domain::input::bookmark(&value).map(Some),
    }
}

pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

pub const COST_HEADERS: [&str; 3] = ["X-D1-Queries", "X-D1-Rows-Read", "X-D1-Rows-Written"];

pub fn write_cost(headers: &Headers, cost: Cost) -> Result<()> {
    let values = [cost.queries, cost.rows_read, cost.rows_written];
    for (name, value) in COST_HEADERS.iter().zip(values) {
        headers.set(name, &value.to_string())?;
    }
    Ok(())
}

/// The origin (`scheme://host[:port]`) of an absolute URL as the runtime gives it; `""` if none.
pub fn origin_of(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return String::new();
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{host}")
}

/// A response whose body is already JSON text.
pub fn json_response(status: u16, body: String) -> Result<Response> {
    let response = Response::from_bytes(body.into_bytes())?.with_status(status);
    response
        .headers()
        .set("Content-Type", "application/json; charset=utf-8")?;
    Ok(response)
}

/// The request's log line, and for a refused live socket a socket line too. A 5xx carries its detail
/// (never a token, key or message content: details name the failing step).
fn log_request(
    exchange: &Exchange,
    status: u16,
    cost: Cost,
    actor: Option<Actor>,
    failure: Option<&str>,
) {
    let route = router::pattern_of(&exchange.path);
    let chat_id = route
        .and_then(|pattern| router::path_arg(pattern, &exchange.path, "chatId"))
        .filter(|id| crate::domain::ids::is_object_id(id));
    let user_id = match &actor {
        Some(Actor::User(id)) => Some(id.clone()),
        _ => None,
    };
    let mut line =
        log::RequestLine::new(&exchange.request_id, &exchange.method, status, cost).by(actor);
    line.route = route;
    line.duration_ms = crate::domain::time::now_ms() - exchange.now;
    line.chat_id = chat_id;
    line.error = failure;
    log::emit(&line);
    if status >= 400 && route == Some(router::LIVE_PATTERN) {
        let mut socket = log::SocketLine::new(log::SocketAction::Refused);
        socket.request_id = Some(&exchange.request_id);
        socket.chat_id = chat_id;
        socket.user_id = user_id.as_deref();
        socket.code = Some(status);
        log::emit(&socket);
    }
}

/// Logs a request's outcome and answers it: the reply, or the error in its envelope (`errors`).
pub fn finish(
    outcome: Result<Reply>,
    exchange: &Exchange,
    cost: Cost,
    actor: Option<Actor>,
    bookmark: Option<String>,
    config: &Config,
) -> worker::Result<Response> {
    let (reply, failure) = match outcome {
        Ok(reply) => (reply, None),
        Err(err) => {
            let failure = (err.status >= 500).then(|| err.to_string());
            (errors::reply(&err, &exchange.path, exchange.now), failure)
        }
    };
    log_request(exchange, reply.status, cost, actor, failure.as_deref());
    respond(reply, exchange, cost, bookmark, config)
}

/// The response to a request: the reply (or its error in its envelope), with the headers every response
/// carries: `X-Request-Id`, the D1 cost and bookmark, and CORS for an allowed origin.
fn respond(
    reply: Reply,
    exchange: &Exchange,
    cost: Cost,
    bookmark: Option<String>,
    config: &Config,
) -> worker::Result<Response> {
    let mut response = match (reply.websocket, reply.download) {
        (Some(ws), _) => Response::from_websocket(ws)?,
        (None, Some(body)) => Response::from_body(body)?.with_status(reply.status),
        (None, None) if reply.body.is_empty() => Response::empty()?.with_status(reply.status),
        (None, None) => json_response(reply.status, reply.body)
            .map_err(|e| worker::Error::RustError(e.to_string()))?,
    };
    let headers = response.headers_mut();
    headers.set("X-Request-Id", &exchange.request_id)?;
    if let Some(bookmark) = &bookmark {
        headers.set("X-D1-Bookmark", bookmark)?;
    }
    write_cost(headers, cost).map_err(|e| worker::Error::RustError(e.to_string()))?;
    cors::grant(headers, config, exchange.origin.as_deref())?;
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_of_urls() {
        assert_eq!(
            origin_of("https://chat.example.com/api/v1/x?y=1"),
            "https://chat.example.com"
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8787/health"),
            "http://127.0.0.1:8787"
        );
        assert_eq!(origin_of("http://h:1?q"), "http://h:1");
        assert_eq!(origin_of("nonsense"), "");
    }

    #[test]
    fn json_content_types() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        assert!(is_json_content_type("application/merge-patch+json"));
        assert!(!is_json_content_type("text/plain"));
        assert!(!is_json_content_type("application/x-www-form-urlencoded"));
    }
}

//! edge-chat: a chat messaging HTTP API as a Cloudflare Worker (see README.md and ../shared/API.md).
//!
//! This file is the fetch event: build the request context, resolve the route, run it, and turn the
//! outcome into a response with the common headers (request id, D1 cost, CORS). No logic lives here.

pub mod auth;
pub mod chat_room;
pub mod config;
pub mod context;
pub mod domain;
pub mod error;
pub mod handlers;
pub mod http;
pub mod limits;
pub mod log;
pub mod router;
pub mod store;
pub mod views;

use worker::{event, Context, Env, Request, Response};

use crate::config::Config;
use crate::context::Ctx;
use crate::domain::time::now_ms;
use crate::error::ApiError;
use crate::http::{header, json_response, write_cost, Reply};
use crate::log::{Actor, RequestLine, SocketAction, SocketLine};
use crate::store::{Cost, Db, SessionStart};

/// The OpenAPI 3.1 document of every route, for the native tests that hold it true (`src/openapi.json`,
/// minified by build.rs). The worker serves it as a static asset instead (`handlers::health::openapi`).
#[cfg(test)]
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.min.json"));

const CORS_ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Idempotency-Key, X-API-Key, X-Request-Id, X-D1-Bookmark";
const CORS_EXPOSE_HEADERS: &str =
    "X-Request-Id, X-D1-Queries, X-D1-Rows-Read, X-D1-Rows-Written, X-D1-Bookmark, Idempotent-Replayed, Retry-After";

/// What `finish` needs to know about the request.
struct Exchange {
    request_id: String,
    method: String,
    path: String,
    origin: Option<String>,
    now: i64,
}

#[event(fetch)]
pub async fn fetch(mut req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let now = now_ms();
    let exchange = Exchange {
        request_id: request_id(&req, now),
        // The method's name as sent: the runtime's method enum reads unknown names as GET.
        method: req.inner().method(),
        path: req.path(),
        origin: header(&req, "Origin"),
        now,
    };
    let config = Config::from_env(&env);
    // Reads start at any replica at least as fresh as the client's bookmark; writes at the primary.
    // A malformed bookmark is the request's 400 once its caller is authenticated (`handlers::dispatch`).
    let bookmark = http::bookmark(&req);
    let start = match &bookmark {
        _ if limits::is_write(&exchange.method) => SessionStart::Primary,
        Ok(Some(b)) => SessionStart::After(b),
        _ => SessionStart::Unconstrained,
    };
    let db = env
        .d1("DB")
        .map_err(|e| ApiError::internal(format!("D1 binding DB: {e}")))
        .and_then(|db| Db::new(&db, start));
    let db = match db {
        Ok(db) => db,
        Err(e) => return finish(Err(e), Cost::default(), None, None, &config, &exchange),
    };
    let limits = limits::Limits::new(
        env.var("RATE_LIMITS")
            .ok()
            .map(|v| v.to_string())
            .as_deref(),
        &exchange.method,
        header(&req, "CF-Connecting-IP"),
    );
    let ctx = Ctx {
        env,
        db,
        config,
        now_ms: now,
        limits,
        bookmark: bookmark.map(|_| ()),
    };
    let outcome = serve(&mut req, &ctx, &exchange).await;
    let (cost, actor) = (ctx.db.cost(), ctx.db.trace.actor());
    finish(
        outcome,
        cost,
        actor,
        ctx.db.bookmark(),
        &ctx.config,
        &exchange,
    )
}

/// A client's `X-Request-Id` (1–64 of `[A-Za-z0-9._:-]`), else a new one.
fn request_id(req: &Request, now: i64) -> String {
    header(req, "X-Request-Id")
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .unwrap_or_else(|| domain::ids::new_object_id(now).unwrap_or_default())
}

async fn serve(req: &mut Request, ctx: &Ctx, exchange: &Exchange) -> error::Result<Reply> {
    if exchange.method == "OPTIONS" {
        return options(&ctx.config, exchange);
    }
    let resolved = router::resolve(&exchange.method, &exchange.path)?;
    let envelope = resolved.route.envelope;
    // workerd shows every request that carries `Upgrade: websocket` to the worker as a GET without its
    // body, whatever its method was: outside the live route such a request is refused, never served
    // as the GET it looks like.
    let upgrade =
        header(req, "Upgrade").is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket"));
    if upgrade && !resolved.route.opens_socket() {
        return Err(ApiError::bad_request(
            "Upgrade: websocket is only accepted on /api/v1/chats/{chatId}/live",
        ));
    }
    let outcome = handlers::dispatch(resolved, req, ctx).await;
    // A request that failed authentication (or had none) spends its client's budget: past it, the
    // answer is the 429 instead of the 401.
    if outcome.as_ref().is_err_and(|e| e.status == 401) {
        ctx.limits
            .spend_unauthenticated(&ctx.env)
            .await
            .map_err(|e| e.in_envelope(envelope))?;
    }
    outcome.map_err(|e| e.in_envelope(envelope))
}

/// `OPTIONS`: the methods of the path in `Allow` (204), and, for an allowed origin's CORS preflight,
/// the CORS grant. An unknown path is a 404.
fn options(config: &Config, exchange: &Exchange) -> error::Result<Reply> {
    let methods = router::allowed_methods(&exchange.path)
        .ok_or_else(|| ApiError::not_found("route"))?
        .join(", ");
    let mut reply = Reply::json_text(204, "").with_header("Allow", format!("{methods}, OPTIONS"));
    if config.cors_origin_for(exchange.origin.as_deref()).is_some() {
        reply = reply
            .with_header(
                "Access-Control-Allow-Methods",
                format!("{methods}, OPTIONS"),
            )
            .with_header("Access-Control-Allow-Headers", CORS_ALLOW_HEADERS)
            .with_header("Access-Control-Max-Age", "86400");
    }
    Ok(reply)
}

fn finish(
    outcome: error::Result<Reply>,
    cost: Cost,
    actor: Option<Actor>,
    bookmark: Option<String>,
    config: &Config,
    exchange: &Exchange,
) -> worker::Result<Response> {
    let (reply, failure) = match outcome {
        Ok(reply) => (reply, None),
        Err(err) => {
            let failure = (err.status >= 500).then(|| err.to_string());
            (error_reply(err, exchange), failure)
        }
    };
    log_request(exchange, reply.status, cost, actor, failure.as_deref());
    let mut response = match reply.websocket {
        Some(ws) => Response::from_websocket(ws)?,
        None if reply.body.is_empty() => Response::empty()?.with_status(reply.status),
        None => json_response(reply.status, reply.body)
            .map_err(|e| worker::Error::RustError(e.to_string()))?,
    };
    let headers = response.headers_mut();
    headers.set("X-Request-Id", &exchange.request_id)?;
    if let Some(bookmark) = &bookmark {
        headers.set("X-D1-Bookmark", bookmark)?;
    }
    write_cost(headers, cost).map_err(|e| worker::Error::RustError(e.to_string()))?;
    if let Some(allowed) = config.cors_origin_for(exchange.origin.as_deref()) {
        headers.set("Access-Control-Allow-Origin", &allowed)?;
        headers.set("Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS)?;
        headers.set("Vary", "Origin")?;
    }
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    Ok(response)
}

/// The request's log line (`log`), and for a refused live socket a socket line too. A 5xx carries its
/// detail (never a token, key or message content: details name the failing step).
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
        .filter(|id| domain::ids::ChatId::parse(id, "chatId").is_ok());
    let user_id = match &actor {
        Some(Actor::User(id)) => Some(id.clone()),
        _ => None,
    };
    let mut line = RequestLine::new(&exchange.request_id, &exchange.method, status, cost).by(actor);
    line.route = route;
    line.duration_ms = now_ms() - exchange.now;
    line.chat_id = chat_id;
    line.error = failure;
    log::emit(&line);
    if status >= 400 && route == Some(router::LIVE_PATTERN) {
        let mut socket = SocketLine::new(SocketAction::Refused);
        socket.request_id = Some(&exchange.request_id);
        socket.chat_id = chat_id;
        socket.user_id = user_id.as_deref();
        socket.code = Some(status);
        log::emit(&socket);
    }
}

/// An error as the API answers it: the envelope, `Retry-After` for 429/503, `Allow` for 405.
fn error_reply(err: ApiError, exchange: &Exchange) -> Reply {
    let Exchange { path, now, .. } = exchange;
    let mut reply = Reply::json_text(err.status, err.body(*now));
    if let Some(seconds) = err.retry_after {
        reply = reply.with_header("Retry-After", seconds.to_string());
    }
    if err.status == 426 {
        // RFC 6455 §4.4: the versions this server speaks.
        reply = reply.with_header("Sec-WebSocket-Version", "13");
    }
    if err.status == 405 {
        if let Some(methods) = router::allowed_methods(path) {
            reply = reply.with_header("Allow", format!("{}, OPTIONS", methods.join(", ")));
        }
    }
    reply
}

//! edge-chat: a chat messaging HTTP API as a Cloudflare Worker (see README.md and ../shared/API.md).
//!
//! This file is the fetch event: build the request context, route, run the handler, and turn the outcome
//! into a response with the common headers (request id, D1 cost, CORS). No logic lives here.

pub mod auth;
pub mod chat_room;
pub mod config;
pub mod domain;
pub mod error;
pub mod handlers;
pub mod http;
pub mod router;
pub mod store;
pub mod views;

use worker::{console_error, event, Context, Env, Request, Response};

use crate::config::Config;
use crate::domain::time::now_ms;
use crate::error::ApiError;
use crate::handlers::Ctx;
use crate::http::{header, json_response, write_cost};
use crate::store::{Cost, Db};

/// The OpenAPI 3.1 document of every route (`GET /openapi.json`); kept true by the router's tests.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

const CORS_ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Idempotency-Key, X-API-Key, X-Request-Id";
const CORS_EXPOSE_HEADERS: &str =
    "X-Request-Id, X-D1-Queries, X-D1-Rows-Read, X-D1-Rows-Written, Idempotent-Replayed, Retry-After";

#[event(fetch)]
pub async fn fetch(mut req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let now = now_ms();
    let request_id = header(&req, "X-Request-Id")
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .unwrap_or_else(|| domain::ids::new_object_id(now).unwrap_or_default());
    let config = Config::from_env(&env);
    let method = req.method().to_string();
    let path = req.path();
    let origin = header(&req, "Origin");

    if method == "OPTIONS" {
        return preflight(&config, origin.as_deref(), &path);
    }

    let (outcome, cost, config) = match env.d1("DB") {
        Err(e) => (
            Err(ApiError::internal(format!("D1 binding DB: {e}"))),
            Cost::default(),
            config,
        ),
        Ok(db) => {
            let ctx = Ctx {
                env,
                db: Db::new(db),
                config,
                now_ms: now,
            };
            let outcome = match router::resolve(&method, &path) {
                // A WebSocket upgrade answers with the chat room's own 101 response, as it is.
                Ok(router::Route::Live(chat_id)) => {
                    match handlers::live::open(&req, &ctx, &chat_id).await {
                        Ok(upgraded) => return Ok(upgraded),
                        Err(e) => Err(e),
                    }
                }
                Ok(route) => handlers::dispatch(route, &mut req, &ctx).await,
                Err(e) => Err(e),
            };
            (outcome, ctx.db.cost(), ctx.config)
        }
    };
    finish(
        outcome,
        cost,
        &request_id,
        &config,
        origin.as_deref(),
        &method,
        &path,
        now,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    outcome: error::Result<http::Reply>,
    cost: Cost,
    request_id: &str,
    config: &Config,
    origin: Option<&str>,
    method: &str,
    path: &str,
    now: i64,
) -> worker::Result<Response> {
    let (status, body, mut extra) = match outcome {
        Ok(reply) => (reply.status, reply.body, reply.headers),
        Err(err) => {
            if err.status >= 500 {
                console_error!("{method} {path} [{request_id}] {err}");
            }
            let mut extra = Vec::new();
            if let Some(seconds) = err.retry_after {
                extra.push(("Retry-After", seconds.to_string()));
            }
            if err.status == 405 {
                if let Some(methods) = router::allowed_methods(path) {
                    extra.push(("Allow", methods.join(", ")));
                }
            }
            (err.status, err.envelope(now).to_string(), extra)
        }
    };
    let mut response =
        json_response(status, body).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let headers = response.headers_mut();
    headers.set("X-Request-Id", request_id)?;
    write_cost(headers, cost).map_err(|e| worker::Error::RustError(e.to_string()))?;
    if let Some(allowed) = config.cors_origin_for(origin) {
        headers.set("Access-Control-Allow-Origin", &allowed)?;
        headers.set("Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS)?;
        headers.set("Vary", "Origin")?;
    }
    for (name, value) in extra.drain(..) {
        headers.set(name, &value)?;
    }
    Ok(response)
}

/// `OPTIONS` preflight: 204 with the allowed methods of the path, when the origin is allowed.
fn preflight(config: &Config, origin: Option<&str>, path: &str) -> worker::Result<Response> {
    let mut response = Response::empty()?.with_status(204);
    let headers = response.headers_mut();
    if let (Some(allowed), Some(methods)) = (
        config.cors_origin_for(origin),
        router::allowed_methods(path),
    ) {
        headers.set("Access-Control-Allow-Origin", &allowed)?;
        headers.set(
            "Access-Control-Allow-Methods",
            &format!("{}, OPTIONS", methods.join(", ")),
        )?;
        headers.set("Access-Control-Allow-Headers", CORS_ALLOW_HEADERS)?;
        headers.set("Access-Control-Max-Age", "86400")?;
        headers.set("Vary", "Origin")?;
    }
    Ok(response)
}

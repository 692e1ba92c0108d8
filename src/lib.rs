//! edge-chat: a chat messaging HTTP API as a Cloudflare Worker (see README.md and ../shared/API.md).
//!
//! This file only wires: the fetch event builds the request's context (D1 session, configuration, rate
//! limits), hands it to `handlers::serve`, logs the outcome and answers with `http::respond`.

pub mod auth;
pub mod chat_room;
pub mod config;
pub mod context;
pub mod cost;
pub mod domain;
pub mod erasure;
pub mod error;
pub mod handlers;
pub mod http;
pub mod limits;
pub mod log;
#[cfg(not(target_arch = "wasm32"))]
pub mod openapi;
pub mod router;
pub mod scheduled;
pub mod store;
pub mod views;

use worker::{event, Context, Env, Request, Response};

use crate::config::Config;
use crate::context::Ctx;
use crate::cost::Cost;
use crate::domain::time::now_ms;
use crate::error::ApiError;
use crate::http::Exchange;
use crate::store::{Db, SessionStart};

/// The OpenAPI 3.1 document of every route, generated from the code (`src/openapi/`, written to
/// `docs/openapi.json` by `make openapi`) and minified by build.rs: served at `/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.min.json"));

#[event(fetch)]
pub async fn fetch(mut req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let exchange = Exchange::of(&req, now_ms());
    let config = Config::of_isolate(&env);
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
        Err(e) => return http::finish(Err(e), &exchange, Cost::default(), None, None, config),
    };
    let limits = limits::Limits::new(
        config.rate_limits.as_deref(),
        &exchange.method,
        http::header(&req, "CF-Connecting-IP"),
    );
    // (From the runtime's URL text: parsing it with the `url` crate would bring its IDNA tables into
    // the wasm, about 80 KB gzip.)
    let here = http::origin_of(&req.inner().url());
    // File URLs in this request's answers are minted for its origin (or PUBLIC_ORIGIN).
    views::set_file_urls(config.file_urls(&here));
    let ctx = Ctx {
        env,
        db,
        config,
        now_ms: exchange.now,
        limits,
        bookmark: bookmark.map(|_| ()),
        trace: Default::default(),
        here,
    };
    let outcome = handlers::serve(&mut req, &ctx, &exchange).await;
    let bookmark = ctx.db.bookmark();
    http::finish(
        outcome,
        &exchange,
        ctx.db.cost(),
        ctx.actor(),
        bookmark,
        ctx.config,
    )
}

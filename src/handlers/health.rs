//! `GET /health`: no auth; proves D1 answers. `GET /openapi.json`: the document.

use crate::context::Ctx;
use crate::error::{ApiError, Result};
use crate::http::Reply;
use crate::store;
use crate::views;

pub async fn health(ctx: &Ctx) -> Result<Reply> {
    match store::ping(&ctx.db).await {
        Ok(()) => Reply::ok(&views::Health {
            status: "ok",
            database: "ok",
            version: env!("CARGO_PKG_VERSION"),
        }),
        Err(e) => {
            let mut err = ApiError::overloaded();
            err.errors = vec!["database is not answering".into()];
            err.log_detail = Some(e.to_string());
            Err(err)
        }
    }
}

/// The OpenAPI document, embedded in the wasm as minified JSON text (build.rs): served without I/O.
pub fn openapi() -> Reply {
    Reply::json_text(200, crate::OPENAPI_JSON)
}

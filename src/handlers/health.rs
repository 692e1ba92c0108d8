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

/// The OpenAPI document, a static asset (`make build` writes build/assets/openapi.json from
/// src/openapi.json), read through the ASSETS binding: 86 KB of JSON the wasm does not carry.
pub async fn openapi(ctx: &Ctx) -> Result<Reply> {
    let internal = |e: worker::Error| ApiError::internal(format!("the OpenAPI asset: {e}"));
    let assets = ctx.env.assets("ASSETS").map_err(internal)?;
    let mut response = assets
        .fetch("https://assets.invalid/openapi.json", None)
        .await
        .map_err(internal)?;
    if response.status_code() != 200 {
        return Err(ApiError::internal(format!(
            "the OpenAPI asset answered {}",
            response.status_code()
        )));
    }
    Ok(Reply::json_text(
        200,
        response.text().await.map_err(internal)?,
    ))
}

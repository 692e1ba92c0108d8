//! `GET /health`: no auth; proves D1 answers.

use serde_json::json;

use super::Ctx;
use crate::error::{ApiError, Result};
use crate::http::Reply;

pub async fn health(ctx: &Ctx) -> Result<Reply> {
    let probe = ctx.db.statement("SELECT 1 AS ok", &[])?;
    match ctx.db.all(probe).await {
        Ok(_) => Reply::ok(
            &json!({"status": "ok", "database": "ok", "version": env!("CARGO_PKG_VERSION")}),
        ),
        Err(e) => {
            let mut err = ApiError::overloaded();
            err.errors = vec!["database is not answering".into()];
            err.log_detail = Some(e.to_string());
            Err(err)
        }
    }
}

//! CORS (API.md "Conventions"): the allowed origins come from `CORS_ORIGINS`; an allowed origin's
//! requests get `Access-Control-Allow-Origin` and the headers a browser may read, and its preflights the
//! methods and headers it may send. `OPTIONS` is answered by the route table (204 with `Allow`; 404 for
//! an unknown path) whether or not it is a preflight.

use worker::Headers;

use super::Reply;
use crate::config::Config;
use crate::error::{ApiError, Result};
use crate::router;

const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Idempotency-Key, X-API-Key, X-Request-Id, X-D1-Bookmark";
const EXPOSE_HEADERS: &str =
    "X-Request-Id, X-D1-Queries, X-D1-Rows-Read, X-D1-Rows-Written, X-D1-Bookmark, Idempotent-Replayed, Retry-After";

/// `OPTIONS`: the methods of the path in `Allow` (204), and, for an allowed origin's CORS preflight,
/// the CORS grant. An unknown path is a 404.
pub fn options(config: &Config, path: &str, origin: Option<&str>) -> Result<Reply> {
    let methods = router::allowed_methods(path)
        .ok_or_else(|| ApiError::not_found("route"))?
        .join(", ");
    let mut reply = Reply::json_text(204, "").with_header("Allow", format!("{methods}, OPTIONS"));
    if config.cors_origin_for(origin).is_some() {
        reply = reply
            .with_header(
                "Access-Control-Allow-Methods",
                format!("{methods}, OPTIONS"),
            )
            .with_header("Access-Control-Allow-Headers", ALLOW_HEADERS)
            .with_header("Access-Control-Max-Age", "86400");
    }
    Ok(reply)
}

/// Grants an allowed origin the response (and the headers it may read).
pub fn grant(headers: &Headers, config: &Config, origin: Option<&str>) -> worker::Result<()> {
    if let Some(allowed) = config.cors_origin_for(origin) {
        headers.set("Access-Control-Allow-Origin", &allowed)?;
        headers.set("Access-Control-Expose-Headers", EXPOSE_HEADERS)?;
        headers.set("Vary", "Origin")?;
    }
    Ok(())
}

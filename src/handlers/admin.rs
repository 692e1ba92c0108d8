//! `POST`, `GET /api/v1/admin/api-keys`, `DELETE /api/v1/admin/api-keys/{keyId}`: service keys,
//! managed with the admin key (checked by the routes' target).

use worker::Request;

use crate::context::Ctx;
use crate::domain::ids::KeyId;
use crate::domain::keys::{self, NewApiKey};
use crate::error::{ApiError, Result};
use crate::http::{read_json_body, Reply};
use crate::store;
use crate::views;

/// A new key: the key itself is in this answer only; storage keeps its SHA-256.
pub async fn create_key(req: &mut Request, ctx: &Ctx) -> Result<Reply> {
    let new_key = NewApiKey::parse(&read_json_body(req).await?)?;
    let generated = keys::generate()?;
    let row = store::keys::create(&ctx.db, &new_key, &generated.hash, ctx.now_ms).await?;
    Reply::created(&views::NewApiKey {
        key: views::ApiKey::new(&row),
        secret: &generated.key,
    })
}

pub async fn list_keys(ctx: &Ctx) -> Result<Reply> {
    let rows = store::keys::list(&ctx.db).await?;
    Reply::ok(&views::ApiKeys {
        api_keys: rows.iter().map(views::ApiKey::new).collect(),
    })
}

/// Revokes a key; from the next request on it is a 401. Revoking again answers the same.
pub async fn revoke_key(ctx: &Ctx, id: &KeyId) -> Result<Reply> {
    let row = store::keys::revoke(&ctx.db, id.as_str(), ctx.now_ms)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    Reply::ok(&views::ApiKey::new(&row))
}

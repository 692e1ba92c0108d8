//! `POST`, `GET /api/v1/admin/api-keys`, `PATCH`, `DELETE /api/v1/admin/api-keys/{keyId}`,
//! `GET /api/v1/admin/api-keys/{keyId}/deliveries`: service keys and their webhooks, managed with the
//! admin key (checked by the routes' target).

use worker::Request;

use crate::context::Ctx;
use crate::domain::ids::{new_object_id, KeyId};
use crate::domain::keys::{self, NewApiKey};
use crate::domain::webhooks;
use crate::error::{ApiError, Result};
use crate::http::{query, read_json_body, Reply};
use crate::store;
use crate::views;

/// A webhook to store for key `key_id`: its URL, a new nonce, and the secret they give (shown once).
struct NewHook {
    url: String,
    nonce: String,
    secret: String,
}

fn new_hook(ctx: &Ctx, key_id: &str, url: Option<String>) -> Result<Option<NewHook>> {
    let Some(url) = url else {
        return Ok(None);
    };
    let signing_key = ctx.config.webhook_signing_key()?;
    let nonce = webhooks::new_nonce().map_err(ApiError::internal)?;
    Ok(Some(NewHook {
        secret: webhooks::secret(signing_key, key_id, &nonce).map_err(ApiError::internal)?,
        url,
        nonce,
    }))
}

fn stored(hook: &Option<NewHook>) -> Option<(&str, &str)> {
    hook.as_ref().map(|h| (h.url.as_str(), h.nonce.as_str()))
}

/// A new key: the key itself (and its webhook's secret) are in this answer only; storage keeps the
/// key's SHA-256 and the secret's nonce.
pub async fn create_key(req: &mut Request, ctx: &Ctx) -> Result<Reply> {
    let new_key = NewApiKey::parse(
        &read_json_body(req).await?,
        ctx.config.webhook_allow_loopback,
    )?;
    let id = new_object_id(ctx.now_ms)?;
    let hook = new_hook(ctx, &id, new_key.webhook_url.clone())?;
    let generated = keys::generate()?;
    let row = store::keys::create(
        &ctx.db,
        &id,
        &new_key,
        &generated.hash,
        stored(&hook),
        ctx.now_ms,
    )
    .await?;
    Reply::created(&views::ApiKeyOnce {
        key: views::ApiKey::new(&row),
        secret: Some(&generated.key),
        webhook_secret: hook.as_ref().map(|h| h.secret.as_str()),
    })
}

pub async fn list_keys(ctx: &Ctx) -> Result<Reply> {
    let rows = store::keys::list(&ctx.db).await?;
    Reply::ok(&views::ApiKeys {
        api_keys: rows.iter().map(views::ApiKey::new).collect(),
    })
}

/// Sets (with a new secret, shown in this answer only) or removes a key's webhook. It applies from the
/// key's next write on; deliveries already recorded keep their URL and secret. A revoked key's webhook
/// can be removed but not set (409).
pub async fn update_key(req: &mut Request, ctx: &Ctx, id: &KeyId) -> Result<Reply> {
    let url = keys::parse_webhook_change(
        &read_json_body(req).await?,
        ctx.config.webhook_allow_loopback,
    )?;
    let hook = new_hook(ctx, id.as_str(), url)?;
    let row = store::keys::set_webhook(&ctx.db, id.as_str(), stored(&hook))
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    if hook.is_some() && row.revoked_at.is_some() {
        return Err(ApiError::conflict("the API key is revoked"));
    }
    Reply::ok(&views::ApiKeyOnce {
        key: views::ApiKey::new(&row),
        secret: None,
        webhook_secret: hook.as_ref().map(|h| h.secret.as_str()),
    })
}

/// Revokes a key; from the next request on it is a 401. Revoking again answers the same.
pub async fn revoke_key(ctx: &Ctx, id: &KeyId) -> Result<Reply> {
    let row = store::keys::revoke(&ctx.db, id.as_str(), ctx.now_ms)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    Reply::ok(&views::ApiKey::new(&row))
}

/// A key's webhook deliveries, newest first: `?limit=` 1–100, default 50.
pub async fn deliveries(req: &Request, ctx: &Ctx, id: &KeyId) -> Result<Reply> {
    let limit = crate::domain::webhooks::deliveries_limit(query(req)?)?;
    let text = store::keys::deliveries(&ctx.db, id.as_str(), limit)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    Ok(Reply::json_text(200, text))
}

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

/// The webhook's URL (none when only a before-send hook asked for the secret) and the nonce.
fn stored(hook: &Option<NewHook>) -> Option<(Option<&str>, &str)> {
    hook.as_ref().map(|h| {
        (
            Some(h.url.as_str()).filter(|u| !u.is_empty()),
            h.nonce.as_str(),
        )
    })
}

/// A new key: the key itself (and its webhook's secret) are in this answer only; storage keeps the
/// key's SHA-256 and the secret's nonce.
pub async fn create_key(req: &mut Request, ctx: &Ctx) -> Result<Reply> {
    let new_key = NewApiKey::parse(
        &read_json_body(req).await?,
        ctx.config.webhook_allow_loopback,
    )?;
    let id = new_object_id(ctx.now_ms)?;
    // Either hook needs the secret: the webhook's URL, else the before-send hook's, gets the nonce.
    let url = new_key
        .webhook_url
        .clone()
        .or_else(|| new_key.before_send_url.as_ref().map(|_| String::new()));
    let hook = new_hook(ctx, &id, url)?;
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
    let change = keys::parse_webhook_change(
        &read_json_body(req).await?,
        ctx.config.webhook_allow_loopback,
    )?;
    let nonce = webhooks::new_nonce().map_err(ApiError::internal)?;
    let row = store::keys::set_hooks(&ctx.db, id.as_str(), &change, &nonce)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    if change.sets_url() && row.revoked_at.is_some() {
        return Err(ApiError::conflict("the API key is revoked"));
    }
    // A new secret when this change made one (a webhook set, or a first before-send hook).
    let secret = match row.webhook_nonce.as_deref() == Some(nonce.as_str()) {
        true => Some(
            webhooks::secret(ctx.config.webhook_signing_key()?, id.as_str(), &nonce)
                .map_err(ApiError::internal)?,
        ),
        false => None,
    };
    Reply::ok(&views::ApiKeyOnce {
        key: views::ApiKey::new(&row),
        secret: None,
        webhook_secret: secret.as_deref(),
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

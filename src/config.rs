//! Typed configuration from vars and secrets (wrangler.toml `[vars]`, `.dev.vars`, `wrangler secret put`).

use worker::Env;

pub struct Config {
    /// HS256 key for user tokens (secret `JWT_SECRET`). Checked for length when a token is verified.
    pub jwt_secret: String,
    /// Key for the admin endpoints (secret `ADMIN_API_KEY`); empty means they refuse everyone.
    pub admin_api_key: String,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    /// `JWT_JWKS_URL`: an identity provider's key set (RS256, ES256, EdDSA tokens).
    pub jwt_jwks_url: Option<String>,
    /// `JWT_ALGORITHMS`, parsed (default RS256); an unknown name is kept as the error it is.
    pub jwt_algorithms: Result<Vec<crate::auth::jwks::ProviderAlg>, String>,
    /// Allowed CORS origins; `*` allows any.
    pub cors_origins: Vec<String>,
    /// `WEBHOOK_SIGNING_KEY` (secret): what every webhook's signing secret is derived from.
    pub webhook_signing_key: String,
    /// `WEBHOOK_ALLOW_LOOPBACK=true`: webhooks may go to `http://` loopback (development, tests).
    pub webhook_allow_loopback: bool,
    /// `RATE_LIMITS` as set (`off` switches the HTTP limits off: `limits::Limits`).
    pub rate_limits: Option<String>,
    /// `FILE_SIGNING_KEY` (secret): signs file URLs; without one (at least 32 bytes) files are a 503.
    pub file_signing_key: String,
    /// `PUBLIC_ORIGIN`: the origin of file URLs (else each request's own).
    pub public_origin: Option<String>,
}

thread_local! {
    static ISOLATE: std::cell::OnceCell<&'static Config> = const { std::cell::OnceCell::new() };
}

fn text(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string().trim().to_string())
        .filter(|v| !v.is_empty())
}

impl Config {
    /// The configuration of this isolate, read from `env` by its first request. Vars and secrets are
    /// part of a Worker's version: changing one (a deploy, `wrangler secret put`, an edited
    /// `.dev.vars` under `wrangler dev`) starts new isolates, so it is never stale. Reading it once
    /// saves each request ten crossings into the runtime.
    pub fn of_isolate(env: &Env) -> &'static Config {
        ISOLATE.with(|cell| *cell.get_or_init(|| Box::leak(Box::new(Config::from_env(env)))))
    }

    pub fn from_env(env: &Env) -> Config {
        Config {
            jwt_secret: text(env, "JWT_SECRET").unwrap_or_default(),
            admin_api_key: text(env, "ADMIN_API_KEY").unwrap_or_default(),
            jwt_issuer: text(env, "JWT_ISSUER"),
            jwt_audience: text(env, "JWT_AUDIENCE"),
            jwt_jwks_url: text(env, "JWT_JWKS_URL"),
            jwt_algorithms: crate::auth::jwks::parse_algorithms(
                text(env, "JWT_ALGORITHMS").as_deref(),
            ),
            cors_origins: text(env, "CORS_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().to_string())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            webhook_signing_key: text(env, "WEBHOOK_SIGNING_KEY").unwrap_or_default(),
            webhook_allow_loopback: text(env, "WEBHOOK_ALLOW_LOOPBACK").as_deref() == Some("true"),
            rate_limits: text(env, "RATE_LIMITS"),
            file_signing_key: text(env, "FILE_SIGNING_KEY").unwrap_or_default(),
            public_origin: text(env, "PUBLIC_ORIGIN"),
        }
    }

    /// The key file URLs are signed with: 503 without a usable one.
    pub fn file_signing_key(&self) -> crate::error::Result<&[u8]> {
        file_signing_key(&self.file_signing_key)
    }

    /// How this request's views mint file URLs: under `PUBLIC_ORIGIN`, else `here` (the origin the
    /// request came to); none without a signing key.
    pub fn file_urls(&self, here: &str) -> Option<crate::views::FileUrls> {
        file_urls(
            &self.file_signing_key,
            self.public_origin.as_deref(),
            here,
            crate::domain::files::URL_TTL_SECONDS,
        )
    }

    /// The key webhook secrets are derived from; without a usable one (at least 32 bytes), webhooks
    /// cannot be set (503) nor signed.
    pub fn webhook_signing_key(&self) -> crate::error::Result<&[u8]> {
        webhook_signing_key(&self.webhook_signing_key)
    }

    pub fn jwt(&self) -> crate::auth::JwtSettings<'_> {
        crate::auth::JwtSettings {
            secret: &self.jwt_secret,
            issuer: self.jwt_issuer.as_deref(),
            audience: self.jwt_audience.as_deref(),
            jwks_url: self.jwt_jwks_url.as_deref(),
            algorithms: &self.jwt_algorithms,
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request's `Origin`, if it is allowed.
    pub fn cors_origin_for(&self, origin: Option<&str>) -> Option<String> {
        let origin = origin?;
        if self.cors_origins.iter().any(|o| o == "*") {
            return Some("*".to_string());
        }
        self.cors_origins
            .iter()
            .find(|o| o.as_str() == origin)
            .cloned()
    }
}

/// `WEBHOOK_SIGNING_KEY` checked for length (shared with the chat's Durable Object, which reads it from
/// its own env).
pub fn webhook_signing_key(text: &str) -> crate::error::Result<&[u8]> {
    if text.len() < crate::domain::webhooks::MIN_SIGNING_KEY_BYTES {
        return Err(crate::error::ApiError::not_configured(
            "webhooks are not configured: the secret WEBHOOK_SIGNING_KEY (at least 32 bytes) is missing",
            60,
        ));
    }
    Ok(text.as_bytes())
}

/// `FILE_SIGNING_KEY` checked for length.
pub fn file_signing_key(text: &str) -> crate::error::Result<&[u8]> {
    if text.len() < crate::domain::files::MIN_SIGNING_KEY_BYTES {
        return Err(crate::error::ApiError::not_configured(
            "files are not configured: the secret FILE_SIGNING_KEY (at least 32 bytes) is missing",
            60,
        ));
    }
    Ok(text.as_bytes())
}

/// How views mint file URLs (see `Config::file_urls`), for the worker and the chat's Durable Object.
pub fn file_urls(
    key: &str,
    public_origin: Option<&str>,
    here: &str,
    ttl_seconds: i64,
) -> Option<crate::views::FileUrls> {
    let key = file_signing_key(key).ok()?;
    Some(crate::views::FileUrls {
        key: key.to_vec(),
        origin: public_origin
            .unwrap_or(here)
            .trim_end_matches('/')
            .to_string(),
        ttl_seconds,
    })
}

/// The env's `FILE_SIGNING_KEY` and `PUBLIC_ORIGIN` (the chat's Durable Object has no `Config`).
pub fn file_settings(env: &Env) -> (String, Option<String>) {
    (
        text(env, "FILE_SIGNING_KEY").unwrap_or_default(),
        text(env, "PUBLIC_ORIGIN"),
    )
}

/// The raw `WEBHOOK_SIGNING_KEY` of an env (the chat's Durable Object has no `Config`).
pub fn webhook_signing_key_text(env: &Env) -> String {
    text(env, "WEBHOOK_SIGNING_KEY").unwrap_or_default()
}

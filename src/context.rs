//! What every handler gets: the bindings fetched once, the configuration, the request's clock, and
//! the authentication of its callers.

use worker::{Env, Request};

use crate::auth::{self, constant_time_eq, webcrypto, Author, Caller, Credential, Verification};
use crate::config::Config;
use crate::domain::keys;
use crate::error::{ApiError, Result};
use crate::http::{header, query};
use crate::limits::{Budget, Limits};
use crate::log::Actor;
use crate::store::{self, Db, Reach};

pub struct Ctx {
    pub env: Env,
    pub db: Db,
    pub config: &'static Config,
    pub now_ms: i64,
    /// The request's rate limits (spent as soon as the caller is known).
    pub limits: Limits,
    /// Whether the client's `X-D1-Bookmark` was well formed (a malformed one is refused after
    /// authentication, so that a missing credential is still the 401).
    pub bookmark: Result<()>,
    /// Who the request turned out to be, for its log line (a service key: `Db::checked_key`).
    pub trace: crate::log::Trace,
    /// The origin the request came to (`https://host`), for file URLs without `PUBLIC_ORIGIN`.
    pub here: String,
}

impl Ctx {
    /// The request's actor as far as it got: the user its token named, or the service key storage
    /// found live.
    pub fn actor(&self) -> Option<Actor> {
        self.db
            .checked_key()
            .map(Actor::Key)
            .or_else(|| self.trace.actor())
    }

    /// Who a request presents itself as: a user's token (`Authorization`: `Bearer <jwt>` or a bare
    /// token) or a service key (`X-API-Key`), not both (400). The key is checked for form here and
    /// against storage in the request's own round trip.
    pub async fn credential(&self, req: &Request) -> Result<Credential> {
        let token = header(req, "Authorization").filter(|t| !t.trim().is_empty());
        let key = header(req, "X-API-Key").filter(|k| !k.trim().is_empty());
        match (token, key) {
            (Some(_), Some(_)) => Err(ApiError::bad_request(
                "send either a token (Authorization) or an API key (X-API-Key), not both",
            )),
            (None, Some(key)) => {
                let hash = keys::credential(key.trim())?;
                // By the key's hash: over budget costs no storage round trip.
                self.limits
                    .spend(&self.env, Budget::Key, hash.as_str())
                    .await?;
                Ok(Credential::Key(hash))
            }
            (token, None) => Ok(Credential::User(self.user_from(token.as_deref()).await?)),
        }
    }

    /// The user of a route only users may call: a service key is a 403 (once it is known to be a live
    /// key: an unknown or revoked one is a 401 like anywhere else).
    pub async fn user(&self, req: &Request) -> Result<Caller> {
        match self.credential(req).await? {
            Credential::User(caller) => Ok(caller),
            Credential::Key(hash) => {
                store::keys::find(&self.db, &hash).await?;
                Err(ApiError::forbidden(
                    "this endpoint is for users: service keys may not call it",
                ))
            }
        }
    }

    /// The author of a write: a user, or the service key found live in storage (one round trip).
    pub async fn author(&self, credential: &Credential) -> Result<Author> {
        Ok(match credential {
            Credential::User(caller) => Author::User(caller.clone()),
            Credential::Key(hash) => Author::Service(store::keys::find(&self.db, hash).await?),
        })
    }

    /// The user of a WebSocket request: the `Authorization` header, or, for browsers (which cannot set
    /// headers on a WebSocket), the `access_token` query parameter. Service keys may not open sockets.
    pub async fn socket_user(&self, req: &Request) -> Result<Caller> {
        if header(req, "Authorization").is_some() || header(req, "X-API-Key").is_some() {
            return self.user(req).await;
        }
        let token = query::<crate::domain::live::SocketQuery>(req)?.access_token;
        self.user_from(token.as_deref()).await
    }

    /// The user a token names: HS256 verified here, a provider's token against its key set (fetched
    /// and cached per isolate) with WebCrypto.
    async fn user_from(&self, header: Option<&str>) -> Result<Caller> {
        let now = chrono::DateTime::from_timestamp_millis(self.now_ms).unwrap_or_default();
        let settings = self.config.jwt();
        let caller = match auth::inspect(header, &settings)? {
            (untrusted, Verification::Hs256) => auth::verify_hs256(&untrusted, &settings, now)?,
            (untrusted, Verification::Provider { alg, kid, url }) => {
                let token = auth::bearer_token(header)?;
                let (input, signature) = auth::signed_parts(token, &untrusted);
                webcrypto::verify(url, &kid, alg, input, signature, self.now_ms).await?;
                auth::verified_provider_claims(&untrusted, &settings, now)?
            }
        };
        self.trace.note(Actor::User(caller.id.as_str().to_string()));
        self.limits
            .spend_user(&self.env, caller.id.as_str())
            .await?;
        Ok(caller)
    }

    /// The admin: `X-API-Key` must equal the `ADMIN_API_KEY` secret (compared in constant time). An
    /// unset secret refuses everyone.
    pub fn admin(&self, req: &Request) -> Result<()> {
        let given = header(req, "X-API-Key").unwrap_or_default();
        let expected = &self.config.admin_api_key;
        if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Err(ApiError::unauthorized("a valid X-API-Key is required"));
        }
        Ok(())
    }
}

/// The reach of a read by `credential`: the chats a user participates in, or a key's project.
pub fn reach(credential: &Credential) -> Reach<'_> {
    match credential {
        Credential::User(caller) => Reach::Member(&caller.id),
        Credential::Key(hash) => Reach::Key(hash),
    }
}

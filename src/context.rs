//! What every handler gets: the bindings fetched once, the configuration, the request's clock, and
//! the authentication of its callers.

use worker::{Env, Request};

use crate::auth::{authenticate, constant_time_eq, Caller};
use crate::config::Config;
use crate::error::{ApiError, Result};
use crate::http::{header, query};
use crate::store::Db;

pub struct Ctx {
    pub env: Env,
    pub db: Db,
    pub config: Config,
    pub now_ms: i64,
}

impl Ctx {
    /// The user of a request, from its `Authorization` header (`Bearer <jwt>` or a bare token).
    pub fn user(&self, req: &Request) -> Result<Caller> {
        self.user_from(header(req, "Authorization").as_deref())
    }

    /// The user of a WebSocket request: the `Authorization` header, or, for browsers (which cannot set
    /// headers on a WebSocket), the `access_token` query parameter.
    pub fn socket_user(&self, req: &Request) -> Result<Caller> {
        if header(req, "Authorization").is_some() {
            return self.user(req);
        }
        let token = query(req)?.get("access_token").map(str::to_string);
        self.user_from(token.as_deref())
    }

    fn user_from(&self, token: Option<&str>) -> Result<Caller> {
        let now = chrono::DateTime::from_timestamp_millis(self.now_ms).unwrap_or_default();
        authenticate(token, &self.config.jwt(), now)
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

//! Rate limits (API.md "Rate limits"), through the Workers Rate Limiting binding: per caller and per
//! 60 s, a user 600 requests of which 300 writes, a service key 6,000, and unauthenticated or
//! failed-authentication requests 600 per client IP. Over budget is a 429 with `Retry-After`.
//! `/health` and `/openapi.json` never authenticate, so they are never counted. `RATE_LIMITS=off`
//! turns the HTTP limits off, for local load benchmarks only (each isolate warns once).

use std::cell::Cell;

use worker::Env;

use crate::error::{ApiError, Result};

/// The binding's period: the longest a client over budget can have to wait.
pub const RETRY_AFTER_SECONDS: u32 = 60;

/// Which budget a request spends (one `[[ratelimits]]` binding each, see wrangler.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Every request of a user (JWT `sub`): 600 per 60 s.
    User,
    /// A user's writes, besides `User`: 300 per 60 s.
    UserWrite,
    /// Every request of a service key: 6,000 per 60 s.
    Key,
    /// Unauthenticated or failed-authentication requests of a client IP: 600 per 60 s.
    Ip,
}

impl Budget {
    pub fn binding(self) -> &'static str {
        match self {
            Budget::User => "USER_RATE_LIMIT",
            Budget::UserWrite => "USER_WRITE_RATE_LIMIT",
            Budget::Key => "KEY_RATE_LIMIT",
            Budget::Ip => "IP_RATE_LIMIT",
        }
    }

    /// The limiter key: budgets are separate bindings, the prefix keeps the keys readable.
    pub fn key(self, who: &str) -> String {
        let prefix = match self {
            Budget::User | Budget::UserWrite => "u",
            Budget::Key => "k",
            Budget::Ip => "ip",
        };
        format!("{prefix}:{who}")
    }
}

/// Whether a method writes (a user's write also spends the write budget).
pub fn is_write(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// The 429 of a spent budget.
pub fn too_many_requests(what: &str) -> ApiError {
    let mut err = ApiError::new(
        429,
        format!("rate limit exceeded: {what}; retry after {RETRY_AFTER_SECONDS} seconds"),
    );
    err.retry_after = Some(RETRY_AFTER_SECONDS);
    err
}

thread_local! {
    static WARNED: Cell<bool> = const { Cell::new(false) };
}

/// A request's limits: whether they apply, and whether the request writes.
pub struct Limits {
    pub on: bool,
    pub write: bool,
    /// `CF-Connecting-IP`, for the unauthenticated budget.
    pub client_ip: Option<String>,
}

impl Limits {
    pub fn new(rate_limits_var: Option<&str>, method: &str, client_ip: Option<String>) -> Limits {
        let on = !rate_limits_var.is_some_and(|v| v.trim().eq_ignore_ascii_case("off"));
        if !on && !WARNED.with(|w| w.replace(true)) {
            worker::console_warn!(
                "RATE_LIMITS=off: HTTP rate limits are not enforced (for local load benchmarks only)"
            );
        }
        Limits {
            on,
            write: is_write(method),
            client_ip,
        }
    }

    /// Spends one request of `budget` for `who`; over budget is a 429. A missing binding is a 500
    /// (a deployment without its limits must not run unprotected unnoticed).
    pub async fn spend(&self, env: &Env, budget: Budget, who: &str) -> Result<()> {
        if !self.on {
            return Ok(());
        }
        let limiter = env.rate_limiter(budget.binding()).map_err(|e| {
            ApiError::internal(format!("rate limit binding {}: {e}", budget.binding()))
        })?;
        let outcome = limiter
            .limit(budget.key(who))
            .await
            .map_err(|e| ApiError::internal(format!("rate limiter {}: {e}", budget.binding())))?;
        if outcome.success {
            Ok(())
        } else {
            Err(too_many_requests(match budget {
                Budget::User => "600 requests per minute per user",
                Budget::UserWrite => "300 writes per minute per user",
                Budget::Key => "6000 requests per minute per service key",
                Budget::Ip => "600 unauthenticated requests per minute per client",
            }))
        }
    }

    /// A user's request: the user budget, and for a write the write budget too.
    pub async fn spend_user(&self, env: &Env, user: &str) -> Result<()> {
        self.spend(env, Budget::User, user).await?;
        if self.write {
            self.spend(env, Budget::UserWrite, user).await?;
        }
        Ok(())
    }

    /// A request that failed authentication (or had none): the client IP's budget. `Ok` when within
    /// it (the request keeps its own error), the 429 when over.
    pub async fn spend_unauthenticated(&self, env: &Env) -> Result<()> {
        let ip = self.client_ip.as_deref().unwrap_or("unknown");
        self.spend(env, Budget::Ip, ip).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_every_method_but_reads() {
        for read in ["GET", "HEAD", "OPTIONS"] {
            assert!(!is_write(read), "{read}");
        }
        for write in ["POST", "PUT", "PATCH", "DELETE"] {
            assert!(is_write(write), "{write}");
        }
    }

    #[test]
    fn budgets_have_their_own_bindings_and_keys() {
        let all = [Budget::User, Budget::UserWrite, Budget::Key, Budget::Ip];
        let bindings: std::collections::HashSet<_> = all.iter().map(|b| b.binding()).collect();
        assert_eq!(bindings.len(), 4);
        assert_eq!(Budget::User.key("alice"), "u:alice");
        assert_eq!(Budget::Ip.key("203.0.113.9"), "ip:203.0.113.9");
    }

    #[test]
    fn a_spent_budget_is_a_429_with_retry_after() {
        let err = too_many_requests("x");
        assert_eq!(err.status, 429);
        assert_eq!(err.retry_after, Some(RETRY_AFTER_SECONDS));
    }

    #[test]
    fn off_only_when_the_var_says_off() {
        assert!(Limits::new(None, "GET", None).on);
        assert!(Limits::new(Some("on"), "GET", None).on);
        assert!(Limits::new(Some(""), "GET", None).on);
        assert!(Limits::new(Some("on"), "POST", None).write);
    }
}

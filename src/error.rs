//! The one error type of the API (API.md "Conventions"); `http::errors` answers it in its envelope.
//!
//! Use the short constructors: `bad_request` for input that breaks a rule (name the field and the rule),
//! `not_found` for unknown things *and* chats the caller is not in (never reveal that a chat exists),
//! `conflict` for a request that clashes with stored state (idempotency key reuse), `unprocessable` for a
//! valid request the current state refuses, `internal` for everything else (its detail is logged, never
//! sent). Storage errors are translated in one place, `from_storage_message`.

use serde::{Deserialize, Serialize};

/// The error envelope of a route's answers after it is resolved: the main one, or the one of the
/// existing API a compatibility surface reproduces (API.md "Compatibility surfaces").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Envelope {
    #[default]
    Main,
    /// `{"success": false, "statusCode", "message"}` of the AI-chat session surface.
    Session,
    /// `{"success": false, "statusCode", "message"}` of the project-chat surface.
    Project,
}

/// An API error. It also crosses from the chat's Durable Object to the worker (serde); the log detail
/// stays where it happened (the object logs its own 500s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub status: u16,
    pub errors: Vec<String>,
    /// Seconds, for 503 and 429 answers.
    pub retry_after: Option<u32>,
    /// What went wrong inside, for the log only (500s).
    #[serde(skip)]
    pub log_detail: Option<String>,
    /// The envelope it is answered in (the route's).
    #[serde(skip)]
    pub envelope: Envelope,
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            errors: vec![message.into()],
            retry_after: None,
            log_detail: None,
            envelope: Envelope::Main,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// A 400 carrying every problem found in one request.
    pub fn validation(errors: Vec<String>) -> Self {
        ApiError {
            status: 400,
            errors,
            retry_after: None,
            log_detail: None,
            envelope: Envelope::Main,
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(404, format!("{what} not found"))
    }

    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(405, format!("method {method} is not allowed on {path}"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }

    pub fn payload_too_large() -> Self {
        Self::new(413, "request body must be at most 65536 bytes")
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            415,
            "request body must be JSON (Content-Type: application/json)",
        )
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, message)
    }

    /// A 503 for something not configured on this server (retrying after `retry_after` seconds may
    /// find it configured).
    pub fn not_configured(message: impl Into<String>, retry_after: u32) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(503, message)
        }
    }

    pub fn overloaded() -> Self {
        ApiError {
            status: 503,
            errors: vec!["storage is overloaded, retry later".into()],
            retry_after: Some(1),
            log_detail: None,
            envelope: Envelope::Main,
        }
    }

    /// An opaque 500: the detail goes to the log only.
    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError {
            status: 500,
            errors: vec!["internal error".into()],
            retry_after: None,
            log_detail: Some(detail.into()),
            envelope: Envelope::Main,
        }
    }

    /// Translates a storage (D1) error message: overload becomes 503, constraint violations that escaped
    /// the queries' own guards become 409/422, anything else an opaque 500.
    pub fn from_storage_message(message: &str) -> Self {
        let lower = message.to_ascii_lowercase();
        if lower.contains("overloaded") || lower.contains("too many requests") {
            let mut err = Self::overloaded();
            err.log_detail = Some(message.to_string());
            return err;
        }
        if lower.contains("unique constraint failed") {
            let mut err = Self::conflict("the request conflicts with stored data; retry it");
            err.log_detail = Some(message.to_string());
            return err;
        }
        if lower.contains("check constraint failed") {
            let mut err = Self::unprocessable("the request would break a storage rule");
            err.log_detail = Some(message.to_string());
            return err;
        }
        Self::internal(message.to_string())
    }

    /// The same error, answered in `envelope`.
    pub fn in_envelope(mut self, envelope: Envelope) -> Self {
        self.envelope = envelope;
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.errors.join("; "))?;
        if let Some(detail) = &self.log_detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

impl From<worker::Error> for ApiError {
    fn from(err: worker::Error) -> Self {
        Self::from_storage_message(&err.to_string())
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(err: serde_json::Error) -> Self {
        Self::internal(format!("json: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_errors_are_translated_and_opaque() {
        assert_eq!(
            ApiError::from_storage_message("D1_ERROR: UNIQUE constraint failed: x").status,
            409
        );
        assert_eq!(
            ApiError::from_storage_message("D1_ERROR: CHECK constraint failed: c").status,
            422
        );
        let overloaded = ApiError::from_storage_message("D1_ERROR: Database is overloaded");
        assert_eq!((overloaded.status, overloaded.retry_after), (503, Some(1)));
        let other = ApiError::from_storage_message("D1_ERROR: no such table: users");
        assert_eq!(other.status, 500);
        assert_eq!(other.errors, vec!["internal error".to_string()]);
    }
}

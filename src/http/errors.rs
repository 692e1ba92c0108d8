//! Errors as the API answers them: the envelope of API.md, or the compatibility surface's own, with
//! `Retry-After` for 429 and 503, `Allow` for 405 and `Sec-WebSocket-Version` for 426.

use schemars::JsonSchema;
use serde::Serialize;

use super::Reply;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, Envelope};
use crate::router;

/// The error envelope of API.md: `{"isSuccess": false, "statusCode", "data": null, "errors", "timestamp"}`
/// (`Error` in the document).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    rename = "Error",
    description = "The error envelope, with an HTTP status equal to statusCode."
)]
pub struct MainEnvelope<'a> {
    #[schemars(extend("const" = false))]
    is_success: bool,
    #[schemars(range(min = 400, max = 599))]
    status_code: u16,
    #[schemars(with = "()")]
    data: Option<()>,
    /// One message per problem found, naming the field and the rule.
    #[schemars(length(min = 1), inner(length(min = 1)))]
    errors: &'a [String],
    timestamp: Timestamp,
}

/// The error envelope of the AI-session and project-chat surfaces: `{"success": false, "statusCode",
/// "message"}` (`SurfaceError` in the document).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    rename = "SurfaceError",
    description = "The error envelope of the AI-session and project-chat surfaces."
)]
pub struct SurfaceEnvelope {
    #[schemars(extend("const" = false))]
    success: bool,
    #[schemars(range(min = 400, max = 599))]
    status_code: u16,
    #[schemars(length(min = 1))]
    message: String,
}

/// The error's body in its envelope, as JSON text.
pub fn body(err: &ApiError, now_ms: i64) -> String {
    let message = |fixed: Option<&str>| SurfaceEnvelope {
        success: false,
        status_code: err.status,
        message: fixed.map_or_else(|| err.errors.join("; "), str::to_string),
    };
    let text = match (err.envelope, err.status) {
        (Envelope::Main, _) => serde_json::to_string(&MainEnvelope {
            is_success: false,
            status_code: err.status,
            data: None,
            errors: &err.errors,
            timestamp: Timestamp(now_ms),
        }),
        // The messages the original APIs answer with.
        (Envelope::Session, 404) => {
            serde_json::to_string(&message(Some("Chat not found or access denied")))
        }
        (Envelope::Project, 401) => {
            serde_json::to_string(&message(Some("Authentication required or invalid token.")))
        }
        (Envelope::Session | Envelope::Project, _) => serde_json::to_string(&message(None)),
    };
    text.unwrap_or_default()
}

/// An error as the API answers it, for a request to `path` at `now_ms`.
pub fn reply(err: &ApiError, path: &str, now_ms: i64) -> Reply {
    let mut reply = Reply::json_text(err.status, body(err, now_ms));
    if let Some(seconds) = err.retry_after {
        reply = reply.with_header("Retry-After", seconds.to_string());
    }
    if err.status == 426 {
        // RFC 6455 §4.4: the versions this server speaks.
        reply = reply.with_header("Sec-WebSocket-Version", "13");
    }
    if err.status == 405 {
        if let Some(methods) = router::allowed_methods(path) {
            reply = reply.with_header("Allow", format!("{}, OPTIONS", methods.join(", ")));
        }
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_envelope_has_the_documented_shape() {
        let error = ApiError::bad_request("limit must be an integer between 1 and 100");
        let body: serde_json::Value = serde_json::from_str(&body(&error, 0)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"isSuccess": false, "statusCode": 400, "data": null,
                "errors": ["limit must be an integer between 1 and 100"],
                "timestamp": "1970-01-01T00:00:00.000Z"})
        );
    }

    #[test]
    fn surfaces_answer_in_their_own_envelopes() {
        let session = ApiError::not_found("chat").in_envelope(Envelope::Session);
        assert_eq!(
            body(&session, 0),
            r#"{"success":false,"statusCode":404,"message":"Chat not found or access denied"}"#
        );
        let project = ApiError::bad_request("limit is bad").in_envelope(Envelope::Project);
        assert_eq!(
            body(&project, 0),
            r#"{"success":false,"statusCode":400,"message":"limit is bad"}"#
        );
    }

    #[test]
    fn a_405_names_the_methods_and_a_429_when_to_retry() {
        let reply = reply(
            &ApiError::method_not_allowed("PUT", "/api/v1/chats"),
            "/api/v1/chats",
            0,
        );
        assert_eq!(
            reply.headers,
            vec![("Allow", "GET, POST, OPTIONS".to_string())]
        );
        let mut limited = ApiError::new(429, "slow down");
        limited.retry_after = Some(7);
        let reply = super::reply(&limited, "/api/v1/chats", 0);
        assert_eq!(reply.headers, vec![("Retry-After", "7".to_string())]);
    }
}

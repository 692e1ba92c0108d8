//! The route table: one line per endpoint. Pure (method and path in, `Route` out), so unknown routes (404),
//! wrong methods (405) and malformed path ids (400) are decided and unit-tested in one place.

use crate::domain::ids::{ChatId, MessageId};
use crate::error::{ApiError, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    OpenApi,
    GetMe,
    PatchMe,
    CreateChat,
    ListChats,
    GetChat(ChatId),
    /// The chat's WebSocket (`Upgrade: websocket`).
    Live(ChatId),
    ListMessages(ChatId),
    SendMessage,
    MarkRead(ChatId),
    CreditTransfer,
    GrantCredits,
    Ledger,
    EditMessage(MessageId),
    DeleteMessage(MessageId),
}

/// Every path pattern with the methods it serves, for 405 answers (and, later, the OpenAPI check).
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/health", &["GET"]),
    ("/openapi.json", &["GET"]),
    ("/api/v1/users/me", &["GET", "PATCH"]),
    ("/api/v1/chats", &["GET", "POST"]),
    ("/api/v1/chats/{chatId}", &["GET"]),
    ("/api/v1/chats/{chatId}/live", &["GET"]),
    ("/api/v1/messages", &["POST"]),
    ("/api/v1/messages/chat/{chatId}", &["GET"]),
    ("/api/v1/messages/chat/{chatId}/read", &["POST"]),
    ("/api/v1/messages/credit-transfer", &["POST"]),
    ("/api/v1/admin/credits", &["POST"]),
    ("/api/v1/users/me/credits/ledger", &["GET"]),
    // After the fixed paths under /api/v1/messages/: the first matching pattern wins.
    ("/api/v1/messages/{messageId}", &["PATCH", "DELETE"]),
];

pub fn resolve(method: &str, path: &str) -> Result<Route> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let (pattern, route) = match (method, segments.as_slice()) {
        (_, ["health"]) => ("/health", method_is(method, "GET", Route::Health)),
        (_, ["openapi.json"]) => ("/openapi.json", method_is(method, "GET", Route::OpenApi)),
        (_, ["api", "v1", "users", "me"]) => (
            "/api/v1/users/me",
            match method {
                "GET" => Some(Route::GetMe),
                "PATCH" => Some(Route::PatchMe),
                _ => None,
            },
        ),
        (_, ["api", "v1", "chats"]) => (
            "/api/v1/chats",
            match method {
                "GET" => Some(Route::ListChats),
                "POST" => Some(Route::CreateChat),
                _ => None,
            },
        ),
        (_, ["api", "v1", "chats", id]) => (
            "/api/v1/chats/{chatId}",
            method_is(method, "GET", ())
                .map(|_| chat(id))
                .transpose()?
                .map(Route::GetChat),
        ),
        (_, ["api", "v1", "chats", id, "live"]) => (
            "/api/v1/chats/{chatId}/live",
            method_is(method, "GET", ())
                .map(|_| chat(id))
                .transpose()?
                .map(Route::Live),
        ),
        (_, ["api", "v1", "messages"]) => (
            "/api/v1/messages",
            method_is(method, "POST", Route::SendMessage),
        ),
        (_, ["api", "v1", "messages", "chat", id]) => (
            "/api/v1/messages/chat/{chatId}",
            method_is(method, "GET", ())
                .map(|_| chat(id))
                .transpose()?
                .map(Route::ListMessages),
        ),
        (_, ["api", "v1", "messages", "chat", id, "read"]) => (
            "/api/v1/messages/chat/{chatId}/read",
            method_is(method, "POST", ())
                .map(|_| chat(id))
                .transpose()?
                .map(Route::MarkRead),
        ),
        (_, ["api", "v1", "messages", "credit-transfer"]) => (
            "/api/v1/messages/credit-transfer",
            method_is(method, "POST", Route::CreditTransfer),
        ),
        (_, ["api", "v1", "admin", "credits"]) => (
            "/api/v1/admin/credits",
            method_is(method, "POST", Route::GrantCredits),
        ),
        (_, ["api", "v1", "users", "me", "credits", "ledger"]) => (
            "/api/v1/users/me/credits/ledger",
            method_is(method, "GET", Route::Ledger),
        ),
        (_, ["api", "v1", "messages", id]) => (
            "/api/v1/messages/{messageId}",
            match method {
                "PATCH" => Some(Route::EditMessage(MessageId::parse(id, "messageId")?)),
                "DELETE" => Some(Route::DeleteMessage(MessageId::parse(id, "messageId")?)),
                _ => None,
            },
        ),
        _ => return Err(ApiError::not_found("route")),
    };
    route.ok_or_else(|| ApiError::method_not_allowed(method, pattern))
}

/// The methods a path serves, for the `Allow` header of 405 answers and CORS preflights.
pub fn allowed_methods(path: &str) -> Option<&'static [&'static str]> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    ROUTES.iter().find_map(|(pattern, methods)| {
        let parts: Vec<&str> = pattern.split('/').skip(1).collect();
        let same = parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(p, s)| p.starts_with('{') || p == s);
        same.then_some(*methods)
    })
}

fn method_is<T>(method: &str, expected: &str, route: T) -> Option<T> {
    (method == expected).then_some(route)
}

fn chat(id: &str) -> Result<ChatId> {
    ChatId::parse(id, "chatId")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "64d15f9e2e6c8f4d5a654321";

    #[test]
    fn routes_resolve() {
        assert_eq!(resolve("GET", "/health").unwrap(), Route::Health);
        assert_eq!(
            resolve("POST", "/api/v1/chats/").unwrap(),
            Route::CreateChat
        );
        let chat = ChatId::parse(ID, "chatId").unwrap();
        assert_eq!(
            resolve("GET", &format!("/api/v1/messages/chat/{ID}")).unwrap(),
            Route::ListMessages(chat.clone())
        );
        assert_eq!(
            resolve("POST", &format!("/api/v1/messages/chat/{ID}/read")).unwrap(),
            Route::MarkRead(chat)
        );
    }

    #[test]
    fn unknown_wrong_method_and_bad_id() {
        assert_eq!(resolve("GET", "/api/v1/nope").unwrap_err().status, 404);
        assert_eq!(resolve("GET", "/").unwrap_err().status, 404);
        assert_eq!(resolve("DELETE", "/api/v1/chats").unwrap_err().status, 405);
        assert_eq!(
            resolve("PUT", &format!("/api/v1/chats/{ID}"))
                .unwrap_err()
                .status,
            405
        );
        assert_eq!(
            resolve("GET", "/api/v1/chats/not-an-id")
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn every_route_in_the_table_resolves() {
        for (pattern, methods) in ROUTES {
            let path = pattern.replace("{chatId}", ID).replace("{messageId}", ID);
            for method in *methods {
                assert!(resolve(method, &path).is_ok(), "{method} {path}");
            }
            assert_eq!(allowed_methods(&path), Some(*methods));
        }
    }

    /// The OpenAPI document and the route table describe the same routes and methods: a route added to
    /// one and not the other fails here.
    #[test]
    fn openapi_document_matches_the_route_table() {
        let doc: serde_json::Value = serde_json::from_str(crate::OPENAPI_JSON).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if ["get", "put", "post", "patch", "delete"].contains(&method.as_str()) {
                    documented.push((path.clone(), method.to_uppercase()));
                }
            }
        }
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .flat_map(|(path, methods)| {
                methods
                    .iter()
                    .map(move |m| (path.to_string(), m.to_string()))
            })
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
    }

    #[test]
    fn every_openapi_reference_resolves() {
        fn walk<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
            match v {
                serde_json::Value::Object(map) => {
                    if let Some(r) = map.get("$ref").and_then(|r| r.as_str()) {
                        out.push(r);
                    }
                    map.values().for_each(|x| walk(x, out));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        let doc: serde_json::Value = serde_json::from_str(crate::OPENAPI_JSON).unwrap();
        let mut refs = Vec::new();
        walk(&doc, &mut refs);
        assert!(refs.len() > 50);
        for r in refs {
            let pointer = r.trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "unresolved {r}");
        }
    }
}

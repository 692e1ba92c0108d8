//! `GET /api/v1/chats/{chatId}/live`: a WebSocket on one chat (API.md "Live delivery"). Everything a
//! client can get wrong is answered here as plain HTTP in the error envelope, before any upgrade: a bad
//! token (401, checked by the route's target), a request without `Upgrade: websocket` or with another
//! WebSocket version than 13 (426, RFC 6455 §4.4), a malformed `Sec-WebSocket-Key` (400), a chat the
//! caller is not in (404). Only then is the upgrade handed to the chat's Durable Object, which holds the
//! socket. (Without these checks an incomplete handshake got workerd's plain-text 400.)

use worker::Request;

use crate::auth::Caller;
use crate::chat_room::client;
use crate::context::Ctx;
use crate::domain::ids::ChatId;
use crate::error::{ApiError, Result};
use crate::http::{header, Reply};
use crate::store::chats;

pub async fn open(req: &Request, ctx: &Ctx, caller: &Caller, chat_id: &ChatId) -> Result<Reply> {
    check_handshake(
        header(req, "Upgrade").as_deref(),
        header(req, "Sec-WebSocket-Version").as_deref(),
        header(req, "Sec-WebSocket-Key").as_deref(),
    )?;
    if !chats::is_member(&ctx.db, &caller.id, chat_id).await? {
        return Err(ApiError::not_found("chat"));
    }
    Ok(Reply::upgrade(
        client::open_live(ctx, caller, chat_id).await?,
    ))
}

/// The client's half of a WebSocket handshake (RFC 6455 §4.1): `Upgrade: websocket`, version 13, and
/// a key of 16 bytes in base64.
fn check_handshake(upgrade: Option<&str>, version: Option<&str>, key: Option<&str>) -> Result<()> {
    if !upgrade.is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket")) {
        return Err(ApiError::new(
            426,
            "this endpoint opens a WebSocket: send Upgrade: websocket",
        ));
    }
    if version.map(str::trim) != Some("13") {
        return Err(ApiError::new(426, "Sec-WebSocket-Version must be 13"));
    }
    let key = key.map(str::trim).unwrap_or_default().as_bytes();
    let base64 = |b: &u8| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/';
    if !(key.len() == 24 && key[..22].iter().all(base64) && key.ends_with(b"==")) {
        return Err(ApiError::bad_request(
            "Sec-WebSocket-Key must be 16 bytes in base64 (24 characters ending in ==)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_handshake;

    #[test]
    fn the_handshake_needs_upgrade_version_13_and_a_key() {
        let key = Some("dGhlIHNhbXBsZSBub25jZQ==");
        let status = |u, v, k| check_handshake(u, v, k).err().map(|e| e.status);
        assert_eq!(status(Some("websocket"), Some("13"), key), None);
        assert_eq!(status(Some("WebSocket"), Some("13"), key), None);
        assert_eq!(status(None, Some("13"), key), Some(426));
        assert_eq!(status(Some("h2c"), Some("13"), key), Some(426));
        assert_eq!(status(Some("websocket"), Some("8"), key), Some(426));
        assert_eq!(status(Some("websocket"), None, key), Some(426));
        assert_eq!(status(Some("websocket"), Some("13"), None), Some(400));
        assert_eq!(
            status(Some("websocket"), Some("13"), Some("short==")),
            Some(400)
        );
        assert_eq!(
            status(
                Some("websocket"),
                Some("13"),
                Some("dGhlIHNhbXBsZSBub25jZQ=!")
            ),
            Some(400)
        );
    }
}

//! Service keys (API.md "Service access (API keys)"): the key format, what an admin asks for when
//! creating one, and the credential a request presents. A key is `eck_` + 43 base64url characters (256
//! random bits from getrandom); it is shown once, and only its SHA-256 is stored.

use base64ct::{Base64UrlUnpadded, Encoding};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::ids::{ProjectId, UserId};
use super::input::NOT_BLANK_PATTERN;
use super::url::WebhookUrl;
use super::wire::{self, Checks};
use crate::error::{ApiError, Result};

pub const KEY_PREFIX: &str = "eck_";
pub const MAX_NAME_CHARS: usize = 100;
/// The sender of a key's messages when the admin names none.
pub const DEFAULT_SENDER: &str = "assistant";

/// A new key: the secret to show once, and the hash to store.
pub struct GeneratedKey {
    pub key: String,
    pub hash: KeyHash,
}

/// The hex SHA-256 of a whole key string: how a key is stored and looked up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHash(String);

impl KeyHash {
    pub fn of(key: &str) -> KeyHash {
        KeyHash(hex::encode(Sha256::digest(key.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 256 random bits, base64url without padding, after the `eck_` prefix.
pub fn generate() -> Result<GeneratedKey> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("getrandom: {e}")))?;
    let key = format!("{KEY_PREFIX}{}", Base64UrlUnpadded::encode_string(&bytes));
    Ok(GeneratedKey {
        hash: KeyHash::of(&key),
        key,
    })
}

/// The `X-API-Key` of a request, checked for form only (whether it exists and is not revoked is
/// checked in the request's own D1 round trip). A malformed key is a 401, like an unknown one.
pub fn credential(header: &str) -> Result<KeyHash> {
    let well_formed = header
        .strip_prefix(KEY_PREFIX)
        .is_some_and(|rest| Base64UrlUnpadded::decode_vec(rest).is_ok_and(|b| b.len() == 32));
    if !well_formed {
        return Err(ApiError::unauthorized("invalid API key"));
    }
    Ok(KeyHash::of(header))
}

/// What an admin asks for: `{"name", "projectId", "senderId", "webhookUrl"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: String,
    pub project: Option<ProjectId>,
    pub sender: UserId,
    /// Checked by `webhooks::check_url`.
    pub webhook_url: Option<String>,
    /// The before-send hook (same rules).
    pub before_send_url: Option<String>,
    pub before_send_fail_closed: bool,
}

/// A service key to create.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "NewApiKey")]
pub struct NewApiKeyBody {
    #[schemars(
        with = "String",
        length(min = 1, max = MAX_NAME_CHARS),
        pattern(NOT_BLANK_PATTERN)
    )]
    pub name: Option<Value>,
    /// null: every chat.
    #[schemars(with = "Option<ProjectId>")]
    pub project_id: Option<Value>,
    /// The senderId of the key's messages; default assistant.
    #[schemars(with = "Option<UserId>")]
    pub sender_id: Option<Value>,
    /// Optional: a webhook for the key; its signing secret is in the answer only.
    #[schemars(with = "Option<WebhookUrl>")]
    pub webhook_url: Option<Value>,
    /// Optional: a before-send hook (API.md "Webhooks"), signed with the webhook secret.
    #[schemars(with = "Option<WebhookUrl>")]
    pub before_send_url: Option<Value>,
    /// A hook that does not answer refuses the write (503) instead of allowing it; default false.
    #[schemars(with = "Option<bool>")]
    pub before_send_fail_closed: Option<Value>,
    /// The server's `WEBHOOK_ALLOW_LOOPBACK`, set by the handler.
    #[serde(skip)]
    pub allow_loopback: bool,
}

/// A change of a key's webhook and before-send hook: give at least one field.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "WebhookChange", transform = one_change_at_least)]
pub struct WebhookChangeBody {
    /// A URL sets the webhook (with a new secret); null removes it.
    #[serde(default, deserialize_with = "wire::keep_null")]
    #[schemars(with = "Option<WebhookUrl>")]
    pub webhook_url: Option<Value>,
    /// A URL sets the before-send hook (with a new secret when the key has none); null removes it.
    #[serde(default, deserialize_with = "wire::keep_null")]
    #[schemars(with = "Option<WebhookUrl>")]
    pub before_send_url: Option<Value>,
    /// A hook that does not answer refuses the write (503) instead of allowing it.
    #[serde(default, deserialize_with = "wire::keep_null")]
    #[schemars(with = "bool")]
    pub before_send_fail_closed: Option<Value>,
    /// The server's `WEBHOOK_ALLOW_LOOPBACK`, set by the handler.
    #[serde(skip)]
    pub allow_loopback: bool,
}

/// At least one of the three fields (none has a default: absent leaves it as it is).
fn one_change_at_least(schema: &mut schemars::Schema) {
    wire::at_least_one_of(
        schema,
        &["webhookUrl", "beforeSendUrl", "beforeSendFailClosed"],
    );
}

/// An optional URL field, checked (`allow_loopback`: `WEBHOOK_ALLOW_LOOPBACK`).
fn hook_url(
    check: &mut Checks,
    field: &str,
    value: Option<&Value>,
    allow_loopback: bool,
) -> Option<String> {
    let url = check.string(field, value, 1, super::url::MAX_URL_LEN)?;
    match super::webhooks::check_url(&url, allow_loopback) {
        Ok(()) => Some(url),
        Err(e) => {
            check.error(format!("{field}: {e}"));
            None
        }
    }
}

fn webhook_url(check: &mut Checks, value: Option<&Value>, allow_loopback: bool) -> Option<String> {
    hook_url(check, "webhookUrl", value, allow_loopback)
}

/// An optional boolean field.
fn flag(check: &mut Checks, field: &str, value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        _ => {
            check.error(format!("{field} must be true or false"));
            None
        }
    }
}

/// What a `PATCH` changes: each `None` leaves it as it is; `Some(None)` removes a URL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookChange {
    pub webhook: Option<Option<String>>,
    pub before_send: Option<Option<String>>,
    pub fail_closed: Option<bool>,
}

impl HookChange {
    /// Whether it sets a URL or the fail-closed flag (which a revoked key may not take: it may only
    /// lose its hooks).
    pub fn sets_url(&self) -> bool {
        matches!(self.webhook, Some(Some(_)))
            || matches!(self.before_send, Some(Some(_)))
            || self.fail_closed.is_some()
    }
}

/// `PATCH /api/v1/admin/api-keys/{keyId}`: `{"webhookUrl", "beforeSendUrl", "beforeSendFailClosed"}`,
/// at least one (a URL or null).
pub fn parse_webhook_change(bytes: &[u8], allow_loopback: bool) -> Result<HookChange> {
    let body: WebhookChangeBody = wire::body(bytes)?;
    let mut check = Checks::new();
    let url = |check: &mut Checks, field: &str, value: &Option<Value>| match value {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => Some(hook_url(check, field, Some(v), allow_loopback)),
    };
    let change = HookChange {
        webhook: url(&mut check, "webhookUrl", &body.webhook_url),
        before_send: url(&mut check, "beforeSendUrl", &body.before_send_url),
        fail_closed: flag(
            &mut check,
            "beforeSendFailClosed",
            body.before_send_fail_closed.as_ref(),
        ),
    };
    if body.webhook_url.is_none()
        && body.before_send_url.is_none()
        && body.before_send_fail_closed.is_none()
    {
        check.error(
            "give webhookUrl, beforeSendUrl or beforeSendFailClosed (a URL, or null to remove it)",
        );
    }
    check.finish()?;
    Ok(change)
}

impl NewApiKey {
    pub fn parse(bytes: &[u8], allow_loopback: bool) -> Result<Self> {
        let mut body: NewApiKeyBody = wire::body(bytes)?;
        body.allow_loopback = allow_loopback;
        body.try_into()
    }
}

impl TryFrom<NewApiKeyBody> for NewApiKey {
    type Error = ApiError;

    fn try_from(body: NewApiKeyBody) -> Result<Self> {
        let mut check = Checks::new();
        let webhook_url = webhook_url(&mut check, body.webhook_url.as_ref(), body.allow_loopback);
        let before_send_url = hook_url(
            &mut check,
            "beforeSendUrl",
            body.before_send_url.as_ref(),
            body.allow_loopback,
        );
        let before_send_fail_closed = flag(
            &mut check,
            "beforeSendFailClosed",
            body.before_send_fail_closed.as_ref(),
        )
        .unwrap_or(false);
        let name = check.required_string("name", body.name.as_ref(), 1, MAX_NAME_CHARS);
        if name.as_deref().is_some_and(super::input::is_blank) {
            check.error("name must not be blank");
        }
        let project = check
            .string("projectId", body.project_id.as_ref(), 1, 64)
            .and_then(|p| check.check(ProjectId::parse(&p, "projectId")));
        let sender = check
            .string("senderId", body.sender_id.as_ref(), 1, 64)
            .map_or(UserId::parse(DEFAULT_SENDER, "senderId").ok(), |s| {
                check.check(UserId::parse(&s, "senderId"))
            });
        check.finish()?;
        match (name, sender) {
            (Some(name), Some(sender)) => Ok(NewApiKey {
                name,
                project,
                sender,
                webhook_url,
                before_send_url,
                before_send_fail_closed,
            }),
            _ => Err(ApiError::bad_request("name is required")),
        }
    }
}

/// A stored key that a request's credential matched (not revoked): what it may reach and who its
/// messages come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceKey {
    pub id: String,
    pub project: Option<ProjectId>,
    pub sender: UserId,
}

impl ServiceKey {
    /// Whether the key reaches a chat of project `chat_project`: a key of no project reaches every
    /// chat, a project's key only that project's chats.
    pub fn reaches(&self, chat_project: Option<&str>) -> bool {
        match &self.project {
            None => true,
            Some(project) => chat_project == Some(project.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_reaches_its_projects_chats_or_every_chat() {
        let key = |project: Option<&str>| ServiceKey {
            id: "k".into(),
            project: project.map(|p| ProjectId::parse(p, "projectId").unwrap()),
            sender: UserId::parse("assistant", "senderId").unwrap(),
        };
        assert!(key(None).reaches(None) && key(None).reaches(Some("p1")));
        assert!(key(Some("p1")).reaches(Some("p1")));
        assert!(!key(Some("p1")).reaches(Some("p2")) && !key(Some("p1")).reaches(None));
    }

    #[test]
    fn keys_are_eck_and_43_base64url_characters_of_256_bits() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a.key, b.key);
        assert_eq!(a.key.len(), 4 + 43);
        assert!(a.key[4..]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(credential(&a.key).unwrap(), a.hash);
        assert_eq!(a.hash.as_str().len(), 64);
    }

    #[test]
    fn malformed_credentials_are_401() {
        let good = generate().unwrap().key;
        for bad in [
            "",
            "eck_",
            "eck_short",
            &good[..good.len() - 1],
            &format!("{good}A"),
            &good.replace("eck_", "ekc_"),
            &format!("{}+{}", &good[..10], &good[11..]),
        ] {
            assert_eq!(credential(bad).unwrap_err().status, 401, "{bad}");
        }
    }

    #[test]
    fn new_keys_parse() {
        let k = NewApiKey::parse(br#"{"name":"support-bot","projectId":"proj_1"}"#, false).unwrap();
        assert_eq!(k.sender.as_str(), "assistant");
        assert_eq!(k.project.unwrap().as_str(), "proj_1");
        let k = NewApiKey::parse(
            br#"{"name":"b","projectId":null,"senderId":"helper"}"#,
            false,
        )
        .unwrap();
        assert_eq!((k.project, k.sender.as_str()), (None, "helper"));
        let k = NewApiKey::parse(
            br#"{"name":"b","webhookUrl":"https://h.example.com/x"}"#,
            false,
        );
        assert_eq!(k.unwrap().webhook_url.unwrap(), "https://h.example.com/x");
        let local = br#"{"name":"b","webhookUrl":"http://127.0.0.1:9/x"}"#;
        assert!(NewApiKey::parse(local, true).unwrap().webhook_url.is_some());
        assert_eq!(NewApiKey::parse(local, false).unwrap_err().status, 400);
    }

    #[test]
    fn webhook_changes_parse() {
        let set = parse_webhook_change(br#"{"webhookUrl":"https://h.example.com/x"}"#, false);
        assert_eq!(
            set.unwrap().webhook,
            Some(Some("https://h.example.com/x".into()))
        );
        let removed = parse_webhook_change(br#"{"webhookUrl":null}"#, false).unwrap();
        assert_eq!((removed.webhook, removed.before_send), (Some(None), None));
        let hook = parse_webhook_change(
            br#"{"beforeSendUrl":"https://h.example.com/b","beforeSendFailClosed":true}"#,
            false,
        )
        .unwrap();
        assert_eq!(
            hook,
            HookChange {
                webhook: None,
                before_send: Some(Some("https://h.example.com/b".into())),
                fail_closed: Some(true),
            }
        );
        assert!(hook.sets_url());
        for bad in [
            br#"{}"#.as_slice(),
            br#"{"webhookUrl":""}"#,
            br#"{"webhookUrl":"https://192.168.0.1/"}"#,
            br#"{"beforeSendUrl":"http://example.com/b"}"#,
            br#"{"beforeSendFailClosed":"yes"}"#,
        ] {
            let status = parse_webhook_change(bad, false).map_err(|e| e.status);
            assert_eq!(status, Err(400), "{}", String::from_utf8_lossy(bad));
        }
        for bad in [
            br#"{}"#.as_slice(),
            br#"{"name":""}"#,
            br#"{"name":"  "}"#,
            br#"{"name":"x","projectId":"a b"}"#,
            br#"{"name":"x","senderId":"bad id"}"#,
            br#"{"name":"x","webhookUrl":"http://example.com/h"}"#,
            br#"{"name":"x","webhookUrl":"https://10.0.0.1/h"}"#,
            br#"{"name":"x","webhookUrl":7}"#,
        ] {
            assert_eq!(
                NewApiKey::parse(bad, true).unwrap_err().status,
                400,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}

//! Credit transfers and grants as clients ask for them (API.md "Credit transfer").

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ids::{ChatId, UserId};
use super::input::{has_control, is_header_text, NO_CONTROL_PATTERN};
use super::message::hex_sha256;
use super::wire::{self, Checks};
use crate::error::{ApiError, Result};

pub const MAX_AMOUNT: i64 = 1_000_000_000;
pub const MAX_NOTE_CHARS: usize = 500;
pub const MAX_KEY_CHARS: usize = 128;
/// Balances stay exact in every JSON client.
pub const MAX_BALANCE: i64 = super::input::MAX_SAFE_INTEGER;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTransfer {
    pub chat_id: ChatId,
    pub recipient: UserId,
    pub amount: i64,
    pub note: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    pub user: UserId,
    pub amount: i64,
    pub idempotency_key: Option<String>,
}

/// Credits to send to another participant of the chat.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "NewTransfer")]
pub struct NewTransferBody {
    #[schemars(with = "ChatId")]
    pub chat_id: Option<Value>,
    /// Another participant of the chat.
    #[schemars(with = "UserId")]
    pub recipient_id: Option<Value>,
    #[schemars(with = "u64", range(min = 1, max = MAX_AMOUNT))]
    pub amount: Option<Value>,
    /// The message's content.
    #[schemars(with = "Option<String>", length(max = MAX_NOTE_CHARS))]
    pub note: Option<Value>,
    /// Or the Idempotency-Key header (both given: they must be equal).
    #[schemars(
        with = "Option<String>",
        length(min = 1, max = MAX_KEY_CHARS),
        pattern(NO_CONTROL_PATTERN)
    )]
    pub idempotency_key: Option<Value>,
    /// The `Idempotency-Key` header, set by the handler.
    #[serde(skip)]
    pub key_header: Option<String>,
}

/// Credits to grant to a user.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "NewGrant")]
pub struct NewGrantBody {
    #[schemars(with = "UserId")]
    pub user_id: Option<Value>,
    #[schemars(with = "u64", range(min = 1, max = MAX_AMOUNT))]
    pub amount: Option<Value>,
    /// Or the Idempotency-Key header (both given: they must be equal).
    #[schemars(
        with = "Option<String>",
        length(min = 1, max = MAX_KEY_CHARS),
        pattern(NO_CONTROL_PATTERN)
    )]
    pub idempotency_key: Option<Value>,
    /// The `Idempotency-Key` header, set by the handler.
    #[serde(skip)]
    pub key_header: Option<String>,
}

/// The key from the body or the `Idempotency-Key` header; both given and different is a 400.
fn idempotency_key(
    check: &mut Checks,
    body: Option<&Value>,
    header: Option<&str>,
) -> Option<String> {
    let from_body = check.string("idempotencyKey", body, 1, MAX_KEY_CHARS);
    let from_header = header.map(|h| h.trim_end_matches([' ', '\t']).to_string());
    if from_header
        .as_ref()
        .is_some_and(|h| !is_header_text(h) || h.len() > MAX_KEY_CHARS)
    {
        check.error(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_CHARS} characters of visible ASCII (spaces inside allowed)"
        ));
        return None;
    }
    let key = match (from_body, from_header) {
        (Some(b), Some(h)) if b != h => {
            check.error("idempotencyKey and the Idempotency-Key header differ");
            None
        }
        (b, h) => b.or(h),
    };
    if key.as_deref().is_some_and(has_control) {
        check.error("idempotencyKey must not contain control characters");
    }
    key
}

fn amount(check: &mut Checks, value: Option<&Value>) -> Option<i64> {
    let amount = check.integer("amount", value, 1, MAX_AMOUNT);
    if value.is_none() {
        check.error(format!(
            "amount is required: an integer between 1 and {MAX_AMOUNT}"
        ));
    }
    amount
}

impl NewTransfer {
    pub fn parse(bytes: &[u8], key_header: Option<&str>) -> Result<Self> {
        let mut body: NewTransferBody = wire::body(bytes)?;
        body.key_header = key_header.map(str::to_string);
        body.try_into()
    }
}

impl TryFrom<NewTransferBody> for NewTransfer {
    type Error = ApiError;

    fn try_from(body: NewTransferBody) -> Result<Self> {
        let mut check = Checks::new();
        let chat_id = check
            .required_string("chatId", body.chat_id.as_ref(), 1, 64)
            .and_then(|id| check.check(ChatId::parse(&id, "chatId")));
        let recipient = check.required_parsed("recipientId", body.recipient_id.as_ref(), |id| {
            UserId::parse(id, "recipientId")
        });
        let amount = amount(&mut check, body.amount.as_ref());
        let note = check
            .string("note", body.note.as_ref(), 0, MAX_NOTE_CHARS)
            .filter(|n| !n.is_empty());
        let idempotency_key = idempotency_key(
            &mut check,
            body.idempotency_key.as_ref(),
            body.key_header.as_deref(),
        );
        check.finish()?;
        match (chat_id, recipient, amount) {
            (Some(chat_id), Some(recipient), Some(amount)) => Ok(NewTransfer {
                chat_id,
                recipient,
                amount,
                note,
                idempotency_key,
            }),
            _ => Err(ApiError::bad_request(
                "chatId, recipientId and amount are required",
            )),
        }
    }
}

impl NewTransfer {
    pub fn request_hash(&self) -> String {
        let canonical = (
            "transfer",
            self.chat_id.as_str(),
            self.recipient.as_str(),
            self.amount,
            &self.note,
        );
        hex_sha256(&serde_json::to_vec(&canonical).unwrap_or_default())
    }
}

impl NewGrant {
    pub fn parse(bytes: &[u8], key_header: Option<&str>) -> Result<Self> {
        let mut body: NewGrantBody = wire::body(bytes)?;
        body.key_header = key_header.map(str::to_string);
        body.try_into()
    }
}

impl TryFrom<NewGrantBody> for NewGrant {
    type Error = ApiError;

    fn try_from(body: NewGrantBody) -> Result<Self> {
        let mut check = Checks::new();
        let user = check.required_parsed("userId", body.user_id.as_ref(), |id| {
            UserId::parse(id, "userId")
        });
        let amount = amount(&mut check, body.amount.as_ref());
        let idempotency_key = idempotency_key(
            &mut check,
            body.idempotency_key.as_ref(),
            body.key_header.as_deref(),
        );
        check.finish()?;
        match (user, amount) {
            (Some(user), Some(amount)) => Ok(NewGrant {
                user,
                amount,
                idempotency_key,
            }),
            _ => Err(ApiError::bad_request("userId and amount are required")),
        }
    }
}

impl NewGrant {
    pub fn request_hash(&self) -> String {
        let canonical = ("grant", self.user.as_str(), self.amount);
        hex_sha256(&serde_json::to_vec(&canonical).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CHAT: &str = "64d15f9e2e6c8f4d5a654321";

    fn transfer(body: serde_json::Value) -> Result<NewTransfer> {
        NewTransfer::parse(body.to_string().as_bytes(), None)
    }

    #[test]
    fn amounts_are_whole_and_in_range() {
        for bad in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("10"),
            json!(1u64 << 60),
            json!(null),
            json!(1_000_000_001),
        ] {
            let err =
                transfer(json!({"chatId": CHAT, "recipientId": "u2", "amount": bad})).unwrap_err();
            assert_eq!(err.status, 400, "{bad}");
            assert!(
                err.errors.iter().any(|e| e.contains("amount")),
                "{bad}: {:?}",
                err.errors
            );
        }
        assert!(transfer(json!({"chatId": CHAT, "recipientId": "u2"})).is_err());
        let ok = transfer(
            json!({"chatId": CHAT, "recipientId": "u2", "amount": 1_000_000_000, "note": "rent"}),
        )
        .unwrap();
        assert_eq!(
            (ok.amount, ok.note.as_deref()),
            (1_000_000_000, Some("rent"))
        );
    }

    #[test]
    fn note_and_key_rules() {
        let long = "n".repeat(MAX_NOTE_CHARS + 1);
        assert!(
            transfer(json!({"chatId": CHAT, "recipientId": "u2", "amount": 1, "note": long}))
                .is_err()
        );
        let body = json!({"chatId": CHAT, "recipientId": "u2", "amount": 1, "idempotencyKey": "a"})
            .to_string();
        assert_eq!(
            NewTransfer::parse(body.as_bytes(), Some("a"))
                .unwrap()
                .idempotency_key
                .as_deref(),
            Some("a")
        );
        assert!(NewTransfer::parse(body.as_bytes(), Some("b")).is_err());
        let no_key = json!({"chatId": CHAT, "recipientId": "u2", "amount": 1}).to_string();
        assert_eq!(
            NewTransfer::parse(no_key.as_bytes(), Some("h"))
                .unwrap()
                .idempotency_key
                .as_deref(),
            Some("h")
        );
    }

    #[test]
    fn hash_covers_the_money_fields_not_the_key() {
        let a = transfer(
            json!({"chatId": CHAT, "recipientId": "u2", "amount": 5, "idempotencyKey": "k1"}),
        )
        .unwrap();
        let b = transfer(
            json!({"chatId": CHAT, "recipientId": "u2", "amount": 5, "idempotencyKey": "k2"}),
        )
        .unwrap();
        let c = transfer(
            json!({"chatId": CHAT, "recipientId": "u2", "amount": 6, "idempotencyKey": "k1"}),
        )
        .unwrap();
        assert_eq!(a.request_hash(), b.request_hash());
        assert_ne!(a.request_hash(), c.request_hash());
    }

    /// Stored fingerprints must not change between versions (these values were computed by the version
    /// before the typed protocol), or a retry after an upgrade would be a 409.
    #[test]
    fn request_hashes_are_stable() {
        let t = transfer(json!({"chatId": CHAT, "recipientId": "u2", "amount": 5, "note": "n"}))
            .unwrap();
        assert_eq!(
            t.request_hash(),
            "0e32429132fca9c0991730d7fb5f75abdfc3c1bc92793b553803b5fe7b64a9e0"
        );
        let g = NewGrant::parse(br#"{"userId":"u2","amount":5}"#, None).unwrap();
        assert_eq!(
            g.request_hash(),
            "8b20cf1604a01c0bd81929a63ae6f63199e58164425161d8d34ff0717c11db50"
        );
    }

    #[test]
    fn grants_parse() {
        let g = NewGrant::parse(
            br#"{"userId":"u1","amount":10,"idempotencyKey":"g1"}"#,
            None,
        )
        .unwrap();
        assert_eq!((g.user.as_str(), g.amount), ("u1", 10));
        assert!(NewGrant::parse(br#"{"userId":"bad id","amount":10}"#, None).is_err());
    }
}

//! Credit transfers and grants as clients ask for them (API.md "Credit transfer").

use serde::{Deserialize, Serialize};

use super::ids::{ChatId, UserId};
use super::input::{has_control, is_header_text, JsonBody};
use super::message::hex_sha256;
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

/// The key from the body or the `Idempotency-Key` header; both given and different is a 400.
fn idempotency_key(body: &mut JsonBody, header: Option<&str>) -> Option<String> {
    let from_body = body.string("idempotencyKey", 1, MAX_KEY_CHARS);
    let from_header = header.map(|h| h.trim_end_matches([' ', '\t']).to_string());
    if from_header
        .as_ref()
        .is_some_and(|h| !is_header_text(h) || h.len() > MAX_KEY_CHARS)
    {
        body.error(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_CHARS} characters of visible ASCII (spaces inside allowed)"
        ));
        return None;
    }
    let key = match (from_body, from_header) {
        (Some(b), Some(h)) if b != h => {
            body.error("idempotencyKey and the Idempotency-Key header differ".into());
            None
        }
        (b, h) => b.or(h),
    };
    if key.as_deref().is_some_and(has_control) {
        body.error("idempotencyKey must not contain control characters".into());
    }
    key
}

fn amount(body: &mut JsonBody) -> Option<i64> {
    let amount = body.integer("amount", 1, MAX_AMOUNT);
    if body.value("amount").is_none() {
        body.error(format!(
            "amount is required: an integer between 1 and {MAX_AMOUNT}"
        ));
    }
    amount
}

fn user(body: &mut JsonBody, field: &str) -> Option<UserId> {
    let raw = body.required_string(field, 1, 64)?;
    match UserId::parse(&raw, field) {
        Ok(id) => Some(id),
        Err(e) => {
            body.error(e.errors.join("; "));
            None
        }
    }
}

impl NewTransfer {
    pub fn parse(bytes: &[u8], key_header: Option<&str>) -> Result<Self> {
        let mut body = JsonBody::parse(bytes)?;
        let chat_id = body.required_string("chatId", 1, 64).and_then(|id| {
            match ChatId::parse(&id, "chatId") {
                Ok(id) => Some(id),
                Err(e) => {
                    body.error(e.errors.join("; "));
                    None
                }
            }
        });
        let recipient = user(&mut body, "recipientId");
        let amount = amount(&mut body);
        let note = body
            .string("note", 0, MAX_NOTE_CHARS)
            .filter(|n| !n.is_empty());
        let idempotency_key = idempotency_key(&mut body, key_header);
        body.finish()?;
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
        let mut body = JsonBody::parse(bytes)?;
        let user = user(&mut body, "userId");
        let amount = amount(&mut body);
        let idempotency_key = idempotency_key(&mut body, key_header);
        body.finish()?;
        match (user, amount) {
            (Some(user), Some(amount)) => Ok(NewGrant {
                user,
                amount,
                idempotency_key,
            }),
            _ => Err(ApiError::bad_request("userId and amount are required")),
        }
    }

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

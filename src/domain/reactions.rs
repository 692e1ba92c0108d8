//! Reactions (API.md "Reactions, replies, mentions, pins"): the key a reaction is stored under, the
//! caps, and the reaction list's query and cursor.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::wire::Checks;
use crate::error::{ApiError, Result};

/// A message holds at most this many distinct keys.
pub const MAX_KEYS_PER_MESSAGE: u32 = 50;
/// A user holds at most this many keys on one message.
pub const MAX_KEYS_PER_USER: u32 = 20;
/// The longest key, in Unicode code points.
pub const MAX_KEY_CHARS: usize = 32;

/// A reaction's key: 1 to 32 code points, no whitespace or control characters; compared as given.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReactionKey(String);

impl ReactionKey {
    pub fn parse(raw: &str) -> Result<Self> {
        let chars = raw.chars().count();
        if chars == 0 || chars > MAX_KEY_CHARS {
            return Err(ApiError::bad_request(format!(
                "a reaction key is 1 to {MAX_KEY_CHARS} characters"
            )));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ApiError::bad_request(
                "a reaction key holds no whitespace or control characters",
            ));
        }
        Ok(ReactionKey(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ReactionKey {
    type Error = String;

    fn try_from(raw: String) -> std::result::Result<Self, String> {
        ReactionKey::parse(&raw).map_err(|e| e.errors.join("; "))
    }
}

impl From<ReactionKey> for String {
    fn from(key: ReactionKey) -> String {
        key.0
    }
}

impl JsonSchema for ReactionKey {
    fn schema_name() -> Cow<'static, str> {
        "ReactionKey".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_KEY_CHARS,
            "pattern": "^(?!\\.{1,2}$)[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+$",
            "description": "An emoji or a short name: 1 to 32 characters, no whitespace or control characters; case-sensitive."
        })
    }
}

/// Add or remove the caller's reaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReactionChange {
    Add,
    Remove,
}

/// `GET /api/v1/messages/{messageId}/reactions` query string.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ReactionListParams {
    /// Only the reactions with this key.
    #[schemars(with = "Option<ReactionKey>")]
    pub key: Option<String>,
    /// Default 50.
    #[schemars(with = "Option<u64>", range(min = 1, max = 100))]
    pub limit: Option<String>,
    /// A `nextCursor`, to continue.
    pub cursor: Option<String>,
}

/// Where a reaction list page starts: after this (createdAt, userId, key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionPosition {
    pub created_at: i64,
    pub user_id: String,
    pub key: String,
}

impl ReactionPosition {
    /// Opaque: hex of the position's JSON.
    pub fn encode(&self) -> String {
        hex::encode(
            serde_json::to_string(&(self.created_at, &self.user_id, &self.key)).unwrap_or_default(),
        )
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let bytes = hex::decode(raw).ok()?;
        let (created_at, user_id, key): (i64, String, String) =
            serde_json::from_slice(&bytes).ok()?;
        Some(ReactionPosition {
            created_at,
            user_id,
            key,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReactionListQuery {
    pub key: Option<ReactionKey>,
    pub limit: i64,
    pub after: Option<ReactionPosition>,
}

impl TryFrom<ReactionListParams> for ReactionListQuery {
    type Error = ApiError;

    fn try_from(params: ReactionListParams) -> Result<Self> {
        let mut check = Checks::new();
        let key = params
            .key
            .as_deref()
            .and_then(|k| check.check(ReactionKey::parse(k)));
        let limit = check.query_integer("limit", params.limit.as_deref(), 1, 100, Some(50));
        let after = check.cursor(params.cursor.as_deref(), "this list", |raw| {
            ReactionPosition::decode(raw)
        });
        check.finish()?;
        Ok(ReactionListQuery {
            key,
            limit: limit.unwrap_or(50),
            after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_emoji_or_short_names_without_spaces_or_controls() {
        for good in ["👍", "thumbsup", "+1", "a\"b.c", "👨‍👩‍👧", &"x".repeat(32)] {
            assert!(ReactionKey::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            " ",
            "a b",
            "a\tb",
            "a\u{7}",
            "\u{a0}",
            "\u{2028}",
            &"x".repeat(33),
        ] {
            assert_eq!(ReactionKey::parse(bad).unwrap_err().status, 400, "{bad:?}");
        }
    }

    #[test]
    fn the_list_cursor_round_trips_and_refuses_garbage() {
        let position = ReactionPosition {
            created_at: 7,
            user_id: "u1".into(),
            key: "👍".into(),
        };
        assert_eq!(ReactionPosition::decode(&position.encode()), Some(position));
        for bad in ["", "zz", "00", &hex::encode("[1,2]")] {
            assert_eq!(ReactionPosition::decode(bad), None, "{bad}");
        }
        let params = ReactionListParams {
            cursor: Some("nope".into()),
            limit: Some("0".into()),
            key: Some("a b".into()),
        };
        let err = ReactionListQuery::try_from(params).unwrap_err();
        assert_eq!(err.errors.len(), 3, "{:?}", err.errors);
    }
}

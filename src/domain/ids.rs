//! Identifiers. Server ids are 24 lowercase hex characters: 4 bytes of big-endian Unix seconds, then 8
//! random bytes (so they sort roughly by creation time, like MongoDB ObjectIds). User ids come from the
//! JWT `sub`: 1 to 64 characters of `[A-Za-z0-9_.:@-]`.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ApiError, Result};

/// The document's `ObjectId`: what `is_object_id` accepts.
pub const OBJECT_ID_PATTERN: &str = "^[0-9a-f]{24}$";
/// The document's `UserId`: what `is_user_id` accepts.
pub const USER_ID_PATTERN: &str = "^[A-Za-z0-9_.:@-]{1,64}$";
/// The document's `ProjectId`: what `ProjectId::parse` accepts.
pub const PROJECT_ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";

/// A server-generated id in the document (`ObjectId`): every id type below is shown as this one.
pub struct ObjectId;

impl JsonSchema for ObjectId {
    fn schema_name() -> Cow<'static, str> {
        "ObjectId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": OBJECT_ID_PATTERN,
            "description": "A server-generated id: 24 lowercase hex characters (4 bytes of Unix seconds, then 8 random bytes)."
        })
    }
}

/// A server-generated 24-hex id.
pub fn new_object_id(now_ms: i64) -> Result<String> {
    let mut bytes = [0u8; 12];
    let seconds = u32::try_from(now_ms.max(0) / 1000).unwrap_or(u32::MAX);
    bytes[..4].copy_from_slice(&seconds.to_be_bytes());
    getrandom::fill(&mut bytes[4..]).map_err(|e| ApiError::internal(format!("getrandom: {e}")))?;
    Ok(hex::encode(bytes))
}

pub fn is_object_id(s: &str) -> bool {
    s.len() == 24
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn is_user_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'@' | b'-'))
}

macro_rules! object_id_type {
    ($name:ident, $what:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// `field` names the parameter in the error message.
            pub fn parse(s: &str, field: &str) -> Result<Self> {
                if is_object_id(s) {
                    Ok(Self(s.to_string()))
                } else {
                    Err(ApiError::bad_request(format!(
                        "{field} must be a {} id of 24 lowercase hex characters",
                        $what
                    )))
                }
            }

            pub fn generate(now_ms: i64) -> Result<Self> {
                new_object_id(now_ms).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        id_serde!($name);

        /// Shown as `ObjectId` (a reference to it).
        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(generator: &mut SchemaGenerator) -> Schema {
                generator.subschema_for::<ObjectId>()
            }
        }
    };
}

/// Ids cross into the chat's Durable Object and into socket attachments as plain strings; reading one
/// back goes through `parse`, so an id value is valid wherever it came from.
macro_rules! id_serde {
    ($name:ident) => {
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                $name::parse(&text, stringify!($name))
                    .map_err(|e| serde::de::Error::custom(e.errors.join("; ")))
            }
        }
    };
}

object_id_type!(ChatId, "chat");
object_id_type!(MessageId, "message");
object_id_type!(KeyId, "key");
object_id_type!(FileId, "file");
object_id_type!(ReportId, "report");
object_id_type!(ErasureId, "erasure");

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    pub fn parse(s: &str, field: &str) -> Result<Self> {
        if is_user_id(s) {
            Ok(Self(s.to_string()))
        } else {
            Err(ApiError::bad_request(format!(
                "{field} must be 1 to 64 characters from A-Z a-z 0-9 _ . : @ -"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

id_serde!(UserId);

impl JsonSchema for UserId {
    fn schema_name() -> Cow<'static, str> {
        "UserId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": USER_ID_PATTERN,
            "description": "A user id (the JWT sub): 1 to 64 of A-Z a-z 0-9 _ . : @ -."
        })
    }
}

/// A project (API.md "Projects"): 1 to 64 characters of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectId(String);

impl ProjectId {
    pub fn parse(s: &str, field: &str) -> Result<Self> {
        if (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            Ok(Self(s.to_string()))
        } else {
            Err(ApiError::bad_request(format!(
                "{field} must be 1 to 64 characters from A-Z a-z 0-9 _ -"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

id_serde!(ProjectId);

impl JsonSchema for ProjectId {
    fn schema_name() -> Cow<'static, str> {
        "ProjectId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": PROJECT_ID_PATTERN,
            "description": "A project (one app or tenant of a shared backend): 1 to 64 of A-Z a-z 0-9 _ -."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_24_hex_and_start_with_the_seconds() {
        let id = new_object_id(1_700_000_000_123).unwrap();
        assert!(is_object_id(&id), "{id}");
        assert_eq!(&id[..8], &format!("{:08x}", 1_700_000_000u32));
        assert_ne!(id, new_object_id(1_700_000_000_123).unwrap());
    }

    #[test]
    fn object_ids_reject_everything_else() {
        for bad in [
            "",
            "64d15f9e2e6c8f4d5a12345",
            "64D15F9E2E6C8F4D5A123456",
            "64d15f9e2e6c8f4d5a12345g",
            "64d15f9e2e6c8f4d5a1234567",
        ] {
            assert!(ChatId::parse(bad, "chatId").is_err(), "{bad}");
        }
        assert!(ChatId::parse("64d15f9e2e6c8f4d5a123456", "chatId").is_ok());
    }

    #[test]
    fn project_ids_follow_the_pattern() {
        assert!(ProjectId::parse("proj_1-A", "projectId").is_ok());
        for bad in ["", "has space", "a.b", "é", &"p".repeat(65)] {
            assert!(ProjectId::parse(bad, "projectId").is_err(), "{bad}");
        }
    }

    /// The checks and the document's patterns agree, on hand-picked and on random strings (a regex
    /// engine from the test-only JSON Schema validator decides the pattern's side).
    #[test]
    fn the_documented_patterns_are_the_checks() {
        let validator = |pattern: &str| {
            jsonschema::validator_for(&serde_json::json!({"type": "string", "pattern": pattern}))
                .unwrap()
        };
        let (object, user, project) = (
            validator(OBJECT_ID_PATTERN),
            validator(USER_ID_PATTERN),
            validator(PROJECT_ID_PATTERN),
        );
        let matches = |pattern: &str, s: &str| {
            let v = match pattern {
                OBJECT_ID_PATTERN => &object,
                USER_ID_PATTERN => &user,
                _ => &project,
            };
            v.is_valid(&serde_json::json!(s))
        };
        let pieces = [
            "a", "Z", "0", "f", "9", "_", "-", ".", ":", "@", " ", "/", "é", "G",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for i in 0..5000 {
            let mut s = String::new();
            let len = if i % 10 == 0 {
                24
            } else {
                (seed % 70) as usize
            };
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            assert_eq!(is_object_id(&s), matches(OBJECT_ID_PATTERN, &s), "{s:?}");
            assert_eq!(is_user_id(&s), matches(USER_ID_PATTERN, &s), "{s:?}");
            assert_eq!(
                ProjectId::parse(&s, "p").is_ok(),
                matches(PROJECT_ID_PATTERN, &s),
                "{s:?}"
            );
        }
        assert!(matches(OBJECT_ID_PATTERN, "64d15f9e2e6c8f4d5a123456"));
    }

    #[test]
    fn user_ids_follow_the_pattern() {
        assert!(UserId::parse("alice@example.com:1_2-3", "sub").is_ok());
        assert!(UserId::parse(&"a".repeat(64), "sub").is_ok());
        for bad in ["", "has space", "slash/", "ümlaut", &"a".repeat(65)] {
            assert!(UserId::parse(bad, "sub").is_err(), "{bad}");
        }
    }
}

//! Identifiers. Server ids are 24 lowercase hex characters: 4 bytes of big-endian Unix seconds, then 8
//! random bytes (so they sort roughly by creation time, like MongoDB ObjectIds). User ids come from the
//! JWT `sub`: 1 to 64 characters of `[A-Za-z0-9_.:@-]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ApiError, Result};

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

    #[test]
    fn user_ids_follow_the_pattern() {
        assert!(UserId::parse("alice@example.com:1_2-3", "sub").is_ok());
        assert!(UserId::parse(&"a".repeat(64), "sub").is_ok());
        for bad in ["", "has space", "slash/", "ümlaut", &"a".repeat(65)] {
            assert!(UserId::parse(bad, "sub").is_err(), "{bad}");
        }
    }
}

//! Identifiers. Server ids are 24 lowercase hex characters: 4 bytes of big-endian Unix seconds, then 8
//! random bytes (so they sort roughly by creation time, like MongoDB ObjectIds). User ids come from the
//! JWT `sub`: 1 to 64 characters of `[A-Za-z0-9_.:@-]`.

use crate::error::{ApiError, Result};

/// A server-generated 24-hex id.
pub fn new_object_id(now_ms: i64) -> Result<String> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| ApiError::internal(format!("getrandom: {e}")))?;
    let seconds = (now_ms.max(0) / 1000) as u32;
    let mut id = String::with_capacity(24);
    for byte in seconds.to_be_bytes().iter().chain(random.iter()) {
        id.push_str(&format!("{byte:02x}"));
    }
    Ok(id)
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

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

object_id_type!(ChatId, "chat");
object_id_type!(MessageId, "message");

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

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
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
    fn user_ids_follow_the_pattern() {
        assert!(UserId::parse("alice@example.com:1_2-3", "sub").is_ok());
        assert!(UserId::parse(&"a".repeat(64), "sub").is_ok());
        for bad in ["", "has space", "slash/", "ümlaut", &"a".repeat(65)] {
            assert!(UserId::parse(bad, "sub").is_err(), "{bad}");
        }
    }
}

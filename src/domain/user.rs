//! User profiles: the defaults taken from a token, and the changes `PATCH /api/v1/users/me` may make.

use super::input::{has_control, is_blank, is_https_url, trim_blank, JsonBody};
use crate::error::{ApiError, Result};

pub const AVAILABILITY: &[&str] = &["available", "away", "busy", "offline"];

/// A user's `availabilityStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    #[default]
    Available,
    Away,
    Busy,
    Offline,
}

impl Availability {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "available" => Availability::Available,
            "away" => Availability::Away,
            "busy" => Availability::Busy,
            "offline" => Availability::Offline,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Available => "available",
            Availability::Away => "away",
            Availability::Busy => "busy",
            Availability::Offline => "offline",
        }
    }
}
pub const MAX_USERNAME_CHARS: usize = 64;
pub const MAX_FIRST_NAME_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    pub url: String,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfilePatch {
    pub username: Option<String>,
    pub first_name: Option<String>,
    /// `Some(None)` clears the photo.
    pub photo: Option<Option<Photo>>,
    pub availability: Option<String>,
}

fn clean_name(body: &mut JsonBody, field: &str, max: usize) -> Option<String> {
    let value = body.string(field, 1, max)?;
    let trimmed = trim_blank(&value);
    if is_blank(trimmed) || has_control(&value) {
        body.error(format!(
            "{field} must not be blank or contain control characters"
        ));
        return None;
    }
    Some(trimmed.to_string())
}

impl ProfilePatch {
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut body = JsonBody::parse(bytes)?;
        let username = clean_name(&mut body, "username", MAX_USERNAME_CHARS);
        let first_name = clean_name(&mut body, "firstName", MAX_FIRST_NAME_CHARS);
        let photo = if body.has("profilePhoto") && body.value("profilePhoto").is_none() {
            Some(None)
        } else {
            body.object("profilePhoto").and_then(|p| {
                let url = p
                    .get("url")
                    .and_then(|v| v.as_str())
                    .filter(|u| is_https_url(u));
                let kind = p
                    .get("type")
                    .and_then(|v| v.as_str())
                    .filter(|t| matches!(*t, "image" | "video"));
                if url.is_none() {
                    body.error("profilePhoto.url is required and must be an https:// URL".into());
                }
                if kind.is_none() {
                    body.error("profilePhoto.type is required and must be image or video".into());
                }
                Some(Some(Photo {
                    url: url?.to_string(),
                    kind: kind?.to_string(),
                }))
            })
        };
        let availability = body.string("availabilityStatus", 1, 16);
        if availability
            .as_deref()
            .is_some_and(|a| !AVAILABILITY.contains(&a))
        {
            body.error(format!(
                "availabilityStatus must be one of {}",
                AVAILABILITY.join(", ")
            ));
        }
        body.finish()?;
        let patch = ProfilePatch {
            username,
            first_name,
            photo,
            availability,
        };
        if patch == ProfilePatch::default() {
            return Err(ApiError::bad_request(
                "body must set at least one of username, firstName, profilePhoto, availabilityStatus",
            ));
        }
        Ok(patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let p = ProfilePatch::parse(
            br#"{"username":" jo ","profilePhoto":null,"availabilityStatus":"away"}"#,
        )
        .unwrap();
        assert_eq!(p.username.as_deref(), Some("jo"));
        assert_eq!(p.photo, Some(None));
        assert_eq!(ProfilePatch::parse(b"{}").unwrap_err().status, 400);
        let err = ProfilePatch::parse(
            br#"{"availabilityStatus":"gone","profilePhoto":{"url":"ftp://x"}}"#,
        )
        .unwrap_err();
        assert_eq!(err.errors.len(), 3, "{:?}", err.errors);
    }
}

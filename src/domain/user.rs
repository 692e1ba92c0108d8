//! User profiles: the defaults taken from a token, and the changes `PATCH /api/v1/users/me` may make.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::input::{has_control, is_blank, is_https_url, trim_blank};
use super::url::HttpsUrl;
use super::wire::{self, keep_null, Checks};
use crate::error::{ApiError, Result};

pub const AVAILABILITY: &[&str] = &["available", "away", "busy", "offline"];

/// A user's `availabilityStatus`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, JsonSchema,
)]
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

/// A name that is not blank and holds no control character (after trimming spaces): the document's
/// pattern of `clean_name`.
pub const NAME_PATTERN: &str =
    "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\u0000-\\u0020\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// What a profile photo is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PhotoKind {
    Image,
    Video,
}

impl PhotoKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoKind::Image => "image",
            PhotoKind::Video => "video",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    pub url: String,
    pub kind: PhotoKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfilePatch {
    pub username: Option<String>,
    pub first_name: Option<String>,
    /// `Some(None)` clears the photo.
    pub photo: Option<Option<Photo>>,
    pub availability: Option<Availability>,
}

/// A profile photo to set.
#[derive(JsonSchema)]
#[schemars(rename = "NewPhoto")]
pub struct PhotoBody {
    pub url: HttpsUrl,
    #[serde(rename = "type")]
    pub kind: PhotoKind,
}

/// Changes to the caller's profile: at least one field.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ProfilePatch", transform = at_least_one)]
pub struct ProfilePatchBody {
    /// Trimmed of spaces; no control characters.
    #[schemars(
        with = "Option<String>",
        length(min = 1, max = MAX_USERNAME_CHARS),
        pattern(NAME_PATTERN)
    )]
    pub username: Option<Value>,
    #[schemars(
        with = "Option<String>",
        length(min = 1, max = MAX_FIRST_NAME_CHARS),
        pattern(NAME_PATTERN)
    )]
    pub first_name: Option<Value>,
    /// null removes the photo.
    #[serde(default, deserialize_with = "keep_null")]
    #[schemars(with = "Option<PhotoBody>")]
    pub profile_photo: Option<Value>,
    #[schemars(with = "Option<Availability>")]
    pub availability_status: Option<Value>,
}

fn at_least_one(schema: &mut schemars::Schema) {
    schema.insert(
        "anyOf".into(),
        serde_json::json!([
            {"required": ["username"], "properties": {"username": {"type": "string"}}},
            {"required": ["firstName"], "properties": {"firstName": {"type": "string"}}},
            {"required": ["profilePhoto"]},
            {"required": ["availabilityStatus"], "properties": {"availabilityStatus": {"type": "string"}}}
        ]),
    );
}

fn clean_name(
    check: &mut Checks,
    field: &str,
    value: Option<&Value>,
    max: usize,
) -> Option<String> {
    let value = check.string(field, value, 1, max)?;
    let trimmed = trim_blank(&value);
    if is_blank(trimmed) || has_control(&value) {
        check.error(format!(
            "{field} must not be blank or contain control characters"
        ));
        return None;
    }
    Some(trimmed.to_string())
}

impl ProfilePatch {
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        wire::body::<ProfilePatchBody>(bytes)?.try_into()
    }
}

impl TryFrom<ProfilePatchBody> for ProfilePatch {
    type Error = ApiError;

    fn try_from(body: ProfilePatchBody) -> Result<Self> {
        let mut check = Checks::new();
        let username = clean_name(
            &mut check,
            "username",
            body.username.as_ref(),
            MAX_USERNAME_CHARS,
        );
        let first_name = clean_name(
            &mut check,
            "firstName",
            body.first_name.as_ref(),
            MAX_FIRST_NAME_CHARS,
        );
        let photo = match &body.profile_photo {
            None => None,
            Some(Value::Null) => Some(None),
            Some(value) => check.object("profilePhoto", Some(value)).and_then(|p| {
                let url = p
                    .get("url")
                    .and_then(|v| v.as_str())
                    .filter(|u| is_https_url(u));
                let kind = match p.get("type").and_then(|v| v.as_str()) {
                    Some("image") => Some(PhotoKind::Image),
                    Some("video") => Some(PhotoKind::Video),
                    _ => None,
                };
                if url.is_none() {
                    check.error("profilePhoto.url is required and must be an https:// URL");
                }
                if kind.is_none() {
                    check.error("profilePhoto.type is required and must be image or video");
                }
                Some(Some(Photo {
                    url: url?.to_string(),
                    kind: kind?,
                }))
            }),
        };
        let availability = check
            .string(
                "availabilityStatus",
                body.availability_status.as_ref(),
                1,
                16,
            )
            .and_then(|a| {
                let parsed = Availability::parse(&a);
                if parsed.is_none() {
                    check.error(format!(
                        "availabilityStatus must be one of {}",
                        AVAILABILITY.join(", ")
                    ));
                }
                parsed
            });
        check.finish()?;
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

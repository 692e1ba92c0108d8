//! Files (API.md "Files"): the rules of an upload (name, size, type), signed download URLs, and the
//! download's `Range` and `Content-Disposition`. Pure: the handlers stream the bytes.

use hmac::{Hmac, Mac};
use schemars::JsonSchema;
use serde::Deserialize;
use sha2::Sha256;

use super::message::MediaKind;
use crate::error::{ApiError, Result};

/// The largest upload: 25 MiB.
pub const MAX_FILE_BYTES: u64 = 25 * 1024 * 1024;
/// The longest file name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// How long a signed URL works: an hour in responses, a day in webhook bodies.
pub const URL_TTL_SECONDS: i64 = 3600;
pub const WEBHOOK_URL_TTL_SECONDS: i64 = 24 * 3600;
/// The shortest `FILE_SIGNING_KEY`.
pub const MIN_SIGNING_KEY_BYTES: usize = 32;

/// `POST /api/v1/chats/{chatId}/files`' query.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct UploadParams {
    /// The file's name: 1 to 255 characters, without `/`, `\` or control characters.
    #[schemars(with = "String", length(min = 1, max = MAX_NAME_CHARS), pattern(r"^[^/\\\x00-\x1f\x7f-\x9f]+$"))]
    pub name: Option<String>,
}

/// `GET /api/v1/files/{fileId}`' query: a signed URL's expiry and signature (else a credential).
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DownloadParams {
    /// Unix seconds after which the signature stops working.
    #[schemars(with = "Option<u64>")]
    pub exp: Option<String>,
    /// Hex HMAC-SHA256 of "<fileId>.<exp>" keyed with FILE_SIGNING_KEY.
    #[schemars(with = "Option<String>", pattern("^[0-9a-f]{64}$"))]
    pub sig: Option<String>,
}

/// An upload's name, checked.
pub fn file_name(raw: Option<&str>) -> Result<String> {
    let Some(name) = raw else {
        return Err(ApiError::bad_request(
            "name is required: the file's name, 1 to 255 characters",
        ));
    };
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(ApiError::bad_request("name must be 1 to 255 characters"));
    }
    if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(ApiError::bad_request(
            "name must not hold /, \\ or control characters",
        ));
    }
    Ok(name.to_string())
}

/// The upload's size from `Content-Length`: 411 without one, 413 past 25 MiB, 400 for an empty body.
pub fn upload_size(content_length: Option<&str>) -> Result<u64> {
    let Some(raw) = content_length else {
        return Err(ApiError::new(
            411,
            "Content-Length is required: uploads give their size first",
        ));
    };
    let size: u64 = raw
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_request("Content-Length must be a number of bytes"))?;
    if size > MAX_FILE_BYTES {
        return Err(ApiError::new(
            413,
            "a file is at most 25 MiB (26214400 bytes)",
        ));
    }
    if size == 0 {
        return Err(ApiError::bad_request("the file is empty"));
    }
    Ok(size)
}

/// The stored content type: the upload's `Content-Type` (lowercased, parameters kept), else
/// `application/octet-stream`.
pub fn content_type(header: Option<&str>) -> String {
    header
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 255 && t.contains('/'))
        .filter(|t| t.chars().all(|c| c.is_ascii_graphic() || c == ' '))
        .map_or_else(
            || "application/octet-stream".to_string(),
            str::to_ascii_lowercase,
        )
}

/// The media kind a file's content type means, when a send names the file without a `type`.
pub fn media_kind(content_type: &str) -> MediaKind {
    match content_type.split('/').next() {
        Some("image") => MediaKind::Image,
        Some("video") => MediaKind::Video,
        Some("audio") => MediaKind::Audio,
        _ => MediaKind::File,
    }
}

/// `Content-Disposition`: `inline` for images, video and audio (never SVG, which can run script),
/// else `attachment`; the name as RFC 6266 `filename*` (UTF-8, percent-encoded) with an ASCII
/// fallback.
pub fn disposition(content_type: &str, name: &str) -> String {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let inline = matches!(
        media_kind(essence),
        MediaKind::Image | MediaKind::Video | MediaKind::Audio
    ) && essence != "image/svg+xml";
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' && c != '%' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!(
        "{}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}",
        if inline { "inline" } else { "attachment" }
    )
}

/// A `Range` request against a file of `size` bytes: `None` to serve it whole (no header, a header of
/// another unit, several ranges or a malformed one), `Some(Ok((first, last)))` inclusive, or
/// `Some(Err(()))` when it cannot be satisfied (416).
pub fn byte_range(header: Option<&str>, size: u64) -> Option<std::result::Result<(u64, u64), ()>> {
    let spec = header?.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let range = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let n = number(suffix)?;
            if n == 0 || size == 0 {
                return Some(Err(()));
            }
            (size.saturating_sub(n), size - 1)
        }
        (first, "") => (number(first)?, size.saturating_sub(1)),
        (first, last) => {
            let (a, b) = (number(first)?, number(last)?);
            if b < a {
                return None;
            }
            (a, b.min(size.saturating_sub(1)))
        }
    };
    Some(if range.0 >= size { Err(()) } else { Ok(range) })
}

fn mac(key: &[u8], file_id: &str, exp: i64) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    mac.update(file_id.as_bytes());
    mac.update(b".");
    mac.update(exp.to_string().as_bytes());
    Some(mac)
}

/// The signature of a file's URL valid until `exp` (Unix seconds).
pub fn signature(key: &[u8], file_id: &str, exp: i64) -> String {
    mac(key, file_id, exp)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// A signed URL's check (constant time): 401 when expired, malformed or wrong.
pub fn check_signature(
    key: &[u8],
    file_id: &str,
    exp: &str,
    sig: &str,
    now_seconds: i64,
) -> Result<()> {
    let refused = || ApiError::unauthorized("the file URL's signature is wrong or has expired");
    let exp: i64 = exp.parse().map_err(|_| refused())?;
    let sig = hex::decode(sig).map_err(|_| refused())?;
    if exp < now_seconds {
        return Err(refused());
    }
    let mac = mac(key, file_id, exp).ok_or_else(refused)?;
    mac.verify_slice(&sig).map_err(|_| refused())
}

/// A file's signed URL under `origin`.
pub fn signed_url(key: &[u8], origin: &str, file_id: &str, exp: i64) -> String {
    format!(
        "{}/api/v1/files/{file_id}?exp={exp}&sig={}",
        origin.trim_end_matches('/'),
        signature(key, file_id, exp)
    )
}

/// A file URL in the document: this server's `/api/v1/files/{fileId}` with its expiry and signature.
pub struct FileUrl;

impl JsonSchema for FileUrl {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FileUrl".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^https?://[^/?#]+/api/v1/files/[0-9a-f]{24}\\?exp=[0-9]{1,16}&sig=[0-9a-f]{64}$",
            "description": "A signed URL of an uploaded file: works without headers until exp (Unix seconds)."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sizes_and_types() {
        assert_eq!(file_name(Some("report.pdf")).unwrap(), "report.pdf");
        assert_eq!(
            file_name(Some(&"é".repeat(255))).unwrap().chars().count(),
            255
        );
        for bad in ["", "a/b", "a\\b", "a\u{0}b", "a\nb", &"x".repeat(256)] {
            assert_eq!(file_name(Some(bad)).unwrap_err().status, 400, "{bad:?}");
        }
        assert_eq!(file_name(None).unwrap_err().status, 400);
        assert_eq!(upload_size(None).unwrap_err().status, 411);
        assert_eq!(upload_size(Some("0")).unwrap_err().status, 400);
        assert_eq!(upload_size(Some("26214401")).unwrap_err().status, 413);
        assert_eq!(upload_size(Some("26214400")).unwrap(), MAX_FILE_BYTES);
        assert_eq!(upload_size(Some("x")).unwrap_err().status, 400);
        assert_eq!(content_type(Some("Image/PNG")), "image/png");
        assert_eq!(content_type(None), "application/octet-stream");
        assert_eq!(content_type(Some("nonsense")), "application/octet-stream");
        assert_eq!(media_kind("image/png"), MediaKind::Image);
        assert_eq!(media_kind("application/pdf"), MediaKind::File);
    }

    #[test]
    fn only_media_other_than_svg_is_inline() {
        assert!(disposition("image/png", "a.png").starts_with("inline;"));
        assert!(disposition("video/mp4; codecs=x", "v").starts_with("inline;"));
        for t in [
            "image/svg+xml",
            "text/html",
            "application/pdf",
            "application/octet-stream",
        ] {
            assert!(disposition(t, "x").starts_with("attachment;"), "{t}");
        }
        assert_eq!(
            disposition("text/plain", "naïve \"file\".txt"),
            "attachment; filename=\"na_ve__file_.txt\"; filename*=UTF-8''na%C3%AFve%20%22file%22.txt"
        );
    }

    #[test]
    fn single_ranges_are_served_and_others_are_whole_or_416() {
        let r = |h: &str| byte_range(Some(h), 100);
        assert_eq!(r("bytes=0-9"), Some(Ok((0, 9))));
        assert_eq!(r("bytes=90-"), Some(Ok((90, 99))));
        assert_eq!(r("bytes=-10"), Some(Ok((90, 99))));
        assert_eq!(r("bytes=-1000"), Some(Ok((0, 99))));
        assert_eq!(r("bytes=50-1000"), Some(Ok((50, 99))));
        assert_eq!(r("bytes=100-"), Some(Err(())));
        assert_eq!(r("bytes=-0"), Some(Err(())));
        assert_eq!(r("bytes=0-1,5-6"), None);
        assert_eq!(r("items=0-1"), None);
        assert_eq!(r("bytes=5-1"), None);
        assert_eq!(r("bytes=x-1"), None);
        assert_eq!(byte_range(None, 100), None);
    }

    #[test]
    fn signed_urls_stop_working_after_exp_or_any_change() {
        let key = b"0123456789abcdef0123456789abcdef";
        let id = "64d15f9e2e6c8f4d5a123456";
        let sig = signature(key, id, 2000);
        assert!(check_signature(key, id, "2000", &sig, 1999).is_ok());
        assert!(check_signature(key, id, "2000", &sig, 2000).is_ok());
        assert_eq!(
            check_signature(key, id, "2000", &sig, 2001)
                .unwrap_err()
                .status,
            401
        );
        assert!(check_signature(key, id, "2001", &sig, 0).is_err());
        assert!(check_signature(key, "64d15f9e2e6c8f4d5a123457", "2000", &sig, 0).is_err());
        let mut other = sig.clone().into_bytes();
        other[0] = if other[0] == b'0' { b'1' } else { b'0' };
        assert!(check_signature(key, id, "2000", &String::from_utf8(other).unwrap(), 0).is_err());
        assert!(check_signature(key, id, "x", &sig, 0).is_err());
        assert_eq!(
            signed_url(key, "https://chat.example.com/", id, 2000),
            format!("https://chat.example.com/api/v1/files/{id}?exp=2000&sig={sig}")
        );
    }
}

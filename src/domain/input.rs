//! Rules for untrusted input that several parsers share: sizes, whole numbers, blank and control
//! characters, header text, bookmarks, and the decoding of query strings. (Bodies and queries are read
//! into wire structs and checked by `wire`.)

/// Bodies larger than this are refused with 413 (API.md).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Largest integer JSON can carry exactly in every client (±(2^53 − 1)).
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// The document's pattern for a text that is not blank (`is_blank`): one character that is not ASCII
/// whitespace. (`[^ \t\n\r\v\f]` reads alike in every regex engine; Unicode whitespace classes differ.)
pub const NOT_BLANK_PATTERN: &str = "[^ \\t\\n\\r\\v\\f]";

/// The document's pattern for a text without control characters (`has_control`).
pub const NO_CONTROL_PATTERN: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// A JSON number without a fractional part within ±(2^53 − 1), as an integer (JSON Schema's `integer`).
pub fn whole_number(n: &serde_json::Number) -> Option<i64> {
    n.as_i64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER as f64)
                .map(|f| f as i64)
        })
        .filter(|i| i.abs() <= MAX_SAFE_INTEGER)
}

/// Whether a text is blank: empty or only ASCII whitespace (space, tab, line feed, carriage return,
/// vertical tab, form feed). The document says the same with the pattern `[^ \t\n\r\v\f]`, which every
/// regex engine reads alike (Unicode whitespace classes differ between engines).
pub fn is_blank(s: &str) -> bool {
    s.chars().all(is_ascii_space)
}

/// `s` without leading and trailing ASCII whitespace (see `is_blank`).
pub fn trim_blank(s: &str) -> &str {
    s.trim_matches(is_ascii_space)
}

fn is_ascii_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Whether a header value is what the document allows for one: visible ASCII with inner spaces (other
/// bytes do not cross HTTP as they were sent, and HTTP drops the spaces and tabs around a value).
pub fn is_header_text(s: &str) -> bool {
    let b = s.trim_end_matches([' ', '\t']).as_bytes();
    !b.is_empty() && b.iter().all(|c| (b' '..=b'~').contains(c)) && b[0] != b' '
}

/// Whether a text holds a control character (Unicode `Cc`: U+0000–U+001F, U+007F–U+009F), which the
/// document refuses with the pattern `^[^\u0000-\u001f\u007f-\u009f]*$`.
pub fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A D1 session bookmark as D1 writes them: four groups of lowercase hex, 8-8-8-32 long
/// (`0000007b-0000b26e-00001538-0c3e87bb37b3db5cc52eedb93cd3b96b`). Anything else is a 400 before D1
/// sees it.
pub fn bookmark(value: &str) -> crate::error::Result<String> {
    let value = value.trim();
    let lengths: Vec<usize> = value.split('-').map(str::len).collect();
    let well_formed = lengths == [8, 8, 8, 32]
        && value
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if well_formed {
        Ok(value.to_string())
    } else {
        Err(crate::error::ApiError::bad_request(
            "X-D1-Bookmark must be a bookmark from an earlier response's X-D1-Bookmark",
        ))
    }
}

/// The query of a serialized URL (as the runtime gives it: `scheme://host/path?query#fragment`) as
/// its decoded pairs, the way the WHATWG URL standard's `URLSearchParams` does: pairs split on `&`,
/// name and value on the first `=`, `+` is a space, `%XX` a byte, and bytes that are not UTF-8 become
/// U+FFFD (the `form_urlencoded` crate; the whole `url` crate would carry its IDNA tables too, about
/// 20 KB of gzipped wasm). `wire::query` reads them into a wire struct.
pub fn query_pairs(url: &str) -> Vec<(String, String)> {
    let without_fragment = url.split_once('#').map_or(url, |(before, _)| before);
    let query = without_fragment.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// A media or profile-photo URL (`url::media_url`): `https://` with a DNS host name, as the document's
/// `HttpsUrl` pattern says.
pub fn is_https_url(s: &str) -> bool {
    super::url::media_url(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookmarks_are_checked_for_form() {
        let good = "0000000a-00000003-00004f0c-1ba2e1a5cc3a3d4c4e6bd31ef7a53d0b";
        assert_eq!(bookmark(good).unwrap(), good);
        assert_eq!(bookmark(&format!(" {good} ")).unwrap(), good);
        for bad in [
            "",
            "first-primary",
            "first-unconstrained",
            "0000000A-00000003",
            "00000000",
            "0",
            "00000000-00000001",
            "0000000a-00000003-00004f0c-1BA2E1A5CC3A3D4C4E6BD31EF7A53D0B",
            "0000000a-00000003-00004f0c--1ba2e1a5cc3a3d4c4e6bd31ef7a53d0",
            "0000000a-00000003-00004f0c-1ba2e1a5cc3a3d4c4e6bd31ef7a53d0g",
            &format!("{good}-00000000"),
        ] {
            assert_eq!(bookmark(bad).unwrap_err().status, 400, "{bad:?}");
        }
    }

    #[test]
    fn query_from_url_decodes_like_url_search_params() {
        let get = |url: &str, name: &str| -> Option<String> {
            query_pairs(url)
                .into_iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
        };
        let url = "https://x.test/api?limit=5&name=a+b%20c&empty=&flag&%E2%9C%93=%e2%9c%93&bad=%zz%4&x=1=2#f?limit=9";
        assert_eq!(get(url, "limit").as_deref(), Some("5"));
        assert_eq!(get(url, "name").as_deref(), Some("a b c"));
        assert_eq!(get(url, "empty").as_deref(), Some(""));
        assert_eq!(get(url, "flag").as_deref(), Some(""));
        assert_eq!(get(url, "\u{2713}").as_deref(), Some("\u{2713}"));
        assert_eq!(get(url, "bad").as_deref(), Some("%zz%4"));
        assert_eq!(get(url, "x").as_deref(), Some("1=2"));
        assert_eq!(
            get("https://x.test/a?b=%FF", "b").as_deref(),
            Some("\u{FFFD}")
        );
        assert_eq!(get("https://x.test/a?b=%", "b").as_deref(), Some("%"));
        assert_eq!(get("https://x.test/a#?b=1", "b"), None);
        assert_eq!(get("https://x.test/a?&&b=2&&", "b").as_deref(), Some("2"));
        assert_eq!(get("https://x.test/a", "b"), None);
    }

    #[test]
    fn blank_means_ascii_whitespace_only() {
        assert!(is_blank("") && is_blank(" \t\n\r\x0b\x0c"));
        assert!(!is_blank("\u{a0}") && !is_blank(" x "));
        assert_eq!(trim_blank("\t jo \n"), "jo");
        assert!(has_control("a\u{85}") && !has_control("ok é"));
    }

    #[test]
    fn urls_must_be_https() {
        assert!(is_https_url("https://cdn.example.com/a.jpg"));
        assert!(!is_https_url("http://cdn.example.com/a.jpg"));
        assert!(!is_https_url("https://"));
        assert!(!is_https_url("https://a b"));
        assert!(!is_https_url("javascript:alert(1)"));
        for bad in [
            "https://[not-a-host",
            "https://exa mple.com/",
            "https://:443/x",
            "https://a.example:99999/",
            "https://a.example:08/",
            "https://a.example:0",
            "https:\\\\evil.example/",
            "https:evil.example",
            "https://%zz/",
            "https:///path-only",
            "https://djÐ",
            "https://a.example:00/",
            "https://1.2.3.4/",
            "https://user@a.example/",
            "https://a..example/",
            "https://-a.example/",
            "https://a.example./",
            "https://a.example/%zz",
            "https://a.example/a b",
            "https://a.example/<x>",
            "https://a.example/[b]",
            "https://a.example/#a#b",
            "HTTPS://cdn.example.com/a.png",
        ] {
            assert!(!is_https_url(bad), "{bad}");
        }
        for good in [
            "https://a",
            "https://cdn.example.com:8443/a/b.png?x=1&y=%2F#frag",
            "https://x-1.example/~u/(a)!$'*+,;=:@",
            "https://a.example?q=/x?y#f/?z",
            "https://a.example:65535/",
        ] {
            assert!(is_https_url(good), "{good}");
        }
    }
}

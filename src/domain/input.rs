//! Reading untrusted input: JSON bodies and query strings. Every accessor records a message naming the
//! field and the rule it broke, so one response can list every problem; `finish` turns them into a 400.

use serde_json::{Map, Value};

use crate::error::{ApiError, Result};

/// Bodies larger than this are refused with 413 (API.md).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Largest integer JSON can carry exactly in every client (±(2^53 − 1)).
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

pub struct JsonBody {
    map: Map<String, Value>,
    errors: Vec<String>,
}

impl JsonBody {
    /// An empty body counts as `{}`, so endpoints whose fields are all optional can be called bare.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::payload_too_large());
        }
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(JsonBody {
                map: Map::new(),
                errors: Vec::new(),
            });
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(JsonBody {
                map,
                errors: Vec::new(),
            }),
            Ok(_) => Err(ApiError::bad_request("request body must be a JSON object")),
            Err(e) => Err(ApiError::bad_request(format!(
                "request body is not valid JSON: {e}"
            ))),
        }
    }

    pub fn error(&mut self, message: String) {
        self.errors.push(message);
    }

    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// The raw value, `None` when absent or `null`.
    pub fn value(&self, field: &str) -> Option<&Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    pub fn has(&self, field: &str) -> bool {
        self.map.contains_key(field)
    }

    /// An optional string of `min..=max` characters (Unicode scalar values).
    pub fn string(&mut self, field: &str, min: usize, max: usize) -> Option<String> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let chars = s.chars().count();
                if chars < min || chars > max {
                    let rule = if min == max {
                        format!("exactly {min}")
                    } else if min == 0 {
                        format!("at most {max}")
                    } else {
                        format!("{min} to {max}")
                    };
                    self.errors
                        .push(format!("{field} must be a string of {rule} characters"));
                    None
                } else {
                    Some(s.clone())
                }
            }
            Some(_) => {
                self.errors.push(format!("{field} must be a string"));
                None
            }
        }
    }

    pub fn required_string(&mut self, field: &str, min: usize, max: usize) -> Option<String> {
        let value = self.string(field, min, max);
        if !self.has(field) || self.map.get(field).is_some_and(Value::is_null) {
            self.errors.push(format!("{field} is required"));
        }
        value
    }

    /// The value of a fallible constructor, or its error recorded like the others.
    pub fn check<T>(&mut self, parsed: Result<T>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(e) => {
                self.errors.push(e.errors.join("; "));
                None
            }
        }
    }

    /// A required string turned into a value by `parse` (an id constructor, say), whose error is
    /// recorded like the others.
    pub fn required_parsed<T>(
        &mut self,
        field: &str,
        parse: impl Fn(&str) -> Result<T>,
    ) -> Option<T> {
        let raw = self.required_string(field, 1, 64)?;
        match parse(&raw) {
            Ok(value) => Some(value),
            Err(e) => {
                self.errors.push(e.errors.join("; "));
                None
            }
        }
    }

    /// An optional integer in `min..=max`: a JSON number without a fractional part, as JSON Schema's
    /// `integer` (so `5`, `5.0` and `5e0` are the same integer); `1.5` and `"10"` are refused.
    pub fn integer(&mut self, field: &str, min: i64, max: i64) -> Option<i64> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match whole_number(n) {
                Some(i) if (min..=max).contains(&i) => Some(i),
                _ => {
                    self.errors.push(format!(
                        "{field} must be an integer between {min} and {max}"
                    ));
                    None
                }
            },
            Some(_) => {
                self.errors.push(format!(
                    "{field} must be an integer between {min} and {max}"
                ));
                None
            }
        }
    }

    pub fn object(&mut self, field: &str) -> Option<Map<String, Value>> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(_) => {
                self.errors.push(format!("{field} must be a JSON object"));
                None
            }
        }
    }

    pub fn string_array(&mut self, field: &str) -> Option<Vec<String>> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let strings: Option<Vec<String>> = items
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect();
                if strings.is_none() {
                    self.errors
                        .push(format!("{field} must be an array of strings"));
                }
                strings
            }
            Some(_) => {
                self.errors
                    .push(format!("{field} must be an array of strings"));
                None
            }
        }
    }

    /// Ends parsing: a 400 listing every problem, or Ok.
    pub fn finish(self) -> Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

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

/// Query-string parameters, decoded once.
pub struct Query {
    pairs: Vec<(String, String)>,
    errors: Vec<String>,
}

impl Query {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Query {
            pairs,
            errors: Vec::new(),
        }
    }

    /// The query of a serialized URL (as the runtime gives it: `scheme://host/path?query#fragment`),
    /// decoded as `application/x-www-form-urlencoded` the way the WHATWG URL standard's
    /// `URLSearchParams` does: pairs split on `&`, name and value on the first `=`, `+` is a space,
    /// `%XX` a byte, and bytes that are not UTF-8 become U+FFFD (the `form_urlencoded` crate; the
    /// whole `url` crate would carry its IDNA tables too, about 20 KB of gzipped wasm).
    pub fn from_url(url: &str) -> Self {
        let without_fragment = url.split_once('#').map_or(url, |(before, _)| before);
        let query = without_fragment.split_once('?').map_or("", |(_, q)| q);
        let pairs = form_urlencoded::parse(query.as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        Query::new(pairs)
    }

    /// A query of literal pairs (tests).
    #[cfg(test)]
    pub fn of(pairs: &[(&str, &str)]) -> Self {
        Query::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The last value given for `name` (later values win, as in most frameworks).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A strict decimal integer in `min..=max`, else `default`. "1.5", "abc", "+1" and "" are errors.
    pub fn integer(&mut self, name: &str, min: i64, max: i64, default: Option<i64>) -> Option<i64> {
        let Some(raw) = self.get(name) else {
            return default;
        };
        let parsed =
            if !raw.is_empty() && raw.len() <= 16 && raw.bytes().all(|b| b.is_ascii_digit()) {
                raw.parse::<i64>().ok()
            } else {
                None
            };
        match parsed {
            Some(i) if (min..=max).contains(&i) => Some(i),
            _ => {
                self.errors
                    .push(format!("{name} must be an integer between {min} and {max}"));
                None
            }
        }
    }

    pub fn error(&mut self, message: String) {
        self.errors.push(message);
    }

    pub fn finish(self) -> Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
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
        let q = Query::from_url(
            "https://x.test/api?limit=5&name=a+b%20c&empty=&flag&%E2%9C%93=%e2%9c%93&bad=%zz%4&x=1=2#f?limit=9",
        );
        assert_eq!(q.get("limit"), Some("5"));
        assert_eq!(q.get("name"), Some("a b c"));
        assert_eq!(q.get("empty"), Some(""));
        assert_eq!(q.get("flag"), Some(""));
        assert_eq!(q.get("\u{2713}"), Some("\u{2713}"));
        assert_eq!(q.get("bad"), Some("%zz%4"));
        assert_eq!(q.get("x"), Some("1=2"));
        assert_eq!(
            Query::from_url("https://x.test/a?b=%FF").get("b"),
            Some("\u{FFFD}")
        );
        assert_eq!(Query::from_url("https://x.test/a?b=%").get("b"), Some("%"));
        assert_eq!(Query::from_url("https://x.test/a#?b=1").get("b"), None);
        assert_eq!(
            Query::from_url("https://x.test/a?&&b=2&&").get("b"),
            Some("2")
        );
        assert_eq!(Query::from_url("https://x.test/a").get("b"), None);
    }

    #[test]
    fn body_must_be_a_json_object() {
        assert_eq!(JsonBody::parse(b"[1]").err().unwrap().status, 400);
        assert_eq!(JsonBody::parse(b"{nope").err().unwrap().status, 400);
        assert_eq!(
            JsonBody::parse(&vec![b' '; MAX_BODY_BYTES + 1])
                .err()
                .unwrap()
                .status,
            413
        );
        assert!(JsonBody::parse(b"").is_ok());
    }

    #[test]
    fn integers_are_json_schema_integers() {
        let mut body = JsonBody::parse(
            br#"{"a": 1.5, "b": "10", "c": 7, "d": 1e3, "e": 2.0, "f": 1e300, "g": -0.0}"#,
        )
        .unwrap();
        assert_eq!(body.integer("a", 1, 10), None);
        assert_eq!(body.integer("b", 1, 10), None);
        assert_eq!(body.integer("c", 1, 10), Some(7));
        assert_eq!(body.integer("d", 1, 10_000), Some(1000));
        assert_eq!(body.integer("e", 1, 10), Some(2));
        assert_eq!(body.integer("f", 1, 10), None);
        assert_eq!(body.integer("g", 0, 10), Some(0));
        let err = body.finish().unwrap_err();
        assert_eq!(err.errors.len(), 3);
        assert!(err.errors[0].starts_with("a must be an integer"));
    }

    #[test]
    fn blank_means_ascii_whitespace_only() {
        assert!(is_blank("") && is_blank(" \t\n\r\x0b\x0c"));
        assert!(!is_blank("\u{a0}") && !is_blank(" x "));
        assert_eq!(trim_blank("\t jo \n"), "jo");
        assert!(has_control("a\u{85}") && !has_control("ok é"));
    }

    #[test]
    fn strings_count_characters_not_bytes() {
        let mut body = JsonBody::parse("{\"s\": \"ééé\"}".as_bytes()).unwrap();
        assert_eq!(body.string("s", 1, 3).as_deref(), Some("ééé"));
        assert_eq!(body.string("s", 1, 2), None);
    }

    #[test]
    fn query_integers_reject_junk() {
        let pairs = |v: &str| vec![("limit".to_string(), v.to_string())];
        for bad in [
            "0",
            "101",
            "abc",
            "1.5",
            "",
            "+5",
            "-1",
            "99999999999999999999",
        ] {
            let mut q = Query::new(pairs(bad));
            assert_eq!(q.integer("limit", 1, 100, Some(20)), None, "{bad}");
            assert!(q.finish().is_err(), "{bad}");
        }
        let mut q = Query::new(pairs("100"));
        assert_eq!(q.integer("limit", 1, 100, Some(20)), Some(100));
        let mut q = Query::new(vec![]);
        assert_eq!(q.integer("limit", 1, 100, Some(20)), Some(20));
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

    /// `is_https_url` is exactly the document's `HttpsUrl` pattern: same verdict on hand-picked URLs
    /// and on 20,000 random ones built from URL characters (a regex engine from the test-only
    /// JSON Schema validator decides the pattern's side).
    #[test]
    fn https_urls_are_exactly_the_documented_pattern() {
        let doc: Value = serde_json::from_str(crate::OPENAPI_JSON).unwrap();
        let url_schema = doc["components"]["schemas"]["HttpsUrl"].clone();
        let schema = serde_json::json!({
            "type": "string",
            "pattern": url_schema["pattern"],
            "maxLength": url_schema["maxLength"],
        });
        let validator = jsonschema::validator_for(&schema).unwrap();
        let pieces = [
            "https://", "https://", "a", "Z", "9", "-", ".", ".", "example", "com", ":", "443",
            "65536", "0", "/", "?", "#", "%2F", "%", "z", "[", "]", "@", "!", "$", "&", "'", "(",
            ")", "*", "+", ",", ";", "=", "~", "_", " ", "\\", "é", "\"", "<", "^", "`", "{", "|",
            "http://", "xn--",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut checked = 0;
        let mut accepted = 0;
        let hosts = [
            "a",
            "example.com",
            "x-1.example",
            "a.b.c",
            "cdn.example:8443",
            "a.example:1",
        ];
        for i in 0..20_000 {
            let mut url = if i % 4 == 0 {
                String::new()
            } else {
                "https://".to_string()
            };
            if i % 2 == 1 {
                url.push_str(hosts[(next() % hosts.len() as u64) as usize]);
                url.push_str(["/", "?", "#", ""][(next() % 4) as usize]);
            }
            for _ in 0..(next() % 12) {
                url.push_str(pieces[(next() % pieces.len() as u64) as usize]);
            }
            let by_pattern = validator.is_valid(&Value::String(url.clone()));
            assert_eq!(is_https_url(&url), by_pattern, "{url:?}");
            checked += 1;
            accepted += usize::from(by_pattern);
        }
        let long = format!("https://a.example/{}", "x".repeat(2048));
        assert_eq!(
            is_https_url(&long),
            validator.is_valid(&Value::String(long.clone()))
        );
        assert_eq!(checked, 20_000);
        assert!(
            accepted > 500,
            "the corpus must hold valid URLs too: {accepted}"
        );
    }
}

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

    /// An optional integer in `min..=max`. `1.5`, `"10"` and `1e3` are refused: integers only.
    pub fn integer(&mut self, field: &str, min: i64, max: i64) -> Option<i64> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_i64() {
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

/// An absolute `https://` URL of at most 2,048 characters with a host, as a URL parser reads it (so
/// `https://` followed by something that is not a host is refused), with no spaces or control
/// characters. The scheme must be spelled out: parsers also read `https:host` and `https:\\host`.
pub fn is_https_url(s: &str) -> bool {
    s.len() <= 2048
        && s.get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
        && !s.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\')
        // The authority right after `https://` (parsers skip extra slashes: `https:///x` reads as host x).
        && !s[8..].starts_with(['/', '?', '#'])
        && url::Url::parse(s).is_ok_and(|u| {
            u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn integers_are_strict() {
        let mut body = JsonBody::parse(br#"{"a": 1.5, "b": "10", "c": 7, "d": 1e3}"#).unwrap();
        assert_eq!(body.integer("a", 1, 10), None);
        assert_eq!(body.integer("b", 1, 10), None);
        assert_eq!(body.integer("c", 1, 10), Some(7));
        assert_eq!(body.integer("d", 1, 10_000), None);
        let err = body.finish().unwrap_err();
        assert_eq!(err.errors.len(), 3);
        assert!(err.errors[0].starts_with("a must be an integer"));
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
            "https:\\\\evil.example/",
            "https:evil.example",
            "https://%zz/",
            "https:///path-only",
        ] {
            assert!(!is_https_url(bad), "{bad}");
        }
        assert!(is_https_url("https://[::1]:8443/a?b=c#d"));
        assert!(is_https_url("HTTPS://CDN.example.com/A.png"));
    }
}

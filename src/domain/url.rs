//! URLs the API is given (media and photo URLs, webhook URLs): one parser reads the text into its parts
//! under the rules every such URL follows, and each use adds its policy (`media_url`, and
//! `webhooks::check_url`).
//!
//! Every URL: at most 2,048 characters of visible ASCII (punycode for international names); `https://`
//! (or `http://`, which only a webhook to loopback may use); no user info and no backslash; a host that
//! is a DNS name (dot-separated labels of 1 to 63 letters, digits and inner hyphens, the last starting
//! with a letter, no trailing dot), an IP address (IPv4 in any notation WHATWG URL parsers accept, or
//! `[IPv6]`); an optional port 1 to 65535 without leading zeros; then optionally a path, a query and a
//! fragment of RFC 3986 characters, `%` only as `%HH`.
//!
//! The `url` crate would parse more than this (and every host through IDNA tables, about 20 KB of
//! gzipped wasm); what is accepted here is exactly what the document's patterns say, and a test
//! holds the media pattern to `media_url`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// The document's `HttpsUrl`: exactly what `media_url` accepts (a test holds the two together).
pub const HTTPS_URL_PATTERN: &str = concat!(
    "^https://(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    "(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?",
    "(?:/(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2}|/)*)?",
    "(?:\\?(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2}|[/?])*)?",
    "(?:#(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2}|[/?])*)?$"
);

/// A media or photo URL in the document (`HttpsUrl`).
pub struct HttpsUrl;

impl schemars::JsonSchema for HttpsUrl {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HttpsUrl".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "uri",
            "maxLength": MAX_URL_LEN,
            "pattern": HTTPS_URL_PATTERN,
            "description": "An absolute https URL with a DNS host name (no IP literal, no user info, ASCII only), an optional port 1 to 65535, and a path, query or fragment of RFC 3986 characters (% only as %HH)."
        })
    }
}

/// A webhook URL in the document (`WebhookUrl`). Its pattern holds every URL `webhooks::check_url`
/// may accept (an `http://` or `https://` URL of URL characters, without a fragment); what a pattern
/// cannot say (the host's reach, its length) the description does, and the server answers 400.
pub struct WebhookUrl;

impl schemars::JsonSchema for WebhookUrl {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "WebhookUrl".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "maxLength": MAX_URL_LEN,
            "pattern": "^https?://[A-Za-z0-9.\\[\\]:-]+(?:[/?][A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$",
            "description": "Where the key's webhook events are POSTed: an absolute https URL, an optional port 1 to 65535, a path and query of RFC 3986 characters (% only as %HH), no fragment, no user info. Its host must be public: a DNS name of at least two labels (not longer than 253 characters, not ending in an internal suffix: localhost, local, localdomain, internal, intranet, lan, home, corp, private, arpa) or a public IP address; private, link-local, loopback, reserved and multicast addresses, in any notation, are a 400. Where the server's WEBHOOK_ALLOW_LOOPBACK is true (local development), http:// and https:// to a loopback address are accepted too."
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Https,
    Http,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A DNS name, as written.
    Name(&'a str),
    Ip(IpAddr),
}

/// A URL's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Url<'a> {
    pub scheme: Scheme,
    pub host: Host<'a>,
    pub port: Option<u16>,
    /// Whether it has a `#fragment`.
    pub fragment: bool,
}

/// Reads a URL, or says what is wrong with it (a phrase to follow the field's name: "webhookUrl has an
/// invalid port").
pub fn parse(s: &str) -> Result<Url<'_>, &'static str> {
    if s.len() > MAX_URL_LEN {
        return Err("must be at most 2048 characters");
    }
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "must be ASCII without spaces or control characters (punycode for international names)",
        );
    }
    if s.contains('\\') {
        return Err("must not contain a backslash");
    }
    let (scheme, rest) = if let Some(rest) = s.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = s.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else {
        return Err("must be an https:// URL");
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err("must not contain user info");
    }
    let (host, port) = split_host_port(authority)?;
    let port = port.map(parse_port).transpose()?;
    let host = parse_host(host)?;
    let fragment = check_tail(tail)?;
    Ok(Url {
        scheme,
        host,
        port,
        fragment,
    })
}

/// A media or profile-photo URL: `https://` with a DNS name (the document's `HttpsUrl`).
pub fn media_url(s: &str) -> bool {
    matches!(
        parse(s),
        Ok(Url {
            scheme: Scheme::Https,
            host: Host::Name(_),
            ..
        })
    )
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), &'static str> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("has an unclosed IPv6 address")?;
        return match after {
            "" => Ok((authority, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((&authority[..host.len() + 2], Some(port))),
                None => Err("has an invalid host"),
            },
        };
    }
    Ok(match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

/// 1 to 65535, no leading zeros.
fn parse_port(port: &str) -> Result<u16, &'static str> {
    let digits = (1..=5).contains(&port.len())
        && port.bytes().all(|b| b.is_ascii_digit())
        && !port.starts_with('0');
    match port.parse::<u16>() {
        Ok(p) if digits && p >= 1 => Ok(p),
        _ => Err("has an invalid port (1 to 65535)"),
    }
}

fn parse_host(host: &str) -> Result<Host<'_>, &'static str> {
    const INVALID: &str = "has an invalid host";
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse::<Ipv6Addr>()
            .map(|ip| Host::Ip(IpAddr::V6(ip)))
            .map_err(|_| INVALID);
    }
    if host.is_empty() {
        return Err(INVALID);
    }
    let labels: Vec<&str> = host.split('.').collect();
    let last = labels[labels.len() - 1];
    // WHATWG: a host whose last label is a number is an IPv4 address (or invalid).
    if !last.is_empty() && (last.bytes().all(|b| b.is_ascii_digit()) || is_hex_number(last)) {
        return parse_ipv4(&labels)
            .map(|ip| Host::Ip(IpAddr::V4(ip)))
            .ok_or(INVALID);
    }
    let label_ok = |l: &&str| {
        let b = l.as_bytes();
        (1..=63).contains(&b.len())
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    };
    if labels.iter().all(label_ok) && last.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Ok(Host::Name(host))
    } else {
        Err(INVALID)
    }
}

fn is_hex_number(label: &str) -> bool {
    label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"))
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The WHATWG IPv4 parser: 1–4 parts, each decimal, `0x` hex or `0` octal; the last part fills the
/// remaining bytes.
pub fn parse_ipv4(parts: &[&str]) -> Option<Ipv4Addr> {
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let number = |p: &str| -> Option<u64> {
        if p.is_empty() {
            return None;
        }
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or(p.strip_prefix("0X")) {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (p, 10)
        };
        if digits.is_empty() {
            return Some(0);
        }
        if digits.len() > 12 {
            return None;
        }
        u64::from_str_radix(digits, radix).ok()
    };
    let numbers: Vec<u64> = parts.iter().map(|p| number(p)).collect::<Option<_>>()?;
    let (last, head) = numbers.split_last()?;
    if head.iter().any(|n| *n > 255) || *last >= 1u64 << (8 * (5 - numbers.len())) {
        return None;
    }
    let mut value = *last;
    for (i, n) in head.iter().enumerate() {
        value += n << (8 * (3 - i));
    }
    u32::try_from(value).ok().map(Ipv4Addr::from)
}

/// RFC 3986's path-abempty, query and fragment: `/path` of pchars and slashes, then `?query`, then
/// `#fragment` (both of pchars, slashes and question marks), each optional; `%` only as `%HH`.
/// Whether there is a fragment.
fn check_tail(tail: &str) -> Result<bool, &'static str> {
    const BAD: &str = "has characters a URL may not contain";
    let b = tail.as_bytes();
    let Some(&first) = b.first() else {
        return Ok(false);
    };
    let mut part = first;
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'%' if b
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
            {
                i += 3;
                continue;
            }
            b'?' if part == b'/' => part = b'?',
            b'#' if part != b'#' => part = b'#',
            c if c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&c) => {}
            _ => return Err(BAD),
        }
        i += 1;
    }
    Ok(part == b'#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_read_once() {
        let url = parse("https://Cdn.Example.com:8443/a/b.png?x=1#top").unwrap();
        assert_eq!(
            url,
            Url {
                scheme: Scheme::Https,
                host: Host::Name("Cdn.Example.com"),
                port: Some(8443),
                fragment: true
            }
        );
        let v6 = parse("http://[::1]:9000/hook").unwrap();
        assert_eq!(v6.host, Host::Ip("::1".parse().unwrap()));
        assert_eq!(v6.port, Some(9000));
        assert_eq!(
            parse("https://0x7f.1/").unwrap().host,
            Host::Ip(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)))
        );
    }

    #[test]
    fn ports_are_1_to_65535_everywhere() {
        for bad in [
            "https://a.example:0",
            "https://a.example:00",
            "https://a.example:08/",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
            assert!(!media_url(bad), "{bad}");
        }
        assert_eq!(parse("https://a.example:65535/").unwrap().port, Some(65535));
        assert!(parse("https://a.example:65536/").is_err());
        assert!(parse("https://a.example:/").is_err());
    }

    #[test]
    fn media_urls_are_https_with_a_dns_name() {
        assert!(media_url("https://cdn.example.com/a.jpg"));
        assert!(media_url("https://a"));
        // The document's pattern sets no limit on a host's length but the URL's.
        let long_host = format!("https://{}.example", vec!["a".repeat(63); 20].join("."));
        assert!(media_url(&long_host));
        for bad in [
            "http://cdn.example.com/a.jpg",
            "https://1.2.3.4/",
            "https://[::1]/",
            "https://a.example./",
            "https://a.1b/",
        ] {
            assert!(!media_url(bad), "{bad}");
        }
    }

    /// `media_url` is exactly the document's `HttpsUrl` pattern: same verdict on hand-picked URLs and
    /// on 20,000 random ones built from URL characters (a regex engine from the test-only JSON Schema
    /// validator decides the pattern's side).
    #[test]
    fn media_urls_are_exactly_the_documented_pattern() {
        let schema = serde_json::json!({
            "type": "string", "pattern": HTTPS_URL_PATTERN, "maxLength": MAX_URL_LEN,
        });
        let validator = jsonschema::validator_for(&schema).unwrap();
        let pieces = [
            "https://", "https://", "a", "Z", "9", "-", ".", ".", "example", "com", ":", "443",
            "65536", "0", "/", "?", "#", "%2F", "%", "z", "[", "]", "@", "!", "$", "&", "'", "(",
            ")", "*", "+", ",", ";", "=", "~", "_", " ", "\\", "é", "\"", "<", "^", "`", "{", "|",
            "http://", "xn--",
        ];
        let hosts = [
            "a",
            "example.com",
            "x-1.example",
            "a.b.c",
            "cdn.example:8443",
            "a.example:1",
            "a.example:0",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut accepted = 0;
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
            let by_pattern = validator.is_valid(&serde_json::Value::String(url.clone()));
            assert_eq!(media_url(&url), by_pattern, "{url:?}");
            accepted += usize::from(by_pattern);
        }
        let long = format!("https://a.example/{}", "x".repeat(2048));
        assert_eq!(
            media_url(&long),
            validator.is_valid(&serde_json::Value::String(long.clone()))
        );
        assert!(
            accepted > 500,
            "the corpus must hold valid URLs too: {accepted}"
        );
    }

    #[test]
    fn ipv4_notations_parse_like_whatwg() {
        let p = |s: &str| parse_ipv4(&s.split('.').collect::<Vec<_>>());
        assert_eq!(p("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(p("0x7f.0.0.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(p("0300.0250.1.1"), Some(Ipv4Addr::new(192, 168, 1, 1)));
        assert_eq!(p("3232235777"), Some(Ipv4Addr::new(192, 168, 1, 1)));
        assert_eq!(p("10.0.258"), Some(Ipv4Addr::new(10, 0, 1, 2)));
        assert_eq!(p("4294967296"), None);
        assert_eq!(p("09.1.1.1"), None);
    }
}

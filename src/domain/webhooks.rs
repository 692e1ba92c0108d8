//! Webhooks (API.md "Webhooks"), the pure parts: which URLs a key may send to, its signing secret, the
//! `Edge-Chat-Signature` header, and the retry schedule. The chat's Durable Object does the rest
//! (`chat_room::webhooks`).
//!
//! The URL check runs when the admin sets a URL, on the text alone (no DNS lookup is possible in a
//! Worker): `https://` only (plain `http://` only to loopback, and only with `WEBHOOK_ALLOW_LOOPBACK`);
//! no user info, no backslash, no fragment, ASCII only; a host that is an IP address in any notation
//! WHATWG URL parsers accept (dotted, decimal `2130706433`, octal `0177.1`, hex `0x7f.1`, short forms,
//! IPv6 including IPv4-mapped, -compatible, NAT64 and 6to4) is refused when it is private, loopback,
//! link-local, shared, reserved, documentation or multicast; a host name is refused when it has a single
//! label or ends in an internal suffix (`localhost`, `local`, `internal`, `lan`, `home.arpa`, …).
//!
//! The secret: `whsec_` and 43 base64url characters, the HMAC-SHA256 keyed with `WEBHOOK_SIGNING_KEY`
//! of `"edge-chat webhook v1\n<key id>\n<nonce>"`. Only the nonce is stored, so a copy of the database
//! alone cannot sign; every URL set gets a new nonce (and so a new secret).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::url::{Host, Scheme};

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";
/// A receiver that has not answered within this has failed the attempt.
pub const TIMEOUT_MS: i64 = 10_000;
/// Retries stop this long after the event was committed: the delivery is then `failed`.
pub const GIVE_UP_AFTER_MS: i64 = 24 * 3_600_000;
/// The first retry waits this long; each later one twice the one before, up to `MAX_BACKOFF_MS`.
pub const FIRST_BACKOFF_MS: i64 = 1_000;
pub const MAX_BACKOFF_MS: i64 = 3_600_000;
/// The shortest `WEBHOOK_SIGNING_KEY` accepted (bytes).
pub const MIN_SIGNING_KEY_BYTES: usize = 32;

/// An event's id in the document: receivers deduplicate by it (delivery is at least once).
pub struct EventId;

impl schemars::JsonSchema for EventId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EventId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^evt_[0-9a-f]{32}$",
            "description": "An event's id: receivers deduplicate by it (delivery is at least once)."
        })
    }
}

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of `parts` joined. (The `hmac` crate refuses no key length for HMAC, but its API
/// is fallible, so the error travels instead of a panic.)
fn hmac(key: &[u8], parts: &[&[u8]]) -> Result<[u8; 32], String> {
    let mut mac = HmacSha256::new_from_slice(key).map_err(|e| format!("HMAC key: {e}"))?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac.finalize().into_bytes().into())
}

/// The signing secret of key `key_id`'s webhook set with `nonce`.
pub fn secret(signing_key: &[u8], key_id: &str, nonce: &str) -> Result<String, String> {
    let bytes = hmac(
        signing_key,
        &[
            b"edge-chat webhook v1\n",
            key_id.as_bytes(),
            b"\n",
            nonce.as_bytes(),
        ],
    )?;
    Ok(format!(
        "{SECRET_PREFIX}{}",
        Base64UrlUnpadded::encode_string(&bytes)
    ))
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the whole secret string>`.
pub fn signature(secret: &str, unix_seconds: i64, body: &str) -> Result<String, String> {
    let t = unix_seconds.to_string();
    let mac = hmac(secret.as_bytes(), &[t.as_bytes(), b".", body.as_bytes()])?;
    Ok(format!("t={t},v1={}", hex::encode(mac)))
}

/// How long to wait after the `failures`-th failed attempt (1 s, 2 s, 4 s, … capped at 1 hour).
pub fn backoff_ms(failures: u32) -> i64 {
    let doublings = failures.saturating_sub(1).min(32);
    FIRST_BACKOFF_MS
        .checked_shl(doublings)
        .map_or(MAX_BACKOFF_MS, |d| d.min(MAX_BACKOFF_MS))
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    Delivered,
    /// Given up: the event was committed `GIVE_UP_AFTER_MS` ago or more.
    Failed,
    /// Tried again at this time (epoch ms).
    RetryAt(i64),
}

/// After the `attempts`-th attempt (1 for the first) of an event committed at `created_at`, answered
/// with `status` (`None`: no answer within the timeout, or no connection): a 2xx is delivered, anything
/// else (redirects too) waits its backoff, until 24 hours after the commit.
pub fn after_attempt(
    status: Option<u16>,
    attempts: i64,
    created_at: i64,
    now: i64,
) -> AfterAttempt {
    if status.is_some_and(|code| (200..300).contains(&code)) {
        AfterAttempt::Delivered
    } else if now - created_at >= GIVE_UP_AFTER_MS {
        AfterAttempt::Failed
    } else {
        let failures = u32::try_from(attempts.max(1)).unwrap_or(u32::MAX);
        AfterAttempt::RetryAt(now + backoff_ms(failures))
    }
}

/// `GET /api/v1/admin/api-keys/{keyId}/deliveries`'s query.
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct DeliveriesQuery {
    /// Default 50.
    #[schemars(with = "Option<u64>", range(min = 1, max = 100))]
    pub limit: Option<String>,
}

/// How many deliveries to list (1 to 100, default 50).
pub fn deliveries_limit(query: DeliveriesQuery) -> crate::error::Result<i64> {
    let mut check = super::wire::Checks::new();
    let limit = check.query_integer("limit", query.limit.as_deref(), 1, 100, Some(50));
    check.finish()?;
    Ok(limit.unwrap_or(50))
}

/// Checks a webhook URL (see the module's comment): one of `url::parse`'s URLs, without a fragment,
/// whose host is public (or loopback, when allowed); the error says what is wrong.
pub fn check_url(url: &str, allow_loopback: bool) -> Result<(), String> {
    let parsed = super::url::parse(url).map_err(|why| format!("webhookUrl {why}"))?;
    if parsed.fragment {
        return Err("webhookUrl must not contain a fragment".into());
    }
    let reach = match parsed.host {
        Host::Name(name) if name.len() > 253 => {
            return Err("webhookUrl has a host name longer than 253 characters".into())
        }
        Host::Name(name) => classify_name(name),
        Host::Ip(IpAddr::V4(ip)) => classify_v4(ip),
        Host::Ip(IpAddr::V6(ip)) => classify_v6(ip),
    };
    let loopback_allowed = reach == Reach::Loopback && allow_loopback;
    if reach != Reach::Public && !loopback_allowed {
        return Err(
            "webhookUrl must not point at a private, loopback, link-local or other internal address"
                .into(),
        );
    }
    if parsed.scheme == Scheme::Http && !loopback_allowed {
        return Err("webhookUrl must be an https:// URL (http:// only to loopback, when WEBHOOK_ALLOW_LOOPBACK is true)".into());
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Public,
    Loopback,
    Internal,
}

/// Suffixes of names that only resolve inside a network (or to this machine).
const INTERNAL_SUFFIXES: &[&str] = &[
    "localhost",
    "local",
    "localdomain",
    "internal",
    "intranet",
    "lan",
    "home",
    "corp",
    "private",
    "arpa",
];

/// A DNS name's reach: a single label or an internal suffix only resolves inside a network.
fn classify_name(name: &str) -> Reach {
    let name = name.to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    let last = labels[labels.len() - 1];
    if last == "localhost" {
        return Reach::Loopback;
    }
    let internal = labels.len() == 1
        || INTERNAL_SUFFIXES.contains(&last)
        || (labels.len() >= 2 && labels[labels.len() - 2..] == ["home", "arpa"]);
    if internal {
        Reach::Internal
    } else {
        Reach::Public
    }
}

fn classify_v4(ip: Ipv4Addr) -> Reach {
    let [a, b, c, _] = ip.octets();
    if a == 127 {
        return Reach::Loopback;
    }
    let internal = a == 0
        || a == 10
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 88 && c == 99)
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224;
    if internal {
        Reach::Internal
    } else {
        Reach::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> Reach {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| classify_v4(Ipv4Addr::from(((hi as u32) << 16) | lo as u32));
    if ip == Ipv6Addr::LOCALHOST {
        return Reach::Loopback;
    }
    match s {
        // IPv4-compatible (and ::), IPv4-mapped, IPv4-translated: the IPv4 address decides.
        [0, 0, 0, 0, 0, 0, _, _]
        | [0, 0, 0, 0, 0, 0xffff, _, _]
        | [0, 0, 0, 0, 0xffff, 0, _, _] => match embedded(s[6], s[7]) {
            Reach::Public if s[5] == 0 && s[4] == 0 => Reach::Internal,
            reach => reach,
        },
        // NAT64 well-known prefix.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => embedded(s[6], s[7]),
        // 6to4: the IPv4 address in bits 16..48.
        [0x2002, hi, lo, ..] => embedded(hi, lo),
        _ => {
            let first = s[0];
            let internal = (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local
                || (first & 0xff00) == 0xff00 // multicast
                || (first == 0x64 && s[1] == 0xff9b) // NAT64 local use
                || (first == 0x0100 && s[1..4] == [0, 0, 0]) // discard
                || (first == 0x2001 && s[1] < 0x0200) // IETF protocol assignments, Teredo
                || (first == 0x2001 && s[1] == 0x0db8); // documentation
            if internal {
                Reach::Internal
            } else {
                Reach::Public
            }
        }
    }
}

/// A new nonce for a webhook's secret: 128 random bits, hex.
pub fn new_nonce() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("getrandom: {e}"))?;
    Ok(hex::encode(bytes))
}

/// A new event id: `evt_`, then the commit time (12 hex digits of epoch ms) and the write's place in its
/// commit (2 hex digits), so that ids sort in commit order within a chat, then 72 random bits.
pub fn new_event_id(commit_ms: i64, index: usize) -> Result<String, String> {
    let mut bytes = [0u8; 9];
    getrandom::fill(&mut bytes).map_err(|e| format!("getrandom: {e}"))?;
    Ok(format!(
        "evt_{:012x}{:02x}{}",
        commit_ms.clamp(0, 0xffff_ffff_ffff),
        index.min(0xff),
        hex::encode(bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_of(key: &[u8], id: &str, nonce: &str) -> String {
        secret(key, id, nonce).unwrap()
    }

    #[test]
    fn public_https_urls_pass() {
        for url in [
            "https://example.com/hook",
            "https://hooks.example.com:8443/a/b?x=1&y=%20",
            "https://8.8.8.8/h",
            "https://[2606:4700::1111]/h",
            "https://134744072/h", // 8.8.8.8 in decimal: a public address
        ] {
            assert_eq!(check_url(url, false), Ok(()), "{url}");
        }
    }

    #[test]
    fn loopback_http_passes_only_when_allowed() {
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://localhost:9000/",
            "http://[::1]:9000/",
            "https://127.0.0.1/",
        ] {
            assert_eq!(check_url(url, true), Ok(()), "{url}");
            assert!(check_url(url, false).is_err(), "{url}");
        }
    }

    #[test]
    fn internal_and_garbage_urls_are_refused() {
        for url in [
            "http://example.com/hook",
            "ftp://example.com/",
            "example.com",
            "https://",
            "https:///path",
            "https://10.0.0.1/",
            "https://10.1/",
            "https://172.16.5.4/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://0/",
            "https://224.0.0.1/",
            "https://2130706433/", // 127.0.0.1 in decimal
            "https://0177.0.0.1/", // octal
            "https://0x7f.1/",     // hex, short form
            "https://0xa9fea9fe/", // 169.254.169.254
            "https://3232235777/", // 192.168.1.1
            "https://[::ffff:10.0.0.1]/",
            "https://[::ffff:7f00:1]/",
            "https://[::]/",
            "https://[fe80::1]/",
            "https://[fd00::1]/",
            "https://[fc00::1]/",
            "https://[64:ff9b::a00:1]/",
            "https://[2002:c0a8:101::1]/",
            "https://[ff02::1]/",
            "https://[::1]/",
            "https://localhost/",
            "https://api.localhost/",
            "https://printer.local/",
            "https://db.internal/",
            "https://router.home.arpa/",
            "https://intranet/",
            "https://example.com@127.0.0.1/",
            "https://user:pw@example.com/",
            "https://example.com\\@127.0.0.1/",
            "https://example.com/#frag",
            "https://exa mple.com/",
            "https://exämple.com/",
            "https://%31%32%37.0.0.1/",
            "https://example.com:0/",
            "https://example.com:65536/",
            "https://example.com:/",
            "https://example.com:80a/",
            "https://1.2.3.4.5/",
            "https://256.1.1.1/",
            "https://1.2.3.0x100/",
            "https://-bad-.com/",
            "https://a..b.com/",
            "https://[::1/",
            "https://[fe80::1%25eth0]/",
            "https://[::1]x/",
            "https://EXAMPLE.com.",
            "https://example.com/a[b]",
            "https://example.com/%zz",
            &format!("https://{}.example/", vec!["a".repeat(63); 4].join(".")),
        ] {
            assert!(check_url(url, false).is_err(), "{url}");
            let allowed_loopback = url.contains("127.0.0.1/")
                || url.contains("2130706433")
                || url.contains("0177.0.0.1")
                || url.contains("0x7f.1")
                || url.contains("7f00:1")
                || url.contains("[::1]/")
                || url.contains("localhost/");
            if !allowed_loopback || url.contains('@') || url.contains('\\') {
                assert!(check_url(url, true).is_err(), "{url} (loopback allowed)");
            }
        }
        assert!(check_url(&format!("https://example.com/{}", "a".repeat(2048)), false).is_err());
    }

    #[test]
    fn signatures_are_hmac_sha256_of_t_dot_body() {
        // RFC 4231 test case 2 checks the HMAC itself.
        assert_eq!(
            hex::encode(hmac(b"Jefe", &[b"what do ya want ", b"for nothing?"]).unwrap()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let secret = "whsec_test";
        let sig = signature(secret, 1_700_000_000, r#"{"id":"evt_1"}"#).unwrap();
        let expected =
            hex::encode(hmac(secret.as_bytes(), &[br#"1700000000.{"id":"evt_1"}"#]).unwrap());
        assert_eq!(sig, format!("t=1700000000,v1={expected}"));
    }

    #[test]
    fn secrets_are_whsec_and_43_base64url_characters_derived_per_key_and_nonce() {
        let key = [7u8; 32];
        let a = secret_of(&key, "k1", "n1");
        assert!(a.starts_with(SECRET_PREFIX) && a.len() == 6 + 43, "{a}");
        assert_eq!(a, secret_of(&key, "k1", "n1"));
        assert_ne!(a, secret_of(&key, "k1", "n2"));
        assert_ne!(a, secret_of(&key, "k2", "n1"));
        assert_ne!(a, secret_of(&[8u8; 32], "k1", "n1"));
        assert_eq!(new_nonce().unwrap().len(), 32);
        let (a, b) = (
            new_event_id(1_700_000_000_000, 0),
            new_event_id(1_700_000_000_000, 1),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(
            a.starts_with("evt_") && a.len() == 4 + 32 && a < b,
            "{a} {b}"
        );
    }

    #[test]
    fn attempts_end_delivered_on_a_2xx_and_failed_after_24_hours() {
        let t0 = 1_700_000_000_000;
        for code in [200, 201, 204, 299] {
            assert_eq!(
                after_attempt(Some(code), 1, t0, t0),
                AfterAttempt::Delivered
            );
        }
        for code in [None, Some(199), Some(301), Some(302), Some(400), Some(500)] {
            assert_eq!(
                after_attempt(code, 3, t0, t0 + 7_000),
                AfterAttempt::RetryAt(t0 + 7_000 + 4_000),
                "{code:?}"
            );
        }
        let day = GIVE_UP_AFTER_MS;
        assert_eq!(
            after_attempt(Some(500), 30, t0, t0 + day - 1),
            AfterAttempt::RetryAt(t0 + day - 1 + MAX_BACKOFF_MS)
        );
        assert_eq!(
            after_attempt(Some(500), 31, t0, t0 + day),
            AfterAttempt::Failed
        );
        assert_eq!(
            after_attempt(None, 31, t0, t0 + day + 1),
            AfterAttempt::Failed
        );
        assert_eq!(
            after_attempt(Some(200), 31, t0, t0 + 2 * day),
            AfterAttempt::Delivered
        );
    }

    #[test]
    fn backoff_doubles_from_one_second_to_one_hour() {
        let waits: Vec<i64> = (1..=14).map(backoff_ms).collect();
        assert_eq!(&waits[..5], &[1_000, 2_000, 4_000, 8_000, 16_000]);
        assert_eq!(waits[11], 2_048_000);
        assert_eq!(waits[12], MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(u32::MAX), MAX_BACKOFF_MS);
    }
}

//! Authentication: HS256 JWTs for users (API.md "Authentication"). No `worker` types here, so every rule
//! is unit-tested natively. Keys are never taken from the token (`kid`, `jku`, `jwk`, `x5u` are ignored):
//! the only key is the configured secret, and the only algorithm HS256.

use chrono::{DateTime, Duration, Utc};
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{AlgorithmExt, Claims, TimeOptions, UntrustedToken, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::ids::UserId;
use crate::domain::input::{has_control, is_https_url};
use crate::error::{ApiError, Result};

pub const MIN_SECRET_BYTES: usize = 32;
/// Longer tokens are refused before any parsing (no client needs one; it bounds the work an attacker buys).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
pub const LEEWAY_SECONDS: i64 = 60;

pub struct JwtSettings<'a> {
    pub secret: &'a str,
    pub issuer: Option<&'a str>,
    pub audience: Option<&'a str>,
}

/// Who is calling, from a verified token. It travels typed into the chat's Durable Object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Caller {
    pub id: UserId,
    pub username: Option<String>,
    pub first_name: Option<String>,
    /// `picture`, kept only when it is an https URL.
    pub picture: Option<String>,
    pub expires_at_ms: i64,
}

/// Who a request presents itself as: a user's verified token, or a service key's hash, which is
/// checked against storage within the request's own D1 round trip (`store::Reach::Key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    User(Caller),
    Key(crate::domain::keys::KeyHash),
}

/// Who a write is by: a user, or a service key already checked against storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Author {
    User(Caller),
    Service(crate::domain::keys::ServiceKey),
}

impl Author {
    /// The `senderId` of the author's messages.
    pub fn sender(&self) -> &UserId {
        match self {
            Author::User(caller) => &caller.id,
            Author::Service(key) => &key.sender,
        }
    }
}

#[derive(Debug, Deserialize)]
struct TokenClaims {
    sub: Option<Value>,
    iss: Option<Value>,
    aud: Option<Value>,
    username: Option<Value>,
    preferred_username: Option<Value>,
    given_name: Option<Value>,
    first_name: Option<Value>,
    picture: Option<Value>,
}

fn unauthorized(why: &str) -> ApiError {
    ApiError::unauthorized(format!("invalid token: {why}"))
}

/// Takes the `Authorization` header value (`Bearer <jwt>` or a bare `<jwt>`).
pub fn authenticate(
    header: Option<&str>,
    settings: &JwtSettings<'_>,
    now: DateTime<Utc>,
) -> Result<Caller> {
    if settings.secret.len() < MIN_SECRET_BYTES {
        return Err(ApiError::internal(format!(
            "configuration error: JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes; refusing to verify tokens"
        )));
    }
    let token = bearer_token(header)?;
    let untrusted = UntrustedToken::new(token).map_err(|_| unauthorized("malformed token"))?;
    let key = Hs256Key::new(settings.secret.as_bytes());
    let verified = Hs256
        .validator::<TokenClaims>(&key)
        .validate(&untrusted)
        .map_err(|e| match e {
            ValidationError::AlgorithmMismatch { .. } => unauthorized("algorithm must be HS256"),
            ValidationError::InvalidSignature | ValidationError::InvalidSignatureLen { .. } => {
                unauthorized("bad signature")
            }
            _ => unauthorized("malformed claims"),
        })?;
    let claims = verified.claims();
    check_times(claims, now)?;
    check_issuer_and_audience(&claims.custom, settings)?;
    caller(claims)
}

/// The token of an `Authorization` value: `Bearer <jwt>` or a bare `<jwt>`, at most 8 KiB.
fn bearer_token(header: Option<&str>) -> Result<&str> {
    let raw = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ApiError::unauthorized("Authentication required"))?;
    let token = match raw.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return Err(unauthorized("expected 'Bearer <token>'")),
        None => raw,
    };
    if token.is_empty() {
        return Err(ApiError::unauthorized("Authentication required"));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(unauthorized("token is too long"));
    }
    Ok(token)
}

/// `exp` required, `nbf` and `iat` honoured, with 60 s of leeway.
fn check_times(claims: &Claims<TokenClaims>, now: DateTime<Utc>) -> Result<()> {
    let time = TimeOptions::new(Duration::seconds(LEEWAY_SECONDS), move || now);
    claims.validate_expiration(&time).map_err(|e| match e {
        ValidationError::Expired => unauthorized("token has expired"),
        _ => unauthorized("exp is required"),
    })?;
    if claims.not_before.is_some() {
        claims
            .validate_maturity(&time)
            .map_err(|_| unauthorized("token is not valid yet (nbf)"))?;
    }
    if claims
        .issued_at
        .is_some_and(|iat| iat > now + Duration::seconds(LEEWAY_SECONDS))
    {
        return Err(unauthorized("token is issued in the future (iat)"));
    }
    Ok(())
}

/// `iss` and `aud` (a string or a list) must match exactly when configured.
fn check_issuer_and_audience(custom: &TokenClaims, settings: &JwtSettings<'_>) -> Result<()> {
    if let Some(expected) = settings.issuer.filter(|s| !s.is_empty()) {
        if custom.iss.as_ref().and_then(Value::as_str) != Some(expected) {
            return Err(unauthorized("wrong issuer"));
        }
    }
    if let Some(expected) = settings.audience.filter(|s| !s.is_empty()) {
        let matches = match &custom.aud {
            Some(Value::String(aud)) => aud == expected,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(expected)),
            _ => false,
        };
        if !matches {
            return Err(unauthorized("wrong audience"));
        }
    }
    Ok(())
}

/// The caller a verified token names: `sub`, and the profile claims that are usable.
fn caller(claims: &Claims<TokenClaims>) -> Result<Caller> {
    let custom = &claims.custom;
    let sub = custom
        .sub
        .as_ref()
        .and_then(Value::as_str)
        .ok_or_else(|| unauthorized("sub is required"))?;
    let id = UserId::parse(sub, "sub")
        .map_err(|_| unauthorized("sub must be 1 to 64 characters from A-Z a-z 0-9 _ . : @ -"))?;
    let text = |v: &Option<Value>, max: usize| {
        v.as_ref()
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.chars().count() <= max && !has_control(s))
            .map(str::to_string)
    };
    Ok(Caller {
        id,
        username: text(&custom.username, 64).or_else(|| text(&custom.preferred_username, 64)),
        first_name: text(&custom.given_name, 100).or_else(|| text(&custom.first_name, 100)),
        picture: text(&custom.picture, 2048).filter(|p| is_https_url(p)),
        expires_at_ms: claims
            .expiration
            .map(|e| e.timestamp_millis())
            .unwrap_or_default(),
    })
}

/// Compares secrets in constant time (`subtle`), so timing reveals neither how much of a guess was
/// right nor the secret's length: both sides are hashed to 32 bytes first.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    Sha256::digest(a)
        .as_slice()
        .ct_eq(Sha256::digest(b).as_slice())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwt_compact::Header;
    use serde_json::json;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn settings() -> JwtSettings<'static> {
        JwtSettings {
            secret: SECRET,
            issuer: Some("edge"),
            audience: Some("chat"),
        }
    }

    fn sign(claims: Value) -> String {
        let mut c = Claims::new(claims);
        c.expiration = None;
        Hs256
            .token(&Header::empty(), &c, &Hs256Key::new(SECRET.as_bytes()))
            .unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn good() -> Value {
        json!({"sub": "u1", "exp": 1_700_000_600, "iss": "edge", "aud": ["x", "chat"], "preferred_username": "jo"})
    }

    #[test]
    fn accepts_a_good_token_with_or_without_bearer() {
        let token = sign(good());
        let caller = authenticate(Some(&format!("Bearer {token}")), &settings(), now()).unwrap();
        assert_eq!(caller.id.as_str(), "u1");
        assert_eq!(caller.username.as_deref(), Some("jo"));
        assert!(authenticate(Some(&token), &settings(), now()).is_ok());
    }

    #[test]
    fn refuses_bad_claims() {
        let cases = [
            json!({"sub": "u1", "iss": "edge", "aud": "chat"}),
            json!({"sub": "u1", "exp": 1_700_000_000 - 61, "iss": "edge", "aud": "chat"}),
            json!({"sub": "u1", "exp": 1_700_000_600, "nbf": 1_700_000_100, "iss": "edge", "aud": "chat"}),
            json!({"sub": "u1", "exp": 1_700_000_600, "iat": 1_700_000_100, "iss": "edge", "aud": "chat"}),
            json!({"exp": 1_700_000_600, "iss": "edge", "aud": "chat"}),
            json!({"sub": "bad sub", "exp": 1_700_000_600, "iss": "edge", "aud": "chat"}),
            json!({"sub": "u1", "exp": 1_700_000_600, "iss": "other", "aud": "chat"}),
            json!({"sub": "u1", "exp": 1_700_000_600, "iss": "edge", "aud": ["x"]}),
            json!({"sub": "u1", "exp": "soon", "iss": "edge", "aud": "chat"}),
        ];
        for claims in cases {
            let err = authenticate(Some(&sign(claims.clone())), &settings(), now()).unwrap_err();
            assert_eq!(err.status, 401, "{claims}");
        }
    }

    #[test]
    fn leeway_is_sixty_seconds() {
        let mut claims = good();
        claims["exp"] = json!(1_700_000_000 - 30);
        assert!(authenticate(Some(&sign(claims)), &settings(), now()).is_ok());
    }

    #[test]
    fn refuses_other_algorithms_keys_and_garbage() {
        let token = sign(good());
        let parts: Vec<&str> = token.split('.').collect();
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; // {"alg":"none","typ":"JWT"}
        let cases = [
            format!("{none_header}.{}.", parts[1]),
            format!(
                "{}.{}.{}",
                parts[0],
                parts[1],
                parts[2].replace(&parts[2][..2], "AA")
            ),
            "garbage".to_string(),
            "a.b.c".to_string(),
            "x".repeat(20_000),
            "Basic abc".to_string(),
        ];
        for t in cases {
            assert_eq!(
                authenticate(Some(&t), &settings(), now())
                    .unwrap_err()
                    .status,
                401,
                "{t:.40}"
            );
        }
        let other_key = Hs256
            .token(
                &Header::empty(),
                &Claims::new(good()),
                &Hs256Key::new(b"another-secret-another-secret-xx"),
            )
            .unwrap();
        assert_eq!(
            authenticate(Some(&other_key), &settings(), now())
                .unwrap_err()
                .status,
            401
        );
        let missing = authenticate(None, &settings(), now()).unwrap_err();
        assert_eq!(missing.errors, vec!["Authentication required".to_string()]);
    }

    #[test]
    fn short_secret_is_a_configuration_error() {
        let weak = JwtSettings {
            secret: "short",
            issuer: None,
            audience: None,
        };
        assert_eq!(
            authenticate(Some(&sign(good())), &weak, now())
                .unwrap_err()
                .status,
            500
        );
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}

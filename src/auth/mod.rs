//! Authentication: users' JWTs (API.md "Authentication"): HS256 with the configured secret, and, when
//! `JWT_JWKS_URL` is set, an identity provider's RS256, ES256 or EdDSA tokens verified against its key
//! set. Which verification a token gets is decided here from its header alone (`inspect`), and its
//! claims are checked here whichever way its signature was: all native and unit-tested. The provider's
//! key set and WebCrypto live in `jwks` and `webcrypto`. Keys are never taken from the token (`jku`,
//! `jwk`, `x5u` are ignored; `kid` only selects among the configured set's keys).

pub mod jwks;
pub mod webcrypto;

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
    /// `JWT_JWKS_URL`: the identity provider's key set, if any.
    pub jwks_url: Option<&'a str>,
    /// `JWT_ALGORITHMS`, parsed (an unknown name is a configuration error).
    pub algorithms: &'a std::result::Result<Vec<jwks::ProviderAlg>, String>,
}

/// How a token's signature is to be verified, decided from its header before any key is touched.
#[derive(Debug, PartialEq)]
pub enum Verification<'a> {
    /// HS256 with `JWT_SECRET`.
    Hs256,
    /// The provider's key `kid`, for `alg`, from the key set at `url`.
    Provider {
        alg: jwks::ProviderAlg,
        kid: String,
        url: &'a str,
    },
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
    /// The service itself (the admin's moderation, the outbox sweep): a key of no project (it reaches
    /// every chat) whose id no key has (every key's webhook hears of its writes), writing as
    /// `moderator`.
    pub fn moderator() -> crate::error::Result<Author> {
        Ok(Author::Service(crate::domain::keys::ServiceKey {
            id: "admin".into(),
            project: None,
            sender: UserId::parse("moderator", "senderId")?,
        }))
    }

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

pub(super) fn unauthorized(why: &str) -> ApiError {
    ApiError::unauthorized(format!("invalid token: {why}"))
}

/// Takes the `Authorization` header value (`Bearer <jwt>` or a bare `<jwt>`).
/// Reads a token (`Authorization` value) and decides how to verify it: HS256 only with a usable
/// `JWT_SECRET`; RS256, ES256, EdDSA only with `JWT_JWKS_URL` set, the algorithm listed in
/// `JWT_ALGORITHMS`, and a `kid`. Anything else is a 401 (a configuration that can verify nothing is a
/// 500 with a log line).
pub fn inspect<'t, 's>(
    header: Option<&'t str>,
    settings: &JwtSettings<'s>,
) -> Result<(UntrustedToken<'t>, Verification<'s>)> {
    let token = bearer_token(header)?;
    let untrusted = UntrustedToken::new(token).map_err(|_| unauthorized("malformed token"))?;
    let secret_usable = settings.secret.len() >= MIN_SECRET_BYTES;
    if !settings.secret.is_empty() && !secret_usable {
        return Err(ApiError::internal(format!(
            "configuration error: JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes; refusing to verify tokens"
        )));
    }
    let provider = settings.jwks_url.filter(|u| !u.is_empty());
    if !secret_usable && provider.is_none() {
        return Err(ApiError::internal(
            "configuration error: neither JWT_SECRET nor JWT_JWKS_URL is set; no token can be verified",
        ));
    }
    let alg = untrusted.algorithm();
    if alg == "HS256" && secret_usable {
        return Ok((untrusted, Verification::Hs256));
    }
    let (Some(url), Some(provider_alg)) = (provider, jwks::ProviderAlg::parse(alg)) else {
        return Err(unauthorized(&format!(
            "algorithm {} is not accepted",
            printable(alg)
        )));
    };
    let accepted = settings.algorithms.as_ref().map_err(|e| {
        ApiError::internal(format!(
            "configuration error: {e}; refusing provider tokens"
        ))
    })?;
    if !accepted.contains(&provider_alg) {
        return Err(unauthorized(&format!("algorithm {alg} is not accepted")));
    }
    let kid = untrusted
        .header()
        .key_id
        .clone()
        .filter(|k| !k.is_empty() && k.len() <= 256)
        .ok_or_else(|| unauthorized("kid is required"))?;
    Ok((
        untrusted,
        Verification::Provider {
            alg: provider_alg,
            kid,
            url,
        },
    ))
}

/// An algorithm name as the client sent it, for an error message: at most 16 printable characters.
fn printable(alg: &str) -> String {
    alg.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(16)
        .collect()
}

/// An HS256 token (as `inspect` found it) verified with `JWT_SECRET`, and its caller.
pub fn verify_hs256(
    untrusted: &UntrustedToken<'_>,
    settings: &JwtSettings<'_>,
    now: DateTime<Utc>,
) -> Result<Caller> {
    let key = Hs256Key::new(settings.secret.as_bytes());
    let verified = Hs256
        .validator::<TokenClaims>(&key)
        .validate(untrusted)
        .map_err(|e| match e {
            ValidationError::AlgorithmMismatch { .. } => unauthorized("algorithm must be HS256"),
            ValidationError::InvalidSignature | ValidationError::InvalidSignatureLen { .. } => {
                unauthorized("bad signature")
            }
            _ => unauthorized("malformed claims"),
        })?;
    accept_claims(verified.claims(), settings, now)
}

/// The caller of a provider's token whose signature was verified (by `webcrypto::verify`).
pub fn verified_provider_claims(
    untrusted: &UntrustedToken<'_>,
    settings: &JwtSettings<'_>,
    now: DateTime<Utc>,
) -> Result<Caller> {
    let claims = untrusted
        .deserialize_claims_unchecked::<TokenClaims>()
        .map_err(|_| unauthorized("malformed claims"))?;
    accept_claims(&claims, settings, now)
}

/// A token's signing input (`header.payload`) and its signature's bytes.
pub fn signed_parts<'t>(token: &'t str, untrusted: &'t UntrustedToken<'_>) -> (&'t [u8], &'t [u8]) {
    let input = token.rsplit_once('.').map_or("", |(input, _)| input);
    (input.as_bytes(), untrusted.signature_bytes())
}

fn accept_claims(
    claims: &Claims<TokenClaims>,
    settings: &JwtSettings<'_>,
    now: DateTime<Utc>,
) -> Result<Caller> {
    check_times(claims, now)?;
    check_issuer_and_audience(&claims.custom, settings)?;
    caller(claims)
}

/// An HS256 token's caller, verified synchronously (a provider's token needs `webcrypto`: refused here).
pub fn authenticate(
    header: Option<&str>,
    settings: &JwtSettings<'_>,
    now: DateTime<Utc>,
) -> Result<Caller> {
    match inspect(header, settings)? {
        (untrusted, Verification::Hs256) => verify_hs256(&untrusted, settings, now),
        (_, Verification::Provider { .. }) => Err(unauthorized("provider tokens need the key set")),
    }
}

/// The bearer token of an `Authorization` value (with or without `Bearer `), within its size limit.
pub fn bearer_token(header: Option<&str>) -> Result<&str> {
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
    static NO_PROVIDER: std::result::Result<Vec<jwks::ProviderAlg>, String> = Ok(Vec::new());

    fn settings() -> JwtSettings<'static> {
        JwtSettings {
            secret: SECRET,
            issuer: Some("edge"),
            audience: Some("chat"),
            jwks_url: None,
            algorithms: &NO_PROVIDER,
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
            jwks_url: None,
            algorithms: &NO_PROVIDER,
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

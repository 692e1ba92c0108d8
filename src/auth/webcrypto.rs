//! A provider's token signature, checked against its key set: the set is fetched and cached per isolate
//! (the policy, native and unit-tested, is `jwks::KeyCache`), and the signature is verified by the
//! runtime's WebCrypto (`crypto.subtle`), so no RSA or elliptic-curve code ships in the wasm. Imported
//! keys are kept per isolate too, until a new set replaces them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::{select, Either};
use worker::js_sys::{self, Object, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{Crypto, CryptoKey, SubtleCrypto};
use worker::{Delay, Fetch, Method, Request, RequestInit};

use super::jwks::{parse_jwks, trust_ms, Jwk, JwkSet, KeyCache, Lookup, ProviderAlg};
use super::unauthorized;
use crate::error::{ApiError, Result};

/// A key server that has not answered within this is a failed fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

thread_local! {
    static CACHE: RefCell<KeyCache> = RefCell::new(KeyCache::default());
    /// Imported keys by `kid`, with the set generation they came from.
    static IMPORTED: RefCell<(u64, HashMap<String, CryptoKey>)> = RefCell::new((0, HashMap::new()));
}

enum Step {
    Verify(Jwk, u64),
    Fetch,
    Refuse(&'static str),
}

/// Verifies `signature` over `signing_input` (the token's `header.payload`) with the key `kid` of the
/// set at `url`, for algorithm `alg`. Every failure is a 401; a key set that cannot be loaded is also
/// logged (never a 500).
pub async fn verify(
    url: &str,
    kid: &str,
    alg: ProviderAlg,
    signing_input: &[u8],
    signature: &[u8],
    now_ms: i64,
) -> Result<()> {
    for attempt in 0..2 {
        let step = CACHE.with(|cache| {
            let cache = cache.borrow();
            match cache.lookup(kid, alg, now_ms) {
                Lookup::Key(jwk) => Step::Verify(jwk.clone(), cache.generation),
                Lookup::Fetch if attempt == 0 => Step::Fetch,
                Lookup::Fetch | Lookup::UnknownKid => Step::Refuse("unknown key id (kid)"),
                Lookup::WrongAlgorithm => Step::Refuse("the key does not serve this algorithm"),
            }
        });
        match step {
            Step::Verify(jwk, generation) => {
                return check(&jwk, generation, signing_input, signature).await;
            }
            Step::Refuse(why) => return Err(unauthorized(why)),
            Step::Fetch => {
                CACHE.with(|cache| cache.borrow_mut().fetching(now_ms));
                match fetch_set(url).await {
                    Ok((set, trust)) => {
                        CACHE.with(|cache| cache.borrow_mut().loaded(set, trust, now_ms));
                    }
                    Err(detail) => {
                        crate::log::emit(&crate::log::KeySetLine::failed(url, &detail));
                        let has_set = CACHE.with(|cache| {
                            let mut cache = cache.borrow_mut();
                            cache.failed(now_ms);
                            cache.has_set()
                        });
                        if !has_set {
                            return Err(unauthorized(
                                "the identity provider's key set is unavailable",
                            ));
                        }
                    }
                }
            }
        }
    }
    Err(unauthorized("unknown key id (kid)"))
}

/// Fetches and parses the key set; the error names what failed (for the log).
async fn fetch_set(url: &str) -> std::result::Result<(JwkSet, i64), String> {
    let mut init = RequestInit::new();
    init.with_method(Method::Get);
    let request = Request::new_with_init(url, &init).map_err(|e| format!("request: {e}"))?;
    let _ = request.headers().set("Accept", "application/json");
    let fetch = Fetch::Request(request);
    let fetch = Box::pin(fetch.send());
    let timeout = Box::pin(Delay::from(FETCH_TIMEOUT));
    let mut response = match select(fetch, timeout).await {
        Either::Left((response, _)) => response.map_err(|e| format!("fetch: {e}"))?,
        Either::Right(_) => return Err(format!("no answer within {FETCH_TIMEOUT:?}")),
    };
    if response.status_code() != 200 {
        return Err(format!("status {}", response.status_code()));
    }
    let cache_control = response.headers().get("Cache-Control").ok().flatten();
    let body = response.text().await.map_err(|e| format!("body: {e}"))?;
    let set = parse_jwks(&body)?;
    Ok((set, trust_ms(cache_control.as_deref())))
}

fn subtle() -> Result<SubtleCrypto> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .map_err(|_| ApiError::internal("WebCrypto: no crypto global"))?;
    Ok(crypto.unchecked_into::<Crypto>().subtle())
}

fn object(value: &serde_json::Value) -> Result<Object> {
    js_sys::JSON::parse(&value.to_string())
        .map(JsCast::unchecked_into)
        .map_err(|_| ApiError::internal("WebCrypto: building a parameter"))
}

/// WebCrypto's import and verify parameters for an algorithm.
fn parameters(alg: ProviderAlg) -> (serde_json::Value, serde_json::Value) {
    use serde_json::json;
    match alg {
        ProviderAlg::Rs256 => (
            json!({"name": "RSASSA-PKCS1-v1_5", "hash": "SHA-256"}),
            json!({"name": "RSASSA-PKCS1-v1_5"}),
        ),
        ProviderAlg::Es256 => (
            json!({"name": "ECDSA", "namedCurve": "P-256"}),
            json!({"name": "ECDSA", "hash": "SHA-256"}),
        ),
        ProviderAlg::EdDsa => (json!({"name": "Ed25519"}), json!({"name": "Ed25519"})),
    }
}

async fn imported(jwk: &Jwk, generation: u64) -> Result<CryptoKey> {
    let cached = IMPORTED.with(|imported| {
        let imported = imported.borrow();
        (imported.0 == generation)
            .then(|| imported.1.get(&jwk.kid).cloned())
            .flatten()
    });
    if let Some(key) = cached {
        return Ok(key);
    }
    let (import, _) = parameters(jwk.alg);
    let key_data = object(&serde_json::Value::Object(jwk.public.clone()))?;
    let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
    let promise = subtle()?
        .import_key_with_object("jwk", &key_data, &object(&import)?, false, &usages)
        .map_err(|_| unauthorized("the provider's key could not be imported"))?;
    let key: CryptoKey = JsFuture::from(promise)
        .await
        .map_err(|_| {
            crate::log::emit(&crate::log::KeySetLine::bad_key(&jwk.kid));
            unauthorized("the provider's key could not be imported")
        })?
        .unchecked_into();
    IMPORTED.with(|imported| {
        let mut imported = imported.borrow_mut();
        if imported.0 != generation {
            *imported = (generation, HashMap::new());
        }
        imported.1.insert(jwk.kid.clone(), key.clone());
    });
    Ok(key)
}

async fn check(jwk: &Jwk, generation: u64, signing_input: &[u8], signature: &[u8]) -> Result<()> {
    let expected_len = match jwk.alg {
        ProviderAlg::Es256 | ProviderAlg::EdDsa => Some(64),
        ProviderAlg::Rs256 => None,
    };
    if expected_len.is_some_and(|len| signature.len() != len) || signature.is_empty() {
        return Err(unauthorized("bad signature"));
    }
    let key = imported(jwk, generation).await?;
    let (_, verify) = parameters(jwk.alg);
    let promise = subtle()?
        .verify_with_object_and_u8_array_and_u8_slice(
            &object(&verify)?,
            &key,
            &Uint8Array::from(signature),
            signing_input,
        )
        .map_err(|_| unauthorized("bad signature"))?;
    match JsFuture::from(promise).await {
        Ok(valid) if valid.as_bool() == Some(true) => Ok(()),
        _ => Err(unauthorized("bad signature")),
    }
}

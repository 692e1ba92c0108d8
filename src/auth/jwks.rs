//! Identity providers' key sets (JWKS, RFC 7517), everything that happens before and after the fetch:
//! which algorithms are accepted, parsing a key set, choosing a token's key by `kid` (and only for the
//! algorithm its JWK declares), how long a fetched set is trusted, and when an unknown `kid` may
//! trigger a refetch. All native and unit-tested; the fetch and the signature check (WebCrypto) are in
//! `webcrypto.rs`.

use serde::Deserialize;
use serde_json::{Map, Value};

/// How long a key set is trusted when its response names no `max-age`.
pub const DEFAULT_MAX_AGE_MS: i64 = 10 * 60 * 1000;
/// The longest a key set is trusted, whatever its response says.
pub const MAX_AGE_CAP_MS: i64 = 60 * 60 * 1000;
/// The shortest: a provider answering `max-age=0` still gets at most one fetch a minute per isolate.
pub const MIN_AGE_MS: i64 = 60 * 1000;
/// At most one refetch per this interval for a `kid` the cached set does not have (random `kid`s must
/// not make the worker hammer the provider), and the retry interval after a failed fetch.
pub const REFETCH_INTERVAL_MS: i64 = 60 * 1000;
/// A key set larger than this is refused (providers publish a few keys: a few KiB).
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// The asymmetric algorithms a provider's tokens may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderAlg {
    Rs256,
    Es256,
    EdDsa,
}

impl ProviderAlg {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(ProviderAlg::Rs256),
            "ES256" => Some(ProviderAlg::Es256),
            "EdDSA" => Some(ProviderAlg::EdDsa),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ProviderAlg::Rs256 => "RS256",
            ProviderAlg::Es256 => "ES256",
            ProviderAlg::EdDsa => "EdDSA",
        }
    }

    /// The one algorithm a JWK of this type and curve can serve here.
    fn of_key(kty: &str, crv: Option<&str>) -> Option<Self> {
        match (kty, crv) {
            ("RSA", _) => Some(ProviderAlg::Rs256),
            ("EC", Some("P-256")) => Some(ProviderAlg::Es256),
            ("OKP", Some("Ed25519")) => Some(ProviderAlg::EdDsa),
            _ => None,
        }
    }
}

/// `JWT_ALGORITHMS`: comma-separated, from RS256, ES256, EdDSA; default RS256. An unknown name is a
/// configuration error (so a typo never silently narrows or widens what is accepted).
pub fn parse_algorithms(var: Option<&str>) -> Result<Vec<ProviderAlg>, String> {
    let Some(var) = var.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(vec![ProviderAlg::Rs256]);
    };
    let mut algs = Vec::new();
    for name in var.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let alg = ProviderAlg::parse(name).ok_or_else(|| {
            format!("JWT_ALGORITHMS: unknown algorithm {name:?} (RS256, ES256, EdDSA)")
        })?;
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    Ok(algs)
}

/// One verification key of a set: its `kid`, the algorithm it serves, and its public members as JSON
/// (what WebCrypto's `importKey("jwk", …)` takes).
#[derive(Debug, Clone, PartialEq)]
pub struct Jwk {
    pub kid: String,
    pub alg: ProviderAlg,
    pub public: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<Map<String, Value>>,
}

/// Parses a JWKS document. Keys this worker cannot use (no `kid`, `use` other than `sig`, another key
/// type or curve, an `alg` that does not fit the key, private members) are skipped, not fatal: providers
/// publish encryption keys beside signing keys. A document that is not a key set is an error.
pub fn parse_jwks(body: &str) -> Result<JwkSet, String> {
    if body.len() > MAX_JWKS_BYTES {
        return Err(format!("key set larger than {MAX_JWKS_BYTES} bytes"));
    }
    let raw: RawSet =
        serde_json::from_str(body).map_err(|e| format!("not a JWKS document: {e}"))?;
    let keys = raw.keys.into_iter().filter_map(usable_key).collect();
    Ok(JwkSet { keys })
}

fn usable_key(key: Map<String, Value>) -> Option<Jwk> {
    let text = |name: &str| key.get(name).and_then(Value::as_str);
    let kid = text("kid").filter(|k| !k.is_empty() && k.len() <= 256)?;
    if text("use").is_some_and(|u| u != "sig") {
        return None;
    }
    // A private key in a public set is a provider's mistake: never import it.
    if key.contains_key("d") {
        return None;
    }
    let alg = ProviderAlg::of_key(text("kty")?, text("crv"))?;
    // A declared `alg` must be the one the key type serves (an RSA key declared RS512 is not RS256).
    if text("alg").is_some_and(|declared| ProviderAlg::parse(declared) != Some(alg)) {
        return None;
    }
    let members: &[&str] = match alg {
        ProviderAlg::Rs256 => &["kty", "n", "e"],
        ProviderAlg::Es256 => &["kty", "crv", "x", "y"],
        ProviderAlg::EdDsa => &["kty", "crv", "x"],
    };
    let mut public = Map::new();
    for name in members {
        public.insert(name.to_string(), Value::String(text(name)?.to_string()));
    }
    Some(Jwk {
        kid: kid.to_string(),
        alg,
        public,
    })
}

/// How long a fetched key set is trusted: the response's `Cache-Control: max-age`, else 10 minutes,
/// between 1 minute and 1 hour.
pub fn trust_ms(cache_control: Option<&str>) -> i64 {
    let max_age = cache_control.and_then(|cc| {
        cc.split(',').find_map(|directive| {
            let (name, value) = directive.trim().split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("max-age") {
                return None;
            }
            value.trim().trim_matches('"').parse::<i64>().ok()
        })
    });
    max_age
        .map_or(DEFAULT_MAX_AGE_MS, |s| s.saturating_mul(1000))
        .clamp(MIN_AGE_MS, MAX_AGE_CAP_MS)
}

/// The per-isolate cache of the provider's key set.
#[derive(Debug, Default)]
pub struct KeyCache {
    set: Option<JwkSet>,
    /// Until when the set is trusted without a fetch (epoch ms).
    fresh_until_ms: i64,
    /// When a fetch was last started outside the set's schedule (an unknown `kid`, or a retry after
    /// a failure).
    last_unscheduled_ms: Option<i64>,
    /// Bumped on every new set, so that keys imported from an older one are not reused.
    pub generation: u64,
}

/// What to do for a token's `kid` and algorithm.
#[derive(Debug, PartialEq)]
pub enum Lookup<'a> {
    /// Verify with this key.
    Key(&'a Jwk),
    /// Fetch the set first (none yet, stale, or an unknown `kid` allowed to refetch), then look again.
    Fetch,
    /// The set has no such key and may not be refetched yet.
    UnknownKid,
    /// The key exists but serves another algorithm than the token names.
    WrongAlgorithm,
}

impl KeyCache {
    pub fn lookup(&self, kid: &str, alg: ProviderAlg, now_ms: i64) -> Lookup<'_> {
        let Some(set) = &self.set else {
            return if self.may_refetch(now_ms) {
                Lookup::Fetch
            } else {
                Lookup::UnknownKid
            };
        };
        if now_ms >= self.fresh_until_ms {
            return Lookup::Fetch;
        }
        match set.keys.iter().find(|k| k.kid == kid) {
            Some(key) if key.alg == alg => Lookup::Key(key),
            Some(_) => Lookup::WrongAlgorithm,
            None if self.may_refetch(now_ms) => Lookup::Fetch,
            None => Lookup::UnknownKid,
        }
    }

    fn may_refetch(&self, now_ms: i64) -> bool {
        self.last_unscheduled_ms
            .is_none_or(|last| now_ms - last >= REFETCH_INTERVAL_MS)
    }

    /// Notes that a fetch starts now (before awaiting it, so that concurrent requests of the isolate
    /// do not start their own for the same reason). The first load is not throttled: requests that
    /// arrive while it runs fetch too rather than fail; only a failure (`failed`) throttles then.
    pub fn fetching(&mut self, now_ms: i64) {
        if self.set.is_none() {
            return;
        }
        if now_ms >= self.fresh_until_ms {
            // A scheduled refresh: push the schedule, so that others keep using the set meanwhile.
            self.fresh_until_ms = now_ms + REFETCH_INTERVAL_MS;
        } else {
            self.last_unscheduled_ms = Some(now_ms);
        }
    }

    pub fn loaded(&mut self, set: JwkSet, trust_ms: i64, now_ms: i64) {
        self.set = Some(set);
        self.fresh_until_ms = now_ms + trust_ms;
        self.generation += 1;
    }

    /// A fetch failed: a set already held stays in use (a provider's outage must not log everyone
    /// out) and is retried after the refetch interval; without one, tokens are refused until then.
    pub fn failed(&mut self, now_ms: i64) {
        if self.set.is_some() {
            self.fresh_until_ms = now_ms + REFETCH_INTERVAL_MS;
        }
        self.last_unscheduled_ms = Some(now_ms);
    }

    /// Whether a set has ever been loaded.
    pub fn has_set(&self) -> bool {
        self.set.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set() -> JwkSet {
        parse_jwks(
            &json!({"keys": [
                {"kty": "RSA", "kid": "r1", "alg": "RS256", "use": "sig", "n": "AQAB-n", "e": "AQAB"},
                {"kty": "EC", "kid": "e1", "crv": "P-256", "x": "xx", "y": "yy"},
                {"kty": "OKP", "kid": "o1", "crv": "Ed25519", "x": "ox", "alg": "EdDSA"},
                {"kty": "RSA", "kid": "enc", "use": "enc", "n": "n", "e": "e"},
                {"kty": "RSA", "kid": "r512", "alg": "RS512", "n": "n", "e": "e"},
                {"kty": "RSA", "kid": "priv", "n": "n", "e": "e", "d": "secret"},
                {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "x", "y": "y"},
                {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
                {"kty": "RSA", "n": "n", "e": "e"},
                {"kty": "RSA", "kid": "no-n", "e": "e"}
            ]})
            .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn algorithms_default_to_rs256_and_refuse_unknown_names() {
        assert_eq!(parse_algorithms(None).unwrap(), vec![ProviderAlg::Rs256]);
        assert_eq!(
            parse_algorithms(Some(" ")).unwrap(),
            vec![ProviderAlg::Rs256]
        );
        assert_eq!(
            parse_algorithms(Some("ES256, EdDSA,ES256")).unwrap(),
            vec![ProviderAlg::Es256, ProviderAlg::EdDsa]
        );
        for bad in ["HS256", "rs256", "RS256,PS256", "none"] {
            assert!(parse_algorithms(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_signing_keys_of_a_known_type_with_a_fitting_alg_are_kept() {
        let keys = set().keys;
        let kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, ["r1", "e1", "o1"]);
        assert_eq!(keys[0].alg, ProviderAlg::Rs256);
        assert_eq!(keys[1].alg, ProviderAlg::Es256);
        assert_eq!(keys[2].alg, ProviderAlg::EdDsa);
        // Only the public members go to importKey.
        assert_eq!(
            Value::Object(keys[0].public.clone()),
            json!({"kty": "RSA", "n": "AQAB-n", "e": "AQAB"})
        );
        assert_eq!(
            Value::Object(keys[2].public.clone()),
            json!({"kty": "OKP", "crv": "Ed25519", "x": "ox"})
        );
    }

    #[test]
    fn documents_that_are_not_key_sets_are_errors() {
        for bad in ["", "[]", "{}", "{\"keys\": 1}", "not json"] {
            assert!(parse_jwks(bad).is_err(), "{bad}");
        }
        let huge = format!(
            "{{\"keys\": [], \"pad\": \"{}\"}}",
            "x".repeat(MAX_JWKS_BYTES)
        );
        assert!(parse_jwks(&huge).is_err());
        assert_eq!(parse_jwks("{\"keys\": []}").unwrap(), JwkSet::default());
    }

    #[test]
    fn trust_follows_max_age_within_bounds() {
        assert_eq!(trust_ms(None), DEFAULT_MAX_AGE_MS);
        assert_eq!(trust_ms(Some("public, max-age=300")), 300_000);
        assert_eq!(trust_ms(Some("max-age=\"900\", must-revalidate")), 900_000);
        assert_eq!(trust_ms(Some("max-age=86400")), MAX_AGE_CAP_MS);
        assert_eq!(trust_ms(Some("max-age=0")), MIN_AGE_MS);
        assert_eq!(trust_ms(Some("no-store")), DEFAULT_MAX_AGE_MS);
        assert_eq!(trust_ms(Some("max-age=soon")), DEFAULT_MAX_AGE_MS);
    }

    #[test]
    fn a_key_is_used_only_for_its_own_algorithm() {
        let mut cache = KeyCache::default();
        cache.loaded(set(), 600_000, 0);
        assert!(
            matches!(cache.lookup("r1", ProviderAlg::Rs256, 1), Lookup::Key(k) if k.kid == "r1")
        );
        assert_eq!(
            cache.lookup("r1", ProviderAlg::Es256, 1),
            Lookup::WrongAlgorithm
        );
        assert_eq!(
            cache.lookup("e1", ProviderAlg::EdDsa, 1),
            Lookup::WrongAlgorithm
        );
    }

    #[test]
    fn an_unknown_kid_refetches_at_most_once_a_minute() {
        let mut cache = KeyCache::default();
        // Nothing loaded: fetch.
        assert_eq!(cache.lookup("r1", ProviderAlg::Rs256, 0), Lookup::Fetch);
        cache.fetching(0);
        cache.loaded(set(), 600_000, 0);
        assert_eq!(cache.generation, 1);
        // A rotated-in kid 10 s later: one refetch (the first load does not count against it).
        assert_eq!(
            cache.lookup("new", ProviderAlg::Rs256, 10_000),
            Lookup::Fetch
        );
        cache.fetching(10_000);
        cache.loaded(set(), 600_000, 10_000);
        // Then none for a minute, whatever the kid.
        for kid in ["new", "other", "random-1"] {
            assert_eq!(
                cache.lookup(kid, ProviderAlg::Rs256, 69_999),
                Lookup::UnknownKid
            );
        }
        // Known kids keep working meanwhile; a minute after the refetch, another is allowed.
        assert!(matches!(
            cache.lookup("e1", ProviderAlg::Es256, 30_000),
            Lookup::Key(_)
        ));
        assert_eq!(
            cache.lookup("other", ProviderAlg::Rs256, 70_000),
            Lookup::Fetch
        );
    }

    #[test]
    fn a_stale_set_is_refreshed_and_kept_when_the_refresh_fails() {
        let mut cache = KeyCache::default();
        cache.loaded(set(), 300_000, 0);
        assert_eq!(
            cache.lookup("r1", ProviderAlg::Rs256, 300_000),
            Lookup::Fetch
        );
        cache.fetching(300_000);
        // While that fetch runs, others use the set.
        assert!(matches!(
            cache.lookup("r1", ProviderAlg::Rs256, 300_001),
            Lookup::Key(_)
        ));
        cache.failed(300_500);
        assert!(matches!(
            cache.lookup("r1", ProviderAlg::Rs256, 301_000),
            Lookup::Key(_)
        ));
        // Retried after the interval.
        assert_eq!(
            cache.lookup("r1", ProviderAlg::Rs256, 360_500),
            Lookup::Fetch
        );
    }

    #[test]
    fn without_any_set_a_failed_fetch_is_retried_after_a_minute() {
        let mut cache = KeyCache::default();
        // Before the first load completes, concurrent requests may fetch too.
        cache.fetching(0);
        assert_eq!(cache.lookup("r1", ProviderAlg::Rs256, 50), Lookup::Fetch);
        cache.failed(100);
        assert!(!cache.has_set());
        assert_eq!(
            cache.lookup("r1", ProviderAlg::Rs256, 30_000),
            Lookup::UnknownKid
        );
        assert_eq!(
            cache.lookup("r1", ProviderAlg::Rs256, 60_100),
            Lookup::Fetch
        );
    }
}

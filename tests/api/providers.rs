//! Identity providers (API.md "Identity providers"): tokens signed with RS256, ES256 and EdDSA, verified
//! against a key set (JWKS) that a real HTTP server of the test harness serves on loopback, beside HS256
//! tokens; the key set's cache and refetch throttle, key rotation, algorithm confusion, and a key server
//! that fails.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use jwt_compact::alg::{Ed25519, Es256, ModulusBits, Rsa, RsaPrivateKey, RsaPublicKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, Header};
use serde_json::{json, Value};

use crate::helpers::*;

/// A key server on loopback: answers every request with the current status and body, and counts them.
struct KeyServer {
    url: String,
    reply: Arc<Mutex<(u16, String)>>,
    hits: Arc<AtomicUsize>,
}

impl KeyServer {
    fn start(body: Value) -> KeyServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind key server");
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let reply = Arc::new(Mutex::new((200, body.to_string())));
        let hits = Arc::new(AtomicUsize::new(0));
        let (r, h) = (reply.clone(), hits.clone());
        // A thread of this test process: it ends with the process.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                h.fetch_add(1, Ordering::SeqCst);
                let (status, body) = r.lock().unwrap().clone();
                let _ = (&stream).write_all(
                    format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nCache-Control: public, max-age=600\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        });
        KeyServer { url, reply, hits }
    }

    fn serve(&self, status: u16, body: &str) {
        *self.reply.lock().unwrap() = (status, body.to_string());
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

struct Keys {
    rsa: RsaPrivateKey,
    rsa_public: RsaPublicKey,
    rsa2: RsaPrivateKey,
    rsa2_public: RsaPublicKey,
    ec: p256::ecdsa::SigningKey,
    ed: ed25519_compact::SecretKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand_core::OsRng;
        let (rsa, rsa_public) = Rsa::generate(&mut rng, ModulusBits::TwoKibibytes).expect("rsa");
        let (rsa2, rsa2_public) = Rsa::generate(&mut rng, ModulusBits::TwoKibibytes).expect("rsa");
        let ec = p256::ecdsa::SigningKey::random(&mut rng);
        let (ed, _) = Ed25519::generate(&mut rng);
        Keys {
            rsa: rsa.into_inner(),
            rsa_public: rsa_public.into_inner(),
            rsa2: rsa2.into_inner(),
            rsa2_public: rsa2_public.into_inner(),
            ec,
            ed,
        }
    })
}

/// A public JWK with its `kid` (and `alg`, when given).
fn jwk<'a>(key: impl Into<JsonWebKey<'a>>, kid: &str, alg: Option<&str>) -> Value {
    let mut value = serde_json::to_value(key.into()).expect("jwk");
    value["kid"] = json!(kid);
    value["use"] = json!("sig");
    if let Some(alg) = alg {
        value["alg"] = json!(alg);
    }
    value
}

fn rsa_jwk(kid: &str) -> Value {
    jwk(&keys().rsa_public, kid, Some("RS256"))
}

fn all_keys() -> Value {
    let k = keys();
    json!({"keys": [
        rsa_jwk("r1"),
        jwk(k.ec.verifying_key(), "e1", Some("ES256")),
        // No `alg`: the key type says EdDSA.
        jwk(&k.ed.public_key(), "o1", None),
    ]})
}

fn claims(user: &str, valid_for_secs: i64) -> Claims<Value> {
    let now = chrono::Utc::now();
    let mut c = Claims::new(json!({"sub": user, "iss": ISSUER, "aud": AUDIENCE}));
    c.issued_at = Some(now);
    c.expiration = Some(now + chrono::Duration::seconds(valid_for_secs));
    c
}

fn header(kid: Option<&str>) -> Header {
    match kid {
        Some(kid) => Header::empty().with_key_id(kid),
        None => Header::empty(),
    }
}

fn rs256(user: &str, kid: Option<&str>) -> String {
    Rsa::rs256()
        .token(&header(kid), &claims(user, 600), &keys().rsa)
        .unwrap()
}

fn es256(user: &str, kid: &str) -> String {
    Es256
        .token(&header(Some(kid)), &claims(user, 600), &keys().ec)
        .unwrap()
}

fn eddsa(user: &str, kid: &str) -> String {
    Ed25519
        .token(&header(Some(kid)), &claims(user, 600), &keys().ed)
        .unwrap()
}

fn start(keys: &KeyServer, algorithms: Option<&str>) -> TestServer {
    let mut vars = vec![("JWT_JWKS_URL", keys.url.as_str())];
    if let Some(algorithms) = algorithms {
        vars.push(("JWT_ALGORITHMS", algorithms));
    }
    TestServer::start_with(&temp_state_dir("providers"), true, &vars)
}

fn status(api: &Api, token: &str) -> u16 {
    api.get("/api/v1/chats", Some(token)).status
}

#[test]
fn each_algorithm_verifies_beside_hs256_and_confusion_is_refused() {
    let key_server = KeyServer::start(all_keys());
    let server = start(&key_server, Some("RS256, ES256, EdDSA"));
    let api = server.client();
    let user = unique_user("idp");

    assert_eq!(status(&api, &rs256(&user, Some("r1"))), 200);
    assert_eq!(status(&api, &es256(&user, "e1")), 200);
    assert_eq!(status(&api, &eddsa(&user, "o1")), 200);
    // HS256 with JWT_SECRET keeps working beside the provider.
    assert_eq!(status(&api, &token(&user)), 200);
    // The provider's user is a user like any other: it can create a chat and send.
    let chat = api.create_chat(
        &rs256(&user, Some("r1")),
        &json!({"participantIds": [unique_user("peer")]}),
    );
    chat.expect(201);

    let refused = |token: &str, why: &str| {
        let resp = api.get("/api/v1/chats", Some(token));
        assert_eq!(resp.status, 401, "{why}: {}", resp.text);
    };
    // Algorithm confusion: an HS256 token whose "secret" is the provider's public key (its JWK or
    // its modulus), with the provider key's kid.
    let public_jwk = rsa_jwk("r1");
    let modulus = public_jwk["n"].as_str().unwrap().to_string();
    for secret in [public_jwk.to_string(), modulus] {
        let forged = jwt_compact::alg::Hs256
            .token(
                &header(Some("r1")),
                &claims(&user, 600),
                &jwt_compact::alg::Hs256Key::new(secret.as_bytes()),
            )
            .unwrap();
        refused(&forged, "HS256 signed with the public key");
    }
    // A key used for another algorithm than its JWK's: an ES256 token naming the RSA key's kid,
    // and an RS256 token naming the EC key's.
    refused(&es256(&user, "r1"), "ES256 with an RSA key's kid");
    let rs_with_ec_kid = Rsa::rs256()
        .token(&header(Some("e1")), &claims(&user, 600), &keys().rsa)
        .unwrap();
    refused(&rs_with_ec_kid, "RS256 with an EC key's kid");
    refused(&rs256(&user, None), "no kid");
    let other_key = Rsa::rs256()
        .token(&header(Some("r1")), &claims(&user, 600), &keys().rsa2)
        .unwrap();
    refused(&other_key, "signed by another key");
    let expired = Rsa::rs256()
        .token(&header(Some("r1")), &claims(&user, -120), &keys().rsa)
        .unwrap();
    refused(&expired, "expired");
    let good = rs256(&user, Some("r1"));
    let (body, signature) = good.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    refused(
        &format!("{body}.{flipped}{}", &signature[1..]),
        "tampered signature",
    );
    let unsigned = format!(
        "{}.",
        body.replacen(
            body.split('.').next().unwrap(),
            &base64url(br#"{"alg":"none","kid":"r1"}"#),
            1,
        )
    );
    refused(&unsigned, "alg none");

    // All of that took one fetch of the key set: it is cached.
    assert_eq!(key_server.hits(), 1);
    // Random kids: at most one refetch, however many there are.
    for i in 0..6 {
        refused(&rs256(&user, Some(&format!("random-{i}"))), "unknown kid");
    }
    assert_eq!(key_server.hits(), 2);
    server.stop();
}

#[test]
fn a_rotated_key_is_fetched_once_and_a_retired_one_refused() {
    let key_server = KeyServer::start(json!({"keys": [rsa_jwk("old")]}));
    let server = start(&key_server, None);
    let api = server.client();
    let user = unique_user("rot");
    assert_eq!(status(&api, &rs256(&user, Some("old"))), 200);
    assert_eq!(key_server.hits(), 1);
    // The provider rotates: the new key (another key pair) replaces the old one.
    let new_key = jwk(&keys().rsa2_public, "new", Some("RS256"));
    key_server.serve(200, &json!({"keys": [new_key]}).to_string());
    let rotated = Rsa::rs256()
        .token(&header(Some("new")), &claims(&user, 600), &keys().rsa2)
        .unwrap();
    assert_eq!(status(&api, &rotated), 200);
    assert_eq!(key_server.hits(), 2);
    assert_eq!(status(&api, &rotated), 200);
    // The retired key is no longer in the set, and no second refetch comes within the minute.
    assert_eq!(status(&api, &rs256(&user, Some("old"))), 401);
    assert_eq!(key_server.hits(), 2);
    // With JWT_ALGORITHMS unset only RS256 is accepted: an ES256 token is refused even with a kid.
    assert_eq!(status(&api, &es256(&user, "new")), 401);
    server.stop();
}

#[test]
fn a_failing_key_server_gives_401s_and_a_log_line_never_a_500() {
    let key_server = KeyServer::start(json!({}));
    key_server.serve(500, "{\"error\": \"down\"}");
    let broken = KeyServer::start(json!({}));
    broken.serve(200, "this is not a key set");
    for (ks, what) in [
        (&key_server, "status 500"),
        (&broken, "not a JWKS document"),
    ] {
        let server = start(ks, None);
        let api = server.client();
        let user = unique_user("down");
        let resp = api.get("/api/v1/chats", Some(&rs256(&user, Some("r1"))));
        assert_eq!(resp.status, 401, "{}", resp.text);
        assert!(resp.error_text().contains("key set"), "{}", resp.text);
        // HS256 is unaffected.
        assert_eq!(status(&api, &token(&user)), 200);
        let output = server.output();
        assert!(
            output.contains("jwks") && output.contains(what),
            "no log line for the failed key set:\n{output}"
        );
        server.stop();
    }
}

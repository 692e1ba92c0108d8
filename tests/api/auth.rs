//! API.md "Authentication": every way a token can be wrong is a 401 in the error envelope.

use serde_json::json;

use crate::helpers::*;

fn me_with(auth: &str) -> Resp {
    app().raw("GET", "/api/v1/users/me", &[("Authorization", auth)], None)
}

fn good_claims(sub: &str) -> serde_json::Value {
    json!({"sub": sub, "exp": now_secs() + 600, "iss": ISSUER, "aud": AUDIENCE})
}

#[test]
fn missing_header_is_401_authentication_required() {
    let resp = app().get("/api/v1/users/me", None);
    resp.expect(401);
    assert_eq!(resp.error_text(), "Authentication required");
}

#[test]
fn bearer_and_bare_tokens_are_both_accepted() {
    let user = unique_user("bare");
    let t = token(&user);
    me_with(&format!("Bearer {t}")).expect(200);
    let resp = me_with(&t);
    resp.expect(200);
    assert_eq!(resp.body["_id"], user.as_str());
}

#[test]
fn alg_none_is_refused() {
    let header = base64url(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = base64url(good_claims("mallory").to_string().as_bytes());
    me_with(&format!("Bearer {header}.{claims}.")).expect(401);
    me_with(&format!("Bearer {header}.{claims}")).expect(401);
}

#[test]
fn other_algorithms_and_other_keys_are_refused() {
    // Same claims, HS512-labelled header but HS256 signature bytes: the label alone must not pass.
    let valid = sign(good_claims("mallory"));
    let parts: Vec<&str> = valid.split('.').collect();
    let hs512 = base64url(br#"{"alg":"HS512","typ":"JWT"}"#);
    me_with(&format!("Bearer {hs512}.{}.{}", parts[1], parts[2])).expect(401);
    let rs256 = base64url(br#"{"alg":"RS256","typ":"JWT","jku":"https://evil.example/keys"}"#);
    me_with(&format!("Bearer {rs256}.{}.{}", parts[1], parts[2])).expect(401);
    me_with(&format!(
        "Bearer {}",
        sign_with_key(
            good_claims("mallory"),
            b"another-secret-of-enough-length-xxxxxx"
        )
    ))
    .expect(401);
}

#[test]
fn flipped_signature_bits_and_edited_claims_are_refused() {
    let valid = sign(good_claims("alice-flip"));
    let mut parts: Vec<String> = valid.split('.').map(str::to_string).collect();
    let mut sig: Vec<char> = parts[2].chars().collect();
    sig[5] = if sig[5] == 'A' { 'B' } else { 'A' };
    parts[2] = sig.into_iter().collect();
    me_with(&format!("Bearer {}", parts.join("."))).expect(401);

    let original: Vec<&str> = valid.split('.').collect();
    let edited = base64url(good_claims("admin").to_string().as_bytes());
    me_with(&format!("Bearer {}.{edited}.{}", original[0], original[2])).expect(401);
}

#[test]
fn expiry_is_enforced_with_sixty_seconds_of_leeway() {
    let user = unique_user("exp");
    let expired =
        sign(json!({"sub": user, "exp": now_secs() - 120, "iss": ISSUER, "aud": AUDIENCE}));
    me_with(&format!("Bearer {expired}")).expect(401);
    let within = sign(json!({"sub": user, "exp": now_secs() - 20, "iss": ISSUER, "aud": AUDIENCE}));
    me_with(&format!("Bearer {within}")).expect(200);
}

#[test]
fn nbf_in_the_future_missing_exp_and_missing_sub_are_refused() {
    let cases = [
        json!({"sub": "u", "exp": now_secs() + 600, "nbf": now_secs() + 300, "iss": ISSUER, "aud": AUDIENCE}),
        json!({"sub": "u", "iss": ISSUER, "aud": AUDIENCE}),
        json!({"exp": now_secs() + 600, "iss": ISSUER, "aud": AUDIENCE}),
        json!({"sub": "bad sub with spaces", "exp": now_secs() + 600, "iss": ISSUER, "aud": AUDIENCE}),
        json!({"sub": "u", "exp": now_secs() + 600, "iat": now_secs() + 600, "iss": ISSUER, "aud": AUDIENCE}),
    ];
    for claims in cases {
        let resp = me_with(&format!("Bearer {}", sign(claims.clone())));
        assert_eq!(resp.status, 401, "{claims}: {}", resp.text);
        resp.expect(401);
    }
}

#[test]
fn wrong_issuer_or_audience_is_refused() {
    me_with(&format!(
        "Bearer {}",
        sign(json!({"sub": "u", "exp": now_secs() + 600, "iss": "someone-else", "aud": AUDIENCE}))
    ))
    .expect(401);
    me_with(&format!(
        "Bearer {}",
        sign(json!({"sub": "u", "exp": now_secs() + 600, "aud": AUDIENCE}))
    ))
    .expect(401);
    me_with(&format!(
        "Bearer {}",
        sign(json!({"sub": "u", "exp": now_secs() + 600, "iss": ISSUER, "aud": "other"}))
    ))
    .expect(401);
    // `aud` may be a list that contains ours.
    me_with(&format!(
        "Bearer {}",
        sign(json!({"sub": "u", "exp": now_secs() + 600, "iss": ISSUER, "aud": ["x", AUDIENCE]}))
    ))
    .expect(200);
}

#[test]
fn garbage_and_oversized_tokens_are_401_not_500() {
    let huge = format!("Bearer {}", "a".repeat(20 * 1024));
    for auth in [
        "Bearer ",
        "Bearer garbage",
        "Bearer a.b.c",
        "Bearer ....",
        "Basic dXNlcjpwYXNz",
        "Bearer %%%.###.$$$",
        "Bearer a.b",
        "bearer     ",
        huge.as_str(),
    ] {
        let resp = me_with(auth);
        assert_eq!(resp.status, 401, "{:.40}: {}", auth, resp.text);
        resp.expect(401);
    }
}

//! Request ids (API.md "Conventions"): a client's `X-Request-Id` of 1 to 64 characters of
//! `[A-Za-z0-9._:-]` is echoed; otherwise the request gets a new id, made like the server's object ids.

/// Whether a client's request id may be echoed.
pub fn is_valid(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// The client's id when valid, else a new one.
pub fn choose(sent: Option<String>, now_ms: i64) -> String {
    sent.filter(|id| is_valid(id))
        .unwrap_or_else(|| crate::domain::ids::new_object_id(now_ms).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clients_id_is_echoed_only_when_well_formed() {
        assert_eq!(choose(Some("req-1.a:b_c".into()), 0), "req-1.a:b_c");
        for bad in ["", "has space", "slash/no", &"x".repeat(65), "é"] {
            let made = choose(Some(bad.to_string()), 0);
            assert_ne!(made, bad);
            assert!(crate::domain::ids::is_object_id(&made), "{made}");
        }
        assert!(crate::domain::ids::is_object_id(&choose(None, 0)));
    }
}

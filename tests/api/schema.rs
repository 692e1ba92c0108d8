//! Versioned migrations (migrations/) and schema.sql: applying every migration to an empty database
//! gives exactly the schema of schema.sql, and a database made before migrations existed keeps its data
//! through the upgrade.

use std::path::Path;

use serde_json::Value;

use crate::helpers::*;

/// `sqlite_schema` rows of a local D1: (type, name, table, normalized SQL), D1's own tables left out.
fn schema_of(state: &Path) -> Vec<(String, String, String, String)> {
    let out = d1(
        state,
        &[
            "execute",
            "--json",
            "--command",
            "SELECT type, name, tbl_name, sql FROM sqlite_schema \
             WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations' \
             ORDER BY type, name",
        ],
    );
    let parsed: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    parsed[0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|row| {
            let text = |k: &str| row[k].as_str().unwrap_or_default().to_string();
            (
                text("type"),
                text("name"),
                text("tbl_name"),
                normalize(&text("sql")),
            )
        })
        .collect()
}

/// SQL without comments, `IF NOT EXISTS` and layout: what two equal definitions share however they are
/// written (an `ALTER TABLE ... ADD COLUMN` edits the stored text in place, comments around it stay).
fn normalize(sql: &str) -> String {
    let without_comments: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ");
    let words = without_comments
        .replace("IF NOT EXISTS ", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = words;
    for punct in ["(", ")", ","] {
        out = out
            .replace(&format!(" {punct}"), punct)
            .replace(&format!("{punct} "), punct);
    }
    out
}

#[test]
fn every_migration_applied_to_an_empty_database_gives_schema_sql() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let migrated = temp_state_dir("migrated");
    write_config(&migrated);
    d1(&migrated, &["migrations", "apply"]);
    let fresh = temp_state_dir("fresh");
    write_config(&fresh);
    let schema_sql = format!("--file={}", root.join("schema.sql").display());
    d1(&fresh, &["execute", &schema_sql]);
    let (a, b) = (schema_of(&migrated), schema_of(&fresh));
    assert!(a.len() >= 10, "{a:?}");
    assert_eq!(a, b, "migrations and schema.sql disagree");
    // A second apply has nothing to do.
    let again = d1(&migrated, &["migrations", "apply"]);
    assert!(again.contains("No migrations to apply"), "{again}");
    for dir in [migrated, fresh] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_database_made_before_migrations_keeps_its_data_through_the_upgrade() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let state = temp_state_dir("upgrade");
    write_config(&state);
    // Made the way `make dev` made databases before migrations: the first schema applied directly.
    let first = format!(
        "--file={}",
        root.join("migrations/0001_initial.sql").display()
    );
    d1(&state, &["execute", &first]);
    let chat = "0000000000000000000c0ffe";
    let seed = format!(
        "INSERT INTO users (id, username, first_name, claimed, created_at, updated_at)
           VALUES ('old-a', 'old-a', 'Ada', 1, 1, 1), ('old-b', 'old-b', 'Bo', 1, 1, 1);
         INSERT INTO chats (id, type, title, direct_key, last_seq, last_activity_at, created_at, updated_at)
           VALUES ('{chat}', 'direct', NULL, 'old-a old-b', 1, 2, 1, 2);
         INSERT INTO chat_participants (chat_id, user_id, last_read_seq, joined_at, username)
           VALUES ('{chat}', 'old-a', 1, 1, 'old-a'), ('{chat}', 'old-b', 0, 1, 'old-b');
         INSERT INTO messages (chat_id, seq, id, sender_id, type, content, created_at, updated_at)
           VALUES ('{chat}', 1, '00000001000000000000beef', 'old-a', 'text', 'kept', 2, 2);"
    );
    let file = state.join("old.sql");
    std::fs::write(&file, seed).expect("seed");
    d1(&state, &["execute", &format!("--file={}", file.display())]);
    // The upgrade: what `make dev` runs now.
    d1(&state, &["migrations", "apply"]);
    let server = TestServer::start(&state, true);
    let api = server.client();
    let got = api.get(&format!("/api/v1/chats/{chat}"), Some(&token("old-b")));
    got.expect(200);
    assert_eq!(got.body["projectId"], Value::Null);
    assert_eq!(got.body["lastMessage"]["content"], "kept");
    assert_eq!(got.body["unreadCount"], 1);
    // The pair still has its one direct chat (asking again finds it).
    let again = api.create_chat(
        &token("old-a"),
        &serde_json::json!({"participantIds": ["old-b"]}),
    );
    again.expect(200);
    assert_eq!(again.body["_id"], chat);
    server.stop();
}

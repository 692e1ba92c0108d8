//! Versioned migrations (migrations/) and schema.sql: applying every migration to an empty database
//! gives exactly the schema of schema.sql, a database made before migrations existed keeps its data
//! through the upgrade, and no statement of the store reads a whole table or index (its query plan has
//! no full scan), so no request's rows read grow with the data.

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
    // Migration 0009 indexed the existing message: search finds it.
    let found = api.get("/api/v1/search?q=kept", Some(&token("old-b")));
    found.expect(200);
    assert_eq!(found.body["results"][0]["message"]["content"], "kept");
    server.stop();
}

/// A statement's parameters (`?N`) as the text '1': enough for `EXPLAIN QUERY PLAN`, which plans
/// without running.
fn with_placeholder_values(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push_str("'1'");
        } else {
            out.push(c);
        }
    }
    out
}

/// The scans in a query plan that read a stored table or index from end to end: every `SCAN` except
/// of a constant row, a table-valued function (`json_each`) or a subquery's own rows (a co-routine or
/// materialized view the plan names).
fn full_scans(plan: &[String]) -> Vec<String> {
    let produced: Vec<&str> = plan
        .iter()
        .filter_map(|d| {
            d.strip_prefix("CO-ROUTINE ")
                .or_else(|| d.strip_prefix("MATERIALIZE "))
        })
        .collect();
    plan.iter()
        .filter(|d| {
            let Some(what) = d.strip_prefix("SCAN ") else {
                return false;
            };
            let name = what.split(' ').next().unwrap_or_default();
            !(what == "CONSTANT ROW"
                || what.starts_with("(subquery")
                || what.contains("VIRTUAL TABLE")
                || produced.contains(&name))
        })
        .cloned()
        .collect()
}

/// SQLite's query plan (`EXPLAIN QUERY PLAN`, its `detail` lines) of each statement, on a database
/// made by every migration in order. Planned by the SQLite of the machine's python3 (which `make test`
/// needs for schemathesis anyway): the local D1 refuses some multi-statement `EXPLAIN` commands, and
/// one `wrangler d1 execute` per statement would cost a Node start each.
fn query_plans(statements: &[(&str, &str)]) -> Vec<Vec<String>> {
    const PLANNER: &str = r#"
import json, pathlib, sqlite3, sys
db = sqlite3.connect(":memory:")
for migration in sorted(pathlib.Path(sys.argv[1]).glob("*.sql")):
    db.executescript(migration.read_text())
plans = [[row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql)] for sql in json.load(sys.stdin)]
print(json.dumps(plans))
"#;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sql: Vec<String> = statements
        .iter()
        .map(|(_, sql)| with_placeholder_values(sql))
        .collect();
    let mut child = std::process::Command::new("python3")
        .args(["-c", PLANNER])
        .arg(root.join("migrations"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let input = serde_json::to_vec(&sql).expect("statements as JSON");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &input).expect("write");
    let out = child.wait_with_output().expect("planner");
    assert!(out.status.success(), "the planner failed");
    serde_json::from_slice(&out.stdout).expect("plans")
}

#[test]
fn no_statement_scans_a_table_whose_size_grows_with_the_data() {
    // The admin's list of every service key reads them all, by design; a search by a key of every
    // chat, narrowed to no chat or project, searches every chat (its reach: the scan reads one index
    // entry per chat, and is skipped by any other key or narrowing).
    // The per-minute run's look at the running erasures reads the oldest few entries of a partial
    // index that holds only running erasures (LIMIT 5).
    const ALLOWED: &[&str] = &[
        "keys::KEYS_SQL",
        "search::SEARCH_KEY_ANY_SQL",
        "erasure::RUNNING_SQL",
    ];
    let statements = edge_chat::store::STATEMENTS;
    let plans = query_plans(statements);
    assert_eq!(plans.len(), statements.len());
    let scans: Vec<String> = statements
        .iter()
        .zip(&plans)
        .filter(|((name, _), _)| !ALLOWED.contains(name))
        .filter_map(|((name, _), plan)| {
            // (An `INSERT … VALUES` has an empty plan: it reads nothing.)
            let found = full_scans(plan);
            (!found.is_empty()).then(|| format!("{name}: {found:?}"))
        })
        .collect();
    assert!(scans.is_empty(), "full scans:\n{}", scans.join("\n"));
    // The allowed one is still seen as a scan, so the check does look.
    let keys = statements.iter().position(|(n, _)| *n == ALLOWED[0]);
    assert!(!full_scans(&plans[keys.expect("KEYS_SQL listed")]).is_empty());
}

#[test]
fn the_plan_check_tells_a_full_scan_from_a_subquerys_rows() {
    let plan = |rows: &[&str]| rows.iter().map(|r| r.to_string()).collect::<Vec<_>>();
    assert!(full_scans(&plan(&[
        "SEARCH c USING PRIMARY KEY (id=?)",
        "SCAN CONSTANT ROW"
    ]))
    .is_empty());
    assert!(full_scans(&plan(&[
        "CO-ROUTINE m",
        "SEARCH m USING PRIMARY KEY (chat_id=?)",
        "SCAN m"
    ]))
    .is_empty());
    assert!(full_scans(&plan(&[
        "SCAN j VIRTUAL TABLE INDEX 1:",
        "SCAN (subquery-2)"
    ]))
    .is_empty());
    assert_eq!(
        full_scans(&plan(&[
            "SCAN k USING INDEX api_keys_webhooks",
            "SCALAR SUBQUERY 1"
        ])),
        ["SCAN k USING INDEX api_keys_webhooks"]
    );
    assert_eq!(
        with_placeholder_values("a = ?1 AND b IN (?12, ?)"),
        "a = '1' AND b IN ('1', ?)"
    );
}

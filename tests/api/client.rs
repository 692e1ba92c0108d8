//! A client generated from the served OpenAPI document, as a new user would make one: openapi-typescript
//! types and openapi-fetch (tests/client/send.mts). It must type-check with `tsc --strict` (a document
//! that forces a defaulted field such as a message's `type` on callers fails here) and then work against
//! the real worker.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::*;

fn run(dir: &PathBuf, program: &str, args: &[&str]) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join("node_modules/.bin").join(program))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn a_client_generated_from_the_document_compiles_and_works() {
    let api = app();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // Inside the project, so that the generated code finds openapi-fetch in node_modules.
    let dir = root.join("target/typed-client");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::copy(root.join("tests/client/send.mts"), dir.join("send.mts")).expect("copy");
    let document = root.join("docs/openapi.json");
    run(
        &dir,
        "openapi-typescript",
        &[document.to_str().unwrap_or_default(), "-o", "schema.d.ts"],
    );
    run(
        &dir,
        "tsc",
        &[
            "--strict",
            "--noUncheckedIndexedAccess",
            "--module",
            "nodenext",
            "--target",
            "es2022",
            "--skipLibCheck",
            "send.mts",
        ],
    );
    let user = unique_user("typed");
    let node = Command::new("node")
        .arg("send.mjs")
        .args([
            api.base_url.as_str(),
            &token(&user),
            &unique_user("typed-peer"),
        ])
        .current_dir(&dir)
        .output()
        .expect("node");
    assert!(
        node.status.success(),
        "{}",
        String::from_utf8_lossy(&node.stderr)
    );
    let got: Value = serde_json::from_slice(&node.stdout).expect("JSON from the client");
    assert_eq!(got["text"]["status"], 201, "{got}");
    assert_eq!(got["text"]["type"], "text");
    assert_eq!(
        got["text"]["metadata"],
        json!({"source": "typed-client", "n": 1})
    );
    assert_eq!(got["media"]["status"], 201, "{got}");
    assert_eq!(got["media"]["url"], "https://cdn.example.com/a.png");
    assert_eq!(got["page"]["status"], 200);
    assert_eq!(
        got["page"]["contents"],
        json!(["hello from a typed client", null])
    );
    assert_eq!(got["window"]["status"], 200);
    assert_eq!(
        (
            got["window"]["count"].clone(),
            got["window"]["hasMore"].clone()
        ),
        (json!(1), json!(true))
    );
    assert_eq!(got["read"]["status"], 200);
    assert_eq!(got["read"]["unread"], 0);
    assert_eq!(got["edited"]["status"], 200);
    assert_eq!(got["edited"]["content"], "edited");
    assert_eq!(got["me"]["availability"], "away");
}

//! Writes the OpenAPI document generated from the code (`edge_chat::openapi`) to `docs/openapi.json`,
//! which the worker embeds and serves: `make openapi` (or `cargo run --bin openapi`). With `--check`
//! it only says whether the file is current (the unit test `the_committed_document_is_the_generated_one`
//! holds it in every test run).

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
    let generated = edge_chat::openapi::text();
    let check = std::env::args().any(|a| a == "--check");
    let current = std::fs::read_to_string(path).unwrap_or_default() == generated;
    if check {
        if !current {
            eprintln!("docs/openapi.json is not the generated document: run `make openapi`");
            std::process::exit(1);
        }
        return;
    }
    if !current {
        if let Err(e) = std::fs::write(path, &generated) {
            eprintln!("writing {path}: {e}");
            std::process::exit(1);
        }
    }
    println!("{path}: {} bytes", generated.len());
}

#[cfg(target_arch = "wasm32")]
fn main() {}

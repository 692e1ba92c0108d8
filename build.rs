//! Embeds the OpenAPI document (`docs/openapi.json`, generated from the code by `make openapi` and held
//! to it by a test) with the whitespace between its tokens removed: the file stays readable in the
//! repository and costs about half as many bytes in the wasm (key order kept).

use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=docs/openapi.json");
    let source = fs::read_to_string("docs/openapi.json").expect("docs/openapi.json is readable");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("openapi.min.json");
    fs::write(out, minify(&source)).expect("OUT_DIR is writable");
}

/// Drops whitespace outside JSON strings; strings (escapes included) are copied unchanged.
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

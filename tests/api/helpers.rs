//! Starts the built worker in a real `wrangler dev` (workerd, local D1, the real Durable Object) with
//! fresh state, and talks to it over HTTP.
//!
//! Process hygiene: wrangler runs under a small bash guard in its own process group. The guard holds a
//! pipe from this test process on its stdin; when this process ends in any way (tests done, a panic,
//! even SIGKILL) the pipe closes and the guard stops the whole group. No wrangler outlives the tests.

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{AlgorithmExt, Claims, Header};
use serde_json::{json, Value};

pub const JWT_SECRET: &str = "test-secret-0123456789abcdef-0123456789";
pub const ADMIN_API_KEY: &str = "test-admin-key-0123456789";
/// What the test servers derive webhook secrets from.
pub const WEBHOOK_SIGNING_KEY: &str = "test-webhook-signing-key-0123456789abcdef";
/// What the test servers sign file URLs with.
pub const FILE_SIGNING_KEY: &str = "test-file-signing-key-0123456789abcdef";
pub const ISSUER: &str = "edge-chat-tests";
pub const AUDIENCE: &str = "edge-chat";

/// The process-group guard shared with the TypeScript tests (tests/guard.sh says how it works).
const GUARD: &str = include_str!("../guard.sh");

pub struct TestServer {
    pub base_url: String,
    state_dir: PathBuf,
    guard: Child,
}

fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn wrangler(config_dir: &Path) -> Command {
    let mut cmd = Command::new(project_root().join("node_modules/.bin/wrangler"));
    cmd.current_dir(config_dir)
        .env("WRANGLER_SEND_METRICS", "false")
        .env("WRANGLER_SEND_ERROR_REPORTS", "false")
        .env("WRANGLER_HIDE_BANNER", "true")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        // wrangler writes a debug log of everything it handles: keep it with the test's state instead
        // of piling up under the home directory.
        .env("WRANGLER_LOG_PATH", config_dir.join("wrangler-debug.log"))
        // No devtools inspector proxy: with it, workerd reports every subrequest (D1 queries and
        // Durable Object calls, bodies included) to wrangler's Node process, which writes each to that
        // debug log, a third of the CPU under load. wrangler 4.86 has no flag for it and turns it off
        // only in a VS Code debug terminal, which it detects by this variable.
        .env("VSCODE_INSPECTOR_OPTIONS", "off");
    cmd
}

/// Runs a `wrangler d1 ...` command on the local D1 kept in `state_dir/d1` (with the config written
/// there); returns its standard output.
pub fn d1(state_dir: &Path, args: &[&str]) -> String {
    let out = wrangler(state_dir)
        .arg("d1")
        .args(args)
        .args(["DB", "--local", "--persist-to"])
        .arg(state_dir.join("d1"))
        .stdin(Stdio::null())
        .output()
        .expect("run wrangler d1");
    assert!(
        out.status.success(),
        "wrangler d1 {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Applies an SQL file to the local D1 kept in `state_dir/d1`.
fn d1_execute(state_dir: &Path, file: &Path) {
    d1(
        state_dir,
        &["execute", &format!("--file={}", file.display())],
    );
}

/// Writes the project's wrangler.toml into `dir`, pointing at the built worker and the migrations.
pub fn write_config(dir: &Path) {
    let root = project_root();
    let shim = root.join("build/worker/shim.mjs");
    let config = std::fs::read_to_string(root.join("wrangler.toml"))
        .expect("wrangler.toml")
        .replace(
            "main = \"build/worker/shim.mjs\"",
            &format!("main = \"{}\"", shim.display()),
        )
        .replace(
            "migrations_dir = \"migrations\"",
            &format!("migrations_dir = \"{}\"", root.join("migrations").display()),
        );
    std::fs::create_dir_all(dir).expect("state dir");
    std::fs::write(dir.join("wrangler.toml"), config).expect("write config");
}

impl TestServer {
    /// Applies the migrations to `state_dir` (if new) and starts `wrangler dev` on a free port. With
    /// `remove_state_on_exit`, the guard deletes `state_dir` once the server is stopped.
    pub fn start(state_dir: &Path, remove_state_on_exit: bool) -> TestServer {
        Self::start_with(state_dir, remove_state_on_exit, &[])
    }

    /// Like `start`, with more vars in its `.dev.vars` (`NAME`, value).
    pub fn start_with(
        state_dir: &Path,
        remove_state_on_exit: bool,
        vars: &[(&str, &str)],
    ) -> TestServer {
        let root = project_root();
        let shim = root.join("build/worker/shim.mjs");
        assert!(
            shim.exists(),
            "{} is missing: run `make test` (it builds the worker first)",
            shim.display()
        );
        // A config of its own next to a .dev.vars of its own: a developer's .dev.vars never leaks in.
        write_config(state_dir);
        std::fs::write(
            state_dir.join(".dev.vars"),
            format!(
                "JWT_SECRET={JWT_SECRET}\nADMIN_API_KEY={ADMIN_API_KEY}\nWEBHOOK_SIGNING_KEY={WEBHOOK_SIGNING_KEY}\nFILE_SIGNING_KEY={FILE_SIGNING_KEY}\nJWT_ISSUER={ISSUER}\nJWT_AUDIENCE={AUDIENCE}\nCORS_ORIGINS=https://app.example.com\n{}",
                vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect::<String>()
            ),
        )
        .expect("write .dev.vars");
        let persist = state_dir.join("d1");
        if !persist.exists() {
            d1(state_dir, &["migrations", "apply"]);
        }
        let log_path = state_dir.join("wrangler.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut cmd = Command::new("bash");
        cmd.arg("-c").arg(GUARD).arg("guard");
        let inner = wrangler(state_dir);
        cmd.arg(inner.get_program());
        cmd.args([
            "dev",
            "--local",
            "--ip",
            "127.0.0.1",
            "--port",
            "0",
            "--inspector-port",
            "0",
            // The cron trigger's job on GET /__scheduled (tests of the daily clean-up).
            "--test-scheduled",
        ])
        .arg("--persist-to")
        .arg(&persist)
        .arg("--show-interactive-dev-session=false")
        .current_dir(state_dir)
        .envs(inner.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .env(
            "REMOVE_ON_EXIT",
            if remove_state_on_exit {
                state_dir.as_os_str()
            } else {
                "".as_ref()
            },
        )
        .process_group(0);
        let guard = cmd.spawn().expect("spawn wrangler dev");
        let deadline = Instant::now() + Duration::from_secs(60);
        let base_url = loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            if let Some(at) = text.find("Ready on http://") {
                let rest = &text[at + "Ready on ".len()..];
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .trim_end_matches('/')
                    .to_string();
            }
            assert!(
                Instant::now() < deadline,
                "wrangler dev did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let server = TestServer {
            base_url,
            state_dir: state_dir.to_path_buf(),
            guard,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.client().get("/health", None).status != 200 {
            assert!(Instant::now() < deadline, "worker never became healthy");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// Stops this server's whole process group now (closing the guard's stdin) and waits for it; the
    /// state directory stays, so a new server can start on it.
    pub fn stop(mut self) {
        drop(self.guard.stdin.take());
        let _ = self.guard.wait();
    }

    /// Kills this server's whole process group at once (SIGKILL: no shutdown of any kind, as in a
    /// crash) and waits for the guard; the state directory stays for a new server.
    pub fn kill(mut self) {
        let group = format!("-{}", self.guard.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.guard.wait();
    }

    /// Runs SQL on this server's local D1 while it runs (the worker sees it at once): for seeding data
    /// the API cannot make, such as hundreds of messages sharing one millisecond. Another process
    /// writing the database file can make the worker's own writes fail with "database is locked", so
    /// use it on a server of the test's own, not on the shared one.
    pub fn execute_sql(&self, sql: &str) {
        let file = self.state_dir.join("seed.sql");
        std::fs::write(&file, sql).expect("write seed.sql");
        d1_execute(&self.state_dir, &file);
    }

    /// The rows of an SQL query on this server's local D1, as JSON objects (reads only: see
    /// `execute_sql`).
    pub fn query(&self, sql: &str) -> Vec<Value> {
        let text = d1(&self.state_dir, &["execute", "--command", sql, "--json"]);
        let parsed: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        parsed[0]["results"].as_array().cloned().unwrap_or_default()
    }

    /// What `wrangler dev` has printed so far (its own lines and the worker's logs).
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.state_dir.join("wrangler.log")).unwrap_or_default()
    }

    pub fn client(&self) -> Api {
        Api {
            base_url: self.base_url.clone(),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .build(),
            log: self.state_dir.join("wrangler.log"),
        }
    }
}

/// A fresh temporary directory for one server's state.
pub fn temp_state_dir(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("edge-chat-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The server shared by every test of this binary: started once, with fresh state.
pub fn app() -> Api {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER
        .get_or_init(|| TestServer::start(&temp_state_dir("api"), true))
        .client()
}

/// A user id no other test uses.
pub fn unique_user(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{name}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Text percent-encoded for a URL's query or path (every byte outside the unreserved set).
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Signs any claims with the test secret (HS256).
pub fn sign(claims: Value) -> String {
    sign_with_key(claims, JWT_SECRET.as_bytes())
}

pub fn sign_with_key(claims: Value, key: &[u8]) -> String {
    Hs256
        .token(&Header::empty(), &Claims::new(claims), &Hs256Key::new(key))
        .expect("sign")
}

/// A valid token for `sub`.
pub fn token(sub: &str) -> String {
    sign(
        json!({"sub": sub, "exp": now_secs() + 3600, "iss": ISSUER, "aud": AUDIENCE, "username": format!("{sub}-name")}),
    )
}

pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub text: String,
    pub body: Value,
    /// The body as sent (a file's bytes are not text).
    pub bytes: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn cost(&self, name: &str) -> u64 {
        self.header(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("missing {name}: {self:?}"))
    }

    /// Asserts the status and, for errors, the envelope of API.md.
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        if status >= 400 {
            assert_eq!(self.body["isSuccess"], false, "{}", self.text);
            assert_eq!(self.body["statusCode"], status, "{}", self.text);
            assert!(self.body["data"].is_null(), "{}", self.text);
            let errors = self.body["errors"]
                .as_array()
                .unwrap_or_else(|| panic!("no errors: {}", self.text));
            assert!(
                !errors.is_empty()
                    && errors
                        .iter()
                        .all(|e| e.as_str().is_some_and(|s| !s.is_empty())),
                "{}",
                self.text
            );
            assert!(
                self.body["timestamp"]
                    .as_str()
                    .is_some_and(|t| t.ends_with('Z')),
                "{}",
                self.text
            );
        }
        self
    }

    pub fn error_text(&self) -> String {
        self.body["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .unwrap_or_default()
    }
}

#[derive(Clone)]
pub struct Api {
    pub base_url: String,
    agent: ureq::Agent,
    /// The server's `wrangler dev` output, whose end a failed request's panic shows.
    log: PathBuf,
}

impl Api {
    /// The same client, waiting up to `seconds` for an answer (requests that legitimately work long,
    /// such as an erasure's steps on a loaded machine).
    pub fn patient(&self, seconds: u64) -> Api {
        Api {
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(seconds))
                .build(),
            ..self.clone()
        }
    }

    /// A request as user `user` (its token), the body as JSON if given.
    pub fn as_user(&self, method: &str, path: &str, user: &str, body: Option<&Value>) -> Resp {
        let auth = format!("Bearer {}", token(user));
        let text = body.map(Value::to_string);
        let mut headers = vec![("Authorization", auth.as_str())];
        if text.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        self.raw(method, path, &headers, text.as_deref().map(str::as_bytes))
    }

    /// Any request: `headers` are sent as given, `body` as raw bytes.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Resp {
        self.try_raw(method, path, headers, body)
            .unwrap_or_else(|e| {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "{method} {path}: {e}\nthe end of the server's log:\n{}",
                    tail.join("\n")
                )
            })
    }

    /// Like `raw`, but a transport failure (server gone) is an `Err` instead of a panic.
    pub fn try_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Resp, String> {
        let mut req = self
            .agent
            .request(method, &format!("{}{path}", self.base_url));
        for (name, value) in headers {
            req = req.set(name, value);
        }
        let result = match body {
            Some(bytes) => req.send_bytes(bytes),
            None => req.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(format!("transport error {e}")),
        };
        let status = response.status();
        let headers = response
            .headers_names()
            .into_iter()
            .filter_map(|n| {
                response
                    .header(&n)
                    .map(|v| (n.to_ascii_lowercase(), v.to_string()))
            })
            .collect();
        // A body cut off mid-way (the server stopping) is a transport failure, not an answer.
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes)
            .map_err(|e| format!("reading the body: {e}"))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        let resp = Resp {
            status,
            headers,
            text,
            body,
            bytes,
        };
        // While `wrangler dev` stops, its proxy or workerd answers 5xx themselves (503, or a plain-text
        // 500 for a request cut off mid-way): the worker's own answers always carry X-Request-Id. For
        // callers, such an answer is a server gone, not a response to hold to the document.
        if status >= 500 && resp.header("x-request-id").is_none() {
            return Err(format!(
                "{status} from wrangler or workerd, not the worker: {:.200}",
                resp.text
            ));
        }
        // Every response is held to the OpenAPI document.
        crate::contract::check_response(&crate::contract::Received {
            method,
            path,
            status,
            header: &|name| resp.header(name).map(str::to_string),
            body: Some(&resp.text),
        });
        Ok(resp)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        self.raw("GET", path, &headers, None)
    }

    pub fn send_json(&self, method: &str, path: &str, token: &str, body: &Value) -> Resp {
        let auth = format!("Bearer {token}");
        let bytes = body.to_string();
        self.raw(
            method,
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            Some(bytes.as_bytes()),
        )
    }

    pub fn post(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send_json("POST", path, token, body)
    }

    // One method per endpoint.

    pub fn create_chat(&self, token: &str, body: &Value) -> Resp {
        self.post("/api/v1/chats", token, body)
    }

    /// Creates a group of `owner` and `others`; returns its id.
    pub fn group(&self, owner: &str, others: &[&str]) -> String {
        let resp = self.create_chat(
            &token(owner),
            &json!({"participantIds": others, "type": "group", "title": "t"}),
        );
        resp.expect(201);
        resp.body["_id"].as_str().expect("chat id").to_string()
    }

    pub fn send(&self, sender: &str, chat_id: &str, content: &str) -> Resp {
        self.post(
            "/api/v1/messages",
            &token(sender),
            &json!({"chatId": chat_id, "content": content}),
        )
    }

    pub fn messages(&self, user: &str, chat_id: &str, query: &str) -> Resp {
        self.get(
            &format!("/api/v1/messages/chat/{chat_id}?{query}"),
            Some(&token(user)),
        )
    }

    /// `PATCH /api/v1/messages/{id}` with new text.
    pub fn edit(&self, user: &str, id: &str, content: &str) -> Resp {
        self.send_json(
            "PATCH",
            &format!("/api/v1/messages/{id}"),
            &token(user),
            &json!({"content": content}),
        )
    }

    /// `DELETE /api/v1/messages/{id}`.
    pub fn delete(&self, user: &str, id: &str) -> Resp {
        let auth = format!("Bearer {}", token(user));
        self.raw(
            "DELETE",
            &format!("/api/v1/messages/{id}"),
            &[("Authorization", &auth)],
            None,
        )
    }

    pub fn chat(&self, user: &str, chat_id: &str) -> Resp {
        self.get(&format!("/api/v1/chats/{chat_id}"), Some(&token(user)))
    }

    pub fn chats(&self, user: &str, query: &str) -> Resp {
        self.get(&format!("/api/v1/chats?{query}"), Some(&token(user)))
    }

    pub fn mark_read(&self, user: &str, chat_id: &str, body: &Value) -> Resp {
        self.post(
            &format!("/api/v1/messages/chat/{chat_id}/read"),
            &token(user),
            body,
        )
    }

    pub fn grant(&self, user: &str, amount: i64, key: &str) -> Resp {
        let body = json!({"userId": user, "amount": amount, "idempotencyKey": key}).to_string();
        self.raw(
            "POST",
            "/api/v1/admin/credits",
            &[
                ("X-API-Key", ADMIN_API_KEY),
                ("Content-Type", "application/json"),
            ],
            Some(body.as_bytes()),
        )
    }

    /// `POST /api/v1/admin/api-keys` with the admin key.
    pub fn create_key(&self, body: &Value) -> Resp {
        let text = body.to_string();
        self.raw(
            "POST",
            "/api/v1/admin/api-keys",
            &[
                ("X-API-Key", ADMIN_API_KEY),
                ("Content-Type", "application/json"),
            ],
            Some(text.as_bytes()),
        )
    }

    /// A new service key (of `project`, if given); returns the key itself.
    pub fn service_key(&self, project: Option<&str>) -> String {
        let resp = self.create_key(&json!({"name": unique_user("key"), "projectId": project}));
        resp.expect(201);
        resp.body["key"].as_str().expect("key").to_string()
    }

    /// Any request with a service key (`X-API-Key`), the body as JSON if given.
    pub fn with_key(&self, method: &str, path: &str, key: &str, body: Option<&Value>) -> Resp {
        let text = body.map(Value::to_string);
        let mut headers = vec![("X-API-Key", key)];
        if text.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        self.raw(method, path, &headers, text.as_deref().map(str::as_bytes))
    }

    /// A credit transfer request (its key in the body when given); `Err` if the server is unreachable.
    pub fn try_transfer(
        &self,
        sender: &str,
        chat: &str,
        recipient: &str,
        amount: i64,
        key: Option<&str>,
    ) -> Result<Resp, String> {
        let mut body = json!({"chatId": chat, "recipientId": recipient, "amount": amount});
        if let Some(key) = key {
            body["idempotencyKey"] = json!(key);
        }
        let auth = format!("Bearer {}", token(sender));
        let text = body.to_string();
        self.try_raw(
            "POST",
            "/api/v1/messages/credit-transfer",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            Some(text.as_bytes()),
        )
    }

    pub fn transfer(
        &self,
        sender: &str,
        chat: &str,
        recipient: &str,
        amount: i64,
        key: Option<&str>,
    ) -> Resp {
        self.try_transfer(sender, chat, recipient, amount, key)
            .unwrap_or_else(|e| panic!("transfer: {e}"))
    }

    pub fn balance(&self, user: &str) -> i64 {
        let me = self.get("/api/v1/users/me", Some(&token(user)));
        me.expect(200);
        me.body["credits"].as_i64().expect("credits")
    }

    /// Every ledger line of `user`, newest first.
    pub fn ledger(&self, user: &str) -> Vec<Value> {
        let mut lines = Vec::new();
        for page in 1.. {
            let resp = self.get(
                &format!("/api/v1/users/me/credits/ledger?limit=100&page={page}"),
                Some(&token(user)),
            );
            resp.expect(200);
            lines.extend(
                resp.body["entries"]
                    .as_array()
                    .expect("entries")
                    .iter()
                    .cloned(),
            );
            if resp.body["hasNextPage"] != true {
                break;
            }
        }
        lines
    }

    /// Every message of a chat, oldest first.
    pub fn all_messages(&self, user: &str, chat: &str) -> Vec<Value> {
        let first = self.messages(user, chat, "limit=100");
        first.expect(200);
        let snapshot = first.body["asOfSequence"].as_i64().expect("asOf");
        let pages = first.body["totalPages"].as_i64().expect("pages");
        let mut all = Vec::new();
        for page in (1..=pages).rev() {
            let resp = self.messages(
                user,
                chat,
                &format!("limit=100&page={page}&asOf={snapshot}"),
            );
            all.extend(
                resp.body["messages"]
                    .as_array()
                    .expect("messages")
                    .iter()
                    .cloned(),
            );
        }
        all
    }
}

/// Sequence numbers of a message list response, in order.
pub fn seqs(resp: &Resp) -> Vec<i64> {
    resp.body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["sequenceNumber"].as_i64().expect("seq"))
        .collect()
}

/// The element of the array `field` of a response whose `_id` is `id`.
fn element(resp: &Resp, field: &str, id: &str) -> Value {
    resp.body[field]
        .as_array()
        .unwrap_or_else(|| panic!("no {field}: {}", resp.text))
        .iter()
        .find(|item| item["_id"] == id)
        .unwrap_or_else(|| panic!("{id} is not in {field}: {}", resp.text))
        .clone()
}

/// The participant `id` of a chat response.
pub fn participant(chat: &Resp, id: &str) -> Value {
    element(chat, "participants", id)
}

/// The entry of chat `id` in a chat-list response.
pub fn chat_entry(list: &Resp, id: &str) -> Value {
    element(list, "chats", id)
}

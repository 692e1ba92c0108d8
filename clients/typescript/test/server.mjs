// Starts the built worker in a real `wrangler dev` (workerd, local D1, the real Durable Object) for the
// package's tests and the web example's browser test, like tests/api/helpers.rs does for the Rust tests.
//
// Process hygiene: wrangler runs under a small bash guard in its own process group. The guard holds a
// pipe from this Node process on its stdin; when this process ends in any way (tests done, a throw, even
// SIGKILL) the pipe closes and the guard stops the whole group. `kill()` SIGKILLs the group at once, as
// in a crash, and keeps the state for a restart on the same port.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { mintToken } from "../../../bench/token.mjs";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const JWT_SECRET = "client-test-secret-0123456789abcdef-0123456789";
export const ADMIN_API_KEY = "client-test-admin-key-0123456789";

const GUARD = join(ROOT, "tests/guard.sh"); // shared with tests/api/helpers.rs

const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");
const running = new Set();
process.on("exit", () => {
  for (const pid of running) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

function wranglerEnv(dir) {
  return {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    WRANGLER_HIDE_BANNER: "true",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_LOG_PATH: join(dir, "wrangler-debug.log"),
    // No devtools inspector proxy (tests/api/helpers.rs says why).
    VSCODE_INSPECTOR_OPTIONS: "off",
  };
}

/** A free port on loopback, for a server that must come back on the same one. */
export function freePort() {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

/** A fresh directory for one server's state. */
export function stateDir(name) {
  return mkdtempSync(join(tmpdir(), `edge-chat-${name}-`));
}

/** An HS256 token for `sub`, signed with the test servers' secret. */
export function token(sub, seconds = 3600) {
  return mintToken({ JWT_SECRET }, sub, seconds);
}

/** A user id no other test uses. */
export function uniqueUser(name) {
  return `${name}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

/**
 * Starts `wrangler dev` on `dir` (migrations applied when new) on `port` (0: any). `vars` go into its own
 * .dev.vars beside the test secrets. `removeOnExit` deletes the state once the server is stopped.
 */
export async function startServer({ dir, port = 0, vars = {}, removeOnExit = true }) {
  const shim = join(ROOT, "build/worker/shim.mjs");
  if (!existsSync(shim)) throw new Error(`${shim} is missing: run \`make build\` first (make test does)`);
  mkdirSync(dir, { recursive: true });
  const config = readFileSync(join(ROOT, "wrangler.toml"), "utf8")
    .replace('main = "build/worker/shim.mjs"', `main = "${shim}"`)
    .replace('migrations_dir = "migrations"', `migrations_dir = "${join(ROOT, "migrations")}"`);
  writeFileSync(join(dir, "wrangler.toml"), config);
  const allVars = {
    JWT_SECRET,
    ADMIN_API_KEY,
    WEBHOOK_SIGNING_KEY: "client-test-webhook-signing-key-0123456789",
    FILE_SIGNING_KEY: "client-test-file-signing-key-0123456789abcd",
    WEBHOOK_ALLOW_LOOPBACK: "true",
    ...vars,
  };
  writeFileSync(
    join(dir, ".dev.vars"),
    Object.entries(allVars)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(""),
  );
  const persist = join(dir, "d1");
  if (!existsSync(persist)) {
    const applied = spawnSync(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist], {
      cwd: dir,
      env: wranglerEnv(dir),
      encoding: "utf8",
    });
    if (applied.status !== 0) throw new Error(`migrations: ${applied.stdout}${applied.stderr}`);
  }
  return launch({ dir, port, persist, removeOnExit });
}

async function launch({ dir, port, persist, removeOnExit }) {
  const logPath = join(dir, `wrangler-${Date.now()}.log`);
  writeFileSync(logPath, "");
  const { openSync } = await import("node:fs");
  const log = openSync(logPath, "a");
  const args = [GUARD, WRANGLER, "dev", "--local", "--ip", "127.0.0.1", "--port", String(port)];
  args.push("--inspector-port", "0", "--persist-to", persist, "--show-interactive-dev-session=false");
  const guard = spawn("bash", args, {
    cwd: dir,
    env: { ...wranglerEnv(dir), REMOVE_ON_EXIT: removeOnExit ? dir : "" },
    stdio: ["pipe", log, log],
    detached: true,
  });
  running.add(guard.pid);
  const exited = new Promise((done) => guard.once("exit", done));
  const deadline = Date.now() + 60_000;
  let url;
  for (;;) {
    const text = readFileSync(logPath, "utf8");
    const at = text.indexOf("Ready on http://");
    if (at >= 0) {
      url = text.slice(at + "Ready on ".length).split(/\s/)[0].replace(/\/$/, "");
      break;
    }
    if (Date.now() > deadline || guard.exitCode !== null) throw new Error(`wrangler dev did not start:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  for (;;) {
    try {
      if ((await fetch(`${url}/health`)).status === 200) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error("the worker never became healthy");
    await new Promise((r) => setTimeout(r, 100));
  }
  const server = {
    url,
    port: Number(new URL(url).port),
    dir,
    output: () => readFileSync(logPath, "utf8"),
    /** Stops the whole group gracefully and waits. */
    async stop() {
      guard.stdin.end();
      await exited;
      running.delete(guard.pid);
    },
    /** SIGKILLs the whole group (a crash) and waits; the state stays for `restart()`. */
    async kill() {
      try {
        process.kill(-guard.pid, "SIGKILL");
      } catch {
        // already gone
      }
      await exited;
      running.delete(guard.pid);
    },
    /** A new server on the same port and state (after `kill()`). */
    restart() {
      return launch({ dir, port: server.port, persist, removeOnExit });
    },
  };
  return server;
}

/** The admin's call: JSON in and out. */
export async function admin(server, method, path, body) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { "X-API-Key": ADMIN_API_KEY, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

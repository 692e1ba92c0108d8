// The web example's dev server (`make demo`): serves dist/ on http://127.0.0.1:8788 beside `make dev`,
// whose API the page calls directly (cross-origin, so CORS_ORIGINS must allow this origin; `*` does).
// It also mints development tokens for local test users from .dev.vars' JWT_SECRET, which never leaves
// this process: the page gets only its user's token. Loopback only; never deployed.
//   DEMO_PORT (8788), EDGE_CHAT_URL (http://127.0.0.1:8787), DEMO_VARS (the project's .dev.vars)
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { mintToken, readVars } from "../../bench/token.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const port = Number(process.env.DEMO_PORT ?? 8788);
const apiUrl = (process.env.EDGE_CHAT_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
const varsFile = process.env.DEMO_VARS ?? join(root, ".dev.vars");
const api = new URL(apiUrl);
const socketOrigin = `${api.protocol === "https:" ? "wss:" : "ws:"}//${api.host}`;
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".map": "application/json" };
const USER = /^[A-Za-z0-9_.:@-]{1,64}$/;

function send(response, status, type, body) {
  response.writeHead(status, {
    "Content-Type": type,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    // The page talks to this server and the API only; uploads preview as blob: URLs.
    "Content-Security-Policy": `default-src 'self'; connect-src 'self' ${api.origin} ${socketOrigin}; img-src 'self' ${api.origin} blob:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`,
  });
  response.end(body);
}

const server = createServer((request, response) => {
  const url = new URL(request.url ?? "/", "http://localhost");
  if (request.method !== "GET") return send(response, 405, "text/plain", "GET only");
  if (url.pathname === "/config.json") return send(response, 200, "application/json", JSON.stringify({ apiUrl }));
  if (url.pathname === "/dev/token") {
    const user = url.searchParams.get("user") ?? "";
    if (!USER.test(user)) return send(response, 400, "text/plain", "user: 1 to 64 characters of A-Z a-z 0-9 _ . : @ -");
    let vars;
    try {
      vars = readVars(varsFile);
    } catch {
      return send(response, 503, "text/plain", `no ${varsFile}: run make dev first (it creates one)`);
    }
    return send(response, 200, "application/json", JSON.stringify({ token: mintToken(vars, user, 12 * 3600) }));
  }
  const path = normalize(url.pathname === "/" ? "/index.html" : url.pathname);
  const file = join(here, "dist", path);
  if (!file.startsWith(join(here, "dist")) || !(extname(file) in TYPES)) return send(response, 404, "text/plain", "not found");
  try {
    send(response, 200, TYPES[extname(file)], readFileSync(file));
  } catch {
    send(response, 404, "text/plain", "not found (npm run build first)");
  }
});

server.listen(port, "127.0.0.1", () => {
  console.log(`edge-chat web example on http://127.0.0.1:${server.address().port} (API ${apiUrl})`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));

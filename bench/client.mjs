// What the TypeScript client's live connection costs (clients/typescript): node bench/client.mjs
// (after `make build` and `npm run build --workspace clients/typescript`; `make bench-client` does both).
//  1. A reconnect that missed nothing: HTTP requests, D1 round trips and rows read of its catch-up.
//  2. A catch-up after MISSED (default 1,000) new messages and 100 edits: requests, rows, time to live.
//  3. Live delivery, send to receipt, through ChatConnection against a bare WebSocket listening in the
//     same run (ROUNDS sends, default 300): p50 and p99, and their ratio.
// Its own wrangler dev (RATE_LIMITS=off), started and stopped by clients/typescript/test/server.mjs.
import { spawnSync } from "node:child_process";

import { ChatConnection, EdgeChat } from "../clients/typescript/dist/index.js";
import { startServer, stateDir, token } from "../clients/typescript/test/server.mjs";

if (typeof WebSocket === "undefined") {
  // Node 20 has WebSocket behind a flag.
  const again = spawnSync(process.execPath, ["--experimental-websocket", ...process.argv.slice(1)], { stdio: "inherit" });
  process.exit(again.status ?? 1);
}

const MISSED = Number(process.env.MISSED ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 300);

/** A fetch that counts requests and sums the D1 cost headers of their answers. */
function metered() {
  const cost = { requests: 0, queries: 0, rowsRead: 0 };
  const fetchFn = async (input, init) => {
    const response = await fetch(input, init);
    cost.requests++;
    cost.queries += Number(response.headers.get("X-D1-Queries") ?? 0);
    cost.rowsRead += Number(response.headers.get("X-D1-Rows-Read") ?? 0);
    return response;
  };
  return { cost, fetchFn };
}

const until = async (check) => {
  while (!check()) await new Promise((r) => setTimeout(r, 2));
};
const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))];

const server = await startServer({ dir: stateDir("bench-client"), vars: { RATE_LIMITS: "off" } });
try {
  const alice = new EdgeChat({ baseUrl: server.url, token: token("alice") });
  const chat = await alice.api.POST("/api/v1/chats", { body: { participantIds: ["bob"] } });
  const chatId = chat.data._id;
  const first = await alice.send({ chatId, content: "first" });

  // 1. A reconnect that missed nothing.
  const quiet = metered();
  const bob = new EdgeChat({ baseUrl: server.url, token: token("bob"), fetch: quiet.fetchFn });
  let connection = bob.connect(chatId, { since: ChatConnection.since([first]) });
  await until(() => connection.state === "live");
  const fresh = { ...quiet.cost };
  connection.close();

  // 2. Missed messages and edits, then a catch-up.
  const sent = [];
  for (let i = 0; i < MISSED; i++) sent.push(await alice.send({ chatId, content: `missed ${i}` }));
  for (let i = 0; i < 100; i++) {
    await alice.api.PATCH("/api/v1/messages/{messageId}", {
      params: { path: { messageId: sent[i * Math.floor(MISSED / 100)]._id } },
      body: { content: `edited ${i}` },
    });
  }
  const catching = metered();
  const bob2 = new EdgeChat({ baseUrl: server.url, token: token("bob"), fetch: catching.fetchFn });
  let delivered = 0;
  const started = performance.now();
  connection = bob2.connect(chatId, { since: ChatConnection.since([first]) });
  connection.on("message", () => delivered++);
  await until(() => connection.state === "live" && delivered >= MISSED);
  const catchUpMs = performance.now() - started;
  const caughtUp = { ...catching.cost, delivered };

  // 3. Live latency: the package's connection and a bare socket, both listening to the same sends.
  const viaPackage = new Map();
  const viaSocket = new Map();
  connection.on("message", (m, change) => change === "created" && viaPackage.set(m.content, performance.now()));
  const raw = new WebSocket(`${server.url.replace("http", "ws")}/api/v1/chats/${chatId}/live?access_token=${token("bob")}`);
  raw.onmessage = (e) => {
    const frame = JSON.parse(e.data);
    if (frame.event === "message.created") viaSocket.set(frame.data.content, performance.now());
  };
  await new Promise((r) => (raw.onopen = r));
  const sentAt = new Map();
  for (let i = 0; i < ROUNDS; i++) {
    const content = `live ${i}`;
    sentAt.set(content, performance.now());
    await alice.send({ chatId, content });
  }
  await until(() => viaPackage.size >= ROUNDS && viaSocket.size >= ROUNDS);
  const latency = (received) => [...sentAt].map(([content, at]) => received.get(content) - at);
  const pkg = latency(viaPackage);
  const sock = latency(viaSocket);
  connection.close();
  raw.close();

  const ms = (v) => `${v.toFixed(1)} ms`;
  console.log(`# ChatConnection (bench/client.mjs), ${new Date().toISOString()}`);
  console.log(`reconnect, nothing missed: ${fresh.requests} request(s), ${fresh.queries} D1 round trips, ${fresh.rowsRead} rows read`);
  console.log(
    `catch-up of ${MISSED} messages + 100 edits: ${caughtUp.requests} requests, ${caughtUp.queries} D1 round trips, ` +
      `${caughtUp.rowsRead} rows read (${(caughtUp.rowsRead / (MISSED + 100)).toFixed(2)} per change), ${ms(catchUpMs)} to live, ` +
      `${caughtUp.delivered} delivered`,
  );
  console.log(
    `live, send to receipt over ${ROUNDS} sends: ChatConnection p50 ${ms(percentile(pkg, 0.5))} p99 ${ms(percentile(pkg, 0.99))}; ` +
      `bare socket p50 ${ms(percentile(sock, 0.5))} p99 ${ms(percentile(sock, 0.99))}; ratio p50 ${(percentile(pkg, 0.5) / percentile(sock, 0.5)).toFixed(2)}`,
  );
} finally {
  await server.stop();
}

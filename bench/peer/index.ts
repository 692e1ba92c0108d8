// The TypeScript peer of bench/edge.sh: a plain Hono worker whose /health answers what edge-chat's does
// after one D1 round trip (`SELECT 1`), with nothing else: no auth, no router of its own. With
// PEER_LOG=on it logs one object per request shaped as edge-chat's request line, so the two can be
// compared with the same logging cost.
import { Hono } from "hono";

type Env = { DB: D1Database; PEER_LOG?: string };

const app = new Hono<{ Bindings: Env }>();

app.get("/health", async (c) => {
  const started = Date.now();
  await c.env.DB.prepare("SELECT 1 AS ok").first();
  const res = c.json({ status: "ok", database: "ok", version: "peer" });
  if (c.env.PEER_LOG === "on") {
    console.log({
      event: "request",
      requestId: crypto.randomUUID(),
      method: "GET",
      route: "/health",
      status: 200,
      durationMs: Date.now() - started,
      d1Queries: 1,
      d1RowsRead: 0,
      d1RowsWritten: 0,
    });
  }
  return res;
});

export default app;

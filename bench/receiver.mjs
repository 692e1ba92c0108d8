// A webhook receiver for bench/webhooks.sh: answers every POST 200 at once and keeps, per event, the
// time from its commit (the event's createdAt) to its receipt here (same machine, same clock).
//   node bench/receiver.mjs <port-file>   GET /stats -> {"count", "p50", "p99", "max"} (ms); POST /reset
import { createServer } from "node:http";
import { writeFileSync } from "node:fs";

let latencies = [];
const seen = new Set();
const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const now = Date.now();
    if (req.method === "POST" && req.url === "/reset") {
      latencies = [];
      seen.clear();
    } else if (req.method === "POST") {
      const event = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      if (!seen.has(event.id)) {
        seen.add(event.id);
        latencies.push(now - Date.parse(event.createdAt));
      }
    } else if (req.url === "/stats") {
      const sorted = [...latencies].sort((a, b) => a - b);
      const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null;
      res.writeHead(200, { "Content-Type": "application/json" });
      return res.end(JSON.stringify({ count: sorted.length, p50: at(0.5), p99: at(0.99), max: at(1) }));
    }
    res.writeHead(200);
    res.end();
  });
});
server.listen(0, "127.0.0.1", () => writeFileSync(process.argv[2], String(server.address().port)));

// Live delivery benchmark (node --experimental-websocket bench/fanout.mjs <base url> <vars file>):
// users fan0..fan50 share the chat printf('%024x', 200) (seeded by bench/run.sh). fan0 sends over HTTP,
// fan1..fanN listen on WebSockets (token in access_token, as browsers do).
// 1. Latency: for 1, 10 and 50 listeners, 100 sequential sends; the time from the start of each POST
//    to each listener's receipt of its message.created event: p50 / p99 over all (message, listener).
// 2. Sustained: 10 listeners, 8 concurrent senders for DURATION seconds: messages/s committed, and a
//    check that every listener got every message, in sequence order.
// Prints markdown table rows.
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";

const [base, varsFile] = process.argv.slice(2);
const seconds = Number(process.env.FANOUT_SECONDS ?? "8");
const chat = (200).toString(16).padStart(24, "0");
const secret = readFileSync(varsFile, "utf8").match(/^JWT_SECRET=(.*)$/m)[1].trim();
const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const token = (sub) => {
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${part({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
};
const sender = token("fan0");
const ws = base.replace("http://", "ws://");

async function listen(count, onMessage) {
  const sockets = [];
  for (let i = 1; i <= count; i++) {
    const socket = new WebSocket(`${ws}/api/v1/chats/${chat}/live?access_token=${token(`fan${i}`)}`);
    socket.onmessage = (e) => {
      const frame = JSON.parse(e.data);
      if (frame.event === "message.created") onMessage(i, frame.data, performance.now());
    };
    await new Promise((ok, fail) => { socket.onopen = ok; socket.onerror = fail; });
    sockets.push(socket);
  }
  return sockets;
}

async function send(content) {
  const response = await fetch(`${base}/api/v1/messages`, {
    method: "POST",
    headers: { Authorization: `Bearer ${sender}`, "Content-Type": "application/json" },
    body: JSON.stringify({ chatId: chat, content }),
  });
  if (response.status !== 201) throw new Error(`${response.status} ${await response.text()}`);
  return response.json();
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const settle = (ms) => new Promise((ok) => setTimeout(ok, ms));

for (const listeners of [1, 10, 50]) {
  const started = new Map();
  const latencies = [];
  const sockets = await listen(listeners, (_, message, at) => {
    const t0 = started.get(message.content);
    if (t0 !== undefined) latencies.push(at - t0);
  });
  const rounds = 100;
  for (let i = 0; i < rounds; i++) {
    const content = `lat-${listeners}-${i}`;
    started.set(content, performance.now());
    await send(content);
  }
  await settle(1000);
  latencies.sort((a, b) => a - b);
  const expected = rounds * listeners;
  console.log(`| latency | ${listeners} | ${rounds} | ${latencies.length}/${expected} | ${percentile(latencies, 50).toFixed(1)} ms | ${percentile(latencies, 99).toFixed(1)} ms |`);
  sockets.forEach((s) => s.close());
  await settle(300);
}

{
  const received = new Map();
  const sockets = await listen(10, (listener, message) => {
    if (!received.has(listener)) received.set(listener, []);
    received.get(listener).push(message.sequenceNumber);
  });
  const deadline = performance.now() + seconds * 1000;
  let sent = 0;
  const first = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 8 }, async (_, w) => {
    let i = 0;
    while (performance.now() < deadline) {
      const m = await send(`load-${w}-${i++}`);
      first.push(m.sequenceNumber);
      sent += 1;
    }
  }));
  const elapsed = (performance.now() - t0) / 1000;
  await settle(1500);
  const lo = Math.min(...first);
  const ordered = [...received.values()].every((seqs) => {
    const mine = seqs.filter((s) => s >= lo);
    return mine.length === sent && mine.every((s, k) => k === 0 || s === mine[k - 1] + 1);
  });
  console.log(`| sustained, 8 senders | 10 | ${sent} in ${elapsed.toFixed(1)} s = ${(sent / elapsed).toFixed(1)} msg/s | every listener got all, in order: ${ordered} | | |`);
  sockets.forEach((s) => s.close());
}
process.exit(0);

// Walks a cursor-mode query to its end by following nextCursor, one request at a time, and reports
// pages, messages, distinct ids, rows read per page (min / max) and pages per second as one JSON line.
// Usage: node bench/walk.mjs <base url> <chat id> <token> <first query, e.g. "updatedAfter=0&limit=100">
const [base, chat, token, query] = process.argv.slice(2);
const limit = new URLSearchParams(query).get("limit") ?? "20";
const seen = new Set();
let [pages, messages, minRows, maxRows, next] = [0, 0, Infinity, 0, query];
const started = performance.now();
while (next !== null) {
  const response = await fetch(`${base}/api/v1/messages/chat/${chat}?${next}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (response.status !== 200) throw new Error(`${response.status} ${await response.text()}`);
  const rows = Number(response.headers.get("x-d1-rows-read"));
  const body = await response.json();
  pages += 1;
  messages += body.messages.length;
  for (const m of body.messages) seen.add(m._id);
  [minRows, maxRows] = [Math.min(minRows, rows), Math.max(maxRows, rows)];
  next = body.nextCursor === null ? null : `cursor=${body.nextCursor}&limit=${limit}`;
}
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ pages, messages, distinct: seen.size, minRows, maxRows, seconds: +seconds.toFixed(1),
  pagesPerSecond: +(pages / seconds).toFixed(1) }));

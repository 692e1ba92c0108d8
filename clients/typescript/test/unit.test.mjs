// Pure logic, no server: Retry-After parsing, backoff, when to retry, and `since` of a loaded page.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ChatConnection, EdgeChatError, retryAfterMs, unwrap } from "../dist/index.js";
import { backoff, Http } from "../dist/http.js";

test("Retry-After is read as seconds or as an HTTP date", () => {
  assert.equal(retryAfterMs("5"), 5000);
  assert.equal(retryAfterMs(" 0 "), 0);
  assert.equal(retryAfterMs(null), null);
  assert.equal(retryAfterMs("soon"), null);
  const now = Date.parse("2026-12-07T10:00:00Z");
  assert.equal(retryAfterMs("Mon, 07 Dec 2026 10:00:30 GMT", now), 30_000);
  assert.equal(retryAfterMs("Mon, 07 Dec 2026 09:00:00 GMT", now), 0);
});

test("backoff doubles from its base up to its cap, with jitter in the upper half", () => {
  assert.equal(backoff(0, 100, 10_000, () => 0), 50);
  assert.equal(backoff(0, 100, 10_000, () => 1), 100);
  assert.equal(backoff(3, 100, 10_000, () => 1), 800);
  assert.equal(backoff(30, 100, 10_000, () => 1), 10_000);
  assert.equal(backoff(30, 100, 10_000, () => 0), 5_000);
});

test("only 429 and 503 are retried, within the tries and the longest wait allowed", () => {
  const http = new Http({ retry: { retries: 2, maxRetryAfterMs: 10_000 } });
  assert.equal(http.retryDelay(429, "3", 0), 3000);
  assert.equal(http.retryDelay(503, "1", 1), 1000);
  assert.equal(http.retryDelay(503, "1", 2), null, "out of tries");
  assert.equal(http.retryDelay(429, "60", 0), null, "longer than allowed: the caller gets the error");
  assert.equal(http.retryDelay(500, "1", 0), null);
  assert.equal(http.retryDelay(422, null, 0), null);
  const wait = http.retryDelay(503, null, 0);
  assert.ok(wait !== null && wait >= 500 && wait <= 1000, `no Retry-After: a backoff (${wait})`);
});

test("a failed call unwraps into an EdgeChatError with the envelope's messages", () => {
  const response = new Response(null, {
    status: 429,
    headers: { "X-Request-Id": "req-1", "Retry-After": "7" },
  });
  const envelope = { isSuccess: false, statusCode: 429, data: null, errors: ["Too many requests"], timestamp: "" };
  assert.throws(
    () => unwrap({ error: envelope, response }),
    (e) =>
      e instanceof EdgeChatError &&
      e.status === 429 &&
      e.errors[0] === "Too many requests" &&
      e.requestId === "req-1" &&
      e.retryAfterMs === 7000 &&
      e.kind === "http",
  );
  const proxy = new Response(null, { status: 502, statusText: "Bad Gateway" });
  assert.throws(() => unwrap({ error: "<html>", response: proxy }), (e) => e.errors[0] === "502 Bad Gateway");
  assert.deepEqual(unwrap({ data: { ok: 1 }, response: new Response("{}") }), { ok: 1 });
});

test("since() takes the newest message and the latest change of a page", () => {
  const m = (seq, id, updatedAt) => ({ sequenceNumber: seq, _id: id, updatedAt });
  const since = ChatConnection.since([
    m(3, "c", "2026-01-01T00:00:03.000Z"),
    m(1, "a", "2026-01-01T00:00:09.000Z"),
    m(2, "b", "2026-01-01T00:00:02.000Z"),
  ]);
  assert.deepEqual(since, {
    sequenceNumber: 3,
    messageId: "c",
    updatedAt: Date.parse("2026-01-01T00:00:09.000Z"),
  });
  assert.deepEqual(ChatConnection.since([]), { sequenceNumber: 0, messageId: null, updatedAt: -1 });
});

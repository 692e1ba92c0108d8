// The package against the real worker: typed calls and errors, Retry-After, uploads, and live
// connections that catch up after a lost network or a lost frame without losing or repeating anything.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";

import { ChatConnection, EdgeChatError, unwrap } from "../dist/index.js";
import { clientFor, FlakySocket, record, waitFor } from "./helpers.mjs";
import { admin, startServer, stateDir, uniqueUser } from "./server.mjs";

const ORIGIN = "http://app.example.test";
let server;

before(async () => {
  server = await startServer({ dir: stateDir("client"), vars: { CORS_ORIGINS: ORIGIN } });
});
after(async () => {
  await server?.stop();
});

async function directChat(alice, bobId) {
  const { data } = await alice.api.POST("/api/v1/chats", { body: { participantIds: [bobId] } });
  assert.ok(data, "chat created");
  return data._id;
}

test("every route is a typed call; failures are EdgeChatErrors with the envelope's messages", async () => {
  const alice = clientFor(server, uniqueUser("alice"));
  const chatId = await directChat(alice, uniqueUser("bob"));
  const sent = await alice.send({ chatId, content: "hello" });
  assert.equal(sent.sequenceNumber, 1);
  assert.match(sent.clientMessageId ?? "", /^[0-9a-f]{24}$/, "a send gets a clientMessageId for its retries");
  const page = unwrap(await alice.api.GET("/api/v1/messages/chat/{chatId}", { params: { path: { chatId } } }));
  assert.deepEqual(
    page.messages.map((m) => m.content),
    ["hello"],
  );

  const bad = await alice.api.GET("/api/v1/chats/{chatId}", { params: { path: { chatId: "not-an-id" } } });
  assert.equal(bad.response.status, 400);
  assert.throws(
    () => unwrap(bad),
    (e) => e instanceof EdgeChatError && e.status === 400 && /chatId/.test(e.errors.join()) && e.requestId !== null,
  );
  const missing = await alice.api.GET("/api/v1/chats/{chatId}", {
    params: { path: { chatId: "64d15f9e2e6c8f4d5a123456" } },
  });
  assert.throws(() => unwrap(missing), (e) => e.status === 404 && e.errors.length > 0);
  await assert.rejects(
    alice.send({ chatId, content: "" }),
    (e) => e instanceof EdgeChatError && e.status === 400 && /content/.test(e.errors.join()),
  );
  // A server that cannot be reached is an EdgeChatError too, of kind "network".
  const nowhere = clientFor({ url: "http://127.0.0.1:9" }, "alice", { retry: { retries: 0 } });
  await assert.rejects(
    nowhere.send({ chatId, content: "x" }, { retryForMs: 0 }),
    (e) => e instanceof EdgeChatError && e.kind === "network" && e.status === 0,
  );
});

test("a 503 with Retry-After is waited out and retried; one longer than allowed is returned", async () => {
  // A fail-closed before-send hook that fails once: the first send is a 503 with Retry-After.
  let calls = 0;
  const hook = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      calls++;
      response.writeHead(calls === 1 ? 500 : 200, { "Content-Type": "application/json" });
      response.end(JSON.stringify({ action: "allow" }));
    });
  });
  await new Promise((r) => hook.listen(0, "127.0.0.1", r));
  try {
    const project = `hooked${Date.now()}`;
    const key = await admin(server, "POST", "/api/v1/admin/api-keys", {
      name: "hook",
      projectId: project,
      beforeSendUrl: `http://127.0.0.1:${hook.address().port}/hook`,
      beforeSendFailClosed: true,
    });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    const alice = clientFor(server, uniqueUser("alice"));
    const { data: chat } = await alice.api.POST("/api/v1/chats", {
      body: { participantIds: [uniqueUser("bob")], projectId: project },
    });
    const started = Date.now();
    const message = await alice.send({ chatId: chat._id, content: "through the hook" });
    const waited = Date.now() - started;
    assert.equal(message.content, "through the hook");
    assert.equal(calls, 2, "asked again after the wait");
    assert.ok(waited >= 4_900, `waited ${waited} ms for Retry-After: 5`);

    // Told to wait no longer than 1 s, the same 503 comes back as the error, with its Retry-After.
    calls = 0;
    const impatient = clientFor(server, uniqueUser("carol"), { retry: { maxRetryAfterMs: 1_000 } });
    const { data: other } = await impatient.api.POST("/api/v1/chats", {
      body: { participantIds: [uniqueUser("dan")], projectId: project },
    });
    await assert.rejects(
      impatient.send({ chatId: other._id, content: "once" }),
      (e) => e.status === 503 && e.retryAfterMs === 5_000 && e.errors.length > 0,
    );
  } finally {
    hook.close();
  }
});

test("uploads report progress, and a message carries the file", async () => {
  const alice = clientFor(server, uniqueUser("alice"));
  const bobId = uniqueUser("bob");
  const chatId = await directChat(alice, bobId);
  const bytes = new Uint8Array(200_000).map((_, i) => (i * 7) % 251);
  const progress = [];
  const { file, message } = await alice.sendFile(chatId, bytes, {
    name: "photo.png",
    contentType: "image/png",
    onProgress: (p) => progress.push(p),
    message: { content: "a photo" },
  });
  assert.equal(file.size, bytes.length);
  assert.deepEqual(progress.at(-1), { loaded: bytes.length, total: bytes.length });
  assert.equal(message.type, "media");
  assert.equal(message.media?.type, "image");
  assert.equal(message.content, "a photo");
  const download = await fetch(message.media?.url ?? "");
  assert.equal(download.status, 200);
  assert.deepEqual(new Uint8Array(await download.arrayBuffer()), bytes);
  // A file that is not an image goes as a `file` message.
  const { message: doc } = await alice.sendFile(chatId, new Blob(["%PDF-1.4"], { type: "application/pdf" }), {
    name: "notes.pdf",
  });
  assert.equal(doc.type, "file");
  assert.equal(doc.media?.name, "notes.pdf");
  await assert.rejects(
    alice.upload(chatId, new Uint8Array(0), { name: "empty.txt" }),
    (e) => e instanceof EdgeChatError && e.status === 400,
  );
});

test("what the package sends and reads passes CORS for an allowed origin, and nothing for another", async () => {
  const preflight = (origin) =>
    fetch(`${server.url}/api/v1/messages`, {
      method: "OPTIONS",
      headers: {
        Origin: origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-d1-bookmark,x-api-key",
      },
    });
  const allowed = await preflight(ORIGIN);
  const headers = (allowed.headers.get("Access-Control-Allow-Headers") ?? "").toLowerCase();
  for (const name of ["authorization", "content-type", "x-d1-bookmark", "x-api-key"]) {
    assert.ok(headers.includes(name), `${name} may be sent (${headers})`);
  }
  const alice = clientFor(server, uniqueUser("alice"));
  const answer = await fetch(`${server.url}/api/v1/users/me`, {
    headers: { Origin: ORIGIN, Authorization: (await alice.http.headers()).Authorization },
  });
  assert.equal(answer.headers.get("Access-Control-Allow-Origin"), ORIGIN);
  const exposed = (answer.headers.get("Access-Control-Expose-Headers") ?? "").toLowerCase();
  for (const name of ["retry-after", "x-request-id", "x-d1-bookmark"]) {
    assert.ok(exposed.includes(name), `${name} may be read (${exposed})`);
  }
  const other = await preflight("http://elsewhere.example.test");
  assert.equal(other.headers.get("Access-Control-Allow-Origin"), null);
  assert.equal(other.headers.get("Access-Control-Allow-Headers"), null);
});

test("a live connection delivers messages, edits, reactions, typing and presence as they happen", async () => {
  const aliceId = uniqueUser("alice");
  const bobId = uniqueUser("bob");
  const alice = clientFor(server, aliceId);
  const bob = clientFor(server, bobId);
  const chatId = await directChat(alice, bobId);
  const first = await alice.send({ chatId, content: "before" });
  const page = unwrap(await bob.api.GET("/api/v1/messages/chat/{chatId}", { params: { path: { chatId } } }));
  const listening = bob.connect(chatId, { since: ChatConnection.since(page.messages) });
  const got = record(listening);
  await waitFor(() => listening.state === "live", "bob live");
  const talking = alice.connect(chatId);
  const aliceGot = record(talking);
  await waitFor(() => talking.state === "live", "alice live");
  await waitFor(() => got.presence.at(-1)?.includes(aliceId), "alice shown online to bob");

  const sent = [];
  for (const content of ["one", "two", "three"]) sent.push(await alice.send({ chatId, content }));
  talking.typing(true);
  await bob.api.PUT("/api/v1/messages/{messageId}/reactions/{key}", {
    params: { path: { messageId: first._id, key: "👍" } },
  });
  await alice.api.PATCH("/api/v1/messages/{messageId}", {
    params: { path: { messageId: sent[0]._id } },
    body: { content: "one, edited" },
  });
  await waitFor(() => got.messages.length >= 4 && got.typing.length > 0, "bob's events");
  await waitFor(() => aliceGot.reactions.length > 0, "alice's reaction event");
  assert.deepEqual(
    got.created().map((m) => [m.sequenceNumber, m.content]),
    [
      [2, "one"],
      [3, "two"],
      [4, "three"],
    ],
  );
  const edit = got.messages.find((e) => e.change === "updated" && e.message._id === sent[0]._id);
  assert.equal(edit?.message.content, "one, edited");
  assert.deepEqual(got.typing[0], { chatId, userId: aliceId, typing: true });
  assert.equal(aliceGot.reactions[0].key, "👍");
  assert.deepEqual(aliceGot.reactions[0].reactionCounts, { "👍": 1 });
  assert.equal(got.created().filter((m) => m.content === "before").length, 0, "the page's message is not repeated");

  talking.close();
  await waitFor(() => got.presence.at(-1) && !got.presence.at(-1).includes(aliceId), "alice gone offline");
  listening.close();
  assert.equal(listening.state, "closed");
  assert.deepEqual(got.errors, []);
});

test("after a lost network the connection catches up: each write once, new messages in order", async () => {
  const aliceId = uniqueUser("alice");
  const bobId = uniqueUser("bob");
  const alice = clientFor(server, aliceId);
  const bob = clientFor(server, bobId, { WebSocket: FlakySocket });
  const chatId = await directChat(alice, bobId);
  const old = [];
  for (const content of ["a", "b", "c"]) old.push(await alice.send({ chatId, content }));
  const listening = bob.connect(chatId, { since: ChatConnection.since(old), backoffMs: 100, maxBackoffMs: 300 });
  const got = record(listening);
  await waitFor(() => listening.state === "live", "bob live");

  FlakySocket.cut();
  await waitFor(() => listening.state === "offline", "bob offline");
  // While bob is away: 150 new messages (two catch-up pages), an edit, a delete, a pin, a reaction.
  const fresh = [];
  for (let i = 1; i <= 150; i++) fresh.push(await alice.send({ chatId, content: `new ${i}` }));
  // A new message changed after later ones were sent: the sync window has it last, yet it comes in turn.
  await alice.api.PATCH("/api/v1/messages/{messageId}", {
    params: { path: { messageId: fresh[0]._id } },
    body: { content: "new 1, edited" },
  });
  await alice.api.PATCH("/api/v1/messages/{messageId}", {
    params: { path: { messageId: old[0]._id } },
    body: { content: "a, edited" },
  });
  await alice.api.DELETE("/api/v1/messages/{messageId}", { params: { path: { messageId: old[1]._id } } });
  await alice.api.PUT("/api/v1/messages/{messageId}/pin", { params: { path: { messageId: old[2]._id } } });
  await alice.api.PUT("/api/v1/messages/{messageId}/reactions/{key}", {
    params: { path: { messageId: old[2]._id, key: "party" } },
  });
  FlakySocket.offline = false;
  await waitFor(
    () => got.created().length >= 150 && listening.state === "live",
    () => `bob caught up (${got.created().length} new, states ${got.states}, errors ${got.errors})`,
    30_000,
  );
  // And live again afterwards.
  await alice.send({ chatId, content: "after" });
  await waitFor(() => got.created().length === 151, "the next message live");

  const created = got.created();
  assert.deepEqual(
    created.map((m) => m.sequenceNumber),
    Array.from({ length: 151 }, (_, i) => i + 4),
  );
  assert.equal(created.at(-1).content, "after");
  assert.equal(created[0].content, "new 1, edited", "a new message comes once, as it is now");
  assert.equal(new Set(created.map((m) => m._id)).size, 151);
  const changes = got.messages.filter((e) => e.change !== "created");
  assert.deepEqual(
    changes.map((e) => [e.change, e.message._id]),
    [
      ["updated", old[0]._id],
      ["deleted", old[1]._id],
      ["updated", old[2]._id],
    ],
    "each change of an old message once, the pin and the reaction in its latest version",
  );
  assert.equal(changes[0].message.content, "a, edited");
  assert.ok(changes[2].message.pinnedAt);
  assert.deepEqual(changes[2].message.reactionCounts, { party: 1 });
  assert.ok(got.states.includes("offline") && got.states.includes("syncing"));
  listening.close();
});

test("a lost frame is a gap in sequence numbers, and the connection fills it", async () => {
  const alice = clientFor(server, uniqueUser("alice"));
  const bobId = uniqueUser("bob");
  const bob = clientFor(server, bobId, { WebSocket: FlakySocket });
  const chatId = await directChat(alice, bobId);
  const listening = bob.connect(chatId);
  const got = record(listening);
  await waitFor(() => listening.state === "live", "bob live");
  await alice.send({ chatId, content: "1" });
  await waitFor(() => got.created().length === 1, "the first");
  FlakySocket.dropNext(2);
  for (const content of ["2", "3", "4", "5"]) await alice.send({ chatId, content });
  await waitFor(() => got.created().length === 5, "all five", 10_000);
  assert.deepEqual(
    got.created().map((m) => m.content),
    ["1", "2", "3", "4", "5"],
  );
  assert.equal(FlakySocket.dropping, 0, "two frames were lost on the way");
  assert.ok(got.states.filter((s) => s === "syncing").length >= 2, "a catch-up for the gap");
  listening.close();
});

test("pings keep a quiet socket; a socket whose pongs stop coming is replaced and caught up", async () => {
  const alice = clientFor(server, uniqueUser("alice"));
  const bobId = uniqueUser("bob");
  const bob = clientFor(server, bobId, { WebSocket: FlakySocket });
  const chatId = await directChat(alice, bobId);
  const listening = bob.connect(chatId, { pingIntervalMs: 700, backoffMs: 100, maxBackoffMs: 200 });
  const got = record(listening);
  await waitFor(() => listening.state === "live", "bob live");
  // Several pings answered (within the socket's frame limit): still the first connection.
  await new Promise((r) => setTimeout(r, 2_500));
  assert.deepEqual(got.states, ["syncing", "live"], "no reconnect while pongs come back");
  FlakySocket.swallowPongs = true;
  await waitFor(() => got.states.includes("offline"), "the silent socket dropped", 5_000);
  FlakySocket.swallowPongs = false;
  await alice.send({ chatId, content: "still here" });
  await waitFor(() => got.created().length === 1 && listening.state === "live", "caught up on a new socket");
  assert.equal(got.created()[0].content, "still here");
  listening.close();
});

test("removed from a group, the connection closes for good instead of reconnecting", async () => {
  const alice = clientFor(server, uniqueUser("alice"));
  const bobId = uniqueUser("bob");
  const bob = clientFor(server, bobId);
  const group = unwrap(
    await alice.api.POST("/api/v1/chats", {
      body: { participantIds: [bobId, uniqueUser("carol")], type: "group", title: "t" },
    }),
  );
  const listening = bob.connect(group._id, { backoffMs: 50 });
  const reasons = [];
  listening.on("state", (state, reason) => reasons.push([state, reason]));
  await waitFor(() => listening.state === "live", "bob live");
  unwrap(
    await alice.api.DELETE("/api/v1/chats/{chatId}/members/{userId}", {
      params: { path: { chatId: group._id, userId: bobId } },
    }),
  );
  await waitFor(() => listening.state === "closed", "closed");
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(reasons.at(-1), ["closed", "removed"]);
  assert.equal(listening.state, "closed", "no reconnect after removal");
});

test("a catch-up costs one request when nothing was missed, and fills what its window cannot see", async () => {
  const alice = clientFor(server, uniqueUser("alice"));
  const bobId = uniqueUser("bob");
  const chatId = await directChat(alice, bobId);
  const sent = [];
  for (const content of ["1", "2", "3", "4", "5"]) sent.push(await alice.send({ chatId, content }));
  const cost = { requests: 0, queries: 0 };
  const metered = async (input, init) => {
    const response = await fetch(input, init);
    cost.requests++;
    cost.queries += Number(response.headers.get("X-D1-Queries"));
    return response;
  };
  const bob = clientFor(server, bobId, { fetch: metered });
  const upToDate = bob.connect(chatId, { since: ChatConnection.since(sent) });
  await waitFor(() => upToDate.state === "live", "live");
  assert.deepEqual(cost, { requests: 1, queries: 1 }, "one request, one D1 round trip");
  upToDate.close();

  // A `since` whose time is ahead of its sequence number (message 1 as edited after 2 to 5 were sent):
  // the window shows nothing new, the message count shows 4 missing, and they come by sequence number.
  const edited = unwrap(
    await alice.api.PATCH("/api/v1/messages/{messageId}", {
      params: { path: { messageId: sent[0]._id } },
      body: { content: "1, edited" },
    }),
  );
  const behind = bob.connect(chatId, { since: ChatConnection.since([edited]) });
  const got = record(behind);
  await waitFor(() => behind.state === "live" && got.created().length === 4, "the four after it");
  assert.deepEqual(
    got.created().map((m) => m.content),
    ["2", "3", "4", "5"],
  );
  assert.deepEqual(
    got.messages.filter((e) => e.change !== "created"),
    [],
    "nothing else",
  );
  behind.close();
});

test("past the rate limit, a 429 whose Retry-After is longer than allowed comes back as the error", async () => {
  const userId = uniqueUser("busy");
  const busy = clientFor(server, userId, { retry: { maxRetryAfterMs: 0 } });
  const chatId = await directChat(busy, uniqueUser("peer"));
  const { _id: messageId } = await busy.send({ chatId, content: "react to me" });
  // A user's 300 writes a minute (API.md "Rate limits"): spend them on an idempotent reaction, then
  // send at once. A new minute may begin between the two (the send then passes): then once more.
  let limited = null;
  let refused = null;
  for (let round = 0; round < 2 && !refused; round++) {
    limited = null;
    for (let i = 0; i < 700 && !limited; i++) {
      const result = await busy.api.PUT("/api/v1/messages/{messageId}/reactions/{key}", {
        params: { path: { messageId, key: "ok" } },
      });
      if (result.response.status === 429) limited = result;
      else unwrap(result);
    }
    assert.ok(limited, "the limit was reached");
    refused = await busy.send({ chatId, content: `one more ${round}` }).then(
      () => null,
      (e) => e,
    );
  }
  assert.throws(
    () => unwrap(limited),
    (e) => e instanceof EdgeChatError && e.status === 429 && e.retryAfterMs > 0 && e.errors.length > 0,
  );
  assert.ok(
    refused instanceof EdgeChatError && refused.status === 429 && refused.retryAfterMs > 0,
    `the send was refused with its Retry-After: ${refused}`,
  );
});

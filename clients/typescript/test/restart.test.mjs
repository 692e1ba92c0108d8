// The server is killed (SIGKILL of its whole process group: no shutdown of any kind) and restarted on
// the same port and state while one client sends and another listens. The sender's retries reuse each
// message's clientMessageId and the listener reconnects and catches up: in the end the listener has
// every message exactly once, in sequence order, and so does the server.
import assert from "node:assert/strict";
import { after, test } from "node:test";

import { unwrap } from "../dist/index.js";
import { clientFor, record, waitFor } from "./helpers.mjs";
import { freePort, startServer, stateDir, uniqueUser } from "./server.mjs";

const TOTAL = 60;
let server;
after(async () => {
  await server?.stop();
});

test("killed and restarted mid-conversation, the listener ends with every message once, in order", async () => {
  server = await startServer({ dir: stateDir("restart"), port: await freePort() });
  const aliceId = uniqueUser("alice");
  const bobId = uniqueUser("bob");
  const alice = clientFor(server, aliceId, { retry: { backoffMs: 100, maxBackoffMs: 1_000 } });
  const bob = clientFor(server, bobId);
  const { data: chat } = await alice.api.POST("/api/v1/chats", { body: { participantIds: [bobId] } });
  const chatId = chat._id;
  const listening = bob.connect(chatId, { backoffMs: 200, maxBackoffMs: 1_000 });
  const got = record(listening);
  await waitFor(() => listening.state === "live", "bob live");

  // Two crashes: one while a send is in flight (fired at a random moment of the 20th), one between sends.
  let sent = 0;
  const sending = (async () => {
    for (let i = 1; i <= TOTAL; i++) {
      const message = alice.send({ chatId, content: `m${i}` }, { retryForMs: 120_000 });
      if (i === 20 || i === 45) {
        await new Promise((r) => setTimeout(r, i === 20 ? Math.random() * 8 : 0));
        await server.kill();
        server = await server.restart();
      }
      await message;
      sent = i;
    }
  })();
  await sending;
  assert.equal(sent, TOTAL);
  await waitFor(
    () => got.created().length >= TOTAL && listening.state === "live",
    () => `every message at bob (${got.created().length}, states ${got.states.join(",")})`,
    60_000,
  );
  // Anything late would show up now.
  await new Promise((r) => setTimeout(r, 500));

  const created = got.created();
  assert.deepEqual(
    created.map((m) => m.sequenceNumber),
    Array.from({ length: TOTAL }, (_, i) => i + 1),
  );
  assert.deepEqual(
    created.map((m) => m.content),
    Array.from({ length: TOTAL }, (_, i) => `m${i + 1}`),
  );
  assert.equal(new Set(created.map((m) => m._id)).size, TOTAL);
  assert.ok(got.states.filter((s) => s === "offline").length >= 2, `reconnected twice: ${got.states}`);
  // The server agrees: each message stored once.
  const page = unwrap(
    await bob.api.GET("/api/v1/messages/chat/{chatId}", { params: { path: { chatId }, query: { limit: 100 } } }),
  );
  assert.equal(page.total, TOTAL);
  listening.close();
});

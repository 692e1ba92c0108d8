// The web example in a real browser (Debian's Chromium, headless) against a real `wrangler dev`: two
// pages as two users send, see messages arrive live, react, reply, pin, upload an image and see it
// render, search and jump, manage a group's members, and go offline and back online without losing or
// repeating a message. Also: CORS as configured, and no secret but the user's own token in the browser.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { ADMIN_API_KEY, JWT_SECRET, freePort, ROOT, startServer, stateDir, uniqueUser } from "../../../clients/typescript/test/server.mjs";
import { readVars } from "../../../bench/token.mjs";
import { launch } from "./browser.mjs";

const here = dirname(fileURLToPath(import.meta.url));
let server;
let demo;
let demoUrl;
let browser;
const demoBodies = [];

before(async () => {
  const demoPort = await freePort();
  demoUrl = `http://127.0.0.1:${demoPort}`;
  server = await startServer({ dir: stateDir("web"), vars: { CORS_ORIGINS: demoUrl } });
  // The page's dev server, in its own process group, stopped in `after` (and with this process).
  demo = spawn(process.execPath, [join(here, "../serve.mjs")], {
    env: { ...process.env, DEMO_PORT: String(demoPort), EDGE_CHAT_URL: server.url, DEMO_VARS: join(server.dir, ".dev.vars") },
    stdio: ["ignore", "pipe", "inherit"],
    detached: true,
  });
  process.on("exit", () => {
    try {
      process.kill(-demo.pid, "SIGKILL");
    } catch {
      // gone
    }
  });
  await new Promise((resolve) => demo.stdout.once("data", resolve));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  if (demo) process.kill(-demo.pid, "SIGTERM");
  await server?.stop();
});

/** A page signed in as `user`, recording what the demo server sent it. */
async function signedIn(user) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error(`[${user}] page error:`, error.message));
  page.on("response", async (response) => {
    if (response.url().startsWith(demoUrl)) demoBodies.push(await response.text().catch(() => ""));
  });
  await page.goto(demoUrl);
  await page.fill("#user", user);
  await page.click("#sign-in button[type=submit]");
  await page.waitForSelector("#app:not([hidden])");
  return { context, page };
}

/** The sequence numbers and texts of the messages a page shows, in order. */
function shown(page) {
  return page.$$eval("#messages li[data-seq]", (items) =>
    items.map((li) => ({
      seq: Number(li.getAttribute("data-seq")),
      text: li.querySelector(".content")?.textContent ?? null,
    })),
  );
}

async function send(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
  await page.waitForFunction((t) => [...document.querySelectorAll("#messages .content")].some((e) => e.textContent === t), text);
}

/** An image drawn in the page itself, as PNG bytes. */
async function drawnImage(page) {
  const data = await page.evaluate(() => {
    const canvas = document.createElement("canvas");
    canvas.width = 240;
    canvas.height = 140;
    const g = canvas.getContext("2d");
    const gradient = g.createLinearGradient(0, 0, 240, 140);
    gradient.addColorStop(0, "#f38020");
    gradient.addColorStop(1, "#faad3f");
    g.fillStyle = gradient;
    g.fillRect(0, 0, 240, 140);
    g.fillStyle = "#fff";
    g.font = "bold 28px sans-serif";
    g.fillText("edge-chat", 52, 80);
    return canvas.toDataURL("image/png").split(",")[1];
  });
  return Buffer.from(data, "base64");
}

test("two users chat live in the browser: send, react, reply, pin, upload, search, offline and back", async () => {
  // Plain names (each run has a fresh server): this page is the README's screenshot.
  const aliceId = "alice";
  const bobId = "bob";
  const alice = await signedIn(aliceId);
  const bob = await signedIn(bobId);
  const A = alice.page;
  const B = bob.page;

  // Alice starts a direct chat with Bob; it appears in Bob's chat list (with its unread count) on its own.
  await A.fill("#new-chat-users", bobId);
  await A.click("#new-chat button[type=submit]");
  await A.waitForSelector("#chat:not([hidden]) #conn-state.live");
  await send(A, "hello bob");
  await B.waitForSelector("#chats li[data-chat] .badge.unread", { timeout: 15_000 });
  assert.equal(await B.textContent("#chats li[data-chat] .badge.unread"), "1");
  await B.click("#chats li[data-chat]");
  await B.waitForSelector("#conn-state.live");

  // Live: a message, typing, presence.
  await A.waitForFunction((id) => document.querySelector("#chat-online")?.textContent?.includes(id), bobId);
  await send(A, "are you there?");
  await B.waitForFunction(() => [...document.querySelectorAll("#messages .content")].some((e) => e.textContent === "are you there?"));
  await A.fill("#text", "typing something");
  await B.waitForFunction((id) => document.querySelector("#typing")?.textContent?.includes(id), aliceId);
  await A.fill("#text", "");

  // Bob reacts, and Alice sees the count live.
  const question = B.locator("#messages li.message", { hasText: "are you there?" });
  await question.hover();
  await question.locator('[data-react="👍"]').click();
  await A.waitForFunction(() => document.querySelector('#messages [data-reaction="👍"]')?.textContent === "👍 1");

  // Bob replies to it; Alice sees the reply with its parent.
  await question.hover();
  await question.locator("button", { hasText: "Reply" }).click();
  await send(B, "yes, here");
  await A.waitForFunction(() =>
    [...document.querySelectorAll("#messages .reply-to")].some((e) => e.textContent?.includes("are you there?")),
  );

  // Alice pins her first message; both see the pin bar.
  const first = A.locator("#messages li.message", { hasText: "hello bob" });
  await first.hover();
  await first.locator("button", { hasText: "Pin" }).click();
  await A.waitForSelector("#pins:not([hidden]) a");
  await B.waitForFunction(() => document.querySelector("#messages li.message")?.textContent?.includes("📌"));

  // Alice uploads an image: a preview before sending, then it renders on both pages.
  const png = await drawnImage(A);
  await A.setInputFiles("#file", { name: "banner.png", mimeType: "image/png", buffer: png });
  await A.waitForFunction(() => {
    const img = document.querySelector("#attachment-preview");
    return img && !img.hidden && img.src.startsWith("blob:") && img.naturalWidth === 240;
  });
  await A.fill("#text", "our banner");
  await A.press("#text", "Enter");
  for (const page of [A, B]) {
    await page.waitForFunction(
      () => {
        const img = document.querySelector("#messages li.message img");
        return img && img.complete && img.naturalWidth === 240 && img.naturalHeight === 140;
      },
      null,
      { timeout: 15_000 },
    );
  }
  assert.equal(await A.$eval("#upload-progress", (p) => p.value), 0, "the composer is cleared after sending");
  assert.equal(await A.textContent("#composer-status"), "banner.png sent (100%)", "upload progress reached the end");

  // Bob goes offline; Alice sends three messages; Bob comes back and has each once, in order.
  await bob.context.setOffline(true);
  await B.waitForSelector("#conn-state.offline");
  for (const text of ["while you were away 1", "while you were away 2", "while you were away 3"]) await send(A, text);
  await bob.context.setOffline(false);
  await B.waitForFunction(
    () => [...document.querySelectorAll("#messages .content")].some((e) => e.textContent === "while you were away 3"),
    null,
    { timeout: 30_000 },
  );
  await B.waitForSelector("#conn-state.live");
  const onB = await shown(B);
  const onA = await shown(A);
  assert.deepEqual(
    onB.map((m) => m.seq),
    onB.map((_, i) => i + 1),
    "Bob has every sequence number once, in order",
  );
  assert.deepEqual(onB, onA, "and the same messages as Alice");
  assert.deepEqual(
    onB.slice(-3).map((m) => m.text),
    ["while you were away 1", "while you were away 2", "while you were away 3"],
  );

  // Search, and jump to the hit.
  await B.fill("#search-q", "hello");
  await B.press("#search-q", "Enter");
  await B.waitForSelector("#search-results li[data-result] mark");
  await B.click("#search-results li[data-result]");
  await B.waitForSelector("#messages li.message.flash");
  assert.match(await B.textContent("#messages li.message.flash"), /hello bob/);

  // Nothing secret reached either browser: the demo server's answers hold no secret, the storage only a name.
  const vars = readVars(join(server.dir, ".dev.vars"));
  const secrets = [JWT_SECRET, ADMIN_API_KEY, vars.FILE_SIGNING_KEY, vars.WEBHOOK_SIGNING_KEY];
  assert.ok(secrets.every((secret) => secret && secret.length >= 20), "the secrets looked for");
  for (const body of [...demoBodies, ...readdirSync(join(here, "../dist")).map((f) => readFileSync(join(here, "../dist", f), "utf8"))]) {
    for (const secret of secrets) assert.ok(!body.includes(secret), "a secret reached the browser");
  }
  const stored = await A.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
  assert.equal(stored, JSON.stringify({ "edge-chat-user": aliceId }));

  // The README's screenshot (written to target/; `make demo-screenshot` copies it to docs/).
  await A.click(`#chats li[data-chat]`);
  await A.waitForSelector("#conn-state.live");
  await B.fill("#text", "…");
  await A.waitForFunction(() => document.querySelector("#typing")?.textContent);
  mkdirSync(join(ROOT, "target"), { recursive: true });
  await A.screenshot({ path: join(ROOT, "target/web-demo.png") });
  await alice.context.close();
  await bob.context.close();
});


test("a group's members are managed from the page, and every change shows live", async () => {
  const owner = uniqueUser("olga");
  const bobId = uniqueUser("bob");
  const carolId = uniqueUser("carol");
  const olga = await signedIn(owner);
  const bob = await signedIn(bobId);
  const O = olga.page;
  await O.fill("#new-chat-users", `${bobId}, ${carolId}`);
  await O.fill("#new-chat-title", "Team");
  await O.click("#new-chat button[type=submit]");
  await O.waitForSelector("#conn-state.live");
  assert.equal(await O.textContent("#chat-title"), "Team");
  await O.click("#toggle-members");
  await O.locator(`#member-list li[data-member="${bobId}"] button`, { hasText: "Make admin" }).click();
  await O.waitForFunction((id) => document.querySelector(`#member-list li[data-member="${id}"] .role`)?.textContent === "admin", bobId);
  await O.locator(`#member-list li[data-member="${carolId}"] button`, { hasText: "Remove" }).click();
  await O.waitForFunction((id) => !document.querySelector(`#member-list li[data-member="${id}"]`), carolId);
  await O.fill("#add-member-id", "dave-" + carolId);
  await O.click("#add-member button[type=submit]");
  await O.waitForFunction(() => document.querySelectorAll("#member-list li").length === 3);
  await O.fill("#rename-title", "Team two");
  await O.click("#rename button[type=submit]");
  await O.waitForFunction(() => document.querySelector("#chat-title")?.textContent === "Team two");

  // Bob (now an admin) opens it and sees the history of changes as system messages, and the new title.
  const B = bob.page;
  await B.waitForSelector("#chats li[data-chat]", { timeout: 15_000 });
  await B.click("#chats li[data-chat]");
  await B.waitForSelector("#conn-state.live");
  assert.equal(await B.textContent("#chat-title"), "Team two");
  const system = await B.$$eval("#messages li.system", (items) => items.map((li) => li.textContent));
  assert.equal(system.length, 4, `role, removal, addition, rename: ${system}`);
  await B.click("#toggle-members");
  assert.equal(await B.isVisible("#add-member"), true, "an admin may add members");
  assert.equal(await B.isVisible(`#member-list li[data-member="${owner}"] button`), false, "but not touch the owner");
  await olga.context.close();
  await bob.context.close();
});

test("the page's API calls respect CORS_ORIGINS: another origin cannot read the API", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const probe = (url) =>
    page.evaluate(async (api) => {
      try {
        const response = await fetch(`${api}/api/v1/users/me`, { headers: { Authorization: "Bearer x" } });
        return response.status;
      } catch (error) {
        return String(error);
      }
    }, url);
  await page.goto(demoUrl);
  assert.equal(await probe(server.url), 401, "the configured origin reads the API's answers");
  // Same server, another origin (localhost is not 127.0.0.1 to a browser): the browser refuses.
  await page.goto(demoUrl.replace("127.0.0.1", "localhost"));
  assert.match(String(await probe(server.url)), /TypeError|Failed to fetch/);
  await context.close();
});

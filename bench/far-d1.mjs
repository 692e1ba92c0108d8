// A benchmark-only entry module: the built worker, unchanged, with its D1 binding at a distance.
//
// Locally, D1 is SQLite inside the same workerd process: a query costs no network round trip, so what a
// benchmark measures there is CPU. In production the database is elsewhere, and every D1 call the worker
// or the chat's Durable Object makes waits a round trip. This module wraps the `DB` binding so that each
// D1 call (a batch, or a statement's first/all/raw/run) waits RTT_MS before it runs; everything else
// (the wasm, the Durable Object, local D1 itself) is the build's own. bench/hotchat.sh generates one copy
// per server with the two placeholders filled in, and points that server's wrangler.toml `main` at it.
import Entry, { ChatRoom as Room } from "@BUILD@/index.js";

const RTT_MS = Number("@RTT_MS@");

const away = () => new Promise((resolve) => setTimeout(resolve, RTT_MS));

// A statement whose runs wait a round trip; `real` is what a batch hands to D1.
class Statement {
  constructor(real) {
    this.real = real;
  }
  bind(...values) {
    return new Statement(this.real.bind(...values));
  }
}
for (const run of ["first", "all", "raw", "run"]) {
  Statement.prototype[run] = async function (...args) {
    await away();
    return this.real[run](...args);
  };
}

// A database or a session: prepare, batch (one round trip for the whole batch), bookmark.
class Far {
  constructor(real) {
    this.real = real;
  }
  prepare(sql) {
    return new Statement(this.real.prepare(sql));
  }
  async batch(statements) {
    await away();
    return this.real.batch(statements.map((s) => s.real));
  }
  async exec(sql) {
    await away();
    return this.real.exec(sql);
  }
  withSession(constraint) {
    return new Far(this.real.withSession(constraint));
  }
  getBookmark() {
    return this.real.getBookmark();
  }
}

// The worker checks a D1 binding by its constructor's name.
class D1Database extends Far {}

const cache = new WeakMap();
function farEnv(env) {
  if (!cache.has(env)) {
    const db = new D1Database(env.DB);
    cache.set(env, new Proxy(env, { get: (target, name) => (name === "DB" ? db : Reflect.get(target, name)) }));
  }
  return cache.get(env);
}

export default class extends Entry {
  constructor(ctx, env) {
    super(ctx, farEnv(env));
  }
}

export class ChatRoom extends Room {
  constructor(state, env) {
    super(state, farEnv(env));
  }
}

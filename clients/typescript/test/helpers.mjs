// What the package's tests share: clients for users, event recorders for connections, polling.
import { EdgeChat } from "../dist/index.js";
import { token } from "./server.mjs";

/** A client signed in as `user` on `server`. */
export function clientFor(server, user, options = {}) {
  return new EdgeChat({ baseUrl: server.url, token: () => token(user), ...options });
}

/** Polls `check` until it returns a truthy value, or fails with `what` after `ms`. */
export async function waitFor(check, what, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "function" ? what() : what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Everything a connection hands its consumer, in order. */
export function record(connection) {
  const seen = { messages: [], reactions: [], typing: [], presence: [], states: [], errors: [] };
  connection.on("message", (message, change) => seen.messages.push({ change, message }));
  connection.on("reaction", (event) => seen.reactions.push(event));
  connection.on("typing", (event) => seen.typing.push(event));
  connection.on("presence", (online) => seen.presence.push([...online].sort()));
  connection.on("state", (state) => seen.states.push(state));
  connection.on("error", (error) => seen.errors.push(error));
  seen.created = () => seen.messages.filter((e) => e.change === "created").map((e) => e.message);
  return seen;
}

/**
 * A WebSocket whose network the test controls: `FlakySocket.offline = true` closes every open socket and
 * makes new ones fail to connect (to a closed port) until it is false again; `dropNext(n)` loses the next
 * `n` message frames, as a flaky link would; `swallowPongs` loses every pong (a link gone silent).
 */
export class FlakySocket extends WebSocket {
  static offline = false;
  static open = new Set();
  static dropping = 0;
  static swallowPongs = false;

  static cut() {
    FlakySocket.offline = true;
    for (const socket of FlakySocket.open) socket.close();
  }

  static dropNext(n) {
    FlakySocket.dropping = n;
  }

  constructor(url) {
    super(FlakySocket.offline ? "ws://127.0.0.1:9/" : url);
    FlakySocket.open.add(this);
    this.addEventListener("close", () => FlakySocket.open.delete(this));
  }

  set onmessage(handler) {
    super.onmessage =
      handler &&
      ((event) => {
        const text = String(event.data);
        if (FlakySocket.dropping > 0 && text.includes('"message.')) {
          FlakySocket.dropping--;
          return;
        }
        if (FlakySocket.swallowPongs && text.startsWith('{"pong"')) return;
        handler(event);
      });
  }

  get onmessage() {
    return super.onmessage;
  }
}

// A live connection to one chat (API.md "Live delivery") that a consumer can trust: it reconnects with
// backoff, catches up after every reconnect or gap, and hands each committed write to the consumer exactly
// once and in order.
//
// How (docs/CLIENTS.md "Reconnecting without losing anything"): the connection keeps the highest
// sequence number it delivered and the highest `updatedAt` it has seen. It opens the socket first and
// holds the events that arrive while it catches up over HTTP with the sync window (`updatedAfter=` the
// latest change it delivered, following `nextCursor`): new messages, delivered in sequence order, and
// edits, deletes, pins and reactions of older ones. When the chat's message count says a new message is
// still missing (its last change older than the window), those come by sequence number (`after=`). Then
// it plays the held events, dropping what the catch-up already delivered: a new message by its sequence
// number, a change by the message's `updatedAt` (every write of a chat moves `updatedAt` past all
// earlier ones). A jump in sequence numbers starts another catch-up. A reconnect that missed nothing
// costs one request.
import type { Client } from "openapi-fetch";

import { backoff, Http } from "./http.js";
import type { components, paths } from "./schema.js";

export type Message = components["schemas"]["Message"];
export type ReactionEvent = components["schemas"]["ReactionEvent"];
export type ReadEvent = components["schemas"]["ReadEvent"];
export type TypingEvent = components["schemas"]["TypingEvent"];
export type PresenceEvent = components["schemas"]["PresenceEvent"];

/** How a message reaches the consumer: new to it, changed, or deleted (a tombstone). */
export type MessageChange = "created" | "updated" | "deleted";

/**
 * `connecting`: opening the socket; `syncing`: catching up; `live`: caught up, events as they happen;
 * `offline`: waiting to reconnect; `closed`: for good (closed by the consumer, or removed from the chat).
 */
export type ConnectionState = "connecting" | "syncing" | "live" | "offline" | "closed";

export interface ChatConnectionEvents {
  message: [message: Message, change: MessageChange];
  reaction: [event: ReactionEvent];
  read: [event: ReadEvent];
  typing: [event: TypingEvent];
  presence: [online: ReadonlySet<string>, event: PresenceEvent | null];
  state: [state: ConnectionState, reason: string | null];
  error: [error: unknown];
}

/** What the consumer already has: the newest message it holds, and the latest `updatedAt` it has seen. */
export interface Since {
  sequenceNumber: number;
  messageId: string | null;
  /** RFC 3339 or epoch milliseconds; the newest `updatedAt` among the messages the consumer holds. */
  updatedAt: string | number | null;
}

export interface ChatConnectionOptions {
  /** Start after these (from `ChatConnection.since(messages)` of a page just loaded); default: from now. */
  since?: Since;
  /** Reconnect backoff: first wait (default 500 ms), doubled up to `maxBackoffMs` (default 15 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** A ping this often (default 25 s); no pong by the next one drops the socket and reconnects. */
  pingIntervalMs?: number;
  /** Reconnect at once when the browser says it is back online (default true where `window` exists). */
  watchNetwork?: boolean;
  /** Page size of the catch-up (1–100, default 100). */
  pageSize?: number;
  /** A socket not open after this long is dropped and tried again (default 10 s). */
  connectTimeoutMs?: number;
}

export interface ConnectionDeps {
  api: Client<paths>;
  http: Http;
  baseUrl: string;
  WebSocket: typeof WebSocket;
}

interface Frame {
  event: string;
  data: unknown;
  /** Its place among the frames of this connection, for dropping reactions a catch-up covered. */
  n: number;
}

interface Listing {
  messages: Message[];
  /** Every message of the chat: with dense sequence numbers, the last one's. */
  total: number;
  hasMore: boolean;
  nextCursor: string | null;
}

type Query = NonNullable<paths["/api/v1/messages/chat/{chatId}"]["get"]["parameters"]["query"]>;

const time = (value: string | number | null | undefined): number =>
  value === null || value === undefined ? -1 : typeof value === "number" ? value : Date.parse(value);

/** A socket replaced or closed while a catch-up ran: that catch-up stops, the next connection's runs. */
class Superseded extends Error {}

export class ChatConnection {
  readonly chatId: string;
  private stateNow: ConnectionState = "connecting";
  private lastSeq: number;
  private lastId: string | null;
  /** Every change at or before this time has been delivered (or was the consumer's before). */
  private watermark: number;
  private newest: number;
  private readonly seen = new Map<string, number>();
  private socket: WebSocket | null = null;
  private generation = 0;
  private syncing = false;
  private held: Frame[] = [];
  private frames = 0;
  private reactionCut = 0;
  private attempt = 0;
  private closedForGood = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private awaitingPong = false;
  private typingSentAt = 0;
  private readonly online = new Set<string>();
  private readonly listeners = new Map<keyof ChatConnectionEvents, Set<unknown>>();
  private readonly options: Required<Omit<ChatConnectionOptions, "since">>;
  private readonly onOnline = (): void => this.reconnect();
  private readonly onOffline = (): void => this.drop("offline");

  constructor(
    private readonly deps: ConnectionDeps,
    chatId: string,
    options: ChatConnectionOptions = {},
  ) {
    this.chatId = chatId;
    this.lastSeq = options.since?.sequenceNumber ?? -1;
    this.lastId = options.since?.messageId ?? null;
    this.watermark = time(options.since?.updatedAt);
    this.newest = this.watermark;
    const hasWindow = typeof window !== "undefined" && typeof window.addEventListener === "function";
    this.options = {
      backoffMs: options.backoffMs ?? 500,
      maxBackoffMs: options.maxBackoffMs ?? 15_000,
      pingIntervalMs: options.pingIntervalMs ?? 25_000,
      watchNetwork: options.watchNetwork ?? hasWindow,
      pageSize: options.pageSize ?? 100,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    };
    if (this.options.watchNetwork && hasWindow) {
      window.addEventListener("online", this.onOnline);
      window.addEventListener("offline", this.onOffline);
    }
    queueMicrotask(() => this.open());
  }

  /** `since` for the messages of a page the consumer loaded (any order). */
  static since(messages: readonly Message[]): Since {
    let last: Message | undefined;
    let updatedAt = -1;
    for (const m of messages) {
      if (!last || m.sequenceNumber > last.sequenceNumber) last = m;
      updatedAt = Math.max(updatedAt, time(m.updatedAt));
    }
    return { sequenceNumber: last?.sequenceNumber ?? 0, messageId: last?._id ?? null, updatedAt };
  }

  get state(): ConnectionState {
    return this.stateNow;
  }

  /** The highest sequence number delivered (-1 before the first catch-up without `since`). */
  get lastSequenceNumber(): number {
    return this.lastSeq;
  }

  /** Who is online in the chat now (from the socket's snapshot and presence events). */
  get onlineUsers(): ReadonlySet<string> {
    return this.online;
  }

  on<K extends keyof ChatConnectionEvents>(
    event: K,
    listener: (...args: ChatConnectionEvents[K]) => void,
  ): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Tells the others this user is typing (sent at most every 3 s while true) or stopped. */
  typing(on: boolean): void {
    const now = Date.now();
    if (on && now - this.typingSentAt < 3_000) return;
    if (!on && this.typingSentAt === 0) return;
    this.typingSentAt = on ? now : 0;
    this.sendFrame({ typing: on });
  }

  /** Drops the socket and connects again at once (after a network change, say); catches up as always. */
  reconnect(): void {
    if (this.closedForGood) return;
    this.attempt = 0;
    this.drop("reconnect", 0);
  }

  /** Closes for good. */
  close(): void {
    if (this.closedForGood) return;
    this.closedForGood = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (typeof window !== "undefined" && typeof window.removeEventListener === "function") {
      window.removeEventListener("online", this.onOnline);
      window.removeEventListener("offline", this.onOffline);
    }
    this.drop("closed");
    this.setState("closed", "closed");
  }

  private emit<K extends keyof ChatConnectionEvents>(event: K, ...args: ChatConnectionEvents[K]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as (...a: ChatConnectionEvents[K]) => void)(...args);
      } catch (error) {
        if (event !== "error") this.emit("error", error);
      }
    }
  }

  private setState(state: ConnectionState, reason: string | null = null): void {
    if (this.stateNow === state) return;
    this.stateNow = state;
    this.emit("state", state, reason);
  }

  private sendFrame(frame: unknown): void {
    if (this.socket?.readyState === 1) this.socket.send(JSON.stringify(frame));
  }

  private async open(): Promise<void> {
    if (this.closedForGood || this.socket) return;
    this.setState("connecting");
    const generation = ++this.generation;
    let token: string | null;
    try {
      token = await this.deps.http.token();
    } catch (error) {
      this.emit("error", error);
      this.scheduleReconnect(null);
      return;
    }
    if (generation !== this.generation || this.closedForGood) return;
    // Built as text: React Native's URL has no protocol setter or searchParams.set.
    let url = `${this.deps.baseUrl.replace(/^http/, "ws")}/api/v1/chats/${encodeURIComponent(this.chatId)}/live`;
    if (token !== null) url += `?access_token=${encodeURIComponent(token)}`;
    const socket = new this.deps.WebSocket(url);
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.awaitingPong = false;
      this.pingTimer = setInterval(() => this.ping(), this.options.pingIntervalMs);
      this.startSync();
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket === socket && typeof event.data === "string") this.onFrame(event.data);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket === socket) this.lost(event.code, event.reason);
    };
    // A socket that fails to connect may report only an error (Node 20's WebSocket gives no close event
    // then), and one whose network vanished may say nothing at all: neither holds the connection up.
    socket.onerror = () => {
      if (this.socket === socket && socket.readyState !== 1) this.drop("connect failed");
    };
    setTimeout(() => {
      if (this.socket === socket && socket.readyState === 0) this.drop("connect timed out");
    }, this.options.connectTimeoutMs);
  }

  private ping(): void {
    if (this.awaitingPong) return this.drop("no pong");
    this.awaitingPong = true;
    this.sendFrame({ ping: Date.now() });
  }

  /** Closes the current socket (if any) and reconnects after `delay` (default: the backoff). */
  private drop(reason: string, delay: number | null = null): void {
    const socket = this.socket;
    if (socket) {
      socket.onclose = null;
      socket.onmessage = null;
      socket.onerror = null;
      try {
        socket.close(4000, reason);
      } catch {
        // already closing
      }
      this.lost(4000, reason, delay);
    } else if (!this.closedForGood && delay === 0) {
      this.scheduleReconnect(0);
    }
  }

  private lost(code: number, reason: string, delay: number | null = null): void {
    this.socket = null;
    this.generation++;
    this.syncing = false;
    this.held = [];
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (this.online.size > 0) {
      this.online.clear();
      this.emit("presence", this.online, null);
    }
    if (this.closedForGood) return;
    if (code === 4003) {
      // Removed from the chat (or left it): nothing to reconnect to.
      this.closedForGood = true;
      this.setState("closed", "removed");
      return;
    }
    // 4001: the token expired; the next attempt asks for a fresh one at once.
    this.scheduleReconnect(code === 4001 ? 0 : delay, reason);
  }

  private scheduleReconnect(delay: number | null, reason: string | null = null): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    const wait = delay ?? backoff(this.attempt++, this.options.backoffMs, this.options.maxBackoffMs);
    this.setState("offline", reason);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.open();
    }, wait);
  }

  private onFrame(text: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof parsed !== "object" || parsed === null) return;
    if ("pong" in parsed) {
      this.awaitingPong = false;
      return;
    }
    if (!("event" in parsed) || typeof parsed.event !== "string" || !("data" in parsed)) return;
    const frame: Frame = { event: parsed.event, data: parsed.data, n: this.frames++ };
    switch (frame.event) {
      case "typing":
        return this.emit("typing", frame.data as TypingEvent);
      case "read.updated":
        return this.emit("read", frame.data as ReadEvent);
      case "presence.snapshot": {
        this.online.clear();
        for (const user of (frame.data as { online: string[] }).online) this.online.add(user);
        return this.emit("presence", this.online, null);
      }
      case "presence": {
        const event = frame.data as PresenceEvent;
        if (event.online) this.online.add(event.userId);
        else this.online.delete(event.userId);
        return this.emit("presence", this.online, event);
      }
      default:
        this.held.push(frame);
        this.play();
    }
  }

  /** Plays held message and reaction events, unless a catch-up is running (it plays them after). */
  private play(): void {
    while (!this.syncing && this.held.length > 0) {
      const frame = this.held.shift() as Frame;
      if (frame.event === "reaction.updated") {
        // Reactions carry no time of their own: drop those a catch-up read past.
        if (frame.n >= this.reactionCut) this.emit("reaction", frame.data as ReactionEvent);
        continue;
      }
      if (!frame.event.startsWith("message.")) continue;
      const message = frame.data as Message;
      if (message.sequenceNumber > this.lastSeq + 1) {
        // A gap: something was missed. Catch up, then play this one.
        this.held.unshift(frame);
        this.startSync();
        return;
      }
      this.deliver(message);
      this.watermark = Math.max(this.watermark, this.newest);
    }
  }

  /** A message from the socket or a catch-up, if the consumer does not have it (or this version) yet. */
  private deliver(message: Message): void {
    const at = time(message.updatedAt);
    this.newest = Math.max(this.newest, at);
    if (message.sequenceNumber === this.lastSeq + 1) {
      this.lastSeq = message.sequenceNumber;
      this.lastId = message._id;
      this.seen.set(message._id, at);
      this.emit("message", message, "created");
      return;
    }
    if (message.sequenceNumber > this.lastSeq) return; // ahead of a gap: the next catch-up brings it
    if (at <= (this.seen.get(message._id) ?? this.watermark)) return; // already delivered
    this.seen.set(message._id, at);
    this.emit("message", message, message.deletedAt ? "deleted" : "updated");
  }

  private startSync(): void {
    if (this.syncing || !this.socket) return;
    this.syncing = true;
    this.setState("syncing");
    const generation = this.generation;
    this.sync(generation).then(
      () => {
        if (generation !== this.generation) return;
        this.syncing = false;
        this.attempt = 0;
        this.play();
        if (!this.syncing) this.setState("live");
      },
      (error: unknown) => {
        if (generation !== this.generation || error instanceof Superseded) return;
        this.emit("error", Http.asError(error));
        this.drop("catch-up failed");
      },
    );
  }

  private async list(query: Query, generation: number): Promise<Listing> {
    const { data, response, error } = await this.deps.api.GET("/api/v1/messages/chat/{chatId}", {
      params: { path: { chatId: this.chatId }, query },
    });
    if (generation !== this.generation) throw new Superseded();
    if (!response.ok || !data) throw Http.asError(error ?? new Error(`catch-up: HTTP ${response.status}`));
    return data as unknown as Listing & { asOfSequence?: number };
  }

  /** Every page of a cursor-mode listing that starts with `first`, following `nextCursor`. */
  private async *pages(first: Query, generation: number): AsyncGenerator<Listing> {
    for (let query: Query | null = first; query; ) {
      const page = await this.list(query, generation);
      yield page;
      query = page.hasMore && page.nextCursor ? { cursor: page.nextCursor, limit: first.limit } : null;
    }
  }

  private async sync(generation: number): Promise<void> {
    const limit = this.options.pageSize;
    if (this.lastSeq < 0) {
      // No `since`: start from the chat as it is now.
      const page = (await this.list({ page: 1, limit: 1 }, generation)) as Listing & { asOfSequence: number };
      const newest = page.messages[page.messages.length - 1];
      this.lastSeq = page.asOfSequence;
      this.lastId = newest?._id ?? null;
      this.watermark = Math.max(0, time(newest?.updatedAt));
      this.newest = this.watermark;
    }
    const from = Math.max(0, this.watermark);
    // Everything changed since the last change delivered, oldest change first: new messages, and
    // edits, deletes, pins, reactions and reply counts of older ones. New messages come in the order
    // of their latest change: those ahead of their turn wait (by sequence number) for the ones before.
    const waiting = new Map<number, Message>();
    let total = 0;
    this.reactionCut = this.frames;
    for await (const page of this.pages({ updatedAfter: new Date(from).toISOString(), limit }, generation)) {
      for (const message of page.messages) {
        if (message.sequenceNumber <= this.lastSeq + 1) this.deliver(message);
        else waiting.set(message.sequenceNumber, message);
        for (let next = waiting.get(this.lastSeq + 1); next; next = waiting.get(this.lastSeq + 1)) {
          waiting.delete(next.sequenceNumber);
          this.deliver(next);
        }
      }
      total = page.total;
    }
    // Sequence numbers are dense, so the chat's message count says whether any new message is still
    // missing: one whose last change is older than the window (a frame lost before a later change was
    // delivered, or a `since` whose time is ahead of its sequence number). Those come by sequence number.
    if (this.lastSeq < total || waiting.size > 0) {
      for await (const page of this.pages({ after: this.lastId ?? "0", limit }, generation)) {
        for (const message of page.messages) this.deliver(message);
      }
      for (const message of waiting.values()) this.deliver(message);
    }
    this.watermark = Math.max(this.watermark, this.newest);
  }
}

// @edge-chat/client: every route of edge-chat as a typed call (openapi-fetch over the types generated from
// the server's own OpenAPI document), plus what takes more than one request: sends that survive a lost
// connection, uploads with progress and messages carrying them, and live chat connections.
import createClient, { type Client } from "openapi-fetch";

import { ChatConnection, type ChatConnectionOptions } from "./connection.js";
import { EdgeChatError, unwrap } from "./errors.js";
import { backoff, Http, type HttpOptions, sleep } from "./http.js";
import type { components, paths } from "./schema.js";
import { upload, type UploadBody, type UploadedFile, type UploadOptions } from "./upload.js";

export * from "./connection.js";
export * from "./errors.js";
export type { RetryOptions, TokenSource } from "./http.js";
export type { UploadBody, UploadedFile, UploadOptions, UploadProgress } from "./upload.js";
export type { components, paths } from "./schema.js";

export type Schemas = components["schemas"];
export type Chat = Schemas["Chat"];
export type Participant = Schemas["Participant"];
/** The body of a send (`POST /api/v1/messages`). */
export type NewMessage = NonNullable<paths["/api/v1/messages"]["post"]["requestBody"]>["content"]["application/json"];
export type User = Schemas["User"];

export interface EdgeChatOptions extends HttpOptions {
  /** Where the API is, e.g. `https://chat.example.com` or `http://127.0.0.1:8787`. */
  baseUrl: string;
  /** The WebSocket class for live connections (default: the platform's global one). */
  WebSocket?: typeof WebSocket;
}

export interface SendOptions {
  /**
   * How long to keep retrying a send whose connection failed (default 60 s). Retries reuse the
   * message's `clientMessageId`, so the server stores it once however often it is sent.
   */
  retryForMs?: number;
  signal?: AbortSignal;
}

export type FileMessage = Omit<NewMessage, "chatId" | "type" | "media"> & {
  /** `image`, `video`, `audio` or `file`; by default from the file's content type. */
  mediaType?: Schemas["MediaKind"];
};

/** A fresh `clientMessageId`: 24 random hex characters. */
export function newClientMessageId(): string {
  const bytes = new Uint8Array(12);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function mediaKind(contentType: string): Schemas["MediaKind"] {
  const top = contentType.split("/")[0];
  return top === "image" || top === "video" || top === "audio" ? top : "file";
}

export class EdgeChat {
  /** Every route, typed: `chat.api.GET("/api/v1/chats", { params: { query: { limit: 20 } } })`. */
  readonly api: Client<paths>;
  readonly baseUrl: string;
  private readonly http: Http;
  private readonly WebSocketClass: typeof WebSocket | undefined;

  constructor(options: EdgeChatOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.http = new Http(options);
    this.WebSocketClass = options.WebSocket ?? globalThis.WebSocket;
    this.api = createClient<paths>({ baseUrl: this.baseUrl, fetch: this.http.fetch });
  }

  /**
   * Sends a message and returns it as stored. It gets a `clientMessageId` when it has none, and a send
   * whose connection fails is retried with it (with backoff, for `retryForMs`): the server answers a
   * retry with the original, so a message is never stored twice. Errors the server gives are thrown as
   * EdgeChatError at once (429 and 503 after honouring Retry-After).
   */
  async send(message: NewMessage, options: SendOptions = {}): Promise<Schemas["Message"]> {
    const body: NewMessage = { ...message, clientMessageId: message.clientMessageId ?? newClientMessageId() };
    const until = Date.now() + (options.retryForMs ?? 60_000);
    for (let attempt = 0; ; attempt++) {
      let result;
      try {
        // `body` is checked as NewMessage above; openapi-fetch's own body type normalises the media
        // union so that the declared type no longer matches it as a whole (literals do).
        result = await this.api.POST("/api/v1/messages", { body: body as never, signal: options.signal ?? null });
      } catch (cause) {
        if (options.signal?.aborted || Date.now() >= until) throw Http.asError(cause);
        await sleep(backoff(attempt, this.http.backoffMs, this.http.maxBackoffMs), options.signal);
        continue;
      }
      return unwrap(result);
    }
  }

  /** Uploads a file into a chat (`onProgress` as the bytes go); send it with `media.fileId`. */
  upload(chatId: string, body: UploadBody, options: UploadOptions = {}): Promise<UploadedFile> {
    return upload(this.http, this.baseUrl, chatId, body, options);
  }

  /** Uploads a file, then sends a message carrying it (an image, video or audio shows as media). */
  async sendFile(
    chatId: string,
    body: UploadBody,
    options: UploadOptions & { message?: FileMessage; send?: SendOptions } = {},
  ): Promise<{ file: UploadedFile; message: Schemas["Message"] }> {
    const file = await this.upload(chatId, body, options);
    const { mediaType, ...rest } = options.message ?? {};
    const type = mediaType ?? mediaKind(file.contentType);
    const message = await this.send(
      { ...rest, chatId, type: type === "file" ? "file" : "media", media: { fileId: file._id, type } },
      options.send,
    );
    return { file, message };
  }

  /** A live connection to one chat: see ChatConnection. */
  connect(chatId: string, options: ChatConnectionOptions = {}): ChatConnection {
    if (!this.WebSocketClass) {
      throw new EdgeChatError({ status: 0, errors: ["no WebSocket here: pass options.WebSocket"] });
    }
    const deps = { api: this.api, http: this.http, baseUrl: this.baseUrl, WebSocket: this.WebSocketClass };
    return new ChatConnection(deps, chatId, options);
  }
}

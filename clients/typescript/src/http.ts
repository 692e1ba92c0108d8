// The fetch every call goes through: credentials on each request (so a refreshed token is used at once),
// the read-your-writes bookmark sent back (API.md "Read-your-writes across replicas"), Retry-After honoured
// on 429 and 503, and safe requests retried when the network fails.
import { EdgeChatError, retryAfterMs } from "./errors.js";

export type TokenSource = string | (() => string | Promise<string>);

export interface RetryOptions {
  /** Tries after the first for a 429 or 503, or a safe request whose network failed (default 3). */
  retries?: number;
  /** The longest Retry-After waited for; a longer one is returned as the error at once (default 30 s). */
  maxRetryAfterMs?: number;
  /** First backoff after a network failure, doubled each time up to `maxBackoffMs` (default 250 ms). */
  backoffMs?: number;
  /** Default 5 s. */
  maxBackoffMs?: number;
}

export interface HttpOptions {
  token?: TokenSource | undefined;
  apiKey?: string | undefined;
  fetch?: typeof fetch | undefined;
  retry?: RetryOptions | undefined;
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

export const sleep = (ms: number, signal?: AbortSignal | null): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

/** Exponential backoff with jitter: attempt 0 waits about `base`, each later one twice as long. */
export function backoff(attempt: number, base: number, max: number, random: () => number = Math.random): number {
  const full = Math.min(max, base * 2 ** Math.min(attempt, 20));
  return Math.round(full / 2 + (random() * full) / 2);
}

/** Retries and credentials shared by openapi-fetch, uploads and the live socket. */
export class Http {
  readonly retries: number;
  readonly maxRetryAfterMs: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  /** The platform's fetch (or the one given), callable unbound: for requests outside openapi-fetch. */
  readonly baseFetch: typeof fetch;
  private bookmark: string | null = null;

  constructor(private readonly options: HttpOptions) {
    this.retries = options.retry?.retries ?? 3;
    this.maxRetryAfterMs = options.retry?.maxRetryAfterMs ?? 30_000;
    this.backoffMs = options.retry?.backoffMs ?? 250;
    this.maxBackoffMs = options.retry?.maxBackoffMs ?? 5_000;
    const chosen = options.fetch ?? globalThis.fetch;
    // Called unbound: some platforms' fetch throws "Illegal invocation" when called as a method.
    this.baseFetch = (input, init) => chosen(input, init);
  }

  /** The user's token now (a function is asked each time, so it may refresh). */
  async token(): Promise<string | null> {
    const source = this.options.token;
    if (source === undefined) return null;
    return typeof source === "function" ? await source() : source;
  }

  /** The headers that authenticate a request, and the latest bookmark. */
  async headers(): Promise<Record<string, string>> {
    const headers: Record<string, string> = {};
    const token = await this.token();
    if (token !== null) headers.Authorization = `Bearer ${token}`;
    if (this.options.apiKey !== undefined) headers["X-API-Key"] = this.options.apiKey;
    if (this.bookmark !== null) headers["X-D1-Bookmark"] = this.bookmark;
    return headers;
  }

  /** Notes what a response says for the next request (its bookmark). */
  observe(headers: { get(name: string): string | null }): void {
    const bookmark = headers.get("X-D1-Bookmark");
    if (bookmark) this.bookmark = bookmark;
  }

  /**
   * How long to wait before trying a failed answer again, or null to give up: a 429 or 503 with a
   * Retry-After within bounds, while tries remain.
   */
  retryDelay(status: number, retryAfter: string | null, attempt: number): number | null {
    if ((status !== 429 && status !== 503) || attempt >= this.retries) return null;
    const wait = retryAfterMs(retryAfter) ?? backoff(attempt, 1_000, this.maxBackoffMs);
    return wait <= this.maxRetryAfterMs ? wait : null;
  }

  /** A fetch for openapi-fetch: credentials added, Retry-After honoured, safe requests retried. */
  readonly fetch = async (input: Request): Promise<Response> => {
    const credentials = await this.headers();
    for (let attempt = 0; ; attempt++) {
      const request = input.clone();
      for (const [name, value] of Object.entries(credentials)) {
        if (!request.headers.has(name)) request.headers.set(name, value);
      }
      let response: Response;
      try {
        response = await this.baseFetch(request);
      } catch (cause) {
        if (input.signal?.aborted || !SAFE.has(input.method) || attempt >= this.retries) throw cause;
        await sleep(backoff(attempt, this.backoffMs, this.maxBackoffMs), input.signal);
        continue;
      }
      this.observe(response.headers);
      const wait = this.retryDelay(response.status, response.headers.get("Retry-After"), attempt);
      if (wait === null) return response;
      await response.body?.cancel();
      await sleep(wait, input.signal);
    }
  };

  /** Turns a thrown transport failure into an EdgeChatError (network), and keeps EdgeChatErrors. */
  static asError(cause: unknown): EdgeChatError {
    return cause instanceof EdgeChatError ? cause : EdgeChatError.network(cause);
  }
}

// Errors as values: every failed call becomes an EdgeChatError carrying the envelope's messages
// (API.md "Conventions"), the request id to quote in a bug report, and Retry-After when the server gave one.
import type { components } from "./schema.js";

/** The error envelope every failed `/api/...` response carries. */
export type ErrorEnvelope = components["schemas"]["Error"];

/** Why a call failed: the server answered with an error, or it could not be reached. */
export type ErrorKind = "http" | "network";

export class EdgeChatError extends Error {
  /** The HTTP status (0 when the server could not be reached). */
  readonly status: number;
  /** The envelope's messages, one per problem found (for a network failure, its description). */
  readonly errors: readonly string[];
  /** The response's `X-Request-Id` (null for a network failure). */
  readonly requestId: string | null;
  /** `Retry-After` in milliseconds, when the server said when to try again (429, 503). */
  readonly retryAfterMs: number | null;
  readonly kind: ErrorKind;

  constructor(init: {
    status: number;
    errors: readonly string[];
    requestId?: string | null;
    retryAfterMs?: number | null;
    kind?: ErrorKind;
    cause?: unknown;
  }) {
    super(`${init.status ? `HTTP ${init.status}: ` : ""}${init.errors.join("; ")}`, { cause: init.cause });
    this.name = "EdgeChatError";
    this.status = init.status;
    this.errors = init.errors;
    this.requestId = init.requestId ?? null;
    this.retryAfterMs = init.retryAfterMs ?? null;
    this.kind = init.kind ?? "http";
  }

  /** From a response and its parsed body (the envelope, or whatever a proxy answered instead). */
  static fromResponse(response: Response, body: unknown): EdgeChatError {
    return EdgeChatError.from(response.status, response.headers, body, response.statusText);
  }

  /** From an answer's status, headers and parsed body (an XMLHttpRequest's, say). */
  static from(
    status: number,
    headers: { get(name: string): string | null },
    body: unknown,
    statusText = "",
  ): EdgeChatError {
    return new EdgeChatError({
      status,
      errors: envelopeErrors(body) ?? [`${status} ${statusText || "error"}`],
      requestId: headers.get("X-Request-Id"),
      retryAfterMs: retryAfterMs(headers.get("Retry-After")),
    });
  }

  /** A request that never got an answer (offline, DNS, connection refused, aborted). */
  static network(cause: unknown): EdgeChatError {
    const message = cause instanceof Error ? cause.message : String(cause);
    return new EdgeChatError({ status: 0, errors: [message || "network error"], kind: "network", cause });
  }
}

export function isEdgeChatError(value: unknown): value is EdgeChatError {
  return value instanceof EdgeChatError;
}

function envelopeErrors(body: unknown): string[] | null {
  if (typeof body !== "object" || body === null || !("errors" in body)) return null;
  const errors = (body as { errors: unknown }).errors;
  if (!Array.isArray(errors) || errors.length === 0) return null;
  return errors.map(String);
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | null {
  if (header === null || header.trim() === "") return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * An openapi-fetch result as its data, or an EdgeChatError thrown. For calls whose success has no body
 * (204), `data` is undefined and that is returned.
 */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (!result.response.ok) throw EdgeChatError.fromResponse(result.response, result.error);
  return result.data as T;
}

// Uploads (API.md "Files"): the raw bytes to POST /api/v1/chats/{chatId}/files with their length known,
// progress reported as they go. Where XMLHttpRequest exists (browsers, React Native) it reports real
// progress; elsewhere (Node, workers) fetch sends the bytes and progress is reported at start and end.
import { EdgeChatError } from "./errors.js";
import { Http, sleep } from "./http.js";
import type { components } from "./schema.js";

export type UploadedFile = components["schemas"]["File"];
export type UploadBody = Blob | ArrayBuffer | Uint8Array;

export interface UploadProgress {
  loaded: number;
  total: number;
}

export interface UploadOptions {
  /** The file's name (1–255 characters, no `/`, `\` or control characters). A File's own name by default. */
  name?: string;
  /** Its type; a Blob's own type by default, else `application/octet-stream`. */
  contentType?: string;
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}

interface RawAnswer {
  status: number;
  statusText: string;
  headers: { get(name: string): string | null };
  text: string;
}

function size(body: UploadBody): number {
  return body instanceof Blob ? body.size : body.byteLength;
}

/** What the upload is called and its type, from the options or the File itself. */
export function describe(body: UploadBody, options: UploadOptions): { name: string; contentType: string } {
  const ownName = typeof File !== "undefined" && body instanceof File ? body.name : undefined;
  const name = options.name ?? ownName;
  if (!name) throw new EdgeChatError({ status: 0, errors: ["name is required for an upload"], kind: "http" });
  const ownType = body instanceof Blob ? body.type : "";
  return { name, contentType: options.contentType ?? (ownType || "application/octet-stream") };
}

function viaXhr(
  url: string,
  body: UploadBody,
  headers: Record<string, string>,
  options: UploadOptions,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      options.onProgress?.({ loaded: event.loaded, total: event.lengthComputable ? event.total : size(body) });
    };
    xhr.onload = () => {
      // Every success ends at 100%, however few progress events the platform fired on the way.
      if (xhr.status >= 200 && xhr.status < 300) options.onProgress?.({ loaded: size(body), total: size(body) });
      resolve({
        status: xhr.status,
        statusText: xhr.statusText,
        headers: { get: (name) => xhr.getResponseHeader(name) },
        text: xhr.responseText,
      });
    };
    xhr.onerror = () => reject(new TypeError("upload failed: network error"));
    xhr.onabort = () => reject(options.signal?.reason ?? new TypeError("upload aborted"));
    options.signal?.addEventListener("abort", () => xhr.abort());
    xhr.send(body instanceof Uint8Array ? new Blob([body as Uint8Array<ArrayBuffer>]) : body);
  });
}

async function viaFetch(
  url: string,
  body: UploadBody,
  headers: Record<string, string>,
  options: UploadOptions,
  fetchFn: typeof fetch,
): Promise<RawAnswer> {
  const total = size(body);
  options.onProgress?.({ loaded: 0, total });
  const response = await fetchFn(url, {
    method: "POST",
    headers: { ...headers, "Content-Length": String(total) },
    body: body as BodyInit,
    signal: options.signal ?? null,
  });
  const text = await response.text();
  if (response.ok) options.onProgress?.({ loaded: total, total });
  return { status: response.status, statusText: response.statusText, headers: response.headers, text };
}

/** Uploads `body` into the chat; Retry-After honoured on 429 and 503 like every other call. */
export async function upload(
  http: Http,
  baseUrl: string,
  chatId: string,
  body: UploadBody,
  options: UploadOptions = {},
): Promise<UploadedFile> {
  const { name, contentType } = describe(body, options);
  const url = `${baseUrl}/api/v1/chats/${encodeURIComponent(chatId)}/files?name=${encodeURIComponent(name)}`;
  for (let attempt = 0; ; attempt++) {
    const headers = { ...(await http.headers()), "Content-Type": contentType };
    let answer: RawAnswer;
    try {
      answer =
        typeof XMLHttpRequest !== "undefined"
          ? await viaXhr(url, body, headers, options)
          : await viaFetch(url, body, headers, options, http.baseFetch);
    } catch (cause) {
      throw Http.asError(cause);
    }
    http.observe(answer.headers);
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(answer.text);
    } catch {
      parsed = null;
    }
    if (answer.status === 201) return parsed as UploadedFile;
    const wait = http.retryDelay(answer.status, answer.headers.get("Retry-After"), attempt);
    if (wait === null) throw EdgeChatError.from(answer.status, answer.headers, parsed, answer.statusText);
    await sleep(wait, options.signal);
  }
}

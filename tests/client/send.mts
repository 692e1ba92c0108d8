// A client generated from the served OpenAPI document (openapi-typescript types + openapi-fetch), written
// as a new user would write it. `tsc --strict` must accept it as it is: no field the server defaults is
// forced on the caller, and metadata takes any JSON object. Then it runs against the worker:
//   node send.mjs <base URL> <token of a user> <id of another user>
// and prints what it got as JSON for the Rust test (tests/api/client.rs) to check.
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

declare const process: { argv: string[] }; // Node's, without pulling in @types/node

const [baseUrl = "", token = "", other = ""] = process.argv.slice(2);
const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

const chat = await client.POST("/api/v1/chats", { body: { participantIds: [other] } });
if (!chat.data) throw new Error(`create chat: ${chat.response.status}`);
const chatId = chat.data._id;

// No `type`: the server defaults it to text.
const text = await client.POST("/api/v1/messages", {
  body: { chatId, content: "hello from a typed client", metadata: { source: "typed-client", n: 1 } },
});
const media = await client.POST("/api/v1/messages", {
  body: { chatId, type: "media", media: { url: "https://cdn.example.com/a.png", type: "image" } },
});
const page = await client.GET("/api/v1/messages/chat/{chatId}", { params: { path: { chatId } } });
const window = await client.GET("/api/v1/messages/chat/{chatId}", {
  params: { path: { chatId }, query: { after: "0", limit: 1 } },
});
const read = await client.POST("/api/v1/messages/chat/{chatId}/read", { params: { path: { chatId } } });
const edited = text.data
  ? await client.PATCH("/api/v1/messages/{messageId}", {
      params: { path: { messageId: text.data._id } },
      body: { content: "edited" },
    })
  : undefined;
const me = await client.PATCH("/api/v1/users/me", { body: { availabilityStatus: "away" } });

const messages = page.data && "asOfSequence" in page.data ? page.data.messages : [];
const windowed = window.data && "hasMore" in window.data ? window.data : undefined;
console.log(
  JSON.stringify({
    text: { status: text.response.status, type: text.data?.type, metadata: text.data?.metadata },
    media: { status: media.response.status, url: media.data?.media?.url },
    page: { status: page.response.status, contents: messages.map((m) => m.content) },
    window: { status: window.response.status, count: windowed?.messages.length, hasMore: windowed?.hasMore },
    read: { status: read.response.status, unread: read.data?.unreadCount },
    edited: { status: edited?.response.status, content: edited?.data?.content },
    me: { status: me.response.status, availability: me.data?.availabilityStatus },
  }),
);

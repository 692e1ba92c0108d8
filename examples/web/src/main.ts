// The reference web app: a plain page on @edge-chat/client. Sign in as a local test user, the chat list
// with unread counts, a chat with live messages, typing, presence, reactions, replies, pins, files with
// image previews, search with jump-to-message, and member management.
import { ChatConnection, type Chat, EdgeChat, EdgeChatError, type Message, unwrap } from "@edge-chat/client";

interface Config {
  apiUrl: string;
}

const QUICK_REACTIONS = ["👍", "❤️", "😂"];
const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

/** An element with attributes and children; text children are text nodes, never HTML. */
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Record<string, string | boolean | ((event: Event) => void)> = {},
  ...children: (Node | string | null | false)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (typeof value === "boolean") element.toggleAttribute(name, value);
    else element.setAttribute(name, value);
  }
  for (const child of children) if (child !== null && child !== false) element.append(child);
  return element;
}

/** The search highlight: the server HTML-escapes the text and marks matches; only <mark> is let through. */
function highlighted(text: string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  const decode = (s: string) => new DOMParser().parseFromString(`<p>${s}</p>`, "text/html").body.textContent ?? "";
  text.split(/(<mark>.*?<\/mark>)/).forEach((part) => {
    const match = /^<mark>(.*)<\/mark>$/.exec(part);
    fragment.append(match ? h("mark", {}, decode(match[1] ?? "")) : decode(part));
  });
  return fragment;
}

function describe(error: unknown): string {
  if (error instanceof EdgeChatError) return error.errors.join("; ");
  return error instanceof Error ? error.message : String(error);
}

const time = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

class App {
  private readonly client: EdgeChat;
  private chats: Chat[] = [];
  private chat: Chat | null = null;
  private messages = new Map<string, Message>();
  private mine = new Map<string, Set<string>>();
  private connection: ChatConnection | null = null;
  private replyTo: Message | null = null;
  private attachment: File | null = null;
  private typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readTimer: ReturnType<typeof setTimeout> | null = null;
  private jumped = false;
  private following = true;

  constructor(
    config: Config,
    private readonly me: string,
    token: string,
  ) {
    this.client = new EdgeChat({ baseUrl: config.apiUrl, token });
    $("me").textContent = me;
    $("app").hidden = false;
    $("sign-in").hidden = true;
    this.wire();
    void this.loadChats();
    setInterval(() => void this.loadChats(), 4_000);
  }

  private wire(): void {
    $("sign-out").onclick = () => {
      sessionStorage.removeItem("edge-chat-user");
      location.reload();
    };
    $("new-chat").onsubmit = (event) => {
      event.preventDefault();
      void this.startChat();
    };
    $("search").onsubmit = (event) => {
      event.preventDefault();
      void this.search();
    };
    $("composer").onsubmit = (event) => {
      event.preventDefault();
      void this.submit();
    };
    $<HTMLInputElement>("text").oninput = () => this.connection?.typing($<HTMLInputElement>("text").value !== "");
    $<HTMLInputElement>("file").onchange = () => this.attach($<HTMLInputElement>("file").files?.[0] ?? null);
    $("attachment-clear").onclick = () => this.attach(null);
    ($("replying").querySelector("button") as HTMLButtonElement).onclick = () => this.reply(null);
    $("toggle-members").onclick = () => ($("members").hidden = !$("members").hidden);
    $("back-to-latest").onclick = () => this.chat && void this.open(this.chat._id);
    $("rename").onsubmit = (event) => {
      event.preventDefault();
      void this.act(() =>
        this.client.api.PATCH("/api/v1/chats/{chatId}", {
          params: { path: { chatId: this.chatId() } },
          body: { title: $<HTMLInputElement>("rename-title").value || null },
        }),
      );
    };
    $("add-member").onsubmit = (event) => {
      event.preventDefault();
      const input = $<HTMLInputElement>("add-member-id");
      void this.act(() =>
        this.client.api.POST("/api/v1/chats/{chatId}/members", {
          params: { path: { chatId: this.chatId() } },
          body: { userIds: [input.value.trim()] },
        }),
      ).then(() => (input.value = ""));
    };
    $("leave").onclick = () => void this.removeMember(this.me);
    $("messages").onscroll = () => {
      const list = $("messages");
      this.following = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    };
  }

  private chatId(): string {
    return this.chat?._id ?? "";
  }

  private error(where: "sidebar" | "chat", error: unknown): void {
    $(where === "chat" ? "chat-error" : "sign-in-error").textContent = error ? describe(error) : "";
    if (where === "sidebar" && error) $("chat-error").textContent = describe(error);
  }

  /** Runs a call, shows its error if any, then refreshes the chat (members, title, pins). */
  private async act(call: () => Promise<{ response: Response; error?: unknown; data?: unknown }>): Promise<void> {
    try {
      unwrap(await call());
      $("chat-error").textContent = "";
      await this.refreshChat();
    } catch (error) {
      $("chat-error").textContent = describe(error);
    }
  }

  private title(chat: Chat): string {
    if (chat.title) return chat.title;
    const others = chat.participants.filter((p) => p._id !== this.me).map((p) => p.username || p._id);
    return others.join(", ") || "(just you)";
  }

  async loadChats(): Promise<void> {
    try {
      const list = unwrap(await this.client.api.GET("/api/v1/chats", { params: { query: { limit: 50 } } }));
      this.chats = list.chats;
    } catch (error) {
      this.error("sidebar", error);
      return;
    }
    const total = this.chats.reduce((sum, c) => sum + (c.muted ? 0 : c.unreadCount), 0);
    $("total-unread").hidden = total === 0;
    $("total-unread").textContent = String(total);
    $("chats").replaceChildren(
      ...this.chats.map((chat) => {
        const last = chat.lastMessage;
        return h(
          "li",
          { class: chat._id === this.chat?._id ? "active" : "", "data-chat": chat._id, onclick: () => void this.open(chat._id) },
          h("span", { class: "name" }, this.title(chat)),
          chat.unreadCount > 0 && chat._id !== this.chat?._id ? h("span", { class: "badge unread" }, String(chat.unreadCount)) : null,
          h("span", { class: "preview" }, last ? `${last.senderId}: ${last.content ?? (last.media ? "📎 file" : "")}` : "no messages yet"),
        );
      }),
    );
  }

  private async startChat(): Promise<void> {
    const ids = $<HTMLInputElement>("new-chat-users").value.split(",").map((s) => s.trim()).filter(Boolean);
    const title = $<HTMLInputElement>("new-chat-title").value.trim();
    try {
      const chat = unwrap(
        await this.client.api.POST("/api/v1/chats", {
          body: { participantIds: ids, ...(title || ids.length > 1 ? { type: "group", title: title || null } : {}) },
        }),
      );
      $<HTMLInputElement>("new-chat-users").value = "";
      $<HTMLInputElement>("new-chat-title").value = "";
      await this.open(chat._id);
      await this.loadChats();
    } catch (error) {
      $("chat-error").textContent = describe(error);
      $("chat").hidden = false;
    }
  }

  /** Opens a chat at its newest messages, or around one message (a search hit, a pin). */
  async open(chatId: string, around?: string): Promise<void> {
    this.connection?.close();
    this.connection = null;
    this.messages.clear();
    this.following = true;
    this.reply(null);
    $("chat").hidden = false;
    $("typing").textContent = "";
    $("chat-error").textContent = "";
    try {
      this.chat = unwrap(await this.client.api.GET("/api/v1/chats/{chatId}", { params: { path: { chatId } } }));
      const query = around ? { around, limit: 30 } : { limit: 50 };
      const page = unwrap(await this.client.api.GET("/api/v1/messages/chat/{chatId}", { params: { path: { chatId }, query } }));
      for (const m of page.messages) this.remember(m);
      this.jumped = Boolean(around) && "hasNewer" in page && Boolean(page.hasNewer);
      $("back-to-latest").hidden = !this.jumped;
      this.renderChat();
      this.renderMessages();
      // Live from the newest message (after a jump, from the end of the window the page shows).
      const connection = this.client.connect(chatId, { since: ChatConnection.since(page.messages) });
      this.connection = connection;
      connection.on("message", (m) => {
        if (this.connection !== connection) return;
        this.remember(m);
        this.renderMessages();
        if (m.senderId !== this.me) this.markRead();
      });
      connection.on("reaction", (e) => {
        const m = this.messages.get(e.messageId);
        if (!m) return;
        m.reactionCounts = e.reactionCounts;
        if (e.userId === this.me) this.toggleMine(e.messageId, e.key, e.added);
        this.renderMessages();
      });
      connection.on("typing", (e) => this.typing(e.userId, e.typing));
      connection.on("presence", (online) => {
        const others = [...online].filter((u) => u !== this.me);
        $("chat-online").textContent = others.length ? `● ${others.join(", ")} online` : "";
      });
      connection.on("state", (state) => {
        $("conn-state").textContent = state;
        $("conn-state").className = `state ${state}`;
        if (state === "closed" && this.connection === connection) void this.loadChats();
      });
      this.markRead();
      await this.loadPins();
      await this.loadChats();
    } catch (error) {
      $("chat-error").textContent = describe(error);
    }
  }

  private async refreshChat(): Promise<void> {
    if (!this.chat) return;
    this.chat = unwrap(await this.client.api.GET("/api/v1/chats/{chatId}", { params: { path: { chatId: this.chat._id } } }));
    this.renderChat();
    await this.loadPins();
  }

  private remember(m: Message): void {
    const known = this.messages.get(m._id);
    // A socket's message carries its own reader's reactions; keep ours from our lists and events.
    if (!known) this.mine.set(m._id, new Set(m.myReactions));
    this.messages.set(m._id, m);
  }

  private toggleMine(messageId: string, key: string, on: boolean): void {
    const set = this.mine.get(messageId) ?? new Set<string>();
    if (on) set.add(key);
    else set.delete(key);
    this.mine.set(messageId, set);
  }

  private markRead(): void {
    if (this.readTimer !== null || this.jumped) return;
    this.readTimer = setTimeout(() => {
      this.readTimer = null;
      if (!this.chat) return;
      void this.client.api
        .POST("/api/v1/messages/chat/{chatId}/read", { params: { path: { chatId: this.chat._id } } })
        .then(() => this.loadChats());
    }, 300);
  }

  private typing(userId: string, on: boolean): void {
    clearTimeout(this.typingTimers.get(userId));
    if (on) this.typingTimers.set(userId, setTimeout(() => this.typing(userId, false), 6_000));
    else this.typingTimers.delete(userId);
    const who = [...this.typingTimers.keys()];
    $("typing").textContent = who.length ? `${who.join(", ")} ${who.length > 1 ? "are" : "is"} typing…` : "";
  }

  private renderChat(): void {
    const chat = this.chat;
    if (!chat) return;
    $("chat-title").textContent = this.title(chat);
    const group = chat.type === "group";
    const manager = chat.role === "owner" || chat.role === "admin";
    $("toggle-members").hidden = !group;
    if (!group) $("members").hidden = true;
    $("rename").hidden = !manager;
    $("add-member").hidden = !manager;
    $("member-list").replaceChildren(
      ...chat.participants.map((p) => {
        const canRemove = p._id !== this.me && (chat.role === "owner" || (chat.role === "admin" && p.role === "member"));
        const canPromote = chat.role === "owner" && p._id !== this.me;
        return h(
          "li",
          { "data-member": p._id },
          h("span", {}, p.username || p._id),
          h("span", { class: "role" }, p.role ?? ""),
          canPromote && p.role !== "owner"
            ? h("button", { type: "button", onclick: () => void this.setRole(p._id, p.role === "admin" ? "member" : "admin") }, p.role === "admin" ? "Make member" : "Make admin")
            : null,
          canRemove ? h("button", { type: "button", onclick: () => void this.removeMember(p._id) }, "Remove") : null,
        );
      }),
    );
  }

  private setRole(userId: string, role: "admin" | "member"): Promise<void> {
    return this.act(() =>
      this.client.api.PATCH("/api/v1/chats/{chatId}/members/{userId}", {
        params: { path: { chatId: this.chatId(), userId } },
        body: { role },
      }),
    );
  }

  private async removeMember(userId: string): Promise<void> {
    await this.act(() =>
      this.client.api.DELETE("/api/v1/chats/{chatId}/members/{userId}", { params: { path: { chatId: this.chatId(), userId } } }),
    );
  }

  private async loadPins(): Promise<void> {
    if (!this.chat) return;
    const pins = unwrap(await this.client.api.GET("/api/v1/chats/{chatId}/pins", { params: { path: { chatId: this.chat._id } } }));
    $("pins").hidden = pins.messages.length === 0;
    $("pins").replaceChildren(
      "📌 ",
      ...pins.messages.map((m) =>
        h("a", { onclick: () => void this.jump(m.chatId, m._id) }, (m.content ?? "file").slice(0, 40)),
      ),
    );
  }

  private renderMessages(): void {
    const list = $("messages");
    const ordered = [...this.messages.values()].sort((a, b) => a.sequenceNumber - b.sequenceNumber);
    list.replaceChildren(...ordered.map((m) => this.renderMessage(m)));
    this.follow();
  }

  /** Keeps the newest message in view while the reader is at the bottom (also as images load). */
  private follow(): void {
    const list = $("messages");
    if (this.following && !this.jumped) list.scrollTop = list.scrollHeight;
  }

  private renderMessage(m: Message): HTMLElement {
    if (m.type === "system") return h("li", { class: "message system", "data-seq": String(m.sequenceNumber) }, m.content ?? "");
    const parent = m.parentId ? this.messages.get(m.parentId) : undefined;
    const mine = this.mine.get(m._id) ?? new Set<string>();
    const deleted = m.deletedAt !== null;
    const media = m.media;
    const body: (Node | string | null)[] = deleted
      ? [h("span", { class: "deleted" }, "message deleted")]
      : [
          m.content ? h("div", { class: "content" }, m.content) : null,
          media && media.type === "image" ? h("img", { src: media.url, alt: media.name ?? "image", onload: () => this.follow() }) : null,
          media && media.type !== "image" ? h("a", { href: media.url, target: "_blank", rel: "noopener" }, `📎 ${media.name ?? "file"}`) : null,
        ];
    const keys = [...new Set([...Object.keys(m.reactionCounts), ...QUICK_REACTIONS])];
    return h(
      "li",
      {
        class: `message${m.senderId === this.me ? " mine" : ""}`,
        id: `m-${m._id}`,
        "data-seq": String(m.sequenceNumber),
        "data-id": m._id,
      },
      h("div", { class: "meta" }, h("b", {}, m.senderId), time(m.createdAt), m.editedAt ? "(edited)" : "", m.pinnedAt ? "📌" : ""),
      m.parentId ? h("div", { class: "reply-to" }, `↳ ${parent?.content ?? "a message"}`) : null,
      ...body,
      m.replyCount > 0 ? h("div", { class: "meta" }, `${m.replyCount} ${m.replyCount === 1 ? "reply" : "replies"}`) : null,
      deleted
        ? null
        : h(
            "div",
            { class: "reactions" },
            ...keys
              .filter((k) => (m.reactionCounts[k] ?? 0) > 0)
              .map((k) =>
                h("button", { type: "button", class: mine.has(k) ? "mine" : "", "data-reaction": k, onclick: () => void this.react(m, k) }, `${k} ${m.reactionCounts[k]}`),
              ),
          ),
      deleted
        ? null
        : h(
            "div",
            { class: "actions" },
            ...QUICK_REACTIONS.map((k) => h("button", { type: "button", title: `React ${k}`, "data-react": k, onclick: () => void this.react(m, k) }, k)),
            m.parentId ? null : h("button", { type: "button", onclick: () => this.reply(m) }, "Reply"),
            h("button", { type: "button", onclick: () => void this.pin(m) }, m.pinnedAt ? "Unpin" : "Pin"),
            m.senderId === this.me ? h("button", { type: "button", onclick: () => void this.remove(m) }, "Delete") : null,
          ),
    );
  }

  private async react(m: Message, key: string): Promise<void> {
    const on = !(this.mine.get(m._id)?.has(key) ?? false);
    const params = { params: { path: { messageId: m._id, key } } };
    try {
      const state = unwrap(on ? await this.client.api.PUT("/api/v1/messages/{messageId}/reactions/{key}", params) : await this.client.api.DELETE("/api/v1/messages/{messageId}/reactions/{key}", params));
      this.mine.set(m._id, new Set(state.myReactions));
      const known = this.messages.get(m._id);
      if (known) known.reactionCounts = state.reactionCounts;
      this.renderMessages();
    } catch (error) {
      $("chat-error").textContent = describe(error);
    }
  }

  private async pin(m: Message): Promise<void> {
    const params = { params: { path: { messageId: m._id } } };
    await this.act(() => (m.pinnedAt ? this.client.api.DELETE("/api/v1/messages/{messageId}/pin", params) : this.client.api.PUT("/api/v1/messages/{messageId}/pin", params)));
  }

  private async remove(m: Message): Promise<void> {
    await this.act(() => this.client.api.DELETE("/api/v1/messages/{messageId}", { params: { path: { messageId: m._id } } }));
  }

  private reply(m: Message | null): void {
    this.replyTo = m;
    $("replying").hidden = m === null;
    ($("replying").querySelector("span") as HTMLElement).textContent = m ? `Replying to ${m.senderId}: ${m.content ?? "file"}` : "";
    if (m) $<HTMLInputElement>("text").focus();
  }

  private attach(file: File | null): void {
    this.attachment = file;
    $("attachment").hidden = file === null;
    $<HTMLInputElement>("attachment-name").textContent = file ? `${file.name} (${Math.ceil(file.size / 1024)} KiB)` : "";
    $<HTMLProgressElement>("upload-progress").value = 0;
    $("upload-status").textContent = "";
    const preview = $<HTMLImageElement>("attachment-preview");
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.hidden = !file?.type.startsWith("image/");
    preview.src = file && file.type.startsWith("image/") ? URL.createObjectURL(file) : "";
    if (!file) $<HTMLInputElement>("file").value = "";
  }

  private async submit(): Promise<void> {
    if (!this.chat) return;
    const input = $<HTMLInputElement>("text");
    const content = input.value.trim();
    const chatId = this.chat._id;
    const parentId = this.replyTo?._id ?? null;
    try {
      let sent: Message;
      if (this.attachment) {
        const progress = $<HTMLProgressElement>("upload-progress");
        const status = $("upload-status");
        const file = this.attachment;
        ({ message: sent } = await this.client.sendFile(chatId, file, {
          onProgress: (p) => {
            progress.value = p.total ? p.loaded / p.total : 0;
            status.textContent = `${Math.round(progress.value * 100)}%`;
          },
          message: { content: content || null, parentId },
        }));
        const reached = status.textContent;
        this.attach(null);
        $("composer-status").textContent = `${file.name} sent (${reached})`;
      } else if (content) {
        sent = await this.client.send({ chatId, content, parentId });
        $("composer-status").textContent = "";
      } else {
        return;
      }
      input.value = "";
      this.connection?.typing(false);
      this.reply(null);
      this.remember(sent);
      this.renderMessages();
      $("chat-error").textContent = "";
    } catch (error) {
      $("chat-error").textContent = describe(error);
    }
  }

  private async search(): Promise<void> {
    const q = $<HTMLInputElement>("search-q").value.trim();
    const results = $("search-results");
    if (!q) {
      results.hidden = true;
      return;
    }
    try {
      const found = unwrap(await this.client.api.GET("/api/v1/search", { params: { query: { q, limit: 20 } } }));
      results.hidden = false;
      results.replaceChildren(
        ...(found.results.length
          ? found.results.map((r) =>
              h("li", { "data-result": r.message._id, onclick: () => void this.jump(r.message.chatId, r.message._id) },
                h("div", { class: "meta" }, `${r.message.senderId} · ${time(r.message.createdAt)}`),
                h("div", {}, highlighted(r.highlight)),
              ),
            )
          : [h("li", {}, "No messages found")]),
      );
    } catch (error) {
      $("chat-error").textContent = describe(error);
    }
  }

  /** Opens the chat around one message and flashes it. */
  private async jump(chatId: string, messageId: string): Promise<void> {
    await this.open(chatId, messageId);
    const element = document.getElementById(`m-${messageId}`);
    element?.scrollIntoView({ block: "center" });
    element?.classList.add("flash");
  }
}

async function main(): Promise<void> {
  const config = (await (await fetch("config.json")).json()) as Config;
  const form = $<HTMLFormElement>("sign-in");
  const signIn = async (user: string) => {
    const answer = await fetch(`dev/token?user=${encodeURIComponent(user)}`);
    if (!answer.ok) throw new Error(await answer.text());
    const { token } = (await answer.json()) as { token: string };
    sessionStorage.setItem("edge-chat-user", user);
    new App(config, user, token);
  };
  form.onsubmit = (event) => {
    event.preventDefault();
    signIn($<HTMLInputElement>("user").value.trim()).catch((error) => ($("sign-in-error").textContent = describe(error)));
  };
  const remembered = sessionStorage.getItem("edge-chat-user");
  if (remembered) await signIn(remembered).catch(() => sessionStorage.removeItem("edge-chat-user"));
}

void main();

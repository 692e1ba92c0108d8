//! Each route's operation in the document: its id, tag and summary, the wire structs of its query and
//! body, its successes and the error statuses its access and shape do not imply. Each route of the
//! table (`router::ROUTES`) names its operation by id (a test holds the two one-to-one); longer prose
//! is in `overlay.json`.

use super::{fields, schema, Operation, Success};
use crate::domain::chat::{ChatListParams, NewChatBody};
use crate::domain::credits::{NewGrantBody, NewTransferBody};
use crate::domain::cursor::MessageListQuery;
use crate::domain::files::{DownloadParams, UploadParams};
use crate::domain::keys::{NewApiKeyBody, WebhookChangeBody};
use crate::domain::members::{ChatChangeBody, NewMembersBody, RoleChangeBody, SettingsBody};
use crate::domain::message::{EditBody, NewMessageBody, ReadMarkBody};
use crate::domain::pagination::PageQuery;
use crate::domain::reactions::ReactionListParams;
use crate::domain::safety::{NewReportBody, ReportChangeBody, ReportListParams};
use crate::domain::search::SearchParams;
use crate::domain::surfaces::{AssistantQuery, AssistantSendBody, ProjectQuery, SessionQuery};
use crate::domain::threads::{MentionListParams, ReplyListParams};
use crate::domain::user::ProfilePatchBody;
use crate::domain::webhooks::DeliveriesQuery;
use crate::views;

/// An operation with the parts most have none of.
const fn op(id: &'static str, tag: &'static str, summary: &'static str) -> Operation {
    Operation {
        id,
        tag,
        summary,
        query: None,
        body: None,
        raw_body: false,
        headers: &[],
        success: &[],
        errors: &[],
    }
}

const REPLAYED: &[&str] = &["Idempotent-Replayed"];

pub const HEALTH: Operation = Operation {
    success: &[Success::json(
        200,
        "Service and D1 answer.",
        schema::<views::Health>,
    )],
    errors: &[503],
    ..op(
        "health",
        "service",
        "Liveness and database check (no auth).",
    )
};

pub const OPENAPI: Operation = Operation {
    success: &[Success::json(
        200,
        "OpenAPI 3.1 document.",
        schema::<serde_json::Map<String, serde_json::Value>>,
    )],
    ..op("openapi", "service", "This document (no auth).")
};

pub const GET_ME: Operation = Operation {
    success: &[Success::json(200, "The caller.", schema::<views::User>)],
    ..op(
        "getMe",
        "users",
        "The caller; answered from the token's claims (0 credits) before the caller's first write.",
    )
};

pub const PATCH_ME: Operation = Operation {
    body: Some((schema::<ProfilePatchBody>, true)),
    success: &[Success::json(
        200,
        "The updated user.",
        schema::<views::User>,
    )],
    ..op("patchMe", "users", "Change the caller's profile.")
};

pub const LEDGER: Operation = Operation {
    query: Some(fields::<PageQuery>),
    success: &[Success::json(
        200,
        "A page of ledger entries.",
        schema::<views::Ledger>,
    )],
    ..op("getLedger", "credits", "The caller's ledger, newest first.")
};

pub const LIST_CHATS: Operation = Operation {
    query: Some(fields::<ChatListParams>),
    success: &[Success::json(
        200,
        "A page of chats.",
        schema::<views::ChatList>,
    )],
    ..op(
        "listChats",
        "chats",
        "The caller's chats, most recently active first.",
    )
};

pub const CREATE_CHAT: Operation = Operation {
    body: Some((schema::<NewChatBody>, true)),
    success: &[
        Success::json(
            200,
            "The existing direct chat of the pair.",
            schema::<views::Chat>,
        ),
        Success::json(201, "The new chat.", schema::<views::Chat>),
    ],
    ..op(
        "createChat",
        "chats",
        "Create a chat; the existing direct chat of the same pair is returned with 200.",
    )
};

pub const GET_CHAT: Operation = Operation {
    success: &[Success::json(200, "The chat.", schema::<views::Chat>)],
    ..op(
        "getChat",
        "chats",
        "One chat of the caller, or in a service key's reach.",
    )
};

pub const GET_UNREAD: Operation = Operation {
    success: &[Success::json(
        200,
        "The caller's unread totals over the chats not muted.",
        schema::<views::Unread>,
    )],
    ..op(
        "getUnread",
        "chats",
        "Total unread for an app's badge: exact, one D1 round trip, at most 2 rows read per chat.",
    )
};

pub const UPDATE_CHAT: Operation = Operation {
    body: Some((schema::<ChatChangeBody>, true)),
    success: &[Success::json(
        200,
        "The chat (unchanged when the title is the same).",
        schema::<views::Chat>,
    )],
    errors: &[422],
    ..op("updateChat", "members", "Rename a group (owner, admin).")
};

pub const UPDATE_MY_SETTINGS: Operation = Operation {
    body: Some((schema::<SettingsBody>, true)),
    success: &[Success::json(
        200,
        "The chat with the caller's new settings.",
        schema::<views::Chat>,
    )],
    ..op(
        "updateMySettings",
        "members",
        "Mute or archive a chat, for the caller only.",
    )
};

pub const ADD_MEMBERS: Operation = Operation {
    body: Some((schema::<NewMembersBody>, true)),
    success: &[Success::json(
        200,
        "The chat with its members now.",
        schema::<views::Chat>,
    )],
    errors: &[422],
    ..op(
        "addMembers",
        "members",
        "Add members to a group (owner, admin).",
    )
};

pub const REMOVE_MEMBER: Operation = Operation {
    success: &[Success {
        status: 204,
        description: "Removed (or left).",
        body: None,
        headers: &[],
        raw: false,
    }],
    errors: &[422],
    ..op(
        "removeMember",
        "members",
        "Remove a member (owner: anyone but self; admin: members), or leave (your own id).",
    )
};

pub const SET_MEMBER_ROLE: Operation = Operation {
    body: Some((schema::<RoleChangeBody>, true)),
    success: &[Success::json(
        200,
        "The chat with the new roles.",
        schema::<views::Chat>,
    )],
    errors: &[422],
    ..op(
        "setMemberRole",
        "members",
        "Set a member's role (owner); naming a new owner hands ownership over.",
    )
};

pub const GET_PRESENCE: Operation = Operation {
    success: &[Success::json(
        200,
        "Who has a live socket open.",
        schema::<views::Presence>,
    )],
    ..op(
        "getPresence",
        "live",
        "Who is online in the chat (never a user whose availability is offline).",
    )
};

pub const OPEN_LIVE: Operation = Operation {
    headers: &["Upgrade", "Sec-WebSocket-Version", "Sec-WebSocket-Key"],
    success: &[Success {
        status: 101,
        description: "Switching Protocols: the socket is open.",
        body: None,
        headers: &[],
        raw: false,
    }],
    errors: &[426],
    ..op("openLive", "live", "Open a WebSocket on one chat.")
};

pub const SEND_MESSAGE: Operation = Operation {
    body: Some((schema::<NewMessageBody>, true)),
    success: &[Success::json(
        201,
        "The message (also for a replayed clientMessageId).",
        schema::<views::Message>,
    )
    .with_headers(REPLAYED)],
    errors: &[403, 404, 409, 422],
    ..op(
        "sendMessage",
        "messages",
        "Send a message (through the chat's Durable Object); with parentId, a reply (its parent's replyCount follows); with mentions, the mentioned participants' unreadMentions count it.",
    )
};

pub const LIST_MESSAGES: Operation = Operation {
    query: Some(fields::<MessageListQuery>),
    success: &[Success::json(
        200,
        "A page (page mode) or a window (cursor mode).",
        schema::<views::MessageListing>,
    )],
    ..op(
        "listMessages",
        "messages",
        "Messages of a chat: a page (page mode) or a window (cursor mode, around included).",
    )
};

pub const LIST_REPLIES: Operation = Operation {
    query: Some(fields::<ReplyListParams>),
    success: &[Success::json(
        200,
        "The message and a page of its thread's live replies, chronological.",
        schema::<views::ReplyList>,
    )],
    ..op(
        "listReplies",
        "messages",
        "A message's thread: its live replies, from the oldest unless before or after says otherwise; a deleted parent still serves its thread.",
    )
};

pub const UPLOAD_FILE: Operation = Operation {
    query: Some(fields::<UploadParams>),
    body: Some((schema::<serde_json::Value>, true)),
    raw_body: true,
    success: &[Success::json(
        201,
        "The file, with a signed URL (an hour).",
        schema::<views::File>,
    )],
    errors: &[411, 413],
    ..op(
        "uploadFile",
        "files",
        "Upload a file into the chat (raw bytes, Content-Type its type, Content-Length required, at most 25 MiB): a participant or a key that reaches the chat. Send it with media.fileId.",
    )
};

pub const DOWNLOAD_FILE: Operation = Operation {
    query: Some(fields::<DownloadParams>),
    headers: &["Range", "If-None-Match"],
    success: &[
        Success::bytes(200, "The file's bytes (Content-Type its own; ETag, Content-Disposition, nosniff).", true),
        Success::bytes(206, "One range of the file's bytes (Content-Range).", true),
        Success::bytes(304, "Not modified (If-None-Match matched the ETag).", false),
    ],
    errors: &[400, 401, 416, 429, 503],
    ..op(
        "downloadFile",
        "files",
        "A file's bytes: with a signed URL's exp and sig and no header, or a participant's token or a key that reaches the chat. Removed files are 404.",
    )
};

pub const SEARCH: Operation = Operation {
    query: Some(fields::<SearchParams>),
    success: &[Success::json(
        200,
        "A page of results: live messages of the chats the caller reads, best first (or newest first).",
        schema::<views::SearchResults>,
    )],
    ..op(
        "search",
        "messages",
        "Full-text search over the live messages the caller may read (a participant's chats, a key's reach), optionally one chat or project; one D1 round trip, whose rows grow with the matches in the chats searched only.",
    )
};

pub const LIST_MENTIONS: Operation = Operation {
    query: Some(fields::<MentionListParams>),
    success: &[Success::json(
        200,
        "A page of the messages that mention the caller, newest first.",
        schema::<views::MentionList>,
    )],
    ..op(
        "listMentions",
        "messages",
        "The live messages that mention the caller, in the chats it is in, newest first.",
    )
};

pub const MARK_READ: Operation = Operation {
    body: Some((schema::<ReadMarkBody>, false)),
    success: &[Success::json(
        200,
        "The read mark.",
        schema::<views::ReadMark>,
    )],
    ..op(
        "markRead",
        "messages",
        "Move the caller's read mark forward.",
    )
};

pub const CREDIT_TRANSFER: Operation = Operation {
    body: Some((schema::<NewTransferBody>, true)),
    headers: &["Idempotency-Key"],
    success: &[Success::json(
        201,
        "The credit_transfer message (also for a replayed key).",
        schema::<views::Message>,
    )
    .with_headers(REPLAYED)],
    errors: &[404, 409, 422],
    ..op(
        "creditTransfer",
        "credits",
        "Send credits to another participant of a chat (through the chat's Durable Object).",
    )
};

pub const EDIT_MESSAGE: Operation = Operation {
    body: Some((schema::<EditBody>, true)),
    success: &[Success::json(
        200,
        "The edited message.",
        schema::<views::Message>,
    )],
    errors: &[403, 409],
    ..op(
        "editMessage",
        "messages",
        "Edit the caller's own text message (and replace its mentions when given).",
    )
};

pub const DELETE_MESSAGE: Operation = Operation {
    success: &[Success::json(
        200,
        "The tombstone (also when it was deleted before).",
        schema::<views::Message>,
    )],
    errors: &[403, 409],
    ..op(
        "deleteMessage",
        "messages",
        "Delete the caller's own message, leaving a tombstone.",
    )
};

pub const ADD_REACTION: Operation = Operation {
    success: &[Success::json(
        200,
        "The message's reaction counts and the caller's own keys (also when the reaction was there).",
        schema::<views::ReactionState>,
    )],
    errors: &[409, 422],
    ..op(
        "addReaction",
        "messages",
        "Add the caller's reaction (a service key's: its senderId's); idempotent.",
    )
};

pub const REMOVE_REACTION: Operation = Operation {
    success: &[Success::json(
        200,
        "The message's reaction counts and the caller's own keys (also when the reaction was not there).",
        schema::<views::ReactionState>,
    )],
    errors: &[409],
    ..op("removeReaction", "messages", "Remove the caller's reaction; idempotent.")
};

pub const LIST_REACTIONS: Operation = Operation {
    query: Some(fields::<ReactionListParams>),
    success: &[Success::json(
        200,
        "The message's reactions, oldest first.",
        schema::<views::ReactionList>,
    )],
    errors: &[409],
    ..op(
        "listReactions",
        "messages",
        "Who reacted to a message, with what.",
    )
};

pub const PIN_MESSAGE: Operation = Operation {
    success: &[Success::json(
        200,
        "The message, pinned (also when it was).",
        schema::<views::Message>,
    )],
    errors: &[409, 422],
    ..op(
        "pinMessage",
        "messages",
        "Pin a message: either participant of a direct chat, a group's owner and admins (403 for others and for service keys); at most 50 pins per chat.",
    )
};

pub const UNPIN_MESSAGE: Operation = Operation {
    success: &[Success::json(
        200,
        "The message, unpinned (also when it was not pinned).",
        schema::<views::Message>,
    )],
    errors: &[409],
    ..op(
        "unpinMessage",
        "messages",
        "Unpin a message (who may: as for pinning).",
    )
};

pub const LIST_PINS: Operation = Operation {
    success: &[Success::json(
        200,
        "The chat's pinned messages, newest pin first.",
        schema::<views::PinList>,
    )],
    ..op("listPins", "messages", "A chat's pinned messages.")
};

pub const GRANT_CREDITS: Operation = Operation {
    body: Some((schema::<NewGrantBody>, true)),
    headers: &["Idempotency-Key"],
    success: &[Success::json(
        201,
        "The user's balance (also for a replayed key).",
        schema::<views::Grant>,
    )
    .with_headers(REPLAYED)],
    errors: &[409, 422],
    ..op(
        "grantCredits",
        "admin",
        "Grant credits to a user (admin key, not a JWT).",
    )
};

pub const CREATE_KEY: Operation = Operation {
    body: Some((schema::<NewApiKeyBody>, true)),
    success: &[Success::json(
        201,
        "The key, with the key itself (and the webhook's secret when a webhookUrl was set).",
        schema::<views::ApiKeyOnce>,
    )],
    ..op(
        "createApiKey",
        "admin",
        "Create a service key (optionally with a webhook); the key and the webhook's secret are shown in this answer only.",
    )
};

pub const LIST_KEYS: Operation = Operation {
    success: &[Success::json(
        200,
        "The keys (never the keys themselves).",
        schema::<views::ApiKeys>,
    )],
    ..op("listApiKeys", "admin", "Every service key, newest first.")
};

pub const REVOKE_KEY: Operation = Operation {
    success: &[Success::json(
        200,
        "The key with revokedAt set (revoking again answers the same).",
        schema::<views::ApiKey>,
    )],
    ..op(
        "revokeApiKey",
        "admin",
        "Revoke a service key: from the next request on it is a 401.",
    )
};

pub const UPDATE_KEY: Operation = Operation {
    body: Some((schema::<WebhookChangeBody>, true)),
    success: &[Success::json(
        200,
        "The key, with webhookSecret when a URL was set.",
        schema::<views::ApiKeyOnce>,
    )],
    errors: &[409],
    ..op(
        "updateApiKey",
        "admin",
        "Set (with a new signing secret, shown in this answer only) or remove a service key's webhook. It applies from the next write on; deliveries already recorded keep their URL and secret.",
    )
};

pub const DELIVERIES: Operation = Operation {
    query: Some(fields::<DeliveriesQuery>),
    success: &[Success::json(
        200,
        "The deliveries.",
        schema::<views::Deliveries>,
    )],
    ..op(
        "listWebhookDeliveries",
        "admin",
        "A key's webhook deliveries, newest first (by event commit time).",
    )
};

pub const SESSION_MESSAGES: Operation = Operation {
    query: Some(fields::<SessionQuery>),
    success: &[Success::json(
        200,
        "The messages.",
        schema::<views::SessionList>,
    )
    .with_headers(&["X-Next-After-Sequence"])],
    ..op(
        "sessionMessages",
        "ai-sessions",
        "AI chat sessions: every message of the chat after afterSequence, oldest first, at most 1,000.",
    )
};

pub const PROJECT_MESSAGES: Operation = Operation {
    query: Some(fields::<ProjectQuery>),
    success: &[Success::json(
        200,
        "The messages and the chat's message count.",
        schema::<views::ProjectList>,
    )],
    ..op(
        "projectMessages",
        "project-chats",
        "Project chats: a page (page 1 newest, chronological inside), or before / after a time.",
    )
};

pub const ASSISTANT_MESSAGES: Operation = Operation {
    query: Some(fields::<AssistantQuery>),
    success: &[Success::json(
        200,
        "The messages.",
        schema::<views::AssistantList>,
    )],
    ..op(
        "assistantMessages",
        "assistant-chats",
        "Assistant chats: offset / limit from the oldest message.",
    )
};

pub const ASSISTANT_SEND: Operation = Operation {
    body: Some((schema::<AssistantSendBody>, true)),
    headers: &["clientKey"],
    success: &[Success::json(
        201,
        "The message (also for a replayed Idempotency-Key).",
        schema::<views::AssistantMessage>,
    )
    .with_headers(REPLAYED)],
    errors: &[403, 409],
    ..op(
        "assistantSend",
        "assistant-chats",
        "Assistant chats: send a message (the main send's path into the chat room).",
    )
};

pub const LIST_BLOCKS: Operation = Operation {
    success: &[Success::json(
        200,
        "The users the caller blocks, by id.",
        schema::<views::Blocks>,
    )],
    ..op("listBlocks", "safety", "The users the caller blocks.")
};

pub const BLOCK_USER: Operation = Operation {
    success: &[Success::bytes(204, "Blocked (also when the block stood already).", false)],
    errors: &[422],
    ..op(
        "blockUser",
        "safety",
        "Block a user: from now on neither of the two can open a direct chat with the other, write into their direct chat, add the other to a group or transfer credits to the other (403 each); groups they share are unaffected. At most 1,000 blocks (422).",
    )
};

pub const UNBLOCK_USER: Operation = Operation {
    success: &[Success::bytes(
        204,
        "Unblocked (also when there was no block).",
        false,
    )],
    ..op(
        "unblockUser",
        "safety",
        "Lift the caller's block of a user.",
    )
};

pub const EXPORT_MY_DATA: Operation = Operation {
    success: &[Success::bytes(
        200,
        "NDJSON (application/x-ndjson), streamed, as an attachment: one {\"kind\", \"data\"} object per line, kind profile, membership, message, ledger or block.",
        true,
    )],
    ..op(
        "exportMyData",
        "safety",
        "The caller's data (GDPR Art. 20): its profile, memberships, the messages it sent, its ledger and blocks, streamed page by page. The X-D1-* headers count the profile's read only.",
    )
};

pub const REPORT_MESSAGE: Operation = Operation {
    body: Some((schema::<NewReportBody>, true)),
    success: &[
        Success::json(201, "The new report.", schema::<views::Report>),
        Success::json(
            200,
            "The caller's earlier report of this message.",
            schema::<views::Report>,
        ),
    ],
    ..op(
        "reportMessage",
        "safety",
        "Report a message of a chat the caller is in (one report per user and message).",
    )
};

pub const LIST_REPORTS: Operation = Operation {
    query: Some(fields::<ReportListParams>),
    success: &[Success::json(
        200,
        "A page of reports, oldest first, each with its message as it is now.",
        schema::<views::Reports>,
    )],
    ..op(
        "listReports",
        "admin",
        "The moderation queue: reports of one status (default open).",
    )
};

pub const UPDATE_REPORT: Operation = Operation {
    body: Some((schema::<ReportChangeBody>, true)),
    success: &[Success::json(200, "The report.", schema::<views::Report>)],
    ..op(
        "updateReport",
        "admin",
        "Dismiss a report, mark it actioned, or reopen it.",
    )
};

pub const MODERATOR_DELETE_MESSAGE: Operation = Operation {
    success: &[Success::json(
        200,
        "The tombstone, deletedBy moderator (a tombstone already: as it is).",
        schema::<views::Message>,
    )],
    ..op(
        "moderatorDeleteMessage",
        "admin",
        "Delete any message (a credit transfer's amount and parties stay). Live sockets and webhooks see message.deleted.",
    )
};

pub const ERASE_USER: Operation = Operation {
    success: &[Success::json(
        202,
        "The erasure: done already for a user with a few chats, else running (GET /api/v1/admin/erasures/{erasureId}).",
        schema::<views::Erasure>,
    )],
    ..op(
        "eraseUser",
        "admin",
        "Erase a user (GDPR Art. 17): its messages become tombstones (deletedBy moderator; a credit transfer keeps its amount and parties), its reactions, blocks, reports, mentions and files go, it leaves every group (ownership passing to the longest-standing admin, else member) and stays anonymized in its direct chats; its profile becomes deleted-user. The ledger keeps its entries. Live sockets and webhooks see message.deleted. Running it again erases nothing more.",
    )
};

pub const GET_ERASURE: Operation = Operation {
    success: &[Success::json(
        200,
        "The erasure's progress.",
        schema::<views::Erasure>,
    )],
    ..op("getErasure", "admin", "An erasure's progress.")
};

/// Every operation, found by id for its route.
pub const OPERATIONS: &[Operation] = &[
    HEALTH,
    OPENAPI,
    GET_ME,
    PATCH_ME,
    LEDGER,
    LIST_CHATS,
    CREATE_CHAT,
    GET_CHAT,
    GET_UNREAD,
    UPDATE_CHAT,
    UPDATE_MY_SETTINGS,
    ADD_MEMBERS,
    REMOVE_MEMBER,
    SET_MEMBER_ROLE,
    GET_PRESENCE,
    OPEN_LIVE,
    SEND_MESSAGE,
    LIST_MESSAGES,
    MARK_READ,
    CREDIT_TRANSFER,
    EDIT_MESSAGE,
    DELETE_MESSAGE,
    ADD_REACTION,
    REMOVE_REACTION,
    LIST_REACTIONS,
    PIN_MESSAGE,
    UNPIN_MESSAGE,
    LIST_PINS,
    LIST_REPLIES,
    LIST_MENTIONS,
    LIST_BLOCKS,
    BLOCK_USER,
    UNBLOCK_USER,
    EXPORT_MY_DATA,
    REPORT_MESSAGE,
    LIST_REPORTS,
    UPDATE_REPORT,
    MODERATOR_DELETE_MESSAGE,
    ERASE_USER,
    GET_ERASURE,
    SEARCH,
    UPLOAD_FILE,
    DOWNLOAD_FILE,
    GRANT_CREDITS,
    CREATE_KEY,
    LIST_KEYS,
    REVOKE_KEY,
    UPDATE_KEY,
    DELIVERIES,
    SESSION_MESSAGES,
    PROJECT_MESSAGES,
    ASSISTANT_MESSAGES,
    ASSISTANT_SEND,
];

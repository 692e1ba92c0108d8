//! Rows to the JSON of API.md: one `#[derive(Serialize, JsonSchema)]` view struct per response shape,
//! borrowing from the rows, with the fields in API.md's order; its schema is the document's (the
//! attributes say what a Rust type cannot: ranges, patterns, which id a string is). Derived fields (`readBy`, `unreadCount`,
//! `messageCount`) are computed here from sequence numbers and read marks, never counted in the
//! database. Stored JSON (media, metadata) is written back as is (`RawValue`), without building a tree.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::auth::Caller;
use crate::domain::chat::{ChatKind, MAX_GROUP_PARTICIPANTS, MAX_TITLE_CHARS};
use crate::domain::credits::MAX_AMOUNT;
use crate::domain::ids::{ObjectId, ProjectId, UserId};
use crate::domain::input::MAX_SAFE_INTEGER;
use crate::domain::members::{ChatEvent, Role};
use crate::domain::message::{
    Media, MediaKind, MessageKind, Metadata, SenderRole, MAX_CONTENT_CHARS,
};
use crate::domain::pagination::{PageInfo, MAX_LIMIT};
use crate::domain::time::Timestamp;
use crate::domain::url::HttpsUrl;
use crate::domain::user::{Availability, PhotoKind};
use crate::store::credits::LedgerRow;
use crate::store::keys::ApiKeyRow;
use crate::store::rows::{ChatRecord, MessageRow, ParticipantRow, UserRow};

/// How file URLs are minted while views are serialized: the signing key, the origin and how long a
/// URL works. Set per request (and in the chat's Durable Object per write) before anything is shown;
/// serializing is synchronous, so a view never sees another request's setting mid-way (and every
/// origin of one deployment serves the same files).
#[derive(Clone)]
pub struct FileUrls {
    pub key: Vec<u8>,
    pub origin: String,
    pub ttl_seconds: i64,
}

thread_local! {
    static FILE_URLS: std::cell::RefCell<Option<FileUrls>> = const { std::cell::RefCell::new(None) };
}

/// Sets how file URLs are minted from now on (`None`: not at all, the secret is missing).
pub fn set_file_urls(urls: Option<FileUrls>) {
    FILE_URLS.with(|f| *f.borrow_mut() = urls);
}

/// The current setting, to restore after a change (webhook bodies mint day-long URLs).
pub fn file_urls() -> Option<FileUrls> {
    FILE_URLS.with(|f| f.borrow().clone())
}

/// A file's signed URL as the current setting mints it (`None` without one).
pub fn file_url(file_id: &str) -> Option<String> {
    FILE_URLS.with(|f| {
        f.borrow().as_ref().map(|u| {
            let exp = crate::domain::time::now_ms() / 1000 + u.ttl_seconds;
            crate::domain::files::signed_url(&u.key, &u.origin, file_id, exp)
        })
    })
}

/// A stored media object as shown: as stored, but an uploaded file's `url` minted afresh (signed).
pub struct MediaJson<'a>(&'a RawValue);

impl Serialize for MediaJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if !self.0.get().contains("\"fileId\"") {
            return self.0.serialize(s);
        }
        let mut media: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(self.0.get()).map_err(serde::ser::Error::custom)?;
        let url = media
            .get("fileId")
            .and_then(|id| id.as_str())
            .and_then(file_url);
        media.insert(
            "url".into(),
            url.map_or(serde_json::Value::Null, Into::into),
        );
        media.serialize(s)
    }
}

/// Stored JSON (media, metadata) as it is; `None` if absent.
fn raw_json(text: &Option<String>) -> Option<&RawValue> {
    text.as_deref()
        .and_then(|t| serde_json::from_str::<&RawValue>(t).ok())
}

/// Stored JSON (reaction counts: an object) as it is, or `{}` when there is none.
pub struct CountsOrEmpty<'a>(Option<&'a RawValue>);

impl<'a> CountsOrEmpty<'a> {
    pub fn of(text: &'a Option<String>) -> Self {
        CountsOrEmpty(raw_json(text))
    }
}

impl Serialize for CountsOrEmpty<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            Some(raw) => raw.serialize(s),
            None => serde::ser::SerializeMap::end(s.serialize_map(Some(0))?),
        }
    }
}

/// Stored JSON (an array of strings: mentions, reaction keys) as it is, or `[]` when there is none.
pub struct ListOrEmpty<'a>(Option<&'a RawValue>);

impl<'a> ListOrEmpty<'a> {
    pub fn of(text: &'a Option<String>) -> Self {
        ListOrEmpty(raw_json(text))
    }
}

impl Serialize for ListOrEmpty<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            Some(raw) => raw.serialize(s),
            None => serde::ser::SerializeSeq::end(s.serialize_seq(Some(0))?),
        }
    }
}

/// The document's type of a message's `reactionCounts`: each key and its count (keys at 0 absent).
#[derive(JsonSchema)]
#[schemars(extend("maxProperties" = crate::domain::reactions::MAX_KEYS_PER_MESSAGE))]
#[allow(dead_code)]
pub struct ReactionCounts(std::collections::BTreeMap<crate::domain::reactions::ReactionKey, u32>);

#[derive(Serialize, JsonSchema)]
pub struct Photo<'a> {
    #[serde(rename = "_id")]
    #[schemars(with = "Option<ObjectId>")]
    id: Option<&'a str>,
    #[schemars(with = "HttpsUrl")]
    url: &'a str,
    #[serde(rename = "type")]
    #[schemars(with = "PhotoKind")]
    kind: &'a str,
}

fn photo<'a>(
    id: &'a Option<String>,
    url: &'a Option<String>,
    kind: &'a Option<String>,
) -> Option<Photo<'a>> {
    url.as_deref().map(|url| Photo {
        id: id.as_deref(),
        url,
        kind: kind.as_deref().unwrap_or("image"),
    })
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct User<'a> {
    #[serde(rename = "_id")]
    #[schemars(with = "UserId")]
    id: &'a str,
    #[schemars(length(min = 1))]
    username: &'a str,
    /// null for an erased user.
    #[schemars(length(min = 1))]
    first_name: Option<&'a str>,
    profile_photo: Option<Photo<'a>>,
    availability_status: Availability,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    credits: i64,
}

impl<'a> User<'a> {
    pub fn new(row: &'a UserRow) -> Self {
        User {
            id: &row.id,
            username: &row.username,
            first_name: Some(row.first_name.as_str()).filter(|f| !f.is_empty()),
            profile_photo: photo(&row.photo_id, &row.photo_url, &row.photo_type),
            availability_status: row.availability,
            credits: row.credits,
        }
    }

    /// A user with no row yet, answered from their token's claims (reads never write).
    pub fn from_claims(caller: &'a Caller) -> Self {
        let username = caller.username.as_deref().unwrap_or(caller.id.as_str());
        User {
            id: caller.id.as_str(),
            username,
            first_name: Some(caller.first_name.as_deref().unwrap_or(username)),
            profile_photo: caller.picture.as_deref().map(|url| Photo {
                id: None,
                url,
                kind: "image",
            }),
            availability_status: Availability::Available,
            credits: 0,
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Participant<'a> {
    #[serde(rename = "_id")]
    #[schemars(with = "UserId")]
    id: &'a str,
    #[schemars(length(min = 1))]
    username: &'a str,
    profile_photo: Option<Photo<'a>>,
    availability_status: Availability,
    /// The member's role in the chat.
    role: Option<Role>,
}

impl<'a> Participant<'a> {
    pub fn new(row: &'a ParticipantRow) -> Self {
        Participant {
            id: &row.user_id,
            username: row.username.as_deref().unwrap_or(&row.user_id),
            profile_photo: photo(&row.photo_id, &row.photo_url, &row.photo_type),
            availability_status: row.availability.unwrap_or_default(),
            role: Some(row.role.unwrap_or(Role::Member)),
        }
    }

    pub fn all(rows: &'a [ParticipantRow]) -> Vec<Self> {
        rows.iter().map(Participant::new).collect()
    }
}

/// The participants of `chat` among a page's per-chat lists (a page that spans chats: search results,
/// mentions), for each message's `readBy`; none if the chat is not listed.
pub fn participants_of<'a>(
    lists: &'a [(String, Vec<ParticipantRow>)],
    chat: &str,
) -> &'a [ParticipantRow] {
    lists
        .iter()
        .find(|(id, _)| id == chat)
        .map_or(&[], |(_, list)| list.as_slice())
}

/// Participants other than the sender whose read mark is at or past `seq`, in participant order.
pub fn read_by<'a>(
    seq: i64,
    sender: &str,
    marks: impl IntoIterator<Item = (&'a str, i64)>,
) -> Vec<&'a str> {
    marks
        .into_iter()
        .filter(|(user, mark)| *user != sender && *mark >= seq)
        .map(|(user, _)| user)
        .collect()
}

pub fn marks(participants: &[ParticipantRow]) -> impl Iterator<Item = (&str, i64)> + Clone {
    participants
        .iter()
        .map(|p| (p.user_id.as_str(), p.last_read_seq))
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditTransfer<'a> {
    #[schemars(range(min = 1, max = MAX_AMOUNT))]
    amount: i64,
    #[schemars(with = "UserId")]
    recipient_id: &'a str,
    #[schemars(with = "UserId")]
    sender_id: &'a str,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message<'a> {
    #[serde(rename = "_id")]
    #[schemars(with = "ObjectId")]
    id: &'a str,
    #[schemars(with = "ObjectId")]
    chat_id: &'a str,
    #[schemars(with = "UserId")]
    sender_id: &'a str,
    sender_role: SenderRole,
    #[serde(rename = "type")]
    kind: MessageKind,
    /// null on tombstones; the note (or null) of a credit transfer.
    #[schemars(length(max = MAX_CONTENT_CHARS))]
    content: Option<&'a str>,
    #[schemars(with = "Option<Media>")]
    media: Option<MediaJson<'a>>,
    credit_transfer: Option<CreditTransfer<'a>>,
    #[schemars(with = "Option<Metadata>")]
    metadata: Option<&'a RawValue>,
    /// Participants other than the sender whose read mark is at or past this message.
    #[schemars(with = "Vec<UserId>")]
    read_by: Vec<&'a str>,
    /// Dense per chat: 1, 2, 3, ... in commit order.
    #[schemars(range(min = 1, max = MAX_SAFE_INTEGER))]
    sequence_number: i64,
    #[schemars(length(min = 1, max = 64))]
    client_message_id: Option<&'a str>,
    edited_at: Option<Timestamp>,
    deleted_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
    /// The change of the chat a `system` message records; null on every other message.
    #[schemars(with = "Option<ChatEvent>")]
    chat_event: Option<&'a RawValue>,
    /// The message this one replies to (null: not a reply).
    #[schemars(with = "Option<ObjectId>")]
    parent_id: Option<&'a str>,
    /// The live replies to this message.
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    reply_count: i64,
    /// The newest live reply's `createdAt` (null when none).
    last_reply_at: Option<Timestamp>,
    /// The users the message mentions.
    #[schemars(with = "Vec<UserId>", length(max = 50))]
    mentions: ListOrEmpty<'a>,
    /// Each reaction key and its count (keys at 0 are absent).
    #[schemars(with = "ReactionCounts")]
    reaction_counts: CountsOrEmpty<'a>,
    /// The reader's own reaction keys (a service key's: its senderId's). Empty on live frames and
    /// webhooks, which every receiver shares: `reaction.updated` names who reacted.
    #[schemars(with = "Vec<crate::domain::reactions::ReactionKey>", length(max = 20))]
    my_reactions: ListOrEmpty<'a>,
    pinned_at: Option<Timestamp>,
    #[schemars(with = "Option<UserId>")]
    pinned_by: Option<&'a str>,
    /// Who deleted the message: its sender, or a moderator (the admin's delete, an erasure); null
    /// while it is live.
    deleted_by: Option<DeletedBy>,
}

/// Who made a tombstone (`Message.deletedBy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeletedBy {
    Sender,
    Moderator,
}

impl DeletedBy {
    /// A tombstone's stored `deleted_by` (NULL on tombstones made before migration 0011: their
    /// sender's).
    pub fn of(row: &MessageRow) -> Option<DeletedBy> {
        row.deleted_at?;
        Some(match row.deleted_by.as_deref() {
            Some("moderator") => DeletedBy::Moderator,
            _ => DeletedBy::Sender,
        })
    }
}

impl<'a> Message<'a> {
    pub fn new(row: &'a MessageRow, read_by: Vec<&'a str>) -> Self {
        // Tombstones keep their place and sequence number but none of their content.
        let live = row.deleted_at.is_none();
        let credit_transfer = match (row.kind, row.transfer_amount, &row.transfer_recipient) {
            (MessageKind::CreditTransfer, Some(amount), Some(recipient)) => Some(CreditTransfer {
                amount,
                recipient_id: recipient,
                sender_id: &row.sender_id,
            }),
            _ => None,
        };
        Message {
            id: &row.id,
            chat_id: &row.chat_id,
            sender_id: &row.sender_id,
            sender_role: row.sender_role,
            kind: row.kind,
            content: row.content.as_deref().filter(|_| live),
            media: raw_json(&row.media).filter(|_| live).map(MediaJson),
            credit_transfer,
            metadata: raw_json(&row.metadata).filter(|_| live),
            read_by,
            sequence_number: row.seq,
            client_message_id: row.client_message_id.as_deref(),
            edited_at: row.edited_at.map(Timestamp),
            deleted_at: row.deleted_at.map(Timestamp),
            created_at: Timestamp(row.created_at),
            updated_at: Timestamp(row.updated_at),
            chat_event: raw_json(&row.chat_event),
            parent_id: row.parent_id.as_deref(),
            reply_count: row.reply_count,
            last_reply_at: row.last_reply_at.map(Timestamp),
            mentions: ListOrEmpty(raw_json(&row.mentions).filter(|_| live)),
            reaction_counts: CountsOrEmpty(raw_json(&row.reaction_counts).filter(|_| live)),
            my_reactions: ListOrEmpty(raw_json(&row.my_reactions).filter(|_| live)),
            pinned_at: row.pinned_at.map(Timestamp),
            pinned_by: row.pinned_by.as_deref(),
            deleted_by: DeletedBy::of(row),
        }
    }

    /// The message as every receiver of a live frame or webhook sees it: without a reader's own
    /// reactions.
    pub fn shared(row: &'a MessageRow, read_by: Vec<&'a str>) -> Self {
        Message {
            my_reactions: ListOrEmpty(None),
            ..Message::new(row, read_by)
        }
    }

    /// `readBy` from the participants' read marks.
    pub fn with_marks(row: &'a MessageRow, participants: &'a [ParticipantRow]) -> Self {
        Message::new(row, read_by(row.seq, &row.sender_id, marks(participants)))
    }

    pub fn all(rows: &'a [MessageRow], participants: &'a [ParticipantRow]) -> Vec<Self> {
        rows.iter()
            .map(|m| Message::with_marks(m, participants))
            .collect()
    }
}

/// A chat as its caller sees it.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Chat<'a> {
    #[serde(rename = "_id")]
    #[schemars(with = "ObjectId")]
    id: &'a str,
    #[serde(rename = "type")]
    kind: ChatKind,
    #[schemars(length(max = MAX_TITLE_CHARS))]
    title: Option<&'a str>,
    #[schemars(with = "Option<ProjectId>")]
    project_id: Option<&'a str>,
    /// The members now (a group may shrink to none: it keeps its history).
    #[schemars(length(max = MAX_GROUP_PARTICIPANTS))]
    participants: Vec<Participant<'a>>,
    last_message: Option<Message<'a>>,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    message_count: i64,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    last_sequence_number: i64,
    /// Messages from others above the caller's read mark (0 for a service key, which has none).
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    unread_count: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
    /// The caller's role (null for a service key).
    role: Option<Role>,
    /// The caller's own settings (false for a service key).
    muted: bool,
    archived: bool,
    /// Messages above the caller's read mark that mention the caller.
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    unread_mentions: i64,
}

impl<'a> Chat<'a> {
    pub fn new(chat: &'a ChatRecord) -> Self {
        let row = &chat.row;
        Chat {
            id: &row.id,
            kind: row.kind,
            title: row.title.as_deref(),
            project_id: row.project_id.as_deref(),
            participants: Participant::all(&chat.participants),
            last_message: chat
                .last_message
                .as_ref()
                .map(|m| Message::with_marks(m, &chat.participants)),
            // Sequence numbers are dense and messages are never removed (deletes leave tombstones),
            // so the last sequence number is the message count.
            message_count: row.last_seq,
            last_sequence_number: row.last_seq,
            // Every send moves its sender's read mark to it, so every message above the caller's mark
            // is from someone else: the difference is exact.
            unread_count: (row.last_seq - row.my_read_seq).max(0),
            created_at: Timestamp(row.created_at),
            updated_at: Timestamp(row.updated_at),
            role: row.my_role,
            muted: row.my_muted == 1,
            archived: row.my_archived == 1,
            unread_mentions: row.my_unread_mentions,
        }
    }
}

/// The caller's unread totals over the chats not muted (`GET /api/v1/users/me/unread`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Unread {
    /// Messages from others above the caller's read marks.
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    total_unread: i64,
    /// Chats with at least one such message.
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    chats_with_unread: i64,
    /// Such messages that mention the caller.
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    unread_mentions: i64,
}

impl Unread {
    pub fn new(totals: crate::store::chats::Unread) -> Self {
        Unread {
            total_unread: totals.total_unread,
            chats_with_unread: totals.chats_with_unread,
            unread_mentions: totals.unread_mentions,
        }
    }
}

/// Who has a live socket open to the chat (`GET /api/v1/chats/{chatId}/presence`).
#[derive(Serialize, JsonSchema)]
pub struct Presence {
    /// Members with a socket open, never one whose availabilityStatus is offline.
    #[schemars(with = "Vec<UserId>")]
    pub online: Vec<String>,
}

/// A page of the caller's chats, most recently active first.
#[derive(Serialize, JsonSchema)]
pub struct ChatList<'a> {
    pub chats: Vec<Chat<'a>>,
    #[serde(flatten)]
    pub info: PageInfo,
}

/// Page mode.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageList<'a> {
    #[schemars(length(max = MAX_LIMIT))]
    pub messages: Vec<Message<'a>>,
    pub participants: Vec<Participant<'a>>,
    #[serde(flatten)]
    pub info: PageInfo,
    /// Pass back as asOf to pin later pages to this snapshot.
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    pub as_of_sequence: i64,
}

/// Cursor mode: no page numbers, `hasMore` and the opaque `nextCursor` instead.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageWindow<'a> {
    #[schemars(length(max = MAX_LIMIT))]
    pub messages: Vec<Message<'a>>,
    pub participants: Vec<Participant<'a>>,
    #[schemars(range(min = 1, max = MAX_LIMIT))]
    pub limit: i64,
    /// Every message of the chat, tombstones included.
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    pub total: i64,
    pub has_more: bool,
    /// Opaque; pass back as cursor=<nextCursor>. Null when hasMore is false.
    #[schemars(pattern("^(?:[0-9a-f]{2}){1,256}$"))]
    pub next_cursor: Option<String>,
}

/// `around`: a window centred on a message, with cursors both ways.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageAround<'a> {
    #[serde(flatten)]
    pub window: MessageWindow<'a>,
    /// Older messages than the page's first exist.
    pub has_older: bool,
    /// Newer messages than the page's last exist (hasMore is hasOlder || hasNewer).
    pub has_newer: bool,
    /// Continues further back, as a `before` cursor (null when hasOlder is false).
    #[schemars(pattern("^(?:[0-9a-f]{2}){1,256}$"))]
    pub older_cursor: Option<String>,
    /// Continues forward, as an `after` cursor; also the page's nextCursor (null when hasNewer is
    /// false).
    #[schemars(pattern("^(?:[0-9a-f]{2}){1,256}$"))]
    pub newer_cursor: Option<String>,
}

/// A page (page mode) or a window (cursor mode) of a chat's messages.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum MessageListing<'a> {
    Page(MessageList<'a>),
    Window(MessageWindow<'a>),
    Around(MessageAround<'a>),
}

/// A reaction's answer: the message's counts and the caller's own keys.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReactionState<'a> {
    #[schemars(with = "ObjectId")]
    pub message_id: &'a str,
    #[schemars(with = "ReactionCounts")]
    pub reaction_counts: CountsOrEmpty<'a>,
    #[schemars(with = "Vec<crate::domain::reactions::ReactionKey>", length(max = 20))]
    pub my_reactions: ListOrEmpty<'a>,
}

impl<'a> ReactionState<'a> {
    pub fn new(row: &'a MessageRow) -> Self {
        ReactionState {
            message_id: &row.id,
            reaction_counts: CountsOrEmpty::of(&row.reaction_counts),
            my_reactions: ListOrEmpty::of(&row.my_reactions),
        }
    }
}

/// One reaction of a message's list.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reaction<'a> {
    #[schemars(with = "UserId")]
    pub user_id: &'a str,
    #[schemars(with = "crate::domain::reactions::ReactionKey")]
    pub key: &'a str,
    pub created_at: Timestamp,
}

/// `GET /api/v1/messages/{messageId}/reactions`: oldest first.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReactionList<'a> {
    #[schemars(length(max = 100))]
    pub reactions: Vec<Reaction<'a>>,
    pub has_more: bool,
    /// Pass back as `cursor` to continue (null when `hasMore` is false).
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/messages/{messageId}/replies`: the thread's live replies, chronological.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplyList<'a> {
    /// The message replied to (a tombstone still serves its thread).
    pub parent: Message<'a>,
    #[schemars(length(max = MAX_LIMIT))]
    pub messages: Vec<Message<'a>>,
    /// The thread's live replies (the parent's replyCount).
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    pub total: i64,
    pub has_more: bool,
    /// Opaque; pass back as cursor=<nextCursor> to continue in the same direction (null when hasMore
    /// is false).
    #[schemars(pattern("^(?:[0-9a-f]{2}){1,256}$"))]
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/users/me/mentions`: the messages that mention the caller, newest first.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MentionList<'a> {
    #[schemars(length(max = MAX_LIMIT))]
    pub messages: Vec<Message<'a>>,
    pub has_more: bool,
    /// Opaque; pass back as cursor=<nextCursor> (null when hasMore is false).
    #[schemars(pattern("^(?:[0-9a-f]{2}){1,256}$"))]
    pub next_cursor: Option<String>,
}

/// An uploaded file (`POST /api/v1/chats/{chatId}/files`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct File<'a> {
    #[serde(rename = "_id")]
    #[schemars(with = "ObjectId")]
    id: &'a str,
    #[schemars(with = "ObjectId")]
    chat_id: &'a str,
    #[schemars(with = "UserId")]
    uploader_id: &'a str,
    #[schemars(length(min = 1, max = 255))]
    name: &'a str,
    #[schemars(length(min = 1))]
    content_type: &'a str,
    #[schemars(range(min = 1, max = 26214400))]
    size: i64,
    /// Hex SHA-256 of the bytes.
    #[schemars(pattern("^[0-9a-f]{64}$"))]
    sha256: &'a str,
    /// A signed URL that works without headers for an hour (minted afresh on every response).
    #[schemars(with = "crate::domain::files::FileUrl")]
    url: Option<String>,
    created_at: Timestamp,
}

impl<'a> File<'a> {
    pub fn new(row: &'a crate::store::files::FileRow) -> Self {
        File {
            id: &row.id,
            chat_id: &row.chat_id,
            uploader_id: &row.uploader_id,
            name: &row.name,
            content_type: &row.content_type,
            size: row.size,
            sha256: &row.sha256,
            url: file_url(&row.id),
            created_at: Timestamp(row.created_at),
        }
    }
}

/// One search result.
#[derive(Serialize, JsonSchema)]
pub struct SearchResult<'a> {
    pub message: Message<'a>,
    /// The matched passage: at most 200 characters of text, matches in <mark>…</mark>, everything
    /// else HTML-escaped.
    pub highlight: String,
}

/// `GET /api/v1/search`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchResults<'a> {
    #[schemars(length(max = 50))]
    pub results: Vec<SearchResult<'a>>,
    pub has_more: bool,
    /// Opaque; pass back as cursor=<nextCursor> with the same query (null when hasMore is false).
    #[schemars(pattern("^(?:[0-9a-f]{2}){1,256}$"))]
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/chats/{chatId}/pins`: newest pin first.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PinList<'a> {
    #[schemars(length(max = 50))]
    pub messages: Vec<Message<'a>>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadMark<'a> {
    #[schemars(with = "ObjectId")]
    pub chat_id: &'a str,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    pub last_read_sequence: i64,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    pub unread_count: i64,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Grant<'a> {
    #[schemars(with = "UserId")]
    pub user_id: &'a str,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    pub credits: i64,
}

#[derive(Serialize, JsonSchema)]
pub struct Health {
    #[schemars(extend("const" = "ok"))]
    pub status: &'static str,
    #[schemars(extend("const" = "ok"))]
    pub database: &'static str,
    #[schemars(length(min = 1))]
    pub version: &'static str,
}

/// What a ledger line records.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum LedgerKind {
    Grant,
    TransferIn,
    TransferOut,
}

/// Grants have no counterparty, chat or message.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry<'a> {
    #[schemars(range(min = 1, max = MAX_SAFE_INTEGER))]
    sequence: i64,
    #[schemars(with = "ObjectId")]
    transfer_id: &'a str,
    #[schemars(with = "LedgerKind")]
    kind: &'a str,
    /// Signed: negative for transfers out.
    #[schemars(range(min = -1_000_000_000, max = MAX_AMOUNT))]
    amount: i64,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    balance_after: i64,
    #[schemars(with = "Option<UserId>")]
    counterparty_id: Option<&'a str>,
    #[schemars(with = "Option<ObjectId>")]
    chat_id: Option<&'a str>,
    #[schemars(with = "Option<ObjectId>")]
    message_id: Option<&'a str>,
    created_at: Timestamp,
}

impl<'a> LedgerEntry<'a> {
    fn new(row: &'a LedgerRow) -> Self {
        LedgerEntry {
            sequence: row.seq,
            transfer_id: &row.transfer_id,
            kind: &row.kind,
            amount: row.amount,
            balance_after: row.balance_after,
            counterparty_id: row.counterparty_id.as_deref(),
            chat_id: row.chat_id.as_deref(),
            message_id: row.message_id.as_deref(),
            created_at: Timestamp(row.created_at),
        }
    }
}

/// `GET /api/v1/users/me/credits/ledger`: the caller's statement, newest first.
#[derive(Serialize, JsonSchema)]
#[schemars(description = "A page of the caller's ledger, newest first.")]
pub struct Ledger<'a> {
    entries: Vec<LedgerEntry<'a>>,
    #[serde(flatten)]
    info: PageInfo,
}

impl<'a> Ledger<'a> {
    pub fn new(rows: &'a [LedgerRow], info: PageInfo) -> Self {
        Ledger {
            entries: rows.iter().map(LedgerEntry::new).collect(),
            info,
        }
    }
}

/// A message's media as stored (the fields the surfaces map).
#[derive(serde::Deserialize)]
struct StoredMedia<'a> {
    #[serde(borrow)]
    url: Option<Cow<'a, str>>,
    /// An uploaded file's id: its URL is minted when shown.
    #[serde(rename = "fileId", borrow, default)]
    file_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
}

fn stored_media(row: &MessageRow) -> Option<StoredMedia<'_>> {
    let mut media = row
        .media
        .as_deref()
        .and_then(|m| serde_json::from_str::<StoredMedia<'_>>(m).ok())?;
    if let Some(id) = media.file_id.as_deref() {
        media.url = file_url(id).map(Cow::Owned);
    }
    Some(media)
}

/// A message of the AI-chat session surface (API.md "AI chat sessions").
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionMessage<'a> {
    #[schemars(with = "ObjectId")]
    id: &'a str,
    #[schemars(with = "ObjectId")]
    chat_id: &'a str,
    #[schemars(with = "UserId")]
    user_id: &'a str,
    /// The content, a credit transfer's note, a media or file message's media name (else its URL),
    /// or "".
    message: Cow<'a, str>,
    /// `ai` for an assistant, `system` for the system, else `user`.
    #[schemars(extend("enum" = ["user", "ai", "system"]))]
    message_type: &'static str,
    /// `file` for media and file messages, else `message`.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["message", "file"]))]
    kind: &'static str,
    #[schemars(range(min = 1, max = MAX_SAFE_INTEGER))]
    sequence_number: i64,
    timestamp: Timestamp,
}

impl<'a> SessionMessage<'a> {
    pub fn new(row: &'a MessageRow) -> Self {
        let file = row.kind.has_media();
        let message = if file {
            stored_media(row)
                .and_then(|m| m.name.or(m.url))
                .map(|m| Cow::Owned(m.into_owned()))
                .unwrap_or_default()
        } else {
            Cow::Borrowed(row.content.as_deref().unwrap_or_default())
        };
        SessionMessage {
            id: &row.id,
            chat_id: &row.chat_id,
            user_id: &row.sender_id,
            message,
            message_type: match row.sender_role {
                SenderRole::Assistant => "ai",
                SenderRole::System => "system",
                SenderRole::User => "user",
            },
            kind: if file { "file" } else { "message" },
            sequence_number: row.seq,
            timestamp: Timestamp(row.created_at),
        }
    }
}

/// `{"success": true, "statusCode": 200, "message", "data"}` of the AI-chat session surface.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionList<'a> {
    #[schemars(extend("const" = true))]
    success: bool,
    #[schemars(extend("const" = 200))]
    status_code: u16,
    #[schemars(extend("const" = "Messages retrieved successfully"))]
    message: &'static str,
    #[schemars(length(max = crate::domain::surfaces::SESSION_LIMIT))]
    data: Vec<SessionMessage<'a>>,
}

impl<'a> SessionList<'a> {
    /// Every message given but the deleted ones.
    pub fn new(rows: &'a [MessageRow]) -> Self {
        SessionList {
            success: true,
            status_code: 200,
            message: "Messages retrieved successfully",
            data: rows
                .iter()
                .filter(|m| m.deleted_at.is_none())
                .map(SessionMessage::new)
                .collect(),
        }
    }
}

/// A sender as the project-chat surface shows it: `firstName` is the participant's first name, or the
/// `senderId` of a sender who is no participant (a service key's).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSender<'a> {
    #[serde(rename = "_id")]
    #[schemars(with = "UserId")]
    id: &'a str,
    #[schemars(length(min = 1))]
    first_name: &'a str,
}

/// A message of the project-chat surface (API.md "Project chats"); tombstones show `content: null`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectMessage<'a> {
    #[serde(rename = "_id")]
    #[schemars(with = "ObjectId")]
    id: &'a str,
    /// null on tombstones.
    content: Option<&'a str>,
    sender: ProjectSender<'a>,
    created_at: Timestamp,
}

#[derive(Serialize, JsonSchema)]
pub struct ProjectMessages<'a> {
    #[schemars(length(max = MAX_LIMIT))]
    messages: Vec<ProjectMessage<'a>>,
    /// Every message, tombstones included.
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    total: i64,
}

/// `{"success": true, "data": {"messages", "total"}}`.
#[derive(Serialize, JsonSchema)]
pub struct ProjectList<'a> {
    #[schemars(extend("const" = true))]
    success: bool,
    data: ProjectMessages<'a>,
}

impl<'a> ProjectList<'a> {
    pub fn new(rows: &'a [MessageRow], participants: &'a [ParticipantRow], total: i64) -> Self {
        let first_name = |sender: &'a str| {
            participants
                .iter()
                .find(|p| p.user_id == sender)
                .and_then(|p| p.first_name.as_deref())
                .filter(|f| !f.is_empty())
                .unwrap_or(sender)
        };
        let messages = rows
            .iter()
            .map(|m| ProjectMessage {
                id: &m.id,
                content: m.content.as_deref().filter(|_| m.deleted_at.is_none()),
                sender: ProjectSender {
                    id: &m.sender_id,
                    first_name: first_name(&m.sender_id),
                },
                created_at: Timestamp(m.created_at),
            })
            .collect();
        ProjectList {
            success: true,
            data: ProjectMessages { messages, total },
        }
    }
}

/// A message of the assistant-chat surface (API.md "Assistant chats"): `media_type` / `media_url`
/// from its media, `metadata` or `{}`, `content: null` on tombstones.
#[derive(Serialize, JsonSchema)]
pub struct AssistantMessage<'a> {
    #[schemars(with = "ObjectId")]
    id: &'a str,
    content: Option<&'a str>,
    sender_role: SenderRole,
    #[schemars(with = "Option<MediaKind>")]
    media_type: Option<Cow<'a, str>>,
    #[schemars(with = "Option<HttpsUrl>")]
    media_url: Option<Cow<'a, str>>,
    created_at: Timestamp,
    #[schemars(with = "Metadata")]
    metadata: ObjectOrEmpty<'a>,
}

/// A stored JSON object, or `{}`.
#[derive(Serialize)]
#[serde(untagged)]
enum ObjectOrEmpty<'a> {
    Stored(&'a RawValue),
    Empty(NoReactions),
}

impl<'a> AssistantMessage<'a> {
    pub fn new(row: &'a MessageRow) -> Self {
        let live = row.deleted_at.is_none();
        let media = stored_media(row).filter(|_| live);
        let (media_type, media_url) = media.map_or((None, None), |m| (m.kind, m.url));
        AssistantMessage {
            id: &row.id,
            content: row.content.as_deref().filter(|_| live),
            sender_role: row.sender_role,
            media_type,
            media_url,
            created_at: Timestamp(row.created_at),
            metadata: raw_json(&row.metadata)
                .filter(|_| live)
                .map_or(ObjectOrEmpty::Empty(NoReactions {}), ObjectOrEmpty::Stored),
        }
    }
}

/// `{"messages", "total", "offset", "limit", "has_more"}` of the assistant-chat surface.
#[derive(Serialize, JsonSchema)]
pub struct AssistantList<'a> {
    #[schemars(length(max = MAX_LIMIT))]
    pub messages: Vec<AssistantMessage<'a>>,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    pub total: i64,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    pub offset: i64,
    #[schemars(range(min = 1, max = MAX_LIMIT))]
    pub limit: i64,
    pub has_more: bool,
}

/// A service key (never the key itself).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey<'a> {
    #[serde(rename = "_id")]
    #[schemars(with = "ObjectId")]
    id: &'a str,
    #[schemars(length(min = 1, max = crate::domain::keys::MAX_NAME_CHARS))]
    name: &'a str,
    #[schemars(with = "Option<ProjectId>")]
    project_id: Option<&'a str>,
    #[schemars(with = "UserId")]
    sender_id: &'a str,
    /// The key's webhook, or null.
    #[schemars(length(max = crate::domain::url::MAX_URL_LEN), pattern("^https?://"))]
    webhook_url: Option<&'a str>,
    /// The key's before-send hook, or null.
    #[schemars(length(max = crate::domain::url::MAX_URL_LEN), pattern("^https?://"))]
    before_send_url: Option<&'a str>,
    /// Whether a hook that does not answer refuses the write (503) instead of allowing it.
    before_send_fail_closed: bool,
    created_at: Timestamp,
    revoked_at: Option<Timestamp>,
}

impl<'a> ApiKey<'a> {
    pub fn new(row: &'a ApiKeyRow) -> Self {
        ApiKey {
            id: &row.id,
            name: &row.name,
            project_id: row.project_id.as_deref(),
            sender_id: &row.sender_id,
            webhook_url: row.webhook_url.as_deref(),
            before_send_url: row.before_send_url.as_deref(),
            before_send_fail_closed: row.before_send_fail_closed != 0,
            created_at: Timestamp(row.created_at),
            revoked_at: row.revoked_at.map(Timestamp),
        }
    }
}

/// A key with what is shown only once: the key itself (when created) and its webhook's signing secret
/// (when a webhook URL was set).
#[derive(Serialize, JsonSchema)]
#[schemars(
    description = "A service key with what is shown only once: the key itself (in the answer that creates it) and its webhook's signing secret (in an answer that sets a webhook URL)."
)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyOnce<'a> {
    #[serde(flatten)]
    pub key: ApiKey<'a>,
    /// Shown only in the answer that creates the key: only its SHA-256 is stored.
    #[serde(rename = "key", skip_serializing_if = "Option::is_none")]
    #[schemars(pattern("^eck_[A-Za-z0-9_-]{43}$"))]
    pub secret: Option<&'a str>,
    /// The webhook's signing secret, shown only in this answer (present when a webhookUrl was set).
    /// Verify Edge-Chat-Signature with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(pattern("^whsec_[A-Za-z0-9_-]{43}$"))]
    pub webhook_secret: Option<&'a str>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeys<'a> {
    pub api_keys: Vec<ApiKey<'a>>,
}

/// A key's webhook deliveries, newest first, as SQLite builds them (`store::keys::DELIVERIES_SQL`).
/// A revoked key's deliveries are still listed (200): the history stays readable after revocation.
#[derive(JsonSchema)]
#[schemars(description = "A key's webhook deliveries, newest first (a revoked key's too).")]
#[allow(dead_code)]
pub struct Deliveries {
    #[schemars(length(max = 100))]
    deliveries: Vec<Delivery>,
}

/// One event's delivery to one key's webhook, as of its last attempt.
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Delivery {
    event_id: crate::domain::webhooks::EventId,
    #[serde(rename = "type")]
    kind: crate::domain::live::MessageEvent,
    chat_id: ObjectId,
    message_id: ObjectId,
    status: DeliveryStatus,
    /// Attempts so far: 0 while the delivery waits behind earlier ones of its chat.
    attempts: u32,
    /// The receiver's last status; null when it gave none (timeout, refused connection).
    #[schemars(range(min = 100, max = 599))]
    last_status_code: Option<u16>,
    /// When a pending delivery is tried again; null once delivered or failed.
    next_attempt_at: Option<Timestamp>,
    updated_at: Timestamp,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

/// A SAMA attachment: the message's media (`file_id` = an uploaded file's id, else its URL;
/// `file_name` = its name).
#[derive(Serialize, JsonSchema)]
pub struct Attachment<'a> {
    #[serde(rename = "file_id")]
    file_id: Option<Cow<'a, str>>,
    #[serde(rename = "file_name")]
    file_name: Option<Cow<'a, str>>,
}

/// An empty JSON object: an absent metadata.
#[derive(Serialize, JsonSchema)]
#[schemars(description = "An empty object.")]
#[schemars(extend("maxProperties" = 0))]
pub struct NoReactions {}

/// A message in the shape of the SAMA chat server (`message_list` answers on the WebSocket, API.md):
/// `status` is `read` once any other participant's read mark reached it, `attachments` carries the
/// media, `t` is Unix seconds. `updated_at` is our addition, for clients that resume a sync window.
#[derive(Serialize, JsonSchema)]
#[schemars(
    description = "A message in the shape of the SAMA chat server: status is read once another participant's read mark reached it, attachments carries the media, t is Unix seconds; updated_at (an addition) lets a client resume a sync window."
)]
pub struct SamaMessage<'a> {
    #[serde(rename = "_id")]
    #[schemars(with = "ObjectId")]
    id: &'a str,
    body: Option<&'a str>,
    #[schemars(with = "ObjectId")]
    cid: &'a str,
    #[schemars(with = "UserId")]
    from: &'a str,
    #[schemars(extend("enum" = ["sent", "read"]))]
    status: &'static str,
    #[schemars(length(max = 1))]
    attachments: Vec<Attachment<'a>>,
    /// The message's reaction counts (`reactionCounts`).
    #[schemars(with = "ReactionCounts")]
    reactions: CountsOrEmpty<'a>,
    #[schemars(range(min = 0))]
    t: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
    #[schemars(range(min = 1, max = MAX_SAFE_INTEGER))]
    seq: i64,
}

impl<'a> SamaMessage<'a> {
    pub fn new(row: &'a MessageRow, participants: &'a [ParticipantRow]) -> Self {
        let read = !read_by(row.seq, &row.sender_id, marks(participants)).is_empty();
        // An uploaded file's attachment is its id; a URL's, the URL.
        let attachments = row
            .media
            .as_deref()
            .and_then(|m| serde_json::from_str::<StoredMedia<'_>>(m).ok())
            .map(|m| Attachment {
                file_id: m.file_id.or(m.url),
                file_name: m.name,
            })
            .into_iter()
            .collect();
        SamaMessage {
            id: &row.id,
            body: row.content.as_deref(),
            cid: &row.chat_id,
            from: &row.sender_id,
            status: if read { "read" } else { "sent" },
            attachments,
            reactions: CountsOrEmpty(
                raw_json(&row.reaction_counts).filter(|_| row.deleted_at.is_none()),
            ),
            t: row.created_at.div_euclid(1000),
            created_at: Timestamp(row.created_at),
            updated_at: Timestamp(row.updated_at),
            seq: row.seq,
        }
    }

    pub fn all(rows: &'a [MessageRow], participants: &'a [ParticipantRow]) -> Vec<Self> {
        rows.iter()
            .map(|row| SamaMessage::new(row, participants))
            .collect()
    }
}

/// A report of a message (API.md "Reports").
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report<'a> {
    #[serde(rename = "_id")]
    #[schemars(with = "ObjectId")]
    id: &'a str,
    #[schemars(with = "ObjectId")]
    message_id: &'a str,
    #[schemars(with = "ObjectId")]
    chat_id: &'a str,
    #[schemars(with = "UserId")]
    reporter_id: &'a str,
    #[schemars(with = "crate::domain::safety::ReportReason")]
    reason: &'a str,
    #[schemars(length(max = crate::domain::safety::MAX_NOTE_CHARS))]
    note: Option<&'a str>,
    #[schemars(with = "crate::domain::safety::ReportStatus")]
    status: &'a str,
    created_at: Timestamp,
}

impl<'a> Report<'a> {
    pub fn new(row: &'a crate::store::safety::ReportRow) -> Self {
        Report {
            id: &row.id,
            message_id: &row.message_id,
            chat_id: &row.chat_id,
            reporter_id: &row.reporter_id,
            reason: &row.reason,
            note: row.note.as_deref(),
            status: &row.status,
            created_at: Timestamp(row.created_at),
        }
    }
}

/// A report in the admin's queue, with the message as it is now (`readBy` empty: the admin is no
/// participant; a deleted message is its tombstone).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuedReport<'a> {
    #[serde(rename = "_id")]
    #[schemars(with = "ObjectId")]
    id: &'a str,
    #[schemars(with = "ObjectId")]
    message_id: &'a str,
    #[schemars(with = "ObjectId")]
    chat_id: &'a str,
    #[schemars(with = "UserId")]
    reporter_id: &'a str,
    #[schemars(with = "crate::domain::safety::ReportReason")]
    reason: &'a str,
    #[schemars(length(max = crate::domain::safety::MAX_NOTE_CHARS))]
    note: Option<&'a str>,
    #[schemars(with = "crate::domain::safety::ReportStatus")]
    status: &'a str,
    created_at: Timestamp,
    message: Option<Message<'a>>,
}

impl<'a> QueuedReport<'a> {
    pub fn new(row: &'a crate::store::safety::ReportRow, message: Option<Message<'a>>) -> Self {
        QueuedReport {
            id: &row.id,
            message_id: &row.message_id,
            chat_id: &row.chat_id,
            reporter_id: &row.reporter_id,
            reason: &row.reason,
            note: row.note.as_deref(),
            status: &row.status,
            created_at: Timestamp(row.created_at),
            message,
        }
    }
}

/// `GET /api/v1/admin/reports`: oldest first.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reports<'a> {
    #[schemars(length(max = MAX_LIMIT))]
    pub reports: Vec<QueuedReport<'a>>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// A user's erasure (API.md "Erasure").
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Erasure<'a> {
    #[schemars(with = "ObjectId")]
    erasure_id: &'a str,
    #[schemars(with = "UserId")]
    user_id: &'a str,
    #[schemars(with = "ErasureStatus")]
    status: &'a str,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    messages_erased: i64,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    chats_left: i64,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    files_deleted: i64,
}

/// `running` until every chat is done.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum ErasureStatus {
    Running,
    Done,
}

impl<'a> Erasure<'a> {
    pub fn new(row: &'a crate::store::erasure::ErasureRow) -> Self {
        Erasure {
            erasure_id: &row.id,
            user_id: &row.user_id,
            status: &row.status,
            messages_erased: row.messages_erased,
            chats_left: row.chats_left,
            files_deleted: row.files_deleted,
        }
    }
}

/// `GET /api/v1/users/me/blocks` (written by SQLite: `store::safety::BLOCKS_SQL`).
#[derive(JsonSchema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
pub struct Blocks<'a> {
    #[schemars(with = "Vec<UserId>", length(max = crate::domain::safety::MAX_BLOCKS))]
    pub user_ids: Vec<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_by_excludes_the_sender_and_laggards() {
        let marks = [("a", 5), ("b", 4), ("c", 9)];
        assert_eq!(read_by(5, "a", marks), vec!["c"]);
        assert_eq!(read_by(4, "c", marks), vec!["a", "b"]);
    }

    fn row() -> MessageRow {
        MessageRow {
            id: "64d15f9e2e6c8f4d5a123456".into(),
            chat_id: "64d15f9e2e6c8f4d5a654321".into(),
            seq: 42,
            sender_id: "u1".into(),
            sender_role: SenderRole::User,
            kind: MessageKind::Text,
            content: Some("Hello there!".into()),
            media: None,
            metadata: Some(r#"{"k":[1,2]}"#.into()),
            transfer_amount: None,
            transfer_recipient: None,
            client_message_id: None,
            request_hash: None,
            edited_at: None,
            deleted_at: None,
            created_at: 1_705_314_600_000,
            updated_at: 1_705_314_600_000,
            chat_event: None,
            parent_id: None,
            reply_count: 0,
            last_reply_at: None,
            mentions: None,
            reaction_counts: None,
            pinned_at: None,
            pinned_by: None,
            deleted_by: None,
            my_reactions: None,
        }
    }

    #[test]
    fn messages_serialize_in_api_order_and_tombstones_hide_content() {
        let mut row = row();
        let text = serde_json::to_string(&Message::new(&row, vec!["u2"])).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"_id":"64d15f9e2e6c8f4d5a123456","chatId":"64d15f9e2e6c8f4d5a654321","senderId":"u1","#,
                r#""senderRole":"user","type":"text","content":"Hello there!","media":null,"#,
                r#""creditTransfer":null,"metadata":{"k":[1,2]},"readBy":["u2"],"sequenceNumber":42,"#,
                r#""clientMessageId":null,"editedAt":null,"deletedAt":null,"#,
                r#""createdAt":"2024-01-15T10:30:00.000Z","updatedAt":"2024-01-15T10:30:00.000Z","#,
                r#""chatEvent":null,"parentId":null,"replyCount":0,"lastReplyAt":null,"mentions":[],"#,
                r#""reactionCounts":{},"myReactions":[],"pinnedAt":null,"pinnedBy":null,"deletedBy":null}"#
            )
        );
        row.deleted_at = Some(1_705_314_700_000);
        let value: serde_json::Value = serde_json::to_value(Message::new(&row, vec![])).unwrap();
        assert!(value["content"].is_null() && value["metadata"].is_null());
        assert_eq!(value["deletedAt"], "2024-01-15T10:31:40.000Z");
        assert_eq!(value["deletedBy"], "sender");
        row.deleted_by = Some("moderator".into());
        let value: serde_json::Value = serde_json::to_value(Message::new(&row, vec![])).unwrap();
        assert_eq!(value["deletedBy"], "moderator");
    }

    #[test]
    fn sama_messages_carry_media_as_attachments() {
        let mut row = row();
        row.media = Some(r#"{"duration":null,"height":null,"name":"a.png","size":3,"thumbnail_url":null,"type":"image","url":"https://x.test/a.png","width":null}"#.into());
        let value = serde_json::to_value(SamaMessage::new(&row, &[])).unwrap();
        assert_eq!(
            value["attachments"],
            serde_json::json!([{"file_id": "https://x.test/a.png", "file_name": "a.png"}])
        );
        assert_eq!(value["reactions"], serde_json::json!({}));
        assert_eq!(value["t"], 1_705_314_600);
        assert_eq!(value["status"], "sent");
    }
}

//! A message as a client sends it, parsed once into a value that cannot break the rules of API.md "Send".

use schemars::{json_schema, JsonSchema, Schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::ids::{ChatId, MessageId, ObjectId, UserId};
use super::input::{
    has_control, is_blank, is_https_url, whole_number, MAX_SAFE_INTEGER, NOT_BLANK_PATTERN,
    NO_CONTROL_PATTERN,
};
use super::url::HttpsUrl;
use super::wire::{self, Checks};
use crate::error::{ApiError, Result};

pub const MAX_CONTENT_CHARS: usize = 4000;
pub const MAX_METADATA_BYTES: usize = 4096;
/// Most users one message may mention.
pub const MAX_MENTIONS: usize = 50;

/// The kinds a client may send; `credit_transfer` and `system` messages are made by the server only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SendKind {
    Text,
    Media,
    File,
}

impl SendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SendKind::Text => "text",
            SendKind::Media => "media",
            SendKind::File => "file",
        }
    }
}

/// Every kind of stored message: what a client sends (`SendKind`), and what only the server makes (a
/// credit transfer's message; `system` messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    Media,
    File,
    CreditTransfer,
    System,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Media => "media",
            MessageKind::File => "file",
            MessageKind::CreditTransfer => "credit_transfer",
            MessageKind::System => "system",
        }
    }

    /// Whether the message carries a media object (`media` and `file`).
    pub fn has_media(self) -> bool {
        matches!(self, MessageKind::Media | MessageKind::File)
    }
}

impl From<SendKind> for MessageKind {
    fn from(kind: SendKind) -> Self {
        match kind {
            SendKind::Text => MessageKind::Text,
            SendKind::Media => MessageKind::Media,
            SendKind::File => MessageKind::File,
        }
    }
}

/// Who a message speaks for (API.md "Send"): a user's own words, an assistant, or the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SenderRole {
    User,
    Assistant,
    System,
}

impl SenderRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SenderRole::User => "user",
            SenderRole::Assistant => "assistant",
            SenderRole::System => "system",
        }
    }

    /// The role of a send: a user's token sends as `user` only; a service key as `assistant` (its
    /// default) or `system`. Anything else is a 403.
    pub fn for_sender(requested: Option<SenderRole>, service: bool) -> Result<SenderRole> {
        match (service, requested) {
            (false, None | Some(SenderRole::User)) => Ok(SenderRole::User),
            (false, Some(_)) => Err(ApiError::forbidden(
                "senderRole must be user when a user sends; assistant and system are for service keys",
            )),
            (true, None) => Ok(SenderRole::Assistant),
            (true, Some(SenderRole::User)) => Err(ApiError::forbidden(
                "a service key sends as assistant or system, not as user",
            )),
            (true, Some(role)) => Ok(role),
        }
    }
}

/// What a media object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    File,
}

impl MediaKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "image" => MediaKind::Image,
            "video" => MediaKind::Video,
            "audio" => MediaKind::Audio,
            "file" => MediaKind::File,
            _ => return None,
        })
    }
}

/// A media object as stored and shown: every documented key present (`null` where not given). Fields
/// are in alphabetical order, the order in which stored media JSON has always been written. A media
/// of an uploaded file also has `fileId` (absent otherwise, so other media store as they always did);
/// its `url` is minted, signed, each time it is shown (`views::MediaJson`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(description = "A message's media: every key present, null where not given.")]
pub struct Media {
    /// Seconds.
    #[schemars(range(min = 0))]
    pub duration: Option<f64>,
    /// The uploaded file this media is (`POST /api/v1/chats/{chatId}/files`); absent for a URL.
    #[serde(rename = "fileId", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<super::ids::ObjectId>")]
    pub file_id: Option<String>,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    pub height: Option<i64>,
    #[schemars(length(max = 255))]
    pub name: Option<String>,
    /// Bytes.
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    pub size: Option<i64>,
    #[schemars(with = "Option<HttpsUrl>")]
    pub thumbnail_url: Option<String>,
    /// Stored always; null only on the way in, for a file whose content type then decides it.
    #[serde(rename = "type")]
    pub kind: Option<MediaKind>,
    /// An https:// URL, or an uploaded file's signed URL.
    #[schemars(with = "MediaUrl")]
    pub url: String,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    pub width: Option<i64>,
}

/// A media's URL in the document: https://, or a file's signed URL (which the https rule does not
/// cover: a local server's is http).
pub struct MediaUrl;

impl JsonSchema for MediaUrl {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MediaUrl".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                generator.subschema_for::<HttpsUrl>(),
                generator.subschema_for::<super::files::FileUrl>()
            ]
        })
    }
}

/// A media object as sent: url (or fileId) and type (optional with fileId) required; unknown keys
/// are ignored.
#[derive(JsonSchema)]
#[schemars(rename = "NewMedia", transform = url_or_file)]
pub struct MediaBody {
    pub url: Option<HttpsUrl>,
    /// An uploaded file of this chat, by the sender, not attached to another message yet (instead of
    /// url): the stored media takes its url, name and size from the file, and its type from the
    /// file's content type when not given.
    #[serde(rename = "fileId")]
    pub file_id: Option<super::ids::ObjectId>,
    #[serde(rename = "type")]
    pub kind: Option<MediaKind>,
    #[schemars(length(max = 255))]
    pub name: Option<String>,
    /// Bytes.
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    pub size: Option<u64>,
    /// Seconds.
    #[schemars(range(min = 0))]
    pub duration: Option<f64>,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    pub width: Option<u64>,
    #[schemars(range(min = 0, max = MAX_SAFE_INTEGER))]
    pub height: Option<u64>,
    pub thumbnail_url: Option<HttpsUrl>,
}

/// A media object names a URL (with its type) or an uploaded file, never both.
fn url_or_file(schema: &mut Schema) {
    schema.insert(
        "oneOf".into(),
        serde_json::json!([
            {"required": ["url", "type"],
             "properties": {"url": {"type": "string"}, "type": {"type": "string"}, "fileId": {"type": "null"}}},
            {"required": ["fileId"],
             "properties": {"fileId": {"type": "string"}, "url": {"type": "null"}}}
        ]),
    );
}

/// A message's `metadata` in the document: any JSON object of at most 4 KiB serialized.
pub struct Metadata;

impl JsonSchema for Metadata {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Metadata".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "additionalProperties": true,
            "description": "Any JSON object, at most 4 KiB serialized."
        })
    }
}

/// A message to send: a text message needs a non-blank content, a media or file message a media
/// object.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "NewMessage", transform = kind_rules)]
pub struct NewMessageBody {
    #[schemars(with = "ChatId")]
    pub chat_id: Option<Value>,
    /// Absent or null: text.
    #[serde(rename = "type")]
    #[schemars(with = "Option<SendKind>")]
    pub kind: Option<Value>,
    /// text: required, not blank. media and file: an optional caption.
    #[schemars(with = "Option<String>", length(max = MAX_CONTENT_CHARS))]
    pub content: Option<Value>,
    /// Required for media and file messages; not allowed on text.
    #[schemars(with = "Option<MediaBody>")]
    pub media: Option<Value>,
    #[schemars(with = "Option<Metadata>")]
    pub metadata: Option<Value>,
    /// Makes the send idempotent per sender and chat.
    #[schemars(
        with = "Option<String>",
        length(min = 1, max = 64),
        pattern(NO_CONTROL_PATTERN)
    )]
    pub client_message_id: Option<Value>,
    /// A user's token sends as user (anything else: 403); a service key as assistant (its default)
    /// or system (user: 403).
    #[schemars(with = "Option<SenderRole>")]
    pub sender_role: Option<Value>,
    /// Makes the message a reply to this message of the same chat, which must not be a reply itself
    /// (422), be in this chat (404) and not be deleted (409).
    #[schemars(with = "Option<ObjectId>")]
    pub parent_id: Option<Value>,
    /// Participants of the chat the message mentions: at most 50, each once (anyone else: 400).
    #[schemars(with = "Option<Mentions>")]
    pub mentions: Option<Value>,
}

/// The users a message mentions, in the document: participants of the chat, each once.
pub struct Mentions;

impl JsonSchema for Mentions {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Mentions".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> Schema {
        json_schema!({
            "type": "array",
            "items": generator.subschema_for::<UserId>(),
            "maxItems": MAX_MENTIONS,
            "uniqueItems": true,
            "description": "Participants of the chat, each once (at most 50)."
        })
    }
}

/// The rules of each kind that a plain object schema cannot say: text needs a non-blank `content`
/// and no media; media and file need a media object.
fn kind_rules(schema: &mut Schema) {
    schema.insert(
        "allOf".into(),
        serde_json::json!([{
            "if": {"properties": {"type": {"enum": ["text", null]}}},
            "then": {
                "required": ["content"],
                "properties": {
                    "content": {
                        "type": "string", "minLength": 1, "maxLength": MAX_CONTENT_CHARS,
                        "pattern": NOT_BLANK_PATTERN,
                        "description": "Not blank (not only spaces, tabs and line breaks)."
                    },
                    "media": {"type": "null"}
                }
            },
            "else": {
                "required": ["media"],
                "properties": {"media": {"$ref": "#/components/schemas/NewMedia"}}
            }
        }]),
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMessage {
    pub chat_id: ChatId,
    pub kind: SendKind,
    pub content: Option<String>,
    pub media: Option<Media>,
    pub metadata: Option<Map<String, Value>>,
    pub client_message_id: Option<String>,
    /// The `senderRole` asked for, if any (`SenderRole::for_sender` decides).
    pub role: Option<SenderRole>,
    /// The message this one replies to.
    #[serde(default)]
    pub parent_id: Option<MessageId>,
    /// The users it mentions (distinct; the chat's object checks they are participants).
    #[serde(default)]
    pub mentions: Option<Vec<UserId>>,
}

impl NewMessage {
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        wire::body::<NewMessageBody>(bytes)?.try_into()
    }
    /// Fingerprint of what the client asked for, sent as `role`: a retry with the same
    /// `clientMessageId` must match it. (A user's messages hash as they always have.)
    pub fn request_hash(&self, role: SenderRole) -> String {
        let canonical = (
            self.chat_id.as_str(),
            self.kind,
            &self.content,
            &self.media,
            &self.metadata,
        );
        // Replies and mentions join the fingerprint only when given, so that every other message
        // keeps the fingerprint it always had.
        let interactions = (self.parent_id.is_some() || self.mentions.is_some())
            .then_some((&self.parent_id, &self.mentions));
        let text = match (role, interactions) {
            (SenderRole::User, None) => serde_json::to_vec(&canonical),
            (other, None) => serde_json::to_vec(&(canonical, other)),
            (other, Some(interactions)) => serde_json::to_vec(&(canonical, other, interactions)),
        };
        hex_sha256(&text.unwrap_or_default())
    }
}

/// Where to move the caller's read mark (it only moves forward).
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ReadMarkRequest")]
pub struct ReadMarkBody {
    /// Absent or null: the chat's last message. Above the last sequence number: 400.
    #[schemars(with = "Option<u64>", range(max = MAX_SAFE_INTEGER))]
    pub up_to_sequence: Option<Value>,
}

impl ReadMarkBody {
    /// The sequence number to read up to (`None`: the chat's last message).
    pub fn parse(bytes: &[u8]) -> Result<Option<i64>> {
        let body: ReadMarkBody = wire::body(bytes)?;
        let mut check = Checks::new();
        let up_to = check.integer(
            "upToSequence",
            body.up_to_sequence.as_ref(),
            0,
            MAX_SAFE_INTEGER,
        );
        check.finish()?;
        Ok(up_to)
    }
}

/// What a message may change into (API.md "Read marks, edits, deletes").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    /// New `content` of a text message, and its mentions replaced when given (`Some(vec![])` clears
    /// them).
    #[serde(rename_all = "camelCase")]
    Edit {
        content: String,
        mentions: Option<Vec<UserId>>,
    },
    /// Leave a tombstone: content, media and metadata become null, the sequence number stays.
    Delete,
    /// A moderator's delete (the admin key): any message of the chat, a credit transfer's included
    /// (its amount and parties stay: the books never change); the tombstone's `deletedBy` is
    /// `moderator`.
    Takedown,
}

impl TryFrom<NewMessageBody> for NewMessage {
    type Error = ApiError;

    fn try_from(body: NewMessageBody) -> Result<Self> {
        let mut check = Checks::new();
        let chat_id = check.required_parsed("chatId", body.chat_id.as_ref(), |id| {
            ChatId::parse(id, "chatId")
        });
        let kind = send_kind(&mut check, body.kind.as_ref());
        let content = check.string("content", body.content.as_ref(), 0, MAX_CONTENT_CHARS);
        let media = check
            .object("media", body.media.as_ref())
            .and_then(|m| parse_media(&mut check, &m));
        let metadata = metadata(&mut check, body.metadata.as_ref());
        let client_message_id =
            check.string("clientMessageId", body.client_message_id.as_ref(), 1, 64);
        if client_message_id.as_deref().is_some_and(has_control) {
            check.error("clientMessageId must not contain control characters");
        }
        let role = sender_role(&mut check, "senderRole", body.sender_role.as_ref());
        let parent_id = match body.parent_id.as_ref().filter(|v| !v.is_null()) {
            None => None,
            Some(raw) => {
                check.required_parsed("parentId", Some(raw), |id| MessageId::parse(id, "parentId"))
            }
        };
        let mentions = mentions(&mut check, body.mentions.as_ref());
        if let Some(kind) = kind {
            check_kind_rules(&mut check, kind, content.as_deref(), body.media.is_some());
        }
        check.finish()?;
        // `finish` returned Ok, so every required piece parsed.
        match (chat_id, kind) {
            (Some(chat_id), Some(kind)) => Ok(NewMessage {
                chat_id,
                kind,
                content: content.filter(|c| !c.is_empty()),
                media,
                metadata,
                client_message_id,
                role,
                parent_id,
                mentions,
            }),
            _ => Err(ApiError::bad_request("chatId and type are required")),
        }
    }
}

/// A text message's new content.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "EditMessage")]
pub struct EditBody {
    /// Not blank (not only spaces, tabs and line breaks).
    #[schemars(
        with = "String",
        length(min = 1, max = MAX_CONTENT_CHARS),
        pattern(NOT_BLANK_PATTERN)
    )]
    pub content: Option<Value>,
    /// Replaces the message's mentions (absent: unchanged; `[]`: none).
    #[schemars(with = "Option<Mentions>")]
    pub mentions: Option<Value>,
}

impl TryFrom<EditBody> for Change {
    type Error = ApiError;

    fn try_from(body: EditBody) -> Result<Self> {
        let mut check = Checks::new();
        let content = check.required_string("content", body.content.as_ref(), 1, MAX_CONTENT_CHARS);
        if content.as_deref().is_some_and(is_blank) {
            check.error("content must not be blank");
        }
        let mentions = mentions(&mut check, body.mentions.as_ref());
        check.finish()?;
        content
            .map(|content| Change::Edit { content, mentions })
            .ok_or_else(|| ApiError::bad_request("content is required"))
    }
}

impl Change {
    /// The body of `PATCH /api/v1/messages/{messageId}`: `{"content"}`, non-blank, at most 4,000 characters.
    pub fn parse_edit(bytes: &[u8]) -> Result<Self> {
        wire::body::<EditBody>(bytes)?.try_into()
    }
}

/// The sender role field (`senderRole`; the assistant surface's `sender_role`): `user`, `assistant` or
/// `system`; absent or null leaves it to the sender's kind.
pub(super) fn sender_role(
    check: &mut Checks,
    field: &str,
    value: Option<&Value>,
) -> Option<SenderRole> {
    match check.string(field, value, 1, 16).as_deref() {
        None => None,
        Some("user") => Some(SenderRole::User),
        Some("assistant") => Some(SenderRole::Assistant),
        Some("system") => Some(SenderRole::System),
        Some(_) => {
            check.error(format!("{field} must be one of user, assistant, system"));
            None
        }
    }
}

/// `mentions`: absent or null for none; else an array of at most 50 distinct user ids (whether they
/// are participants is the chat's to say).
pub(super) fn mentions(check: &mut Checks, value: Option<&Value>) -> Option<Vec<UserId>> {
    let raw = check.string_array("mentions", value.filter(|v| !v.is_null()))?;
    if raw.len() > MAX_MENTIONS {
        check.error(format!(
            "mentions holds at most {MAX_MENTIONS} user ids, got {}",
            raw.len()
        ));
        return None;
    }
    let mut ids: Vec<UserId> = Vec::with_capacity(raw.len());
    for (i, raw) in raw.iter().enumerate() {
        let id = check.check(UserId::parse(raw, &format!("mentions[{i}]")))?;
        if ids.contains(&id) {
            check.error(format!("mentions names {id} twice; name each user once"));
            return None;
        }
        ids.push(id);
    }
    Some(ids)
}

/// `type`: absent or null means text.
fn send_kind(check: &mut Checks, value: Option<&Value>) -> Option<SendKind> {
    match check.string("type", value, 1, 32).as_deref() {
        None | Some("text") => Some(SendKind::Text),
        Some("media") => Some(SendKind::Media),
        Some("file") => Some(SendKind::File),
        Some(_) => {
            check.error("type must be one of text, media, file");
            None
        }
    }
}

/// `metadata`: a JSON object of at most 4 KiB once serialized.
pub(super) fn metadata(check: &mut Checks, value: Option<&Value>) -> Option<Map<String, Value>> {
    let metadata = check.object("metadata", value);
    let size = metadata
        .as_ref()
        .map_or(0, |m| serde_json::to_string(m).map_or(0, |text| text.len()));
    if size > MAX_METADATA_BYTES {
        check.error(format!(
            "metadata must serialize to at most {MAX_METADATA_BYTES} bytes"
        ));
    }
    metadata
}

/// What each kind needs: text a non-blank `content` and no media; media and file a media object.
fn check_kind_rules(check: &mut Checks, kind: SendKind, content: Option<&str>, has_media: bool) {
    match kind {
        SendKind::Text if content.is_none_or(is_blank) => check.error(format!(
            "content is required for text messages: a non-empty string of at most {MAX_CONTENT_CHARS} characters"
        )),
        // Absent or `null`: a media object with `url` and `type` is required. (A present but invalid
        // object has its own errors already.)
        SendKind::Media | SendKind::File if !has_media => check.error(
            "media is required for media and file messages: an object with url and type",
        ),
        _ => {}
    }
    if kind == SendKind::Text && has_media {
        check.error("media is only allowed on media and file messages");
    }
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks a media object and returns it normalized: `url` and `type` required, URLs `https://`.
fn parse_media(check: &mut Checks, media: &Map<String, Value>) -> Option<Media> {
    let before = check.count();
    let mut field =
        |key: &str, required: bool, rule: &str, valid: &dyn Fn(&Value) -> bool| match media
            .get(key)
            .filter(|v| !v.is_null())
        {
            Some(v) if valid(v) => Some(v.clone()),
            None if !required => None,
            _ => {
                check.error(format!("media.{key} {rule}"));
                None
            }
        };
    let https = |v: &Value| v.as_str().is_some_and(is_https_url);
    let whole = |v: &Value| {
        v.as_number()
            .and_then(whole_number)
            .is_some_and(|i| (0..=MAX_SAFE_INTEGER).contains(&i))
    };
    let file_id = field(
        "fileId",
        false,
        "must be a file id (24 lowercase hex characters)",
        &|v| v.as_str().is_some_and(super::ids::is_object_id),
    );
    let by_file = media.get("fileId").is_some_and(|v| !v.is_null());
    let url = field(
        "url",
        !by_file,
        "is required (or fileId) and must be an https:// URL",
        &https,
    );
    let kind = field(
        "type",
        !by_file,
        "is required (optional with fileId) and must be one of image, video, audio, file",
        &|v| matches!(v.as_str(), Some("image" | "video" | "audio" | "file")),
    );
    let name = field(
        "name",
        false,
        "must be a string of at most 255 characters",
        &|v| v.as_str().is_some_and(|s| s.chars().count() <= 255),
    );
    let size = field("size", false, "must be a non-negative integer", &whole);
    let width = field("width", false, "must be a non-negative integer", &whole);
    let height = field("height", false, "must be a non-negative integer", &whole);
    let duration = field(
        "duration",
        false,
        "must be a non-negative number (seconds)",
        &|v| v.as_f64().is_some_and(|d| d.is_finite() && d >= 0.0),
    );
    let thumbnail_url = field("thumbnail_url", false, "must be an https:// URL", &https);
    if by_file && media.get("url").is_some_and(|v| !v.is_null()) {
        check.error("media gives url or fileId, not both");
    }
    if check.count() != before {
        return None;
    }
    let text = |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_string));
    let int = |v: Option<Value>| v.and_then(|v| v.as_number().and_then(whole_number));
    Some(Media {
        duration: duration.and_then(|d| d.as_f64()),
        height: int(height),
        name: text(name),
        size: int(size),
        thumbnail_url: text(thumbnail_url),
        kind: match text(kind) {
            Some(kind) => Some(MediaKind::parse(&kind)?),
            None => None,
        },
        // A file's URL is minted when the message is shown.
        url: text(url).unwrap_or_default(),
        width: int(width),
        file_id: text(file_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAT: &str = "64d15f9e2e6c8f4d5a654321";
    const STABLE_HASH: &str = "4c69d8efeefe894e68e72fa49de09eea71bfbee3c9d65d9050eeb62391108894";

    #[test]
    fn text_needs_content() {
        let err = NewMessage::parse(format!(r#"{{"chatId":"{CHAT}","type":"text"}}"#).as_bytes())
            .unwrap_err();
        assert!(
            err.errors[0].starts_with("content is required"),
            "{:?}",
            err.errors
        );
        let long = "x".repeat(MAX_CONTENT_CHARS + 1);
        let err =
            NewMessage::parse(format!(r#"{{"chatId":"{CHAT}","content":"{long}"}}"#).as_bytes())
                .unwrap_err();
        assert!(err
            .errors
            .iter()
            .any(|e| e.starts_with("content must be a string of at most 4000")));
    }

    #[test]
    fn media_is_checked_and_normalized() {
        let ok = NewMessage::parse(
            format!(r#"{{"chatId":"{CHAT}","type":"media","media":{{"url":"https://x.test/a.png","type":"image","width":3}}}}"#)
                .as_bytes(),
        )
        .unwrap();
        let media = serde_json::to_string(&ok.media.unwrap()).unwrap();
        // Stored JSON keeps the documented keys in alphabetical order, as it always was written.
        assert_eq!(
            media,
            r#"{"duration":null,"height":null,"name":null,"size":null,"thumbnail_url":null,"type":"image","url":"https://x.test/a.png","width":3}"#
        );
        let err = NewMessage::parse(
            format!(r#"{{"chatId":"{CHAT}","type":"file","media":{{"url":"http://x.test/a","type":"pdf"}}}}"#).as_bytes(),
        )
        .unwrap_err();
        assert_eq!(err.errors.len(), 2, "{:?}", err.errors);
    }

    #[test]
    fn hash_depends_on_the_body_only() {
        let a = NewMessage::parse(
            format!(r#"{{"chatId":"{CHAT}","content":"hi","clientMessageId":"c1"}}"#).as_bytes(),
        )
        .unwrap();
        let b = NewMessage::parse(
            format!(r#"{{"chatId":"{CHAT}","content":"hi","clientMessageId":"c2"}}"#).as_bytes(),
        )
        .unwrap();
        let c = NewMessage::parse(
            format!(r#"{{"chatId":"{CHAT}","content":"ho","clientMessageId":"c1"}}"#).as_bytes(),
        )
        .unwrap();
        assert_eq!(
            a.request_hash(SenderRole::User),
            b.request_hash(SenderRole::User)
        );
        assert_ne!(
            a.request_hash(SenderRole::User),
            c.request_hash(SenderRole::User)
        );
    }

    #[test]
    fn edits_need_non_blank_content() {
        assert_eq!(
            Change::parse_edit(br#"{"content":"new"}"#).unwrap(),
            Change::Edit {
                content: "new".into(),
                mentions: None
            }
        );
        for bad in [
            br#"{}"#.as_slice(),
            br#"{"content":"  "}"#,
            br#"{"content":5}"#,
            br#"{"content":null}"#,
        ] {
            assert_eq!(
                Change::parse_edit(bad).unwrap_err().status,
                400,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn media_and_file_messages_need_a_media_object_not_null() {
        for kind in ["media", "file"] {
            for media in ["", r#","media":null"#] {
                let body = format!(r#"{{"chatId":"{CHAT}","type":"{kind}"{media}}}"#);
                let err = NewMessage::parse(body.as_bytes()).unwrap_err();
                assert!(
                    err.errors
                        .iter()
                        .any(|e| e.starts_with("media is required")),
                    "{body}: {:?}",
                    err.errors
                );
            }
        }
    }

    /// The fingerprint of a stored message must not change between versions: a retry after an upgrade
    /// still matches the original (this value was computed by the version before the typed protocol).
    #[test]
    fn request_hash_is_stable() {
        let m = NewMessage::parse(
            format!(r#"{{"chatId":"{CHAT}","type":"media","content":"c","metadata":{{"b":1,"a":[2]}},"media":{{"url":"https://x.test/a.png","type":"image","size":5}}}}"#)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(m.request_hash(SenderRole::User), STABLE_HASH);
    }

    #[test]
    fn bad_chat_id_and_type_are_both_reported() {
        let err =
            NewMessage::parse(br#"{"chatId":"nope","type":"video","content":"x"}"#).unwrap_err();
        assert_eq!(err.errors.len(), 2, "{:?}", err.errors);
    }

    #[test]
    fn replies_and_mentions_are_parsed_and_change_the_fingerprint_only_when_given() {
        let parent = "64d15f9e2e6c8f4d5a123456";
        let m = NewMessage::parse(
            format!(r#"{{"chatId":"{CHAT}","content":"hi","parentId":"{parent}","mentions":["u2","u:3"]}}"#)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(m.parent_id.as_ref().map(MessageId::as_str), Some(parent));
        let mentioned: Vec<&str> = m.mentions.iter().flatten().map(UserId::as_str).collect();
        assert_eq!(mentioned, ["u2", "u:3"]);
        let plain = NewMessage::parse(
            format!(r#"{{"chatId":"{CHAT}","content":"hi","parentId":null,"mentions":null}}"#)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            (plain.parent_id.clone(), plain.mentions.clone()),
            (None, None)
        );
        assert_ne!(
            m.request_hash(SenderRole::User),
            plain.request_hash(SenderRole::User)
        );
        let plain_again =
            NewMessage::parse(format!(r#"{{"chatId":"{CHAT}","content":"hi"}}"#).as_bytes())
                .unwrap();
        assert_eq!(
            plain.request_hash(SenderRole::User),
            plain_again.request_hash(SenderRole::User)
        );
    }

    #[test]
    fn bad_parents_and_mentions_are_400s_naming_the_rule() {
        let errors = |extra: &str| {
            NewMessage::parse(format!(r#"{{"chatId":"{CHAT}","content":"hi",{extra}}}"#).as_bytes())
                .unwrap_err()
                .errors
                .join("; ")
        };
        assert!(errors(r#""parentId":"nope""#).contains("parentId"));
        assert!(errors(r#""parentId":5"#).contains("parentId must be a string"));
        assert!(errors(r#""mentions":"u2""#).contains("mentions must be an array of strings"));
        assert!(errors(r#""mentions":["u2","u2"]"#).contains("names u2 twice"));
        assert!(errors(r#""mentions":["bad id"]"#).contains("mentions[0]"));
        let many: Vec<String> = (0..51).map(|i| format!("\"u{i}\"")).collect();
        assert!(errors(&format!(r#""mentions":[{}]"#, many.join(","))).contains("at most 50"));
        let fifty: Vec<String> = (0..50).map(|i| format!("\"u{i}\"")).collect();
        let ok = format!(
            r#"{{"chatId":"{CHAT}","content":"hi","mentions":[{}]}}"#,
            fifty.join(",")
        );
        assert_eq!(
            NewMessage::parse(ok.as_bytes())
                .unwrap()
                .mentions
                .map(|m| m.len()),
            Some(50)
        );
        // An edit may replace them; [] clears.
        assert_eq!(
            Change::parse_edit(br#"{"content":"x","mentions":[]}"#).unwrap(),
            Change::Edit {
                content: "x".into(),
                mentions: Some(vec![])
            }
        );
        assert!(Change::parse_edit(br#"{"content":"x","mentions":["a","a"]}"#).is_err());
    }
}

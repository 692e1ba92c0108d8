//! Row types, decoded straight from D1 results (column names are the field names).

use serde::{Deserialize, Serialize};

use crate::domain::chat::ChatKind;
use crate::domain::members::Role;
use crate::domain::message::{MessageKind, SenderRole};
use crate::domain::user::Availability;

#[derive(Debug, Clone, Deserialize)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub first_name: String,
    pub photo_id: Option<String>,
    pub photo_url: Option<String>,
    pub photo_type: Option<String>,
    pub availability: Availability,
    pub credits: i64,
}

/// A participant with the profile fields shown in chats and message lists, and their read mark.
#[derive(Debug, Clone, Deserialize)]
pub struct ParticipantRow {
    pub user_id: String,
    pub last_read_seq: i64,
    pub joined_at: i64,
    pub username: Option<String>,
    pub photo_id: Option<String>,
    pub photo_url: Option<String>,
    pub photo_type: Option<String>,
    pub availability: Option<Availability>,
    /// A copy of the user's first name (NULL on memberships made before the copy existed).
    #[serde(default)]
    pub first_name: Option<String>,
    /// The member's role (migration 0007); `None` in rows read without it.
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub muted: i64,
    #[serde(default)]
    pub archived: i64,
    /// Mentions of the member above its read mark (migration 0008).
    #[serde(default)]
    pub unread_mentions: i64,
}

/// A message as stored. It also crosses from the chat's Durable Object to the worker (serde), and decodes
/// from a positional JSON array (`messages::MESSAGE_JSON`) in field order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRow {
    pub id: String,
    pub chat_id: String,
    pub seq: i64,
    pub sender_id: String,
    pub sender_role: SenderRole,
    #[serde(rename = "type")]
    pub kind: MessageKind,
    pub content: Option<String>,
    pub media: Option<String>,
    pub metadata: Option<String>,
    pub transfer_amount: Option<i64>,
    pub transfer_recipient: Option<String>,
    pub client_message_id: Option<String>,
    pub request_hash: Option<String>,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// A `system` message's chatEvent, as JSON (migration 0007).
    #[serde(default)]
    pub chat_event: Option<String>,
    /// A reply's parent message id (migration 0008).
    #[serde(default)]
    pub parent_id: Option<String>,
    /// A parent's live replies, and the newest one's `createdAt`.
    #[serde(default)]
    pub reply_count: i64,
    #[serde(default)]
    pub last_reply_at: Option<i64>,
    /// The mentioned users, as a JSON array.
    #[serde(default)]
    pub mentions: Option<String>,
    /// The reaction counts, as a JSON object (key -> count).
    #[serde(default)]
    pub reaction_counts: Option<String>,
    #[serde(default)]
    pub pinned_at: Option<i64>,
    #[serde(default)]
    pub pinned_by: Option<String>,
    /// Who made the tombstone: `sender` or `moderator` (migration 0011); NULL while live, and on
    /// tombstones made before it (their sender's).
    #[serde(default)]
    pub deleted_by: Option<String>,
    /// The reader's own reaction keys on this message, as a JSON array: read only where a reader is
    /// known (the message list, a reaction's answer); NULL elsewhere.
    #[serde(default, deserialize_with = "json_text")]
    pub my_reactions: Option<String>,
}

/// JSON that SQLite hands over as text (a column) or, embedded in a JSON array it built, as JSON
/// itself: either way, its text.
fn json_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => None,
        serde_json::Value::String(text) => Some(text),
        other => Some(other.to_string()),
    })
}

/// A chat as the caller sees it: its row, the caller's read mark, every participant (JSON array built
/// by SQLite) and the last message (JSON object, or null).
#[derive(Debug, Clone, Deserialize)]
pub struct ChatRow {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ChatKind,
    pub title: Option<String>,
    pub project_id: Option<String>,
    pub last_seq: i64,
    pub last_activity_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub my_read_seq: i64,
    /// The caller's role and settings (`None` / 0 for a service key).
    #[serde(default)]
    pub my_role: Option<Role>,
    #[serde(default)]
    pub my_muted: i64,
    #[serde(default)]
    pub my_archived: i64,
    #[serde(default)]
    pub my_unread_mentions: i64,
    pub participants: String,
    pub last_message: Option<String>,
}

/// A chat with its participants (in joining order) and last message decoded.
pub struct ChatRecord {
    pub row: ChatRow,
    pub participants: Vec<ParticipantRow>,
    pub last_message: Option<MessageRow>,
}

impl ChatRow {
    pub fn decode(self) -> crate::error::Result<ChatRecord> {
        let participants = decode_participants(&self.participants)?;
        let last_message = match &self.last_message {
            None => None,
            Some(json) => Some(serde_json::from_str(json)?),
        };
        Ok(ChatRecord {
            row: self,
            participants,
            last_message,
        })
    }
}

/// `[chatId, participants]` pairs (a JSON array SQLite built, one per chat of a page that spans chats)
/// decoded; SQLite may hand each inner array over as JSON or as its text.
pub fn decode_chat_participants(
    json: &str,
) -> crate::error::Result<Vec<(String, Vec<ParticipantRow>)>> {
    let chats: Vec<(String, serde_json::Value)> = serde_json::from_str(json)?;
    chats
        .into_iter()
        .map(|(chat, list)| {
            let text = match list {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            Ok((chat, decode_participants(&text)?))
        })
        .collect()
}

/// Participants from a JSON array of `messages::PARTICIPANT_JSON`, in joining order.
pub fn decode_participants(json: &str) -> crate::error::Result<Vec<ParticipantRow>> {
    let mut list: Vec<ParticipantRow> = serde_json::from_str(json)?;
    list.sort_by(|a, b| (a.joined_at, &a.user_id).cmp(&(b.joined_at, &b.user_id)));
    Ok(list)
}

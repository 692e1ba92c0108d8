//! Row types, decoded straight from D1 results (column names are the field names).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub first_name: String,
    pub photo_id: Option<String>,
    pub photo_url: Option<String>,
    pub photo_type: Option<String>,
    pub availability: String,
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
    pub availability: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MessageRow {
    pub id: String,
    pub chat_id: String,
    pub seq: i64,
    pub sender_id: String,
    pub sender_role: String,
    #[serde(rename = "type")]
    pub kind: String,
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
}

/// A chat as the caller sees it: its row, the caller's read mark, every participant (JSON array built
/// by SQLite) and the last message (JSON object, or null).
#[derive(Debug, Clone, Deserialize)]
pub struct ChatRow {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub title: Option<String>,
    pub last_seq: i64,
    pub last_activity_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub my_read_seq: i64,
    pub participants: String,
    pub last_message: Option<String>,
}

impl ChatRow {
    pub fn participants(&self) -> crate::error::Result<Vec<ParticipantRow>> {
        let mut list: Vec<ParticipantRow> = serde_json::from_str(&self.participants)?;
        list.sort_by(|a, b| (a.joined_at, &a.user_id).cmp(&(b.joined_at, &b.user_id)));
        Ok(list)
    }

    pub fn last_message(&self) -> crate::error::Result<Option<MessageRow>> {
        match &self.last_message {
            None => Ok(None),
            Some(json) => Ok(Some(serde_json::from_str(json)?)),
        }
    }
}

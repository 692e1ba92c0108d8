//! Rows to the JSON of API.md. Derived fields (`readBy`, `unreadCount`, `messageCount`) are computed here
//! from sequence numbers and read marks, never counted in the database.

use serde_json::{json, Value};

use crate::domain::time::format_ms;
use crate::error::Result;
use crate::store::rows::{ChatRow, MessageRow, ParticipantRow, UserRow};

fn photo(id: &Option<String>, url: &Option<String>, kind: &Option<String>) -> Value {
    match url {
        Some(url) => json!({"_id": id, "url": url, "type": kind.as_deref().unwrap_or("image")}),
        None => Value::Null,
    }
}

pub fn user(row: &UserRow) -> Value {
    json!({
        "_id": row.id,
        "username": row.username,
        "firstName": row.first_name,
        "profilePhoto": photo(&row.photo_id, &row.photo_url, &row.photo_type),
        "availabilityStatus": row.availability,
        "credits": row.credits,
    })
}

pub fn participant(row: &ParticipantRow) -> Value {
    json!({
        "_id": row.user_id,
        "username": row.username.as_deref().unwrap_or(&row.user_id),
        "profilePhoto": photo(&row.photo_id, &row.photo_url, &row.photo_type),
        "availabilityStatus": row.availability.as_deref().unwrap_or("available"),
    })
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

fn parse_json(text: &Option<String>) -> Value {
    text.as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

pub fn message(row: &MessageRow, read_by: &[&str]) -> Value {
    let credit_transfer = match (
        row.kind.as_str(),
        row.transfer_amount,
        &row.transfer_recipient,
    ) {
        ("credit_transfer", Some(amount), Some(recipient)) => {
            json!({"amount": amount, "recipientId": recipient, "senderId": row.sender_id})
        }
        _ => Value::Null,
    };
    let deleted = row.deleted_at.is_some();
    json!({
        "_id": row.id,
        "chatId": row.chat_id,
        "senderId": row.sender_id,
        "senderRole": row.sender_role,
        "type": row.kind,
        "content": if deleted { None } else { row.content.as_deref() },
        "media": if deleted { Value::Null } else { parse_json(&row.media) },
        "creditTransfer": credit_transfer,
        "metadata": if deleted { Value::Null } else { parse_json(&row.metadata) },
        "readBy": read_by,
        "sequenceNumber": row.seq,
        "clientMessageId": row.client_message_id,
        "editedAt": row.edited_at.map(format_ms),
        "deletedAt": row.deleted_at.map(format_ms),
        "createdAt": format_ms(row.created_at),
        "updatedAt": format_ms(row.updated_at),
    })
}

pub fn marks(participants: &[ParticipantRow]) -> impl Iterator<Item = (&str, i64)> + Clone {
    participants
        .iter()
        .map(|p| (p.user_id.as_str(), p.last_read_seq))
}

pub fn chat(row: &ChatRow) -> Result<Value> {
    let participants = row.participants()?;
    let last_message = row
        .last_message()?
        .map(|m| message(&m, &read_by(m.seq, &m.sender_id, marks(&participants))))
        .unwrap_or(Value::Null);
    Ok(json!({
        "_id": row.id,
        "type": row.kind,
        "title": row.title,
        "participants": participants.iter().map(participant).collect::<Vec<_>>(),
        "lastMessage": last_message,
        // Sequence numbers are dense and messages are never removed (deletes leave tombstones), so the
        // last sequence number is the message count.
        "messageCount": row.last_seq,
        "lastSequenceNumber": row.last_seq,
        // Every send moves the sender's read mark to it, so all messages above the caller's mark are
        // from others: the difference is exact.
        "unreadCount": (row.last_seq - row.my_read_seq).max(0),
        "createdAt": format_ms(row.created_at),
        "updatedAt": format_ms(row.updated_at),
    }))
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
}

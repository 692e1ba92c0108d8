//! Rows to the JSON of API.md, serialized straight to text in API.md's field order (no intermediate
//! `serde_json::Value` trees: a page of 100 messages is on the hot path). Derived fields (`readBy`,
//! `unreadCount`, `messageCount`) are computed here from sequence numbers and read marks, never counted
//! in the database.

use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::value::RawValue;

use crate::domain::pagination::PageInfo;
use crate::domain::time::format_ms;
use crate::error::Result;
use crate::store::credits::LedgerRow;
use crate::store::rows::{ChatRow, MessageRow, ParticipantRow, UserRow};

/// Stored JSON (media, metadata) written back as is, without building a tree; `null` if absent.
fn raw_json(text: &Option<String>) -> Option<&RawValue> {
    text.as_deref()
        .and_then(|t| serde_json::from_str::<&RawValue>(t).ok())
}

struct Photo<'a> {
    id: Option<&'a str>,
    url: &'a str,
    kind: &'a str,
}

impl Serialize for Photo<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Photo", 3)?;
        st.serialize_field("_id", &self.id)?;
        st.serialize_field("url", self.url)?;
        st.serialize_field("type", self.kind)?;
        st.end()
    }
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

pub struct User<'a>(pub &'a UserRow);

impl Serialize for User<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let row = self.0;
        let mut st = s.serialize_struct("User", 6)?;
        st.serialize_field("_id", &row.id)?;
        st.serialize_field("username", &row.username)?;
        st.serialize_field("firstName", &row.first_name)?;
        st.serialize_field(
            "profilePhoto",
            &photo(&row.photo_id, &row.photo_url, &row.photo_type),
        )?;
        st.serialize_field("availabilityStatus", &row.availability)?;
        st.serialize_field("credits", &row.credits)?;
        st.end()
    }
}

pub struct Participant<'a>(pub &'a ParticipantRow);

impl Serialize for Participant<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let row = self.0;
        let mut st = s.serialize_struct("Participant", 4)?;
        st.serialize_field("_id", &row.user_id)?;
        st.serialize_field("username", row.username.as_deref().unwrap_or(&row.user_id))?;
        st.serialize_field(
            "profilePhoto",
            &photo(&row.photo_id, &row.photo_url, &row.photo_type),
        )?;
        st.serialize_field(
            "availabilityStatus",
            row.availability.as_deref().unwrap_or("available"),
        )?;
        st.end()
    }
}

struct Participants<'a>(&'a [ParticipantRow]);

impl Serialize for Participants<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Participant))
    }
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

struct CreditTransfer<'a> {
    amount: i64,
    recipient: &'a str,
    sender: &'a str,
}

impl Serialize for CreditTransfer<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("CreditTransfer", 3)?;
        st.serialize_field("amount", &self.amount)?;
        st.serialize_field("recipientId", self.recipient)?;
        st.serialize_field("senderId", self.sender)?;
        st.end()
    }
}

pub struct Message<'a> {
    pub row: &'a MessageRow,
    pub read_by: Vec<&'a str>,
}

impl<'a> Message<'a> {
    /// `readBy` from the participants' read marks.
    pub fn with_marks(row: &'a MessageRow, participants: &'a [ParticipantRow]) -> Self {
        Message {
            row,
            read_by: read_by(row.seq, &row.sender_id, marks(participants)),
        }
    }
}

impl Serialize for Message<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let row = self.row;
        let deleted = row.deleted_at.is_some();
        let credit_transfer = match (
            row.kind.as_str(),
            row.transfer_amount,
            &row.transfer_recipient,
        ) {
            ("credit_transfer", Some(amount), Some(recipient)) => Some(CreditTransfer {
                amount,
                recipient,
                sender: &row.sender_id,
            }),
            _ => None,
        };
        let mut st = s.serialize_struct("Message", 16)?;
        st.serialize_field("_id", &row.id)?;
        st.serialize_field("chatId", &row.chat_id)?;
        st.serialize_field("senderId", &row.sender_id)?;
        st.serialize_field("senderRole", &row.sender_role)?;
        st.serialize_field("type", &row.kind)?;
        // Tombstones keep their place and sequence number but none of their content.
        st.serialize_field(
            "content",
            &if deleted {
                None
            } else {
                row.content.as_deref()
            },
        )?;
        st.serialize_field("media", &if deleted { None } else { raw_json(&row.media) })?;
        st.serialize_field("creditTransfer", &credit_transfer)?;
        st.serialize_field(
            "metadata",
            &if deleted {
                None
            } else {
                raw_json(&row.metadata)
            },
        )?;
        st.serialize_field("readBy", &self.read_by)?;
        st.serialize_field("sequenceNumber", &row.seq)?;
        st.serialize_field("clientMessageId", &row.client_message_id)?;
        st.serialize_field("editedAt", &row.edited_at.map(format_ms))?;
        st.serialize_field("deletedAt", &row.deleted_at.map(format_ms))?;
        st.serialize_field("createdAt", &format_ms(row.created_at))?;
        st.serialize_field("updatedAt", &format_ms(row.updated_at))?;
        st.end()
    }
}

/// A chat as its caller sees it.
pub struct Chat {
    row: ChatRow,
    participants: Vec<ParticipantRow>,
    last_message: Option<MessageRow>,
}

impl Chat {
    pub fn new(row: ChatRow) -> Result<Self> {
        let participants = row.participants()?;
        let last_message = row.last_message()?;
        Ok(Chat {
            row,
            participants,
            last_message,
        })
    }
}

impl Serialize for Chat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let row = &self.row;
        let last = self
            .last_message
            .as_ref()
            .map(|m| Message::with_marks(m, &self.participants));
        let mut st = s.serialize_struct("Chat", 11)?;
        st.serialize_field("_id", &row.id)?;
        st.serialize_field("type", &row.kind)?;
        st.serialize_field("title", &row.title)?;
        st.serialize_field("participants", &Participants(&self.participants))?;
        st.serialize_field("lastMessage", &last)?;
        // Sequence numbers are dense and messages are never removed (deletes leave tombstones), so the
        // last sequence number is the message count.
        st.serialize_field("messageCount", &row.last_seq)?;
        st.serialize_field("lastSequenceNumber", &row.last_seq)?;
        // Every send moves the sender's read mark to it, so all messages above the caller's mark are
        // from others: the difference is exact.
        st.serialize_field("unreadCount", &(row.last_seq - row.my_read_seq).max(0))?;
        st.serialize_field("createdAt", &format_ms(row.created_at))?;
        st.serialize_field("updatedAt", &format_ms(row.updated_at))?;
        st.end()
    }
}

fn serialize_page_info<S: SerializeStruct>(st: &mut S, info: &PageInfo) -> Result<(), S::Error> {
    st.serialize_field("page", &info.page)?;
    st.serialize_field("limit", &info.limit)?;
    st.serialize_field("total", &info.total)?;
    st.serialize_field("totalPages", &info.total_pages)?;
    st.serialize_field("hasNextPage", &info.has_next_page)?;
    st.serialize_field("hasPreviousPage", &info.has_previous_page)
}

pub struct ChatList {
    pub chats: Vec<Chat>,
    pub info: PageInfo,
}

impl Serialize for ChatList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ChatList", 7)?;
        st.serialize_field("chats", &self.chats)?;
        serialize_page_info(&mut st, &self.info)?;
        st.end()
    }
}

pub struct MessageList<'a> {
    pub messages: &'a [MessageRow],
    pub participants: &'a [ParticipantRow],
    pub info: PageInfo,
    pub as_of_sequence: i64,
}

impl Serialize for MessageList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("MessageList", 9)?;
        st.serialize_field("messages", &with_marks(self.messages, self.participants))?;
        st.serialize_field("participants", &Participants(self.participants))?;
        serialize_page_info(&mut st, &self.info)?;
        st.serialize_field("asOfSequence", &self.as_of_sequence)?;
        st.end()
    }
}

/// Messages with their `readBy` from the participants' read marks.
fn with_marks<'a>(rows: &'a [MessageRow], participants: &'a [ParticipantRow]) -> Vec<Message<'a>> {
    rows.iter()
        .map(|m| Message::with_marks(m, participants))
        .collect()
}

/// A cursor-mode message list (API.md): no page numbers, `hasMore` and the opaque `nextCursor` instead.
pub struct MessageWindow<'a> {
    pub messages: &'a [MessageRow],
    pub participants: &'a [ParticipantRow],
    pub limit: i64,
    pub total: i64,
    pub next_cursor: Option<String>,
}

impl Serialize for MessageWindow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("MessageWindow", 6)?;
        st.serialize_field("messages", &with_marks(self.messages, self.participants))?;
        st.serialize_field("participants", &Participants(self.participants))?;
        st.serialize_field("limit", &self.limit)?;
        st.serialize_field("total", &self.total)?;
        st.serialize_field("hasMore", &self.next_cursor.is_some())?;
        st.serialize_field("nextCursor", &self.next_cursor)?;
        st.end()
    }
}

struct LedgerEntry<'a>(&'a LedgerRow);

impl Serialize for LedgerEntry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let row = self.0;
        let mut st = s.serialize_struct("LedgerEntry", 9)?;
        st.serialize_field("sequence", &row.seq)?;
        st.serialize_field("transferId", &row.transfer_id)?;
        st.serialize_field("kind", &row.kind)?;
        st.serialize_field("amount", &row.amount)?;
        st.serialize_field("balanceAfter", &row.balance_after)?;
        st.serialize_field("counterpartyId", &row.counterparty_id)?;
        st.serialize_field("chatId", &row.chat_id)?;
        st.serialize_field("messageId", &row.message_id)?;
        st.serialize_field("createdAt", &format_ms(row.created_at))?;
        st.end()
    }
}

/// `GET /api/v1/users/me/credits/ledger`: the caller's statement, newest first.
pub struct Ledger<'a> {
    pub entries: &'a [LedgerRow],
    pub info: PageInfo,
}

impl Serialize for Ledger<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Ledger", 7)?;
        st.serialize_field(
            "entries",
            &self.entries.iter().map(LedgerEntry).collect::<Vec<_>>(),
        )?;
        serialize_page_info(&mut st, &self.info)?;
        st.end()
    }
}

/// A message in the shape of the SAMA chat server (`message_list` answers on the WebSocket, API.md):
/// `status` is `read` once any other participant's read mark reached it, `attachments` carries the
/// media (`file_id` = its URL, `file_name` = its name), `t` is Unix seconds. `updated_at` is our
/// addition, for clients that resume a sync window.
pub struct SamaMessage<'a> {
    pub row: &'a MessageRow,
    pub participants: &'a [ParticipantRow],
}

struct Attachment<'a>(&'a RawValue);

impl Serialize for Attachment<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Deserialize)]
        struct Media<'b> {
            #[serde(borrow)]
            url: Option<&'b str>,
            #[serde(borrow)]
            name: Option<&'b str>,
        }
        let media: Media<'_> = serde_json::from_str(self.0.get()).unwrap_or(Media {
            url: None,
            name: None,
        });
        let mut st = s.serialize_struct("Attachment", 2)?;
        st.serialize_field("file_id", &media.url)?;
        st.serialize_field("file_name", &media.name)?;
        st.end()
    }
}

impl Serialize for SamaMessage<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let row = self.row;
        let read = !read_by(row.seq, &row.sender_id, marks(self.participants)).is_empty();
        let attachments: Vec<Attachment<'_>> =
            raw_json(&row.media).map(Attachment).into_iter().collect();
        let mut st = s.serialize_struct("SamaMessage", 11)?;
        st.serialize_field("_id", &row.id)?;
        st.serialize_field("body", &row.content)?;
        st.serialize_field("cid", &row.chat_id)?;
        st.serialize_field("from", &row.sender_id)?;
        st.serialize_field("status", if read { "read" } else { "sent" })?;
        st.serialize_field("attachments", &attachments)?;
        st.serialize_field("reactions", &serde_json::Map::new())?;
        st.serialize_field("t", &row.created_at.div_euclid(1000))?;
        st.serialize_field("created_at", &format_ms(row.created_at))?;
        st.serialize_field("updated_at", &format_ms(row.updated_at))?;
        st.serialize_field("seq", &row.seq)?;
        st.end()
    }
}

/// The answer to a `message_list` request.
pub struct SamaList<'a> {
    pub id: &'a serde_json::Value,
    pub messages: &'a [MessageRow],
    pub participants: &'a [ParticipantRow],
    pub next_cursor: Option<String>,
}

impl Serialize for SamaList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Inner<'b>(&'b SamaList<'b>);
        impl Serialize for Inner<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let list = self.0;
                let messages: Vec<SamaMessage<'_>> = list
                    .messages
                    .iter()
                    .map(|row| SamaMessage {
                        row,
                        participants: list.participants,
                    })
                    .collect();
                let mut st = s.serialize_struct("Response", 4)?;
                st.serialize_field("id", list.id)?;
                st.serialize_field("messages", &messages)?;
                st.serialize_field("hasMore", &list.next_cursor.is_some())?;
                st.serialize_field("nextCursor", &list.next_cursor)?;
                st.end()
            }
        }
        let mut st = s.serialize_struct("SamaList", 1)?;
        st.serialize_field("response", &Inner(self))?;
        st.end()
    }
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

    #[test]
    fn messages_serialize_in_api_order_and_tombstones_hide_content() {
        let mut row = MessageRow {
            id: "64d15f9e2e6c8f4d5a123456".into(),
            chat_id: "64d15f9e2e6c8f4d5a654321".into(),
            seq: 42,
            sender_id: "u1".into(),
            sender_role: "user".into(),
            kind: "text".into(),
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
        };
        let text = serde_json::to_string(&Message {
            row: &row,
            read_by: vec!["u2"],
        })
        .unwrap();
        assert!(
            text.starts_with(r#"{"_id":"64d15f9e2e6c8f4d5a123456","chatId":"#),
            "{text}"
        );
        assert!(
            text.contains(r#""metadata":{"k":[1,2]},"readBy":["u2"],"sequenceNumber":42"#),
            "{text}"
        );
        row.deleted_at = Some(1_705_314_700_000);
        let value: serde_json::Value = serde_json::to_value(Message {
            row: &row,
            read_by: vec![],
        })
        .unwrap();
        assert!(value["content"].is_null() && value["metadata"].is_null());
        assert_eq!(value["deletedAt"], "2024-01-15T10:31:40.000Z");
    }
}

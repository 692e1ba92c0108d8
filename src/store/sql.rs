//! SQL pieces that several statements share, as constant text. Statements are `const`s composed of
//! these with `concatcp!` (compile-time concatenation, nothing at run time), so each statement's whole
//! text is known where it is written, and a reader can print it whole (`store::STATEMENTS`) and paste
//! it into `EXPLAIN QUERY PLAN`. A piece that names parameters says which (`?1` is always the chat).

pub use const_format::concatcp;

/// A message row's columns, in `MessageRow` field order (decoded by name).
pub const MESSAGE_COLUMNS: &str =
    "m.id, m.chat_id, m.seq, m.sender_id, m.sender_role, m.type, m.content, m.media, m.metadata, \
     m.transfer_amount, m.transfer_recipient, m.client_message_id, m.request_hash, m.edited_at, \
     m.deleted_at, m.created_at, m.updated_at, m.chat_event, m.parent_id, m.reply_count, \
     m.last_reply_at, m.mentions, m.reaction_counts, m.pinned_at, m.pinned_by, m.deleted_by";

/// The columns a listing shows (all but the request fingerprint), which `messages_by_update` covers.
pub const LISTED_COLUMNS: &str =
    "m.id, m.chat_id, m.seq, m.sender_id, m.sender_role, m.type, m.content, m.media, m.metadata, \
     m.transfer_amount, m.transfer_recipient, m.client_message_id, m.edited_at, m.deleted_at, \
     m.created_at, m.updated_at, m.chat_event, m.parent_id, m.reply_count, m.last_reply_at, \
     m.mentions, m.reaction_counts, m.pinned_at, m.pinned_by, m.deleted_by";

/// A message as a positional JSON array in `MessageRow` field order, for embedding messages in one
/// row: leaving out the key names makes a page's D1 result less than half the size. Listings never
/// need the request fingerprint, so it is sent as null.
pub const MESSAGE_JSON: &str = concatcp!("json_array(", MESSAGE_ITEMS, ")");

/// `MESSAGE_JSON`'s items.
pub const MESSAGE_ITEMS: &str =
    "m.id, m.chat_id, m.seq, m.sender_id, m.sender_role, m.type, m.content, m.media, \
     m.metadata, m.transfer_amount, m.transfer_recipient, m.client_message_id, NULL, m.edited_at, \
     m.deleted_at, m.created_at, m.updated_at, m.chat_event, m.parent_id, m.reply_count, \
     m.last_reply_at, m.mentions, m.reaction_counts, m.pinned_at, m.pinned_by, m.deleted_by";

/// `MESSAGE_JSON` with the reader's own reaction keys last (`MessageRow::my_reactions`): the reader is
/// user `$user`, or for a service key (`$user` NULL) the `senderId` of the key whose hash is `$key`
/// (the two parameters each statement numbers after its own). Only messages with reactions are looked
/// up, each in one short range of the reader's own reactions; with `unless $cond`, none when the
/// condition (on parameters only) holds, because the statement reads them in one range instead
/// (`my_reactions_between!`).
macro_rules! message_json_for_reader {
    ($user:literal, $key:literal) => {
        $crate::store::sql::message_json_for_reader!($user, $key, unless "0")
    };
    ($user:literal, $key:literal, unless $cond:literal) => {
        $crate::store::sql::concatcp!(
            "json_array(",
            $crate::store::sql::MESSAGE_ITEMS,
            ", CASE WHEN m.reaction_counts IS NULL OR ",
            $cond,
            " THEN NULL ELSE
                 (SELECT CAST(json_group_array(r.key) AS TEXT) FROM reactions r
                  WHERE r.chat_id = m.chat_id AND r.seq = m.seq AND r.user_id = COALESCE(",
            $user,
            ", (SELECT sender_id FROM api_keys WHERE key_hash = ",
            $key,
            "))) END)"
        )
    };
}
pub(crate) use message_json_for_reader;

/// The page of a cursor-mode listing as a JSON array: the messages the query that follows selects
/// (`FROM messages m WHERE …`, then `) m)` closes it), with the reader's own reactions
/// (`message_json_for_reader!`, its parameters given).
macro_rules! window_messages {
    ($user:literal, $key:literal $(, unless $cond:literal)?) => {
        $crate::store::sql::concatcp!(
            "(SELECT json_group_array(",
            $crate::store::sql::message_json_for_reader!($user, $key $(, unless $cond)?),
            ") FROM (SELECT ",
            $crate::store::sql::LISTED_COLUMNS,
            " "
        )
    };
}
pub(crate) use window_messages;

/// A listing's page as a JSON array without the reader's reactions (`my_reactions_between!` reads
/// those in one range): the messages the query that follows selects, as `window_messages!`.
pub const PLAIN_WINDOW_MESSAGES: &str = concatcp!(
    "(SELECT json_group_array(",
    MESSAGE_JSON,
    ") FROM (SELECT ",
    LISTED_COLUMNS,
    " "
);

/// The reader's own reactions on the messages of chat ?1 whose sequence numbers are in (`$lo`,
/// `$hi`], as a JSON array of [seq, key] (`store::listing` hands each message its keys): one range of
/// the `reactions` key, so a page costs its reader's own reactions (and the entry that ends the range)
/// however many of its messages have reactions. The reader is user `$user`, or for a service key
/// (`$user` NULL) the `senderId` of the key whose hash is `$key`. An expression: the statement names
/// it `my_reactions`.
macro_rules! my_reactions_between {
    ($user:literal, $key:literal, $lo:expr, $hi:expr) => {
        $crate::store::sql::concatcp!(
            "(SELECT json_group_array(json_array(r.seq, r.key)) FROM reactions r
              WHERE r.chat_id = ?1 AND r.user_id = COALESCE(",
            $user,
            ", (SELECT sender_id FROM api_keys WHERE key_hash = ",
            $key,
            ")) AND r.seq > ",
            $lo,
            " AND r.seq <= ",
            $hi,
            ")"
        )
    };
}
pub(crate) use my_reactions_between;

/// The reader's own reaction keys on message `m` as a JSON array (`MessageRow::my_reactions`), for a
/// read of one message by reader ?2 in chat ?1.
pub const MY_REACTIONS_OF_M: &str = "(SELECT CAST(json_group_array(r.key) AS TEXT) FROM reactions r
      WHERE r.chat_id = ?1 AND r.user_id = ?2 AND r.seq = m.seq) AS my_reactions";

/// A participant (profile copy and read mark) as a positional JSON array in `ParticipantRow` order.
pub const PARTICIPANT_JSON: &str =
    "json_array(p.user_id, p.last_read_seq, p.joined_at, p.username, p.photo_id, p.photo_url, \
     p.photo_type, p.availability, p.first_name, p.role, p.muted, p.archived, p.unread_mentions)";

/// The participants of chat ?1 as one JSON array, for embedding in a row.
pub const PARTICIPANTS_OF_CHAT: &str = concatcp!(
    "(SELECT json_group_array(",
    PARTICIPANT_JSON,
    ") FROM chat_participants p WHERE p.chat_id = ?1)"
);

/// The participants of the row's chat `c` as one JSON array.
pub const PARTICIPANTS_OF_ROW: &str = concatcp!(
    "(SELECT json_group_array(",
    PARTICIPANT_JSON,
    ") FROM chat_participants p WHERE p.chat_id = c.id)"
);

/// Whether user ?2 participates in chat ?1. One index entry read.
pub const IS_MEMBER: &str =
    "EXISTS (SELECT 1 FROM chat_participants WHERE chat_id = ?1 AND user_id = ?2)";

/// The time stamp of a write to chat ?1 at time ?4 (now): later than every `updatedAt` in the chat, so
/// `updatedAt` strictly increases in write order and `createdAt` never decreases along the sequence
/// numbers, even if the clock steps back (see schema.sql). One index entry read.
pub const CHANGE_STAMP: &str =
    "MAX(?4, COALESCE((SELECT MAX(updated_at) FROM messages WHERE chat_id = ?1), 0) + 1)";

#[cfg(test)]
mod tests {
    use super::*;

    /// MESSAGE_JSON is decoded by position: its columns must follow `MessageRow`'s fields, which follow
    /// MESSAGE_COLUMNS (decoded by name).
    #[test]
    fn message_json_follows_the_row_field_order() {
        use crate::domain::message::{MessageKind, SenderRole};
        use crate::store::rows::MessageRow;
        let columns: Vec<&str> = MESSAGE_COLUMNS
            .split(',')
            .map(|c| c.trim().trim_start_matches("m."))
            .collect();
        let inner = MESSAGE_JSON
            .trim_start_matches("json_array(")
            .trim_end_matches(')');
        let positional: Vec<&str> = inner
            .split(',')
            .map(|c| c.trim().trim_start_matches("m."))
            .collect();
        assert_eq!(columns.len(), positional.len());
        for (column, item) in columns.iter().zip(&positional) {
            assert!(
                item == column || (*item == "NULL" && *column == "request_hash"),
                "{column} vs {item}"
            );
        }
        let values: Vec<serde_json::Value> = columns
            .iter()
            .map(|c| match *c {
                "seq" | "created_at" | "updated_at" | "reply_count" => serde_json::json!(7),
                "request_hash" | "media" | "metadata" | "transfer_amount"
                | "transfer_recipient" | "client_message_id" | "edited_at" | "deleted_at"
                | "content" | "chat_event" | "last_reply_at" | "pinned_at" => {
                    serde_json::Value::Null
                }
                "type" => serde_json::json!("media"),
                "sender_role" => serde_json::json!("assistant"),
                other => serde_json::json!(other),
            })
            .collect();
        let row: MessageRow = serde_json::from_value(serde_json::Value::Array(values)).unwrap();
        assert_eq!(
            (row.id.as_str(), row.kind, row.seq, row.sender_role),
            ("id", MessageKind::Media, 7, SenderRole::Assistant)
        );
        let listed: Vec<&str> = LISTED_COLUMNS.split(", ").collect();
        let all: Vec<&str> = MESSAGE_COLUMNS
            .split(", ")
            .filter(|c| *c != "m.request_hash")
            .collect();
        assert_eq!(listed, all);
    }

    #[test]
    fn participant_json_follows_the_row_field_order() {
        use crate::store::rows::ParticipantRow;
        let row: ParticipantRow = serde_json::from_str(
            r#"["u1", 4, 9, "name", "pid", "https://x.test/p", "image", "away", "Una", "admin", 1, 0, 3]"#,
        )
        .unwrap();
        assert_eq!(row.first_name.as_deref(), Some("Una"));
        assert_eq!(
            (row.role, row.muted, row.archived),
            (Some(crate::domain::members::Role::Admin), 1, 0)
        );
        assert_eq!(row.unread_mentions, 3);
        assert_eq!(
            (row.user_id.as_str(), row.last_read_seq, row.joined_at),
            ("u1", 4, 9)
        );
        assert_eq!(
            (row.username.as_deref(), row.availability),
            (Some("name"), Some(crate::domain::user::Availability::Away))
        );
        let inner = PARTICIPANT_JSON
            .trim_start_matches("json_array(")
            .trim_end_matches(')');
        let names: Vec<&str> = inner
            .split(',')
            .map(|c| c.trim().trim_start_matches("p."))
            .collect();
        assert_eq!(
            names,
            [
                "user_id",
                "last_read_seq",
                "joined_at",
                "username",
                "photo_id",
                "photo_url",
                "photo_type",
                "availability",
                "first_name",
                "role",
                "muted",
                "archived",
                "unread_mentions"
            ]
        );
    }
}

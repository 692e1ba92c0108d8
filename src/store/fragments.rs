//! SQL fragments that several statements share, as macros that expand to string literals, so that each
//! statement is one `concat!` constant: its whole text is known at compile time, and a reader finds it
//! by its name and can paste it into `EXPLAIN QUERY PLAN`.

/// A message row's columns, in `MessageRow` field order (decoded by name).
macro_rules! message_columns {
    () => {
        "m.id, m.chat_id, m.seq, m.sender_id, m.sender_role, m.type, m.content, m.media, m.metadata, \
         m.transfer_amount, m.transfer_recipient, m.client_message_id, m.request_hash, m.edited_at, \
         m.deleted_at, m.created_at, m.updated_at"
    };
}

/// The columns a listing shows (all but the request fingerprint), which `messages_by_update` covers.
macro_rules! listed_columns {
    () => {
        "m.id, m.chat_id, m.seq, m.sender_id, m.sender_role, m.type, m.content, m.media, m.metadata, \
         m.transfer_amount, m.transfer_recipient, m.client_message_id, m.edited_at, m.deleted_at, \
         m.created_at, m.updated_at"
    };
}

/// A message as a positional JSON array in `MessageRow` field order, for embedding messages in one
/// row: leaving out the key names makes a page's D1 result less than half the size. Listings never need
/// the request fingerprint, so it is sent as null.
macro_rules! message_json {
    () => {
        "json_array(m.id, m.chat_id, m.seq, m.sender_id, m.sender_role, m.type, m.content, m.media, \
         m.metadata, m.transfer_amount, m.transfer_recipient, m.client_message_id, NULL, m.edited_at, \
         m.deleted_at, m.created_at, m.updated_at)"
    };
}

/// A participant (profile copy and read mark) as a positional JSON array in `ParticipantRow` order.
macro_rules! participant_json {
    () => {
        "json_array(p.user_id, p.last_read_seq, p.joined_at, p.username, p.photo_id, p.photo_url, \
         p.photo_type, p.availability, p.first_name)"
    };
}

/// The participants of the chat `$chat` (an SQL expression) as one JSON array, for embedding in a row.
macro_rules! participants_of {
    ($chat:literal) => {
        concat!(
            "(SELECT json_group_array(",
            participant_json!(),
            ") FROM chat_participants p WHERE p.chat_id = ",
            $chat,
            ")"
        )
    };
}

/// Whether user `$user` participates in chat `$chat` (SQL expressions). One index entry read.
macro_rules! is_member {
    ($chat:literal, $user:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM chat_participants WHERE chat_id = ",
            $chat,
            " AND user_id = ",
            $user,
            ")"
        )
    };
}

/// Whether the live service key whose hash is `$hash` reaches a chat of project `$project` (SQL
/// expressions): a key of no project reaches every chat. One row read (the key's primary key).
macro_rules! key_reaches {
    ($hash:literal, $project:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM api_keys k WHERE k.key_hash = ",
            $hash,
            " AND k.revoked_at IS NULL AND (k.project_id IS NULL OR k.project_id = ",
            $project,
            "))"
        )
    };
}

/// The time stamp of a write to chat `$chat` at time `$now`: later than every `updatedAt` in the chat,
/// so `updatedAt` strictly increases in write order and `createdAt` never decreases along the
/// sequence numbers, even if the clock steps back (see schema.sql). One index entry read.
macro_rules! change_stamp {
    ($chat:literal, $now:literal) => {
        concat!(
            "MAX(",
            $now,
            ", COALESCE((SELECT MAX(updated_at) FROM messages WHERE chat_id = ",
            $chat,
            "), 0) + 1)"
        )
    };
}

/// The sequence number of message `$id` of chat `$chat` (SQL expressions); NULL when it is not in that
/// chat, or when `$id` is NULL (no row is read then).
macro_rules! seq_of_message {
    ($id:literal, $chat:literal) => {
        concat!(
            "(SELECT seq FROM messages WHERE id = ",
            $id,
            " AND chat_id = ",
            $chat,
            ")"
        )
    };
}

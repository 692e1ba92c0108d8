-- Migration 0012: the webhook outbox (issue 25, API.md "Webhooks"). Additive: one table and an index.

-- The events of a chat's committed writes, recorded in the same D1 batch (one transaction) as the
-- writes, when a key with a webhook reaches the chat. The chat's Durable Object queues each group's
-- deliveries in its own storage right after the commit and notes the newest group it queued; rows up to
-- that point are deleted by its next delivery round. A row newer than the note is an event whose
-- queueing a crash interrupted: the object rebuilds it from the message (as the commit left it: every
-- write of the chat goes through the object, which recovers before its next write) and queues it
-- before anything newer. `created_at` is the group's commit stamp, strictly increasing per chat.
CREATE TABLE IF NOT EXISTS webhook_outbox (
  chat_id    TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  event_id   TEXT NOT NULL,
  -- 'message.created' | 'message.updated' | 'message.deleted' | 'reaction.updated'
  type       TEXT NOT NULL,
  message_id TEXT NOT NULL,
  -- A reaction's user, key and whether it was added (JSON); NULL otherwise.
  detail     TEXT,
  -- The key that made the write (not sent its own event); NULL for a user.
  author_key TEXT,
  PRIMARY KEY (chat_id, created_at, event_id)
) WITHOUT ROWID;

-- The per-minute sweep finds chats whose rows are older than a minute (an object that crashed and has
-- had no write since).
CREATE INDEX IF NOT EXISTS webhook_outbox_by_age ON webhook_outbox (created_at, chat_id);

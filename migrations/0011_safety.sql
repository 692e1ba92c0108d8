-- Migration 0011: safety (issue 25, API.md "Safety and privacy"). Additive: a column on messages (NULL
-- for every existing message; a tombstone from before reads as deleted by its sender), two tables.
-- The two covering indexes of messages are rebuilt with the new column, so that listings stay
-- index-only.

-- Who made a tombstone: 'sender' (the sender's own delete) or 'moderator' (the admin's delete and a
-- user's erasure). NULL while the message is live.
ALTER TABLE messages ADD COLUMN deleted_by TEXT;

DROP INDEX IF EXISTS messages_by_update;
CREATE INDEX IF NOT EXISTS messages_by_update ON messages (
  chat_id, updated_at, id, seq, sender_id, sender_role, type, content, media, metadata, transfer_amount,
  transfer_recipient, client_message_id, edited_at, deleted_at, created_at, chat_event, parent_id,
  reply_count, last_reply_at, mentions, reaction_counts, pinned_at, pinned_by, deleted_by);

DROP INDEX IF EXISTS messages_replies;
CREATE INDEX IF NOT EXISTS messages_replies ON messages (
  parent_id, seq, chat_id, id, sender_id, sender_role, type, content, media, metadata, transfer_amount,
  transfer_recipient, client_message_id, edited_at, deleted_at, created_at, updated_at, chat_event,
  reply_count, last_reply_at, mentions, reaction_counts, pinned_at, pinned_by, deleted_by)
  WHERE parent_id IS NOT NULL AND deleted_at IS NULL;

-- Blocks: one row per (blocker, blocked). A check between two users is two primary-key probes (one
-- per direction, the second by blocks_by_blocked); a user with no blocks costs 0 rows.
CREATE TABLE IF NOT EXISTS blocks (
  blocker_id TEXT NOT NULL,
  blocked_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (blocker_id, blocked_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blocks_by_blocked ON blocks (blocked_id, blocker_id);

-- Reports of messages: one per (reporter, message).
CREATE TABLE IF NOT EXISTS reports (
  id          TEXT PRIMARY KEY,
  message_id  TEXT NOT NULL,
  chat_id     TEXT NOT NULL,
  reporter_id TEXT NOT NULL,
  -- 'spam' | 'abuse' | 'other'
  reason      TEXT NOT NULL,
  note        TEXT,
  -- 'open' | 'dismissed' | 'actioned'
  status      TEXT NOT NULL DEFAULT 'open',
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  UNIQUE (reporter_id, message_id)
) WITHOUT ROWID;
-- The admin's queue: a status's reports oldest first (GET /api/v1/admin/reports).
CREATE INDEX IF NOT EXISTS reports_by_status ON reports (status, created_at, id);

-- A user's own messages, by chat (the export streams them, an erasure walks them): one entry per
-- message, so a send writes one more index row.
CREATE INDEX IF NOT EXISTS messages_by_sender ON messages (sender_id, chat_id, seq);

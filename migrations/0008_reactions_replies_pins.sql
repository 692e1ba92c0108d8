-- Migration 0008: reactions, replies, mentions and pins (issue 23, API.md "Reactions, replies,
-- mentions, pins"). Additive: columns with defaults, a table, indexes, triggers; the code before it
-- ignores them, so a rollback is safe (reactions and pins stay stored, unshown).

-- The interaction fields every Message carries, on the message's own row, so that a page of messages
-- shows them without reading anything else: the parent of a reply, a parent's live replies (count and
-- newest), the mentioned users (JSON array), the reaction counts (JSON object key -> count, kept by the
-- triggers below), the pin.
ALTER TABLE messages ADD COLUMN parent_id TEXT;
ALTER TABLE messages ADD COLUMN reply_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN last_reply_at INTEGER;
ALTER TABLE messages ADD COLUMN mentions TEXT;
ALTER TABLE messages ADD COLUMN reaction_counts TEXT;
ALTER TABLE messages ADD COLUMN pinned_at INTEGER;
ALTER TABLE messages ADD COLUMN pinned_by TEXT;

-- The sync window's covering index holds every listed column, the new ones too.
DROP INDEX IF EXISTS messages_by_update;
CREATE INDEX IF NOT EXISTS messages_by_update ON messages (
  chat_id, updated_at, id, seq, sender_id, sender_role, type, content, media, metadata, transfer_amount,
  transfer_recipient, client_message_id, edited_at, deleted_at, created_at, chat_event, parent_id,
  reply_count, last_reply_at, mentions, reaction_counts, pinned_at, pinned_by);

-- A chat's pins, newest first (GET /api/v1/chats/{chatId}/pins; the 50-pin cap counts this range).
CREATE INDEX IF NOT EXISTS messages_pinned ON messages (chat_id, pinned_at DESC, seq)
  WHERE pinned_at IS NOT NULL;

-- A thread's live replies in order (GET /api/v1/messages/{messageId}/replies).
CREATE INDEX IF NOT EXISTS messages_replies ON messages (parent_id, seq)
  WHERE parent_id IS NOT NULL AND deleted_at IS NULL;

-- Reactions: one row per (user, message, key). The key leads with the chat and the user, so a page's
-- `myReactions` reads exactly the caller's own reactions on the page's messages, and a user's count on
-- one message (at most 20) is one short range.
CREATE TABLE IF NOT EXISTS reactions (
  chat_id    TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  key        TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (chat_id, user_id, seq, key)
) WITHOUT ROWID;

-- A message's reactions oldest first, all of them or one key's (GET /api/v1/messages/{id}/reactions).
CREATE INDEX IF NOT EXISTS reactions_of_message ON reactions (chat_id, seq, created_at, user_id, key);
CREATE INDEX IF NOT EXISTS reactions_of_message_key
  ON reactions (chat_id, seq, key, created_at, user_id);

-- The message's reaction counts follow its reactions in the same transaction, by construction: each
-- insert adds 1 to its key, each delete takes 1 away (a key at 0 leaves the object). `json_patch` with
-- `json_object` sets one member whatever characters the key holds.
CREATE TRIGGER IF NOT EXISTS reaction_counts_on_add AFTER INSERT ON reactions
BEGIN
  UPDATE messages SET reaction_counts = json_patch(COALESCE(reaction_counts, '{}'), json_object(NEW.key,
      COALESCE((SELECT j.value FROM json_each(messages.reaction_counts) j WHERE j.key = NEW.key), 0) + 1))
  WHERE chat_id = NEW.chat_id AND seq = NEW.seq;
END;

CREATE TRIGGER IF NOT EXISTS reaction_counts_on_remove AFTER DELETE ON reactions
BEGIN
  UPDATE messages SET reaction_counts = json_patch(COALESCE(reaction_counts, '{}'), json_object(OLD.key,
      (SELECT NULLIF(j.value - 1, 0) FROM json_each(messages.reaction_counts) j WHERE j.key = OLD.key)))
  WHERE chat_id = OLD.chat_id AND seq = OLD.seq;
END;

-- Migration 0008: reactions, replies, mentions and pins (issue 23, API.md "Reactions, replies,
-- mentions, pins"). Additive: columns with defaults, tables, indexes, triggers; the code before it
-- ignores them, so a rollback is safe (reactions, replies, mentions and pins stay stored, unshown).
-- Every count here (reaction counts, reply counts, unread mentions) is kept by triggers in the same
-- transaction as the rows it counts, so it equals them by construction, whichever write path ran.

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

-- A thread's live replies in order (GET /api/v1/messages/{messageId}/replies). Covering, like
-- messages_by_update: a thread page reads limit + 1 entries and no table rows, and a parent's newest
-- live reply (its lastReplyAt) is one entry.
CREATE INDEX IF NOT EXISTS messages_replies ON messages (
  parent_id, seq, chat_id, id, sender_id, sender_role, type, content, media, metadata, transfer_amount,
  transfer_recipient, client_message_id, edited_at, deleted_at, created_at, updated_at, chat_event,
  reply_count, last_reply_at, mentions, reaction_counts, pinned_at, pinned_by)
  WHERE parent_id IS NOT NULL AND deleted_at IS NULL;

-- A parent's replyCount and lastReplyAt follow its live replies: a new reply adds itself, a reply's
-- delete takes itself away (the newest live reply left is one index entry). Either way the parent
-- changed, so its updatedAt moves past the reply's own stamp (the greatest of the chat: see
-- messages_by_update), keeping updatedAt strictly increasing in write order.
CREATE TRIGGER IF NOT EXISTS replies_on_send AFTER INSERT ON messages
WHEN NEW.parent_id IS NOT NULL AND NEW.deleted_at IS NULL
BEGIN
  UPDATE messages SET reply_count = reply_count + 1, last_reply_at = NEW.created_at,
                      updated_at = NEW.updated_at + 1
  WHERE chat_id = NEW.chat_id AND id = NEW.parent_id;
END;

CREATE TRIGGER IF NOT EXISTS replies_on_delete AFTER UPDATE OF deleted_at ON messages
WHEN NEW.parent_id IS NOT NULL AND OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
BEGIN
  UPDATE messages SET reply_count = MAX(reply_count - 1, 0),
      last_reply_at = (SELECT r.created_at FROM messages r
                       WHERE r.parent_id = NEW.parent_id AND r.deleted_at IS NULL
                       ORDER BY r.seq DESC LIMIT 1),
      updated_at = NEW.updated_at + 1
  WHERE chat_id = NEW.chat_id AND id = NEW.parent_id;
END;

-- Mentions: one row per (chat, mentioned user, message), for live messages only, kept from
-- messages.mentions by the triggers below (a send adds its mentions, an edit replaces them, a delete
-- removes them). A member's unread mention count (chat_participants.unread_mentions) counts the rows
-- above its read mark.
CREATE TABLE IF NOT EXISTS mentions (
  chat_id    TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (chat_id, user_id, seq)
) WITHOUT ROWID;

-- A user's mentions across chats, newest first (GET /api/v1/users/me/mentions).
CREATE INDEX IF NOT EXISTS mentions_of_user ON mentions (user_id, created_at, chat_id, seq);

CREATE TRIGGER IF NOT EXISTS mentions_on_send AFTER INSERT ON messages
WHEN NEW.mentions IS NOT NULL AND NEW.deleted_at IS NULL
BEGIN
  INSERT OR IGNORE INTO mentions (chat_id, user_id, seq, created_at)
    SELECT NEW.chat_id, j.value, NEW.seq, NEW.created_at FROM json_each(NEW.mentions) j;
END;

CREATE TRIGGER IF NOT EXISTS mentions_on_change AFTER UPDATE OF mentions, deleted_at ON messages
WHEN OLD.mentions IS NOT NULL OR NEW.mentions IS NOT NULL
BEGIN
  DELETE FROM mentions
  WHERE chat_id = OLD.chat_id AND seq = OLD.seq
    AND user_id IN (SELECT value FROM json_each(OLD.mentions))
    AND (NEW.deleted_at IS NOT NULL OR user_id NOT IN (SELECT value FROM json_each(NEW.mentions)));
  INSERT OR IGNORE INTO mentions (chat_id, user_id, seq, created_at)
    SELECT NEW.chat_id, j.value, NEW.seq, NEW.created_at FROM json_each(NEW.mentions) j
    WHERE NEW.deleted_at IS NULL;
END;

-- Each member's mentions above its read mark, for the Chat's and /users/me/unread's unreadMentions
-- without counting: a mention row added or removed above the mark moves it by one, and a moving read
-- mark recounts what is left above it (no more rows than the count it replaces).
ALTER TABLE chat_participants ADD COLUMN unread_mentions INTEGER NOT NULL DEFAULT 0;

-- The unread totals' range covers the unread mention count too (2 rows read per chat, as before).
DROP INDEX IF EXISTS chat_participants_by_user;
CREATE INDEX IF NOT EXISTS chat_participants_by_user
  ON chat_participants (user_id, muted, chat_id, last_read_seq, unread_mentions);

CREATE TRIGGER IF NOT EXISTS mention_counts_on_add AFTER INSERT ON mentions
BEGIN
  UPDATE chat_participants SET unread_mentions = unread_mentions + 1
  WHERE chat_id = NEW.chat_id AND user_id = NEW.user_id AND last_read_seq < NEW.seq;
END;

CREATE TRIGGER IF NOT EXISTS mention_counts_on_remove AFTER DELETE ON mentions
BEGIN
  UPDATE chat_participants SET unread_mentions = unread_mentions - 1
  WHERE chat_id = OLD.chat_id AND user_id = OLD.user_id AND last_read_seq < OLD.seq
    AND unread_mentions > 0;
END;

CREATE TRIGGER IF NOT EXISTS mention_counts_on_read AFTER UPDATE OF last_read_seq ON chat_participants
WHEN NEW.unread_mentions > 0 AND NEW.last_read_seq > OLD.last_read_seq
BEGIN
  UPDATE chat_participants SET unread_mentions = (SELECT COUNT(*) FROM mentions m
      WHERE m.chat_id = NEW.chat_id AND m.user_id = NEW.user_id AND m.seq > NEW.last_read_seq)
  WHERE chat_id = NEW.chat_id AND user_id = NEW.user_id;
END;

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

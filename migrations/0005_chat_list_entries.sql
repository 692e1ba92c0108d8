-- Migration 0005: the chat list's order in a table of its own (issue 13). Additive: a table filled
-- from the memberships, two columns on chats, triggers. chat_participants.activity_at and its two
-- indexes stay (no longer written by sends; a later release may drop them).
--
-- Why: moving a membership's activity_at rewrote the row and its two list indexes, 3 rows per member
-- (6 for a direct chat's send). An entry here is its own sort key with no other index, so moving it
-- (an UPDATE of the key, found by its exact key) writes 1 row.

-- One entry per membership in the list of all the user's chats (list_key ''), and one more in the
-- list of the chat's project when it has one. Every entry of a chat carries the chat's `list_at`.
CREATE TABLE IF NOT EXISTS chat_list (
  user_id     TEXT NOT NULL,
  list_key    TEXT NOT NULL,
  activity_at INTEGER NOT NULL,
  chat_id     TEXT NOT NULL,
  PRIMARY KEY (user_id, list_key, activity_at, chat_id)
) WITHOUT ROWID;

-- The activity time the chat's entries carry, and the one they carried before the last move (a send
-- sets both in the write it makes anyway; the entries are then found by their exact key).
ALTER TABLE chats ADD COLUMN list_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN list_prev_at INTEGER NOT NULL DEFAULT 0;
UPDATE chats SET list_at = last_activity_at, list_prev_at = last_activity_at;

INSERT OR IGNORE INTO chat_list (user_id, list_key, activity_at, chat_id)
  SELECT p.user_id, '', c.list_at, c.id FROM chat_participants p JOIN chats c ON c.id = p.chat_id;
INSERT OR IGNORE INTO chat_list (user_id, list_key, activity_at, chat_id)
  SELECT p.user_id, c.project_id, c.list_at, c.id FROM chat_participants p JOIN chats c ON c.id = p.chat_id
  WHERE c.project_id IS NOT NULL;

-- Entries follow memberships.
CREATE TRIGGER IF NOT EXISTS chat_list_on_join AFTER INSERT ON chat_participants
BEGIN
  INSERT OR IGNORE INTO chat_list (user_id, list_key, activity_at, chat_id)
    SELECT NEW.user_id, '', c.list_at, c.id FROM chats c WHERE c.id = NEW.chat_id;
  INSERT OR IGNORE INTO chat_list (user_id, list_key, activity_at, chat_id)
    SELECT NEW.user_id, c.project_id, c.list_at, c.id FROM chats c
    WHERE c.id = NEW.chat_id AND c.project_id IS NOT NULL;
END;

CREATE TRIGGER IF NOT EXISTS chat_list_on_leave AFTER DELETE ON chat_participants
BEGIN
  DELETE FROM chat_list
  WHERE user_id = OLD.user_id AND list_key IN ('', COALESCE(OLD.project_id, ''))
    AND activity_at = (SELECT list_at FROM chats WHERE id = OLD.chat_id) AND chat_id = OLD.chat_id;
END;

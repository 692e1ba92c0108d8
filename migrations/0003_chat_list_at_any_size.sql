-- Migration 0003: the chat list at any size (issue 13). Keeps every existing row: columns are added and
-- filled from the chats, indexes and a count table are built from what is there.
--
-- `GET /api/v1/chats` used to read every membership of the caller to sort them by their chats'
-- activity. Now each membership carries its own copy of the chat's activity time (and project), so a
-- page is a range of one index, and the total comes from a count kept by triggers.

-- When the chat's members' list order was last refreshed (a send into a large group refreshes it at
-- most every 5 s; the chat's Durable Object catches up the rest).
ALTER TABLE chats ADD COLUMN list_refreshed_at INTEGER NOT NULL DEFAULT 0;

-- The chat's activity time as this member's chat list orders it, and the chat's project (never changes).
ALTER TABLE chat_participants ADD COLUMN activity_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chat_participants ADD COLUMN project_id TEXT;
UPDATE chat_participants
SET activity_at = (SELECT c.last_activity_at FROM chats c WHERE c.id = chat_participants.chat_id),
    project_id = (SELECT c.project_id FROM chats c WHERE c.id = chat_participants.chat_id);

-- "My chats", most recently active first, all of them or one project's: a page is an index range.
DROP INDEX IF EXISTS chat_participants_by_user;
CREATE INDEX IF NOT EXISTS chat_participants_by_activity
  ON chat_participants (user_id, activity_at, chat_id);
CREATE INDEX IF NOT EXISTS chat_participants_by_project_activity
  ON chat_participants (user_id, project_id, activity_at, chat_id);

-- How many chats each user is in: all (project_id '') and per project. Kept by the triggers below, so
-- the list's `total` reads one row.
CREATE TABLE IF NOT EXISTS chat_counts (
  user_id    TEXT NOT NULL,
  project_id TEXT NOT NULL,
  chats      INTEGER NOT NULL CHECK (chats >= 0),
  PRIMARY KEY (user_id, project_id)
) WITHOUT ROWID;
INSERT INTO chat_counts (user_id, project_id, chats)
  SELECT user_id, '', COUNT(*) FROM chat_participants GROUP BY user_id;
INSERT INTO chat_counts (user_id, project_id, chats)
  SELECT user_id, project_id, COUNT(*) FROM chat_participants WHERE project_id IS NOT NULL
  GROUP BY user_id, project_id;

CREATE TRIGGER IF NOT EXISTS chat_counts_on_join AFTER INSERT ON chat_participants
BEGIN
  INSERT INTO chat_counts (user_id, project_id, chats) VALUES (NEW.user_id, '', 1)
    ON CONFLICT (user_id, project_id) DO UPDATE SET chats = chats + 1;
  INSERT INTO chat_counts (user_id, project_id, chats)
    SELECT NEW.user_id, NEW.project_id, 1 WHERE NEW.project_id IS NOT NULL
    ON CONFLICT (user_id, project_id) DO UPDATE SET chats = chats + 1;
END;

CREATE TRIGGER IF NOT EXISTS chat_counts_on_leave AFTER DELETE ON chat_participants
BEGIN
  UPDATE chat_counts SET chats = chats - 1
  WHERE user_id = OLD.user_id AND project_id IN ('', COALESCE(OLD.project_id, ''));
END;

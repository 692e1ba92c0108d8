-- Migration 0007: groups that change (issue 22, API.md "Members and roles"). Additive: columns with
-- defaults, indexes, triggers; the code before it ignores the new columns, so a rollback is safe
-- (archived chats would then show in that code's list and be counted in its totals; nothing is lost).

-- Each member's role and own settings.
ALTER TABLE chat_participants ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
  CHECK (role IN ('owner', 'admin', 'member'));
ALTER TABLE chat_participants ADD COLUMN muted INTEGER NOT NULL DEFAULT 0 CHECK (muted IN (0, 1));
ALTER TABLE chat_participants ADD COLUMN archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1));

-- Existing groups get an owner: the sender of the group's first message if still a member (the
-- creator, in the common case), else the member with the lowest user id. Direct chats have none.
UPDATE chat_participants SET role = 'owner'
WHERE (chat_id, user_id) IN (
  SELECT c.id, COALESCE(
    (SELECT m.sender_id FROM messages m JOIN chat_participants p
       ON p.chat_id = m.chat_id AND p.user_id = m.sender_id
     WHERE m.chat_id = c.id AND m.seq = 1),
    (SELECT MIN(p.user_id) FROM chat_participants p WHERE p.chat_id = c.id))
  FROM chats c WHERE c.type = 'group');

-- The change a `system` message records (its chatEvent, as JSON), shown by every listing: the covering
-- index of the sync window is rebuilt to hold it.
ALTER TABLE messages ADD COLUMN chat_event TEXT;
DROP INDEX IF EXISTS messages_by_update;
CREATE INDEX IF NOT EXISTS messages_by_update ON messages (
  chat_id, updated_at, id, seq, sender_id, sender_role, type, content, media, metadata, transfer_amount,
  transfer_recipient, client_message_id, edited_at, deleted_at, created_at, chat_event);

-- The caller's memberships for the unread totals (GET /api/v1/users/me/unread): the chats not muted
-- are one range, covering the read mark, so each chat costs this entry and its chats row. Its leading
-- user_id also serves a profile change (store::users::COPY_PROFILE_SQL), as the index it replaces did.
-- Price: a read mark's move writes this entry too.
CREATE INDEX IF NOT EXISTS chat_participants_by_user
  ON chat_participants (user_id, muted, chat_id, last_read_seq);
DROP INDEX IF EXISTS chat_participants_by_activity;

-- The archived members of a chat, found by a send from someone else to unarchive them (an empty
-- range, 0 rows read, when nobody archived the chat).
CREATE INDEX IF NOT EXISTS chat_participants_archived
  ON chat_participants (chat_id) WHERE archived = 1;

-- Archived chats live in lists of their own: list_key '!' (all) and '!' || project, and are counted
-- under the same keys in chat_counts. ('!' is outside the project id alphabet.)
DROP TRIGGER IF EXISTS chat_counts_on_leave;
CREATE TRIGGER IF NOT EXISTS chat_counts_on_leave AFTER DELETE ON chat_participants
BEGIN
  UPDATE chat_counts SET chats = chats - 1
  WHERE user_id = OLD.user_id
    AND project_id IN (CASE WHEN OLD.archived = 1 THEN '!' ELSE '' END,
                       CASE WHEN OLD.archived = 1 THEN '!' ELSE '' END || COALESCE(OLD.project_id, ''));
END;

DROP TRIGGER IF EXISTS chat_list_on_leave;
CREATE TRIGGER IF NOT EXISTS chat_list_on_leave AFTER DELETE ON chat_participants
BEGIN
  DELETE FROM chat_list
  WHERE user_id = OLD.user_id
    AND list_key IN (CASE WHEN OLD.archived = 1 THEN '!' ELSE '' END,
                     CASE WHEN OLD.archived = 1 THEN '!' ELSE '' END || COALESCE(OLD.project_id, ''))
    AND activity_at = (SELECT list_at FROM chats WHERE id = OLD.chat_id) AND chat_id = OLD.chat_id;
END;

-- Archiving and unarchiving move the member's entries between the lists (found by their exact key: the
-- entries carry the chat's list_at, or list_prev_at within a send's batch before its entries move) and
-- the counts.
CREATE TRIGGER IF NOT EXISTS chat_list_on_archive AFTER UPDATE OF archived ON chat_participants
WHEN OLD.archived <> NEW.archived
BEGIN
  UPDATE chat_list
  SET list_key = CASE WHEN NEW.archived = 1 THEN '!' || list_key ELSE substr(list_key, 2) END
  WHERE user_id = NEW.user_id AND chat_id = NEW.chat_id
    AND list_key IN (CASE WHEN OLD.archived = 1 THEN '!' ELSE '' END,
                     CASE WHEN OLD.archived = 1 THEN '!' ELSE '' END || COALESCE(NEW.project_id, ''))
    AND activity_at IN (SELECT list_at FROM chats WHERE id = NEW.chat_id
                        UNION ALL SELECT list_prev_at FROM chats WHERE id = NEW.chat_id);
  UPDATE chat_counts SET chats = chats - 1
  WHERE user_id = NEW.user_id
    AND project_id IN (CASE WHEN OLD.archived = 1 THEN '!' ELSE '' END,
                       CASE WHEN OLD.archived = 1 THEN '!' ELSE '' END || COALESCE(NEW.project_id, ''));
  INSERT INTO chat_counts (user_id, project_id, chats)
    VALUES (NEW.user_id, CASE WHEN NEW.archived = 1 THEN '!' ELSE '' END, 1)
    ON CONFLICT (user_id, project_id) DO UPDATE SET chats = chats + 1;
  INSERT INTO chat_counts (user_id, project_id, chats)
    SELECT NEW.user_id, CASE WHEN NEW.archived = 1 THEN '!' ELSE '' END || NEW.project_id, 1
    WHERE NEW.project_id IS NOT NULL
    ON CONFLICT (user_id, project_id) DO UPDATE SET chats = chats + 1;
END;

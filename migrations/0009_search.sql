-- Migration 0009: full-text search (issue 24, API.md "Search"). Additive: a column and an index on
-- chats, an FTS5 table, triggers; the code before it ignores them (a rollback leaves the index kept by
-- the triggers, unread).

-- A small integer per chat, so that each chat's messages are one range of the search index's rowids:
-- rowid = num * 2^32 + seq. A search reads only the index entries of the chats it searches (FTS5 takes
-- the rowid range as a constraint), never other chats' matches. New chats take the next number as
-- they are inserted (store::chats::INSERT_CHAT_SQL).
ALTER TABLE chats ADD COLUMN num INTEGER;
UPDATE chats SET num = numbered.n
  FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, id) AS n FROM chats) AS numbered
  WHERE numbered.id = chats.id;
CREATE UNIQUE INDEX IF NOT EXISTS chats_by_num ON chats (num);

-- The chats of a project, for a project key's search (each entry carries the chat's number).
CREATE INDEX IF NOT EXISTS chats_by_project ON chats (project_id, num) WHERE project_id IS NOT NULL;

-- The text of live messages: content and the name of their media or file. Case and accents fold
-- (`cafe` finds `Café`). The characters U+0002 and U+0003 mark highlights in the snippets a search
-- returns, so they are indexed as spaces.
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
  body, tokenize = 'unicode61 remove_diacritics 2');

-- The index is part of every write, in its transaction: a send adds the message's text, an edit
-- replaces it, a delete removes it (and a tombstone has none).
CREATE TRIGGER IF NOT EXISTS search_on_send AFTER INSERT ON messages
WHEN NEW.deleted_at IS NULL
  AND COALESCE(NEW.content, json_extract(NEW.media, '$.name')) IS NOT NULL
BEGIN
  INSERT INTO messages_fts (rowid, body)
    SELECT (c.num << 32) + NEW.seq,
           replace(replace(trim(COALESCE(NEW.content, '') || ' ' ||
                                COALESCE(json_extract(NEW.media, '$.name'), '')),
                           char(2), ' '), char(3), ' ')
    FROM chats c WHERE c.id = NEW.chat_id AND c.num IS NOT NULL;
END;

CREATE TRIGGER IF NOT EXISTS search_on_change AFTER UPDATE OF content, media, deleted_at ON messages
BEGIN
  DELETE FROM messages_fts
  WHERE rowid = (SELECT (c.num << 32) + OLD.seq FROM chats c WHERE c.id = OLD.chat_id);
  INSERT INTO messages_fts (rowid, body)
    SELECT (c.num << 32) + NEW.seq,
           replace(replace(trim(COALESCE(NEW.content, '') || ' ' ||
                                COALESCE(json_extract(NEW.media, '$.name'), '')),
                           char(2), ' '), char(3), ' ')
    FROM chats c
    WHERE c.id = NEW.chat_id AND c.num IS NOT NULL AND NEW.deleted_at IS NULL
      AND COALESCE(NEW.content, json_extract(NEW.media, '$.name')) IS NOT NULL;
END;

-- The index of the messages that exist already.
INSERT INTO messages_fts (rowid, body)
  SELECT (c.num << 32) + m.seq,
         replace(replace(trim(COALESCE(m.content, '') || ' ' ||
                              COALESCE(json_extract(m.media, '$.name'), '')),
                         char(2), ' '), char(3), ' ')
  FROM messages m JOIN chats c ON c.id = m.chat_id
  WHERE m.deleted_at IS NULL AND COALESCE(m.content, json_extract(m.media, '$.name')) IS NOT NULL;

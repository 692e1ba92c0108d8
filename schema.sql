-- edge-chat D1 schema: the whole current schema, for readers and fresh databases. It is what applying
-- every migration in migrations/ to an empty database gives (tests/api/schema.rs compares the two);
-- `make dev`, the tests and deploys apply the migrations, never this file. A column added by a
-- migration (ALTER TABLE ... ADD COLUMN) stands last in its table here, as SQLite adds it.
--
-- Design rules (see README "Data model"):
-- * Counters instead of scans: a chat's `last_seq` is its message count (sequence numbers are dense and
--   messages are never removed, only tombstoned), unread counts are `last_seq - last_read_seq`.
-- * Tables keyed by text ids are WITHOUT ROWID, so a primary-key lookup reads one b-tree row, not an
--   index row plus a table row (D1 bills rows read).
-- * Every integer (credits, sequence numbers, millisecond timestamps) stays below 2^53.

CREATE TABLE IF NOT EXISTS users (
  id           TEXT PRIMARY KEY,
  username     TEXT NOT NULL,
  first_name   TEXT NOT NULL,
  photo_id     TEXT,
  photo_url    TEXT,
  photo_type   TEXT,
  availability TEXT NOT NULL DEFAULT 'available'
               CHECK (availability IN ('available', 'away', 'busy', 'offline')),
  credits      INTEGER NOT NULL DEFAULT 0 CHECK (credits >= 0),
  -- 0 while the profile holds defaults (row made because someone named this user);
  -- 1 once it came from the user's own token or PATCH, which then is never overwritten by claims.
  claimed      INTEGER NOT NULL DEFAULT 0,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS chats (
  id               TEXT PRIMARY KEY,
  type             TEXT NOT NULL CHECK (type IN ('direct', 'group')),
  title            TEXT,
  -- For direct chats: the two user ids, sorted, joined by a space (a character ids cannot hold).
  -- UNIQUE makes "one direct chat per pair" a constraint, not a race. NULL for groups.
  direct_key       TEXT UNIQUE,
  last_seq         INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
  -- Time of the last message, else of creation: the chat list's sort key.
  last_activity_at INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  -- The chat's project (migration 0002), or NULL. Direct chats are unique per pair within a project:
  -- `direct_key` then reads "<project> <a> <b>".
  project_id       TEXT,
  -- When the members' list order (chat_participants.activity_at) was last refreshed by a send
  -- (migration 0003): a large group's sends refresh it at most every 5 s, the chat's Durable Object
  -- catches up the rest.
  list_refreshed_at INTEGER NOT NULL DEFAULT 0,
  -- The activity time the members' chat_list entries carry, and the one they carried before the last
  -- move (migration 0005): a send sets both in its own write of this row, and the entries are then
  -- moved by their exact key.
  list_at           INTEGER NOT NULL DEFAULT 0,
  list_prev_at      INTEGER NOT NULL DEFAULT 0,
  -- A small integer per chat (migration 0009): the chat's messages are the range num * 2^32 + seq of
  -- the search index's rowids.
  num INTEGER
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS chat_participants (
  chat_id       TEXT NOT NULL,
  user_id       TEXT NOT NULL,
  -- Highest sequence number this participant has read; only ever moves forward.
  last_read_seq INTEGER NOT NULL DEFAULT 0 CHECK (last_read_seq >= 0),
  joined_at     INTEGER NOT NULL,
  -- Copies of the user's public profile (the Participant object of API.md), so that a page of messages
  -- or chats reads one row per participant instead of two (D1 counts both sides of a join). Profile
  -- changes are rare and write through to these copies in the same batch (store::users).
  username      TEXT NOT NULL,
  photo_id      TEXT,
  photo_url     TEXT,
  photo_type    TEXT,
  availability  TEXT NOT NULL DEFAULT 'available',
  -- The first name too (migration 0002), for the project-chat surface's `sender.firstName`.
  first_name    TEXT,
  -- The chat's activity time as this member's chat list orders it, and the chat's project (migration
  -- 0003), so that a page of "my chats" is one index range whatever the number of chats.
  activity_at   INTEGER NOT NULL DEFAULT 0,
  project_id    TEXT,
  -- The member's role and own settings (migration 0007, API.md "Members and roles").
  role TEXT NOT NULL DEFAULT 'member'
  CHECK (role IN ('owner', 'admin', 'member')),
  muted INTEGER NOT NULL DEFAULT 0 CHECK (muted IN (0, 1)),
  archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
  -- The member's mentions above its read mark (migration 0008), kept by the mentions triggers.
  unread_mentions INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (chat_id, user_id)
) WITHOUT ROWID;

-- A user's memberships, not muted first (migrations 0007 and 0008): the unread totals read one range
-- of it, covering the read mark and the unread mention count, so each chat costs this entry and its
-- chats row; its leading user_id is how a profile change finds the user's memberships. A read mark's
-- move writes this entry too.
CREATE INDEX IF NOT EXISTS chat_participants_by_user
  ON chat_participants (user_id, muted, chat_id, last_read_seq, unread_mentions);

-- A chat's archived members, found by a send from someone else to unarchive them (an empty range when
-- nobody archived the chat).
CREATE INDEX IF NOT EXISTS chat_participants_archived
  ON chat_participants (chat_id) WHERE archived = 1;

-- How many chats each user is in: all (project_id '') and per project, kept by triggers (migration
-- 0003), so the chat list's `total` reads one row. Archived chats are counted apart, under '!' and
-- '!' || project (migration 0007).
CREATE TABLE IF NOT EXISTS chat_counts (
  user_id    TEXT NOT NULL,
  project_id TEXT NOT NULL,
  chats      INTEGER NOT NULL CHECK (chats >= 0),
  PRIMARY KEY (user_id, project_id)
) WITHOUT ROWID;

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
  WHERE user_id = OLD.user_id
    AND project_id IN (CASE WHEN OLD.archived = 1 THEN '!' ELSE '' END,
                       CASE WHEN OLD.archived = 1 THEN '!' ELSE '' END || COALESCE(OLD.project_id, ''));
END;

CREATE TABLE IF NOT EXISTS messages (
  chat_id            TEXT NOT NULL,
  seq                INTEGER NOT NULL CHECK (seq >= 1),
  id                 TEXT NOT NULL UNIQUE,
  sender_id          TEXT NOT NULL,
  sender_role        TEXT NOT NULL DEFAULT 'user' CHECK (sender_role IN ('user', 'assistant', 'system')),
  type               TEXT NOT NULL CHECK (type IN ('text', 'media', 'file', 'credit_transfer', 'system')),
  content            TEXT,
  media              TEXT,  -- JSON object, as sent
  metadata           TEXT,  -- JSON object, as sent
  transfer_amount    INTEGER,
  transfer_recipient TEXT,
  client_message_id  TEXT,
  -- Fingerprint of the request that created the message: a retry with the same clientMessageId
  -- but another body is a 409, even after the message was edited.
  request_hash       TEXT,
  edited_at          INTEGER,
  deleted_at         INTEGER,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  -- The change of the chat a `system` message records: its chatEvent as JSON (migration 0007).
  chat_event TEXT,
  -- Interactions (migration 0008): the parent of a reply; a parent's live replies (count, newest
  -- createdAt); the mentioned users (JSON array); the reaction counts (JSON object, kept by the
  -- reactions triggers); the pin.
  parent_id TEXT,
  reply_count INTEGER NOT NULL DEFAULT 0,
  last_reply_at INTEGER,
  mentions TEXT,
  reaction_counts TEXT,
  pinned_at INTEGER,
  pinned_by TEXT,
  -- Who made a tombstone, 'sender' or 'moderator' (migration 0011); NULL while live.
  deleted_by TEXT,
  -- Clustered by chat and sequence: a page of messages is one contiguous range read, as cheap at
  -- page 2,000 as at page 1.
  PRIMARY KEY (chat_id, seq)
) WITHOUT ROWID;

-- Idempotent sends: one message per (chat, sender, clientMessageId).
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_id
  ON messages (chat_id, sender_id, client_message_id) WHERE client_message_id IS NOT NULL;

-- History sync (API.md cursor mode). Added after the first version, like the credit tables below.
--
-- Every write of a chat stamps the message it creates or changes with
--   MAX(now, the chat's greatest updated_at + 1)            (store::messages::CHANGE_STAMP)
-- so within a chat `updated_at` strictly increases in write order, and `created_at` (= the first stamp)
-- never decreases along `seq`. Two consequences the cursors rely on:
-- * a time maps to a sequence number with one probe of `messages_by_created`;
-- * a change made while a client walks the sync window always lands after the client's position.

-- `before` / `after` given as a time: (chat_id, created_at) -> seq, one index entry per lookup.
CREATE INDEX IF NOT EXISTS messages_by_created ON messages (chat_id, created_at);

-- The sync window, ordered by (updated_at, id). Covering: it holds every column a listing shows, so a
-- page reads limit + 1 index entries and no table rows (a plain index would read each message twice).
-- The price is storage (each message is stored twice); rows written are the same as for a plain index.
CREATE INDEX IF NOT EXISTS messages_by_update ON messages (
  chat_id, updated_at, id, seq, sender_id, sender_role, type, content, media, metadata, transfer_amount,
  transfer_recipient, client_message_id, edited_at, deleted_at, created_at, chat_event, parent_id,
  reply_count, last_reply_at, mentions, reaction_counts, pinned_at, pinned_by, deleted_by);

-- Credits (grants and transfers). Added after the first version: only new tables and indexes, so applying
-- this file again is the whole migration of an existing database (see README "Deploy").

-- One row per accepted money movement: a grant (sender_id NULL) or a transfer between two participants.
CREATE TABLE IF NOT EXISTS credit_transfers (
  id              TEXT PRIMARY KEY,
  kind            TEXT NOT NULL CHECK (kind IN ('grant', 'transfer')),
  sender_id       TEXT,
  recipient_id    TEXT NOT NULL,
  amount          INTEGER NOT NULL CHECK (amount BETWEEN 1 AND 1000000000),
  chat_id         TEXT,
  message_id      TEXT,
  idempotency_key TEXT,
  -- Fingerprint of the request: the same key with another body is a 409.
  request_hash    TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  CHECK ((kind = 'grant') = (sender_id IS NULL)),
  CHECK (sender_id IS NULL OR sender_id <> recipient_id)
) WITHOUT ROWID;

-- Exactly once: one transfer per (sender, key) across all chats, one grant per key.
CREATE UNIQUE INDEX IF NOT EXISTS credit_transfers_sender_key
  ON credit_transfers (sender_id, idempotency_key) WHERE kind = 'transfer' AND idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS credit_transfers_grant_key
  ON credit_transfers (idempotency_key) WHERE kind = 'grant' AND idempotency_key IS NOT NULL;

-- Each user's statement: one line per grant received, transfer in or transfer out (a transfer writes two
-- lines, one per side). `seq` is dense per user, so the newest-first pages are key ranges and the line
-- count is MAX(seq), like messages.
CREATE TABLE IF NOT EXISTS ledger_entries (
  user_id         TEXT NOT NULL,
  seq             INTEGER NOT NULL CHECK (seq >= 1),
  transfer_id     TEXT NOT NULL,
  kind            TEXT NOT NULL CHECK (kind IN ('grant', 'transfer_in', 'transfer_out')),
  -- Signed: positive for grants and transfers in, negative for transfers out.
  amount          INTEGER NOT NULL,
  balance_after   INTEGER NOT NULL CHECK (balance_after >= 0),
  counterparty_id TEXT,
  chat_id         TEXT,
  message_id      TEXT,
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;

-- Service keys (migration 0002). A key is `eck_` + 43 base64url characters (256 random bits); only its
-- SHA-256 (hex) is kept, as the primary key, so that checking a key reads one row.
CREATE TABLE IF NOT EXISTS api_keys (
  key_hash   TEXT PRIMARY KEY,
  id         TEXT NOT NULL UNIQUE,
  name       TEXT NOT NULL,
  -- NULL: every chat; else only the chats of this project.
  project_id TEXT,
  -- The senderId of the key's messages (need not be a participant).
  sender_id  TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  -- The key's webhook (migration 0004): its URL, and the nonce its signing secret is derived from
  -- (HMAC-SHA256 of WEBHOOK_SIGNING_KEY over the key id and nonce; the secret is never stored).
  webhook_url   TEXT,
  webhook_nonce TEXT,
  -- The key's before-send hook (migration 0013): its URL, and whether a hook that does not answer
  -- refuses the write (503) instead of allowing it. The webhook secret (webhook_nonce) signs it.
  before_send_url TEXT,
  before_send_fail_closed INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- The live keys with a webhook, read in every commit of a chat's Durable Object (empty index, 0 rows,
-- when no key has a webhook).
CREATE INDEX IF NOT EXISTS api_keys_webhooks ON api_keys (project_id)
  WHERE webhook_url IS NOT NULL AND revoked_at IS NULL;

-- What the admin sees of each webhook delivery (migration 0004). The pending deliveries themselves live
-- in each chat's Durable Object storage; the object writes this record after each attempt.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  key_id           TEXT NOT NULL,
  event_id         TEXT NOT NULL,
  type             TEXT NOT NULL,
  chat_id          TEXT NOT NULL,
  message_id       TEXT NOT NULL,
  -- 'pending' | 'delivered' | 'failed'
  status           TEXT NOT NULL,
  attempts         INTEGER NOT NULL,
  last_status_code INTEGER,
  next_attempt_at  INTEGER,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  PRIMARY KEY (key_id, event_id)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS webhook_deliveries_by_key ON webhook_deliveries (key_id, created_at);

-- The chat list's order (migration 0005): one entry per membership in the list of all the user's chats
-- (list_key '') and one in the list of the chat's project, keyed by the order itself with no other
-- index, so that moving an entry writes 1 row. (chat_participants.activity_at and its index are no
-- longer written by sends; migration 0006 dropped the other index.)
CREATE TABLE IF NOT EXISTS chat_list (
  user_id     TEXT NOT NULL,
  list_key    TEXT NOT NULL,
  activity_at INTEGER NOT NULL,
  chat_id     TEXT NOT NULL,
  PRIMARY KEY (user_id, list_key, activity_at, chat_id)
) WITHOUT ROWID;

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
  WHERE user_id = OLD.user_id
    AND list_key IN (CASE WHEN OLD.archived = 1 THEN '!' ELSE '' END,
                     CASE WHEN OLD.archived = 1 THEN '!' ELSE '' END || COALESCE(OLD.project_id, ''))
    AND activity_at = (SELECT list_at FROM chats WHERE id = OLD.chat_id) AND chat_id = OLD.chat_id;
END;

-- Archived chats live in lists of their own (migration 0007): list_key '!' (all) and '!' || project.
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

-- Reactions, replies, mentions, pins (migration 0008).

-- A chat's pins, newest first (GET /api/v1/chats/{chatId}/pins; the 50-pin cap counts this range).
CREATE INDEX IF NOT EXISTS messages_pinned ON messages (chat_id, pinned_at DESC, seq)
  WHERE pinned_at IS NOT NULL;

-- A thread's live replies in order (GET /api/v1/messages/{messageId}/replies). Covering, like
-- messages_by_update: a thread page reads limit + 1 entries and no table rows, and a parent's newest
-- live reply (its lastReplyAt) is one entry.
CREATE INDEX IF NOT EXISTS messages_replies ON messages (
  parent_id, seq, chat_id, id, sender_id, sender_role, type, content, media, metadata, transfer_amount,
  transfer_recipient, client_message_id, edited_at, deleted_at, created_at, updated_at, chat_event,
  reply_count, last_reply_at, mentions, reaction_counts, pinned_at, pinned_by, deleted_by)
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

-- Unread mention counts (chat_participants.unread_mentions): a mention row added or removed above the
-- member's read mark moves it by one; a moving read mark recounts what is left above it.
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

-- Full-text search (migration 0009).

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

-- Files (migration 0010).

-- An uploaded file: its bytes are the R2 object named by its id (binding FILES). It attaches to one
-- message at most (`message_id`, set by the send that names it); deleting that message removes the
-- file (`removed_at`: a 404 at once), and the daily job deletes the bytes of removed files and of
-- files never attached within 24 hours (`purged_at`).
CREATE TABLE IF NOT EXISTS files (
  id           TEXT PRIMARY KEY,
  chat_id      TEXT NOT NULL,
  uploader_id  TEXT NOT NULL,
  name         TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size         INTEGER NOT NULL CHECK (size > 0),
  sha256       TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  message_id   TEXT UNIQUE,
  removed_at   INTEGER,
  purged_at    INTEGER
) WITHOUT ROWID;

-- What the daily job has to do: removed files whose bytes are still stored, and files still waiting
-- for a message (the job takes those older than 24 hours), oldest first.
CREATE INDEX IF NOT EXISTS files_to_purge ON files (removed_at)
  WHERE removed_at IS NOT NULL AND purged_at IS NULL;
CREATE INDEX IF NOT EXISTS files_unattached ON files (created_at)
  WHERE message_id IS NULL AND removed_at IS NULL;

-- Deleting a message that carries a file removes the file, in the delete's transaction (a sender's
-- delete, and any later kind of delete alike).
CREATE TRIGGER IF NOT EXISTS files_on_delete AFTER UPDATE OF deleted_at ON messages
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
BEGIN
  UPDATE files SET removed_at = NEW.deleted_at WHERE message_id = NEW.id AND removed_at IS NULL;
END;

-- The daily job's removal of old webhook delivery records (older than 30 days) reads them oldest first.
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_update ON webhook_deliveries (updated_at);

-- Safety (migration 0011).

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

-- The webhook outbox (migration 0012).

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

-- Before-send hooks (migration 0013).

-- The live keys with a hook: the guard of every user's send and edit scans it, so with no hook
-- anywhere it is empty and the guard reads 0 rows.
CREATE INDEX IF NOT EXISTS api_keys_before_send ON api_keys (project_id, created_at, id)
  WHERE before_send_url IS NOT NULL AND revoked_at IS NULL;

-- Erasure (migration 0014).

-- A user's erasure, run in steps (one chat per step, through the chat's Durable Object) by the admin's
-- request and then the per-minute cron trigger, so that it survives restarts: every step records its
-- progress here. `next_chat`: the chats up to it (by id) are done.
CREATE TABLE IF NOT EXISTS erasures (
  id              TEXT PRIMARY KEY,
  user_id         TEXT NOT NULL,
  status          TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
  next_chat       TEXT NOT NULL DEFAULT '',
  messages_erased INTEGER NOT NULL DEFAULT 0,
  chats_left      INTEGER NOT NULL DEFAULT 0,
  files_deleted   INTEGER NOT NULL DEFAULT 0,
  steps           INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
) WITHOUT ROWID;

-- The erasures still running, oldest first (what the cron trigger continues).
CREATE INDEX IF NOT EXISTS erasures_running ON erasures (created_at, id) WHERE status = 'running';

-- A user's files not yet removed (an erasure removes them all).
CREATE INDEX IF NOT EXISTS files_by_uploader ON files (uploader_id) WHERE removed_at IS NULL;

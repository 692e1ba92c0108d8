-- Migration 0002: projects and service keys (API.md "Projects", "Service access (API keys)").
-- Keeps every existing row: columns are added (NULL for existing chats: no project), nothing is rebuilt.

-- A chat may belong to a project (one app or tenant of a shared backend), set at creation, never
-- changed. A direct chat is unique per pair within a project: `direct_key` carries the project
-- ("<project> <a> <b>"; "<a> <b>" with no project, as before), so its UNIQUE constraint still decides.
ALTER TABLE chats ADD COLUMN project_id TEXT;

-- "My chats" of one project: the caller's memberships joined to their chats, filtered by project.
-- (The chat list reads the caller's memberships in either case; see store::chats.)

-- A copy of each participant's first name, next to the other profile copies, for the project-chat
-- surface's `sender.firstName` (one row per participant instead of one per message's sender).
ALTER TABLE chat_participants ADD COLUMN first_name TEXT;
UPDATE chat_participants
SET first_name = (SELECT u.first_name FROM users u WHERE u.id = chat_participants.user_id)
WHERE first_name IS NULL;

-- Service keys. A key is `eck_` + 43 base64url characters (256 random bits); only its SHA-256 (hex) is
-- kept, as the primary key, so that checking a key reads one row. `id` is its public id.
CREATE TABLE IF NOT EXISTS api_keys (
  key_hash   TEXT PRIMARY KEY,
  id         TEXT NOT NULL UNIQUE,
  name       TEXT NOT NULL,
  -- NULL: every chat; else only the chats of this project.
  project_id TEXT,
  -- The senderId of the key's messages (need not be a participant).
  sender_id  TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
) WITHOUT ROWID;

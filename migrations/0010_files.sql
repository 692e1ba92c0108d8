-- Migration 0010: files (issue 24, API.md "Files"). Additive: a table, its indexes and a trigger.

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

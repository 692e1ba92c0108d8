-- Migration 0014: erasure (issue 25, API.md "Safety and privacy"). Additive: a table and two indexes.

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

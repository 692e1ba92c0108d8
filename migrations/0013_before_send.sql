-- Migration 0013: before-send hooks (issue 25, API.md "Webhooks"). Additive: two columns on api_keys
-- (NULL / 0 for existing keys: no hook) and a partial index.

-- A key's before-send hook: the URL every user's send and edit in its reach is POSTed to first, and
-- whether a hook that does not answer refuses the write (503) instead of allowing it. The key's
-- webhook secret (webhook_nonce) signs it.
ALTER TABLE api_keys ADD COLUMN before_send_url TEXT;
ALTER TABLE api_keys ADD COLUMN before_send_fail_closed INTEGER NOT NULL DEFAULT 0;

-- The live keys with a hook: the guard of every user's send and edit scans it, so with no hook
-- anywhere it is empty and the guard reads 0 rows.
CREATE INDEX IF NOT EXISTS api_keys_before_send ON api_keys (project_id, created_at, id)
  WHERE before_send_url IS NOT NULL AND revoked_at IS NULL;

-- Migration 0004: webhooks (API.md "Webhooks"). Additive: two columns on api_keys (NULL for existing
-- keys: no webhook), one partial index, one new table.

-- A key's webhook: its URL, and the nonce its signing secret is derived from (the secret itself is
-- never stored: it is HMAC-SHA256(WEBHOOK_SIGNING_KEY, key id and nonce), see src/domain/webhooks.rs).
-- A new nonce with every PATCH/POST that sets a URL: setting a URL again rotates the secret.
ALTER TABLE api_keys ADD COLUMN webhook_url TEXT;
ALTER TABLE api_keys ADD COLUMN webhook_nonce TEXT;

-- The live keys with a webhook, read in every commit of a chat's Durable Object: with no webhook
-- anywhere the index is empty and the read costs 0 rows.
CREATE INDEX IF NOT EXISTS api_keys_webhooks ON api_keys (project_id)
  WHERE webhook_url IS NOT NULL AND revoked_at IS NULL;

-- What the admin sees of each delivery (GET /api/v1/admin/api-keys/{keyId}/deliveries). The pending
-- deliveries themselves (their bodies, order and retry times) live in each chat's Durable Object
-- storage; this is the record the object writes after each attempt, off the write path.
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

-- Newest first per key.
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_key ON webhook_deliveries (key_id, created_at);

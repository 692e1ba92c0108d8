#!/usr/bin/env bash
# Prints the benchmark seed as SQL: users alice, bob and carol; a direct chat alice-bob (id
# 00000000000000000000b16c) with $MESSAGES messages (default 100,000); 19 small groups so that alice is
# in 20 chats; a 51-member group for live fan-out; 50 chats for carol's and bob's credit transfers.
# Used by bench/run.sh and bench/compare.sh.
set -euo pipefail
MESSAGES=${MESSAGES:-100000}
BIG_CHAT=00000000000000000000b16c
T=1700000000000
cat <<SQL
INSERT INTO users (id, username, first_name, claimed, created_at, updated_at) VALUES
  ('alice', 'alice', 'Alice', 1, $T, $T), ('bob', 'bob', 'Bob', 1, $T, $T), ('carol', 'carol', 'Carol', 1, $T, $T);
INSERT INTO chats (id, type, title, direct_key, last_seq, last_activity_at, created_at, updated_at)
  VALUES ('$BIG_CHAT', 'direct', NULL, 'alice bob', $MESSAGES, $T + $MESSAGES, $T, $T + $MESSAGES);
INSERT INTO chat_participants (chat_id, user_id, last_read_seq, joined_at, username) VALUES
  ('$BIG_CHAT', 'alice', $MESSAGES, $T, 'alice'), ('$BIG_CHAT', 'bob', $MESSAGES - 10, $T, 'bob');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $MESSAGES)
INSERT INTO messages (chat_id, seq, id, sender_id, sender_role, type, content, created_at, updated_at)
  SELECT '$BIG_CHAT', i, printf('%08x%016x', ($T + i) / 1000, i), CASE i % 2 WHEN 0 THEN 'alice' ELSE 'bob' END,
         'user', 'text', 'seeded message number ' || i, $T + i, $T + i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 19)
INSERT INTO chats (id, type, title, direct_key, last_seq, last_activity_at, created_at, updated_at)
  SELECT printf('%024x', i), 'group', 'group ' || i, NULL, 1, $T + i, $T, $T + i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 19)
INSERT INTO chat_participants (chat_id, user_id, last_read_seq, joined_at, username)
  SELECT printf('%024x', i), u.id, 0, $T, u.id FROM n, (SELECT 'alice' AS id UNION ALL SELECT 'bob' UNION ALL SELECT 'carol') u;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 19)
INSERT INTO messages (chat_id, seq, id, sender_id, sender_role, type, content, created_at, updated_at)
  SELECT printf('%024x', i), 1, printf('%08x%016x', $T / 1000, 1000000 + i), 'carol', 'user', 'text', 'hi', $T + i, $T + i FROM n;
-- Live delivery: fan0..fan50 in one group (id printf('%024x', 200)); fan0 sends, the others listen.
INSERT INTO chats (id, type, title, direct_key, last_seq, last_activity_at, created_at, updated_at)
  VALUES (printf('%024x', 200), 'group', 'fan-out', NULL, 0, $T, $T, $T);
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
INSERT INTO chat_participants (chat_id, user_id, last_read_seq, joined_at, username)
  SELECT printf('%024x', 200), 'fan' || i, 0, $T, 'fan' || i FROM n;
-- Transfers: carol and bob hold plenty, and share 50 group chats (ids printf('%024x', 100 + i)).
UPDATE users SET credits = 1000000000000000 WHERE id IN ('carol', 'bob');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
INSERT INTO chats (id, type, title, direct_key, last_seq, last_activity_at, created_at, updated_at)
  SELECT printf('%024x', 100 + i), 'group', 'pay ' || i, NULL, 0, $T, $T, $T FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
INSERT INTO chat_participants (chat_id, user_id, last_read_seq, joined_at, username)
  SELECT printf('%024x', 100 + i), u.id, 0, $T, u.id FROM n, (SELECT 'carol' AS id UNION ALL SELECT 'bob') u;
SQL

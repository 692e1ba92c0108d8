#!/usr/bin/env python3
"""Load per D1 database and per hot chat for edge-chat sharded over 1, 4 and 16 databases, at 10k, 1M and
10M daily users (issue 13, docs/SCALING.md). Deterministic: no randomness, only the stated assumptions.

    python3 bench/simulate.py            # the table docs/SCALING.md quotes

Model (each assumption is a named constant below):
- Every daily user sends SENDS_PER_USER messages a day and makes READS_PER_SEND reads per send (pages,
  chat list, sync); PEAK is the busiest hour's rate over the day's average.
- There are CHATS_PER_USER chats per daily user; chat activity (sends) follows a Zipf law with exponent
  ZIPF_S over the chats, ranked by activity: the k-th chat gets k^-s / H(C, s) of all sends.
- Chats are placed on shards by a hash of the chat id (here: FNV-1a of "chat-<rank>"), so the busiest
  chats land where the hash puts them, not spread on purpose. The top HEAD chats are placed one by one;
  the rest of the chats' share is spread evenly (with tens of thousands of chats per shard, the
  difference between shards is well under 1%).
- The directory (users, memberships, each member's chat-list order) is sharded by user id over the same
  databases: a send refreshes its chat's members' list order, one batch per database holding a member,
  i.e. about DIRECTORY_SHARDS_PER_SEND batches (direct chats dominate: 2 members); hot chats coalesce
  their refreshes (at most one per COALESCE_S seconds), which this model ignores (conservative).
- Writes per second a database takes: one D1 batch per send without group commit; with group commit a
  hot chat's sends share batches (GROUP writes per batch once a chat passes GROUP_FROM sends/s).
- Storage: MESSAGE_BYTES per message row with its indexes, kept RETENTION_DAYS.
- Limits checked: D1_BATCHES_PER_S write batches per second per database (a single-threaded writer at
  about 2-4 ms a batch), D1_MAX_GB per database, DO_WRITES_PER_S per chat's Durable Object.
"""

import math

SENDS_PER_USER = 30
READS_PER_SEND = 8
PEAK = 3.0
CHATS_PER_USER = 3
ZIPF_S = 1.1
HEAD = 20000
DIRECTORY_SHARDS_PER_SEND = 2
COALESCE_S = 5
GROUP = 8
GROUP_FROM = 20.0
MESSAGE_BYTES = 600
RETENTION_DAYS = 365
D1_BATCHES_PER_S = 300.0
D1_MAX_GB = 10.0
DO_WRITES_PER_S = 500.0
SHARDS = (1, 4, 16)
USERS = (10_000, 1_000_000, 10_000_000)


def harmonic(n: int, s: float) -> float:
    """H(n, s) = sum k^-s for k = 1..n, exact for the head, integral approximation for the tail."""
    head = min(n, 100_000)
    total = sum(k ** -s for k in range(1, head + 1))
    if n > head:
        total += (n ** (1 - s) - head ** (1 - s)) / (1 - s)
    return total


def fnv1a(text: str) -> int:
    h = 0xCBF29CE484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001B3) % (1 << 64)
    return h


def batches_for(sends_per_s: float) -> float:
    """D1 write batches a chat's sends need per second with group commit."""
    if sends_per_s <= GROUP_FROM:
        return sends_per_s
    return GROUP_FROM + (sends_per_s - GROUP_FROM) / GROUP


def simulate(users: int, shards: int) -> dict:
    chats = users * CHATS_PER_USER
    sends_s = users * SENDS_PER_USER / 86400 * PEAK
    reads_s = sends_s * READS_PER_SEND
    h = harmonic(chats, ZIPF_S)
    head = min(HEAD, chats)
    share = [0.0] * shards
    batches = [0.0] * shards
    for k in range(1, head + 1):
        s = k ** -ZIPF_S / h
        shard = fnv1a(f"chat-{k}") % shards
        share[shard] += s
        batches[shard] += batches_for(s * sends_s)
    tail = 1.0 - sum(share)
    for i in range(shards):
        share[i] += tail / shards
        batches[i] += tail * sends_s / shards  # tail chats are far below GROUP_FROM
    top_chat = (1 / h) * sends_s
    busiest = max(range(shards), key=lambda i: batches[i])
    storage_gb = sends_s / PEAK * 86400 * RETENTION_DAYS * MESSAGE_BYTES / 1e9
    return {
        "users": users,
        "shards": shards,
        "sends_s": sends_s,
        "reads_s": reads_s,
        "busiest_batches_s": batches[busiest],
        "busiest_share": share[busiest],
        "even_share": 1 / shards,
        # 70% of reads are message pages (the chat's shard), 30% chat lists (the user's directory shard).
        "busiest_reads_s": reads_s * share[busiest] * 0.7 + reads_s * 0.3 / shards,
        # With one database the list order is refreshed inside the send's own batch.
        "directory_batches_s": 0.0 if shards == 1
        else sends_s * min(DIRECTORY_SHARDS_PER_SEND, shards) / shards,
        "databases_for_a_year": math.ceil(storage_gb / (D1_MAX_GB * 0.8)),
        "directory_reads_s": reads_s * 0.3 / shards,
        "top_chat_sends_s": top_chat,
        "top_chat_batches_s": batches_for(top_chat),
        "storage_gb_per_shard": storage_gb * share[busiest],
    }


def verdict(r: dict) -> str:
    problems = []
    if r["busiest_batches_s"] + r["directory_batches_s"] > D1_BATCHES_PER_S:
        problems.append("write batches")
    if r["storage_gb_per_shard"] > D1_MAX_GB:
        problems.append("storage")
    if r["top_chat_sends_s"] > DO_WRITES_PER_S:
        problems.append("hot chat")
    return "ok" if not problems else "over: " + ", ".join(problems)


def main() -> None:
    print(__doc__.split("\n\n")[0])
    print()
    print(f"Assumptions: {SENDS_PER_USER} sends/user/day, {READS_PER_SEND} reads/send, peak {PEAK}x, "
          f"{CHATS_PER_USER} chats/user, Zipf s={ZIPF_S}, group commit {GROUP}/batch above {GROUP_FROM:g} sends/s, "
          f"{MESSAGE_BYTES} B/message kept {RETENTION_DAYS} days; limits {D1_BATCHES_PER_S:g} batches/s and "
          f"{D1_MAX_GB:g} GB per D1 database, {DO_WRITES_PER_S:g} writes/s per Durable Object.")
    print()
    print("| daily users | shards | peak sends/s | busiest shard: message batches/s | + directory batches/s | "
          "its share of sends (even) | its reads/s | its new GB/yr | hottest chat sends/s (batches/s) | verdict | "
          "databases for a year of history at 80% of 10 GB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for users in USERS:
        for shards in SHARDS:
            r = simulate(users, shards)
            print(f"| {users:,} | {shards} | {r['sends_s']:,.0f} | {r['busiest_batches_s']:,.0f} | "
                  f"{r['directory_batches_s']:,.0f} | "
                  f"{r['busiest_share']:.3f} ({r['even_share']:.3f}) | {r['busiest_reads_s']:,.0f} | "
                  f"{r['storage_gb_per_shard']:,.1f} | "
                  f"{r['top_chat_sends_s']:,.1f} ({r['top_chat_batches_s']:,.1f}) | {verdict(r)} | "
                  f"{r['databases_for_a_year']:,} |")


if __name__ == "__main__":
    main()

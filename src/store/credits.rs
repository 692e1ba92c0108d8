//! Credits: grants, transfers and each user's ledger.
//!
//! A transfer is one D1 batch, so one transaction: the transfer row, the debit, the credit, the message
//! (with the chat's next sequence number), both ledger lines and the sender's read mark all happen or
//! none do. The first statement inserts the transfer row only when every rule holds (both in the chat,
//! key not used, balance enough); every later statement runs only if that row exists. Correctness does
//! not rest on the chat's Durable Object (a user can spend from several chats at once): D1 runs batches
//! one at a time, `CHECK (credits >= 0)` backs the balance rule and UNIQUE indexes back the keys; a
//! constraint that fires anyway rolls the whole batch back and becomes a 409/422 (error.rs).

use serde::Deserialize;
use worker::{D1PreparedStatement, D1Result};

use super::chat_list::{LIST_MOVE_SQL, REFRESH_SET, UNARCHIVE_SQL};
use super::rows::MessageRow;
use super::sql::{concatcp, CHANGE_STAMP, IS_MEMBER, MESSAGE_COLUMNS};
use super::users::{claim_profile, ClaimedProfile};
use super::writes::{
    left_list_behind, read_marks, read_marks_statement, Plan, Stored, SEND_READ_MARK_SQL,
};
use super::{first, nth, rows, Arg, Db};
use crate::auth::Caller;
use crate::domain::credits::{NewGrant, NewTransfer, MAX_BALANCE};
use crate::domain::ids::{new_object_id, MessageId, UserId};
use crate::domain::pagination::PageRequest;
use crate::error::{ApiError, Result};

/// A transfer, only when every rule holds: sender and recipient differ and are both in the chat, the
/// key is new for this sender, the balance covers it, and the recipient's stays a safe integer.
/// ?1 chat, ?2 sender, ?3 recipient, ?4 amount, ?5 transfer id, ?6 message id, ?7 key, ?8 hash,
/// ?9 now, ?10 largest balance.
pub const TRANSFER_SQL: &str = concatcp!(
    "INSERT INTO credit_transfers (id, kind, sender_id, recipient_id, amount, chat_id, message_id,
                                   idempotency_key, request_hash, created_at)
     SELECT ?5, 'transfer', ?2, ?3, ?4, ?1, ?6, ?7, ?8, ?9
     WHERE ?2 <> ?3 AND ",
    IS_MEMBER,
    " AND EXISTS (SELECT 1 FROM chat_participants WHERE chat_id = ?1 AND user_id = ?3)
       AND NOT EXISTS (SELECT 1 FROM credit_transfers
                       WHERE kind = 'transfer' AND sender_id = ?2 AND idempotency_key = ?7)
       AND (SELECT credits FROM users WHERE id = ?2) >= ?4
       AND (SELECT credits FROM users WHERE id = ?3) + ?4 <= ?10
       AND NOT ",
    PAIR_BLOCKED,
    ""
);

/// Sender ?2 and recipient ?3 blocked each other, either way (two key probes; 0 rows without blocks).
const PAIR_BLOCKED: &str =
    "(EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ?2 AND blocked_id = ?3)
       OR EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ?3 AND blocked_id = ?2))";

/// A debit of an accepted movement. ?1 user, ?2 amount, ?3 now, ?4 movement id.
pub const DEBIT_SQL: &str = "UPDATE users SET credits = credits - ?2, updated_at = ?3
     WHERE id = ?1 AND EXISTS (SELECT 1 FROM credit_transfers WHERE id = ?4)";

/// A credit of an accepted movement. ?1 user, ?2 amount, ?3 now, ?4 movement id.
pub const CREDIT_SQL: &str = "UPDATE users SET credits = credits + ?2, updated_at = ?3
     WHERE id = ?1 AND EXISTS (SELECT 1 FROM credit_transfers WHERE id = ?4)";

/// Chat ?1's next sequence number, write stamp and list order at ?4 (now), for the accepted transfer
/// ?3 of sender ?2.
pub const TRANSFER_BUMP_SQL: &str = concatcp!(
    "UPDATE chats SET last_seq = last_seq + 1, last_activity_at = ",
    CHANGE_STAMP,
    ", updated_at = ?4, ",
    REFRESH_SET,
    " WHERE id = ?1 AND EXISTS (SELECT 1 FROM credit_transfers WHERE id = ?3 AND sender_id = ?2)"
);

/// The `credit_transfer` message of an accepted transfer. ?1 chat, ?2 message id, ?3 sender, ?4 note,
/// ?5 amount, ?6 recipient, ?7 hash, ?8 transfer id.
pub const TRANSFER_MESSAGE_SQL: &str =
    "INSERT INTO messages (chat_id, seq, id, sender_id, sender_role, type, content, transfer_amount,
                           transfer_recipient, request_hash, created_at, updated_at)
     SELECT ?1, c.last_seq, ?2, ?3, 'user', 'credit_transfer', ?4, ?5, ?6, ?7,
            c.last_activity_at, c.last_activity_at FROM chats c
     WHERE c.id = ?1 AND EXISTS (SELECT 1 FROM credit_transfers WHERE id = ?8)";

/// One line of a user's ledger for an accepted movement, with the balance after it. ?1 user,
/// ?2 movement id, ?3 kind, ?4 signed amount, ?5 counterparty, ?6 chat, ?7 message id, ?8 now.
pub const LEDGER_LINE_SQL: &str =
    "INSERT INTO ledger_entries (user_id, seq, transfer_id, kind, amount, balance_after,
                                 counterparty_id, chat_id, message_id, created_at)
     SELECT ?1, COALESCE((SELECT MAX(seq) FROM ledger_entries WHERE user_id = ?1), 0) + 1, ?2, ?3,
            ?4, (SELECT credits FROM users WHERE id = ?1), ?5, ?6, ?7, ?8
     WHERE EXISTS (SELECT 1 FROM credit_transfers WHERE id = ?2)";

/// The stored transfer with its message, by the sender's key: new, or the original of a retry.
/// ?1 sender, ?2 key.
pub const TRANSFER_BY_KEY_SQL: &str = concatcp!(
    "SELECT t.id AS transfer_id, t.request_hash AS transfer_hash, ",
    MESSAGE_COLUMNS,
    " FROM credit_transfers t JOIN messages m ON m.id = t.message_id
     WHERE t.kind = 'transfer' AND t.sender_id = ?1 AND t.idempotency_key = ?2"
);

/// The stored transfer with its message, by id. ?1 transfer id.
pub const TRANSFER_BY_ID_SQL: &str = concatcp!(
    "SELECT t.id AS transfer_id, t.request_hash AS transfer_hash, ",
    MESSAGE_COLUMNS,
    " FROM credit_transfers t JOIN messages m ON m.id = t.message_id WHERE t.id = ?1"
);

/// Why a transfer was not accepted. ?1 chat, ?2 sender, ?3 recipient.
pub const TRANSFER_DIAGNOSIS_SQL: &str = concatcp!(
    "SELECT ",
    IS_MEMBER,
    " AS sender_member,
       EXISTS (SELECT 1 FROM chat_participants WHERE chat_id = ?1 AND user_id = ?3)
         AS recipient_member,
       COALESCE((SELECT credits FROM users WHERE id = ?2), 0) AS balance,
       COALESCE((SELECT credits FROM users WHERE id = ?3), 0) AS recipient_balance, ",
    PAIR_BLOCKED,
    " AS blocked"
);

/// The transfer columns of the read-back row (the same row also decodes as a `MessageRow`).
#[derive(Deserialize)]
struct StoredTransfer {
    transfer_id: String,
    transfer_hash: String,
}

#[derive(Deserialize)]
struct Diagnosis {
    sender_member: i64,
    recipient_member: i64,
    balance: i64,
    recipient_balance: i64,
    blocked: i64,
}

/// The ids a new transfer would get.
struct NewIds {
    transfer: String,
    message: MessageId,
}

/// Moves `amount` from the caller to the recipient inside the chat. Must run inside the chat's Durable
/// Object (one write at a time per chat, in sequence order). One batch.
///
/// A plan: its statements, and how to read its outcome from their results. Every
/// statement is guarded (none fails), so a refused transfer changes nothing and refuses only itself,
/// also when it shares a batch with other writes of the chat.
pub fn transfer_plan<'a>(
    db: &Db,
    caller: &'a Caller,
    t: &'a NewTransfer,
    now_ms: i64,
    with_marks: bool,
) -> Result<Plan<'a>> {
    let ids = NewIds {
        transfer: new_object_id(now_ms)?,
        message: MessageId::generate(now_ms)?,
    };
    let hash = t.request_hash();
    let claimed = ClaimedProfile::of(caller, now_ms)?;
    let mut statements = claim_profile(db, &claimed, now_ms, Some(t.chat_id.as_str()))?;
    statements.extend(transfer_statements(db, caller, t, &ids, &hash, now_ms)?);
    let read_back = statements.len();
    statements.push(match &t.idempotency_key {
        Some(key) => db.statement(
            TRANSFER_BY_KEY_SQL,
            &[caller.id.as_str().into(), key.as_str().into()],
        )?,
        None => db.statement(TRANSFER_BY_ID_SQL, &[ids.transfer.as_str().into()])?,
    });
    statements.push(db.statement(
        TRANSFER_DIAGNOSIS_SQL,
        &[
            t.chat_id.as_str().into(),
            caller.id.as_str().into(),
            t.recipient.as_str().into(),
        ],
    )?);
    if t.idempotency_key.is_some() || with_marks {
        statements.push(read_marks_statement(db, t.chat_id.as_str())?);
    }
    let target = ids.message.as_str().to_string();
    let outcome =
        move |results: &[D1Result]| transfer_outcome(results, read_back, caller, t, &ids, &hash);
    Ok(Plan {
        statements,
        outcome: Box::new(outcome),
        target,
    })
}

/// The statements that apply a transfer, each conditioned on the first one's row.
fn transfer_statements(
    db: &Db,
    caller: &Caller,
    t: &NewTransfer,
    ids: &NewIds,
    hash: &str,
    now_ms: i64,
) -> Result<Vec<D1PreparedStatement>> {
    // Arguments by name (`Arg` is Copy); each statement below numbers its own.
    let [chat, sender, recipient] =
        [t.chat_id.as_str(), caller.id.as_str(), t.recipient.as_str()].map(Arg::Text);
    let [id, message, hash] = [ids.transfer.as_str(), ids.message.as_str(), hash].map(Arg::Text);
    let [amount, now, max] = [t.amount, now_ms, MAX_BALANCE].map(Arg::Int);
    let (key, note) = (
        t.idempotency_key.as_deref().into(),
        t.note.as_deref().into(),
    );
    let line = |who, kind: &'static str, signed: i64, other| {
        let args = [
            who,
            id,
            kind.into(),
            signed.into(),
            other,
            chat,
            message,
            now,
        ];
        db.statement(LEDGER_LINE_SQL, &args)
    };
    Ok(vec![
        db.statement(
            TRANSFER_SQL,
            &[
                chat, sender, recipient, amount, id, message, key, hash, now, max,
            ],
        )?,
        db.statement(DEBIT_SQL, &[sender, amount, now, id])?,
        db.statement(CREDIT_SQL, &[recipient, amount, now, id])?,
        db.statement(TRANSFER_BUMP_SQL, &[chat, sender, id, now])?,
        db.statement(
            TRANSFER_MESSAGE_SQL,
            &[chat, message, sender, note, amount, recipient, hash, id],
        )?,
        line(sender, "transfer_out", -t.amount, recipient)?,
        line(recipient, "transfer_in", t.amount, sender)?,
        db.statement(SEND_READ_MARK_SQL, &[chat, sender, message])?,
        db.statement(UNARCHIVE_SQL, &[chat, sender, message])?,
        db.statement(LIST_MOVE_SQL, &[chat])?,
    ])
}

/// The transfer as stored (new, or the original of a retried key), or why it was refused.
fn transfer_outcome(
    results: &[D1Result],
    read_back: usize,
    caller: &Caller,
    t: &NewTransfer,
    ids: &NewIds,
    hash: &str,
) -> Result<Stored> {
    let stored = first::<StoredTransfer>(nth(results, read_back)?)?;
    let message = first::<MessageRow>(nth(results, read_back)?)?;
    if let (Some(stored), Some(message)) = (stored, message) {
        let committed = stored.transfer_id == ids.transfer;
        if !committed && stored.transfer_hash != hash {
            return Err(ApiError::conflict(
                "idempotencyKey was already used for a different transfer",
            ));
        }
        return Ok(Stored {
            message,
            committed,
            read_marks: read_marks(results.get(read_back + 2))?,
            list_behind: left_list_behind(results, read_back, committed)?,
            parent: None,
        });
    }
    let why: Diagnosis = first(nth(results, read_back + 1)?)?
        .ok_or_else(|| ApiError::internal("transfer diagnosis missing"))?;
    Err(if why.sender_member == 0 {
        ApiError::not_found("chat")
    } else if why.recipient_member == 0 || t.recipient == caller.id {
        ApiError::unprocessable("recipientId must be another participant of this chat")
    } else if why.balance < t.amount {
        ApiError::unprocessable("Insufficient credits")
    } else if why.recipient_balance + t.amount > MAX_BALANCE {
        ApiError::unprocessable("the recipient's balance would exceed the largest safe integer")
    } else if why.blocked == 1 {
        ApiError::forbidden(
            "you cannot transfer credits to this user: one of you blocked the other",
        )
    } else {
        ApiError::internal("transfer was not applied and no rule explains why")
    })
}

/// A user named by a grant, with profile fields defaulting to the id. ?1 user, ?2 now.
pub const GRANTEE_SQL: &str =
    "INSERT INTO users (id, username, first_name, claimed, created_at, updated_at)
     VALUES (?1, ?1, ?1, 0, ?2, ?2) ON CONFLICT (id) DO NOTHING";

/// A grant, unless its key was used or the balance would pass the largest safe integer.
/// ?1 grant id, ?2 user, ?3 amount, ?4 key, ?5 hash, ?6 now, ?7 largest balance.
pub const GRANT_SQL: &str =
    "INSERT INTO credit_transfers (id, kind, sender_id, recipient_id, amount, idempotency_key,
                                   request_hash, created_at)
     SELECT ?1, 'grant', NULL, ?2, ?3, ?4, ?5, ?6
     WHERE NOT EXISTS (SELECT 1 FROM credit_transfers WHERE kind = 'grant' AND idempotency_key = ?4)
       AND (SELECT credits FROM users WHERE id = ?2) + ?3 <= ?7";

/// The stored grant and the user's balance, by key (new, or the original of a retry). ?1 key.
pub const GRANT_BY_KEY_SQL: &str = "SELECT t.id AS transfer_id, t.request_hash,
            (SELECT credits FROM users WHERE id = t.recipient_id) AS credits
     FROM credit_transfers t WHERE t.kind = 'grant' AND t.idempotency_key = ?1";

/// The stored grant and the user's balance, by id. ?1 grant id.
pub const GRANT_BY_ID_SQL: &str = "SELECT t.id AS transfer_id, t.request_hash,
            (SELECT credits FROM users WHERE id = t.recipient_id) AS credits
     FROM credit_transfers t WHERE t.id = ?1";

/// Grants `amount` credits to a user (created with defaults if new). Returns the user's balance and
/// whether this call did it (false: a retry of the same key). One round trip.
pub async fn grant(db: &Db, g: &NewGrant, now_ms: i64) -> Result<(i64, bool)> {
    #[derive(Deserialize)]
    struct Granted {
        transfer_id: String,
        request_hash: String,
        credits: i64,
    }
    let id = new_object_id(now_ms)?;
    let hash = g.request_hash();
    let statements = grant_statements(db, g, &id, &hash, now_ms)?;
    let results = db.batch(statements).await?;
    match first::<Granted>(nth(&results, 4)?)? {
        Some(done) if done.transfer_id == id => Ok((done.credits, true)),
        Some(done) if done.request_hash == hash => Ok((done.credits, false)),
        Some(_) => Err(ApiError::conflict(
            "idempotencyKey was already used for a different grant",
        )),
        None => Err(ApiError::unprocessable(
            "the balance would exceed the largest safe integer",
        )),
    }
}

/// The statements of a grant: the user's row, the grant row, the credit, the ledger line, the read-back.
fn grant_statements(
    db: &Db,
    g: &NewGrant,
    id: &str,
    hash: &str,
    now_ms: i64,
) -> Result<Vec<D1PreparedStatement>> {
    let (user, key) = (g.user.as_str(), g.idempotency_key.as_deref());
    let (amount, now) = (g.amount.into(), now_ms.into());
    let grant_args = [
        id.into(),
        user.into(),
        amount,
        key.into(),
        hash.into(),
        now,
        MAX_BALANCE.into(),
    ];
    let null = Arg::Null;
    let line_args = [
        user.into(),
        id.into(),
        "grant".into(),
        amount,
        null,
        null,
        null,
        now,
    ];
    Ok(vec![
        db.statement(GRANTEE_SQL, &[user.into(), now])?,
        db.statement(GRANT_SQL, &grant_args)?,
        db.statement(CREDIT_SQL, &[user.into(), amount, now, id.into()])?,
        db.statement(LEDGER_LINE_SQL, &line_args)?,
        match key {
            Some(key) => db.statement(GRANT_BY_KEY_SQL, &[key.into()])?,
            None => db.statement(GRANT_BY_ID_SQL, &[id.into()])?,
        },
    ])
}

#[derive(Debug, Deserialize)]
pub struct LedgerRow {
    pub seq: i64,
    pub transfer_id: String,
    pub kind: String,
    pub amount: i64,
    pub balance_after: i64,
    pub counterparty_id: Option<String>,
    pub chat_id: Option<String>,
    pub message_id: Option<String>,
    pub created_at: i64,
}

/// How many lines a user's ledger has (lines are dense per user). ?1 user.
pub const LEDGER_TOTAL_SQL: &str =
    "SELECT COALESCE(MAX(seq), 0) AS total FROM ledger_entries WHERE user_id = ?1";

/// A page of a user's ledger, newest first: a key range like message pages. ?1 user, ?2 offset,
/// ?3 limit.
pub const LEDGER_PAGE_SQL: &str =
    "SELECT seq, transfer_id, kind, amount, balance_after, counterparty_id, chat_id, message_id,
            created_at
     FROM ledger_entries
     WHERE user_id = ?1
       AND seq <= (SELECT COALESCE(MAX(seq), 0) FROM ledger_entries WHERE user_id = ?1) - ?2
     ORDER BY seq DESC LIMIT ?3";

/// A page of the user's ledger, newest first, and the number of lines. One round trip.
pub async fn ledger_page(
    db: &Db,
    user: &UserId,
    page: PageRequest,
) -> Result<(Vec<LedgerRow>, i64)> {
    #[derive(Deserialize)]
    struct Total {
        total: i64,
    }
    let total = db.statement(LEDGER_TOTAL_SQL, &[user.as_str().into()])?;
    let lines = db.statement(
        LEDGER_PAGE_SQL,
        &[
            user.as_str().into(),
            page.offset().into(),
            page.limit.into(),
        ],
    )?;
    let results = db.batch(vec![total, lines]).await?;
    let total = first::<Total>(nth(&results, 0)?)?.map_or(0, |t| t.total);
    Ok((rows(nth(&results, 1)?)?, total))
}

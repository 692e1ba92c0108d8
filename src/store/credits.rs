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

use super::messages::{change_stamp, read_marks, read_marks_statement, MESSAGE_COLUMNS};
use super::rows::MessageRow;
use super::users::{claim_profile, ClaimedProfile};
use super::{first, nth, rows, Arg, Db};
use crate::auth::Caller;
use crate::domain::credits::{NewGrant, NewTransfer, MAX_BALANCE};
use crate::domain::ids::{new_object_id, MessageId, UserId};
use crate::domain::pagination::PageRequest;
use crate::error::{ApiError, Result};

const TRANSFER_EXISTS: &str = "EXISTS (SELECT 1 FROM credit_transfers WHERE id = ?5)";

pub struct TransferOutcome {
    pub message: MessageRow,
    /// False when this was a retry of an earlier transfer (same key and body).
    pub created: bool,
    pub read_marks: Vec<(String, i64)>,
}

/// The transfer columns of the read-back row (the same row also decodes as a `MessageRow`).
#[derive(Deserialize)]
struct Stored {
    transfer_id: String,
    transfer_hash: String,
}

#[derive(Deserialize)]
struct Diagnosis {
    sender_member: i64,
    recipient_member: i64,
    balance: i64,
    recipient_balance: i64,
}

/// Moves `amount` from the caller to the recipient inside the chat. Must run inside the chat's Durable
/// Object (one write at a time per chat, in sequence order). One round trip.
pub async fn transfer(
    db: &Db,
    caller: &Caller,
    t: &NewTransfer,
    now_ms: i64,
    with_marks: bool,
) -> Result<TransferOutcome> {
    let transfer_id = new_object_id(now_ms)?;
    let message_id = MessageId::generate(now_ms)?;
    let hash = t.request_hash();
    let args: Vec<Arg<'_>> = vec![
        t.chat_id.as_str().into(),
        caller.id.as_str().into(),
        t.recipient.as_str().into(),
        t.amount.into(),
        transfer_id.as_str().into(),
        message_id.as_str().into(),
        t.idempotency_key.as_ref().into(),
        hash.as_str().into(),
        now_ms.into(),
        t.note.as_ref().into(),
        MAX_BALANCE.into(),
    ];
    let member = |who: &str| {
        format!("EXISTS (SELECT 1 FROM chat_participants WHERE chat_id = ?1 AND user_id = {who})")
    };
    let ledger_line = |who: &str, kind: &str, signed: &str, other: &str| {
        format!(
            "INSERT INTO ledger_entries (user_id, seq, transfer_id, kind, amount, balance_after, counterparty_id,
                                         chat_id, message_id, created_at)
             SELECT {who}, COALESCE((SELECT MAX(seq) FROM ledger_entries WHERE user_id = {who}), 0) + 1, ?5,
                    '{kind}', {signed}, (SELECT credits FROM users WHERE id = {who}), {other}, ?1, ?6, ?9
             WHERE {TRANSFER_EXISTS}"
        )
    };
    let sql = [
        format!(
            "INSERT INTO credit_transfers (id, kind, sender_id, recipient_id, amount, chat_id, message_id,
                                           idempotency_key, request_hash, created_at)
             SELECT ?5, 'transfer', ?2, ?3, ?4, ?1, ?6, ?7, ?8, ?9
             WHERE ?2 <> ?3 AND {} AND {}
               AND NOT EXISTS (SELECT 1 FROM credit_transfers
                               WHERE kind = 'transfer' AND sender_id = ?2 AND idempotency_key = ?7)
               AND (SELECT credits FROM users WHERE id = ?2) >= ?4
               AND (SELECT credits FROM users WHERE id = ?3) + ?4 <= ?11",
            member("?2"),
            member("?3")
        ),
        format!("UPDATE users SET credits = credits - ?4, updated_at = ?9 WHERE id = ?2 AND {TRANSFER_EXISTS}"),
        format!("UPDATE users SET credits = credits + ?4, updated_at = ?9 WHERE id = ?3 AND {TRANSFER_EXISTS}"),
        format!(
            "UPDATE chats SET last_seq = last_seq + 1, last_activity_at = {stamp}, updated_at = ?9
             WHERE id = ?1 AND {TRANSFER_EXISTS}",
            stamp = change_stamp("?9")
        ),
        format!(
            "INSERT INTO messages (chat_id, seq, id, sender_id, sender_role, type, content, transfer_amount,
                                   transfer_recipient, request_hash, created_at, updated_at)
             SELECT ?1, c.last_seq, ?6, ?2, 'user', 'credit_transfer', ?10, ?4, ?3, ?8,
                    c.last_activity_at, c.last_activity_at FROM chats c
             WHERE c.id = ?1 AND {TRANSFER_EXISTS}"
        ),
        ledger_line("?2", "transfer_out", "-?4", "?3"),
        ledger_line("?3", "transfer_in", "?4", "?2"),
        "UPDATE chat_participants SET last_read_seq = (SELECT seq FROM messages WHERE id = ?6)
         WHERE chat_id = ?1 AND user_id = ?2 AND EXISTS (SELECT 1 FROM messages WHERE id = ?6)"
            .to_string(),
    ];
    let claimed = ClaimedProfile::of(caller, now_ms)?;
    let mut statements = claim_profile(db, &claimed, now_ms, Some(t.chat_id.as_str()))?;
    for text in &sql {
        statements.push(db.statement(text, &args)?);
    }
    // The stored transfer with its message: the new one, or the original of a retried key.
    let lookup = if t.idempotency_key.is_some() {
        "t.kind = 'transfer' AND t.sender_id = ?2 AND t.idempotency_key = ?7"
    } else {
        "t.id = ?5"
    };
    let read_back = statements.len();
    statements.push(db.statement(
        &format!(
            "SELECT t.id AS transfer_id, t.request_hash AS transfer_hash, {MESSAGE_COLUMNS}
             FROM credit_transfers t JOIN messages m ON m.id = t.message_id WHERE {lookup}"
        ),
        &args,
    )?);
    statements.push(db.statement(
        &format!(
            "SELECT {} AS sender_member, {} AS recipient_member,
                    COALESCE((SELECT credits FROM users WHERE id = ?2), 0) AS balance,
                    COALESCE((SELECT credits FROM users WHERE id = ?3), 0) AS recipient_balance",
            member("?2"),
            member("?3")
        ),
        &args,
    )?);
    if t.idempotency_key.is_some() || with_marks {
        statements.push(read_marks_statement(db, t.chat_id.as_str())?);
    }
    let results = db.batch(statements).await?;

    let stored = first::<Stored>(nth(&results, read_back)?)?;
    let message = first::<MessageRow>(nth(&results, read_back)?)?;
    if let (Some(stored), Some(message)) = (stored, message) {
        let created = stored.transfer_id == transfer_id;
        if !created && stored.transfer_hash != hash {
            return Err(ApiError::conflict(
                "idempotencyKey was already used for a different transfer",
            ));
        }
        let read_marks = read_marks(results.get(read_back + 2))?;
        return Ok(TransferOutcome {
            message,
            created,
            read_marks,
        });
    }
    let why: Diagnosis = first(nth(&results, read_back + 1)?)?
        .ok_or_else(|| ApiError::internal("transfer diagnosis missing"))?;
    Err(if why.sender_member == 0 {
        ApiError::not_found("chat")
    } else if why.recipient_member == 0 || t.recipient == caller.id {
        ApiError::unprocessable("recipientId must be another participant of this chat")
    } else if why.balance < t.amount {
        ApiError::unprocessable("Insufficient credits")
    } else if why.recipient_balance + t.amount > MAX_BALANCE {
        ApiError::unprocessable("the recipient's balance would exceed the largest safe integer")
    } else {
        ApiError::internal("transfer was not applied and no rule explains why")
    })
}

/// Grants `amount` credits to a user (created with defaults if new). Returns the user's balance and
/// whether this call did it (false: a retry of the same key). One round trip.
pub async fn grant(db: &Db, g: &NewGrant, now_ms: i64) -> Result<(i64, bool)> {
    #[derive(Deserialize)]
    struct Granted {
        transfer_id: String,
        request_hash: String,
        credits: i64,
    }
    let transfer_id = new_object_id(now_ms)?;
    let hash = g.request_hash();
    let args: Vec<Arg<'_>> = vec![
        g.user.as_str().into(),
        g.amount.into(),
        transfer_id.as_str().into(),
        g.idempotency_key.as_ref().into(),
        hash.as_str().into(),
        now_ms.into(),
        MAX_BALANCE.into(),
    ];
    let exists = "EXISTS (SELECT 1 FROM credit_transfers WHERE id = ?3)";
    let lookup = if g.idempotency_key.is_some() {
        "t.kind = 'grant' AND t.idempotency_key = ?4"
    } else {
        "t.id = ?3"
    };
    let sql = [
        "INSERT INTO users (id, username, first_name, claimed, created_at, updated_at)
         VALUES (?1, ?1, ?1, 0, ?6, ?6) ON CONFLICT (id) DO NOTHING"
            .to_string(),
        "INSERT INTO credit_transfers (id, kind, sender_id, recipient_id, amount, idempotency_key, request_hash, created_at)
         SELECT ?3, 'grant', NULL, ?1, ?2, ?4, ?5, ?6
         WHERE NOT EXISTS (SELECT 1 FROM credit_transfers WHERE kind = 'grant' AND idempotency_key = ?4)
           AND (SELECT credits FROM users WHERE id = ?1) + ?2 <= ?7"
            .to_string(),
        format!("UPDATE users SET credits = credits + ?2, updated_at = ?6 WHERE id = ?1 AND {exists}"),
        format!(
            "INSERT INTO ledger_entries (user_id, seq, transfer_id, kind, amount, balance_after, created_at)
             SELECT ?1, COALESCE((SELECT MAX(seq) FROM ledger_entries WHERE user_id = ?1), 0) + 1, ?3, 'grant',
                    ?2, (SELECT credits FROM users WHERE id = ?1), ?6
             WHERE {exists}"
        ),
        format!(
            "SELECT t.id AS transfer_id, t.request_hash,
                    (SELECT credits FROM users WHERE id = t.recipient_id) AS credits
             FROM credit_transfers t WHERE {lookup}"
        ),
    ];
    let mut statements = Vec::with_capacity(sql.len());
    for text in &sql {
        statements.push(db.statement(text, &args)?);
    }
    let results = db.batch(statements).await?;
    match first::<Granted>(nth(&results, 4)?)? {
        Some(done) if done.transfer_id == transfer_id => Ok((done.credits, true)),
        Some(done) if done.request_hash == hash => Ok((done.credits, false)),
        Some(_) => Err(ApiError::conflict(
            "idempotencyKey was already used for a different grant",
        )),
        None => Err(ApiError::unprocessable(
            "the balance would exceed the largest safe integer",
        )),
    }
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

/// A page of the user's ledger, newest first, and the number of lines. Lines are dense per user, so the
/// page is a key range like message pages. One round trip.
pub async fn ledger_page(
    db: &Db,
    user: &UserId,
    page: PageRequest,
) -> Result<(Vec<LedgerRow>, i64)> {
    #[derive(Deserialize)]
    struct Total {
        total: i64,
    }
    let args = [
        user.as_str().into(),
        page.offset().into(),
        page.limit.into(),
    ];
    let total = db.statement(
        "SELECT COALESCE(MAX(seq), 0) AS total FROM ledger_entries WHERE user_id = ?1",
        &args[..1],
    )?;
    let lines = db.statement(
        "SELECT seq, transfer_id, kind, amount, balance_after, counterparty_id, chat_id, message_id, created_at
         FROM ledger_entries
         WHERE user_id = ?1 AND seq <= (SELECT COALESCE(MAX(seq), 0) FROM ledger_entries WHERE user_id = ?1) - ?2
         ORDER BY seq DESC LIMIT ?3",
        &args,
    )?;
    let results = db.batch(vec![total, lines]).await?;
    let total = first::<Total>(nth(&results, 0)?)?.map_or(0, |t| t.total);
    Ok((rows(nth(&results, 1)?)?, total))
}

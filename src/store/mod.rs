//! Every SQL statement lives under this module, next to the row types it returns: `listing` (the
//! message list's modes), `writes` (a chat's message writes as plans the chat's Durable Object
//! commits), `chat_list` (the chat list's order and pages), `chats`, `credits`, `users`, `keys`; shared
//! pieces of SQL in `sql`, row types in `rows`.
//!
//! `Db` wraps the D1 binding and counts what each request costs: round trips (a batch counts once), rows
//! read and rows written, as D1 reports them. Those counts become the `X-D1-*` response headers, and the
//! tests assert them, so a query that starts scanning shows up as a failing test, not a surprise bill.
//! Integers are bound as f64: D1 refuses BigInt, and every stored integer stays below 2^53.

pub mod chat_list;
pub mod chats;
pub mod credits;
pub mod erasure;
pub mod files;
pub mod keys;
pub mod listing;
pub mod members;
pub mod outbox;
pub mod pins;
pub mod reactions;
pub mod rows;
pub mod safety;
pub mod search;
pub mod sql;
pub mod threads;
pub mod users;
pub mod writes;

use std::cell::{Cell, RefCell};

use serde::de::DeserializeOwned;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1DatabaseSession, D1PreparedStatement, D1Result};

use crate::auth::{Author, Credential};
use crate::error::{ApiError, Result};

pub use crate::cost::Cost;

/// The cost of one write's slice of a shared batch: the round trip counts once for every write that
/// shared it, rows are the write's own statements'.
pub fn cost_of(results: &[D1Result]) -> Cost {
    let mut cost = Cost {
        queries: 1,
        ..Cost::default()
    };
    for result in results {
        if let Ok(Some(meta)) = result.meta() {
            cost.rows_read += meta.rows_read.unwrap_or(0) as u64;
            cost.rows_written += meta.rows_written.unwrap_or(0) as u64;
        }
    }
    cost
}

/// Whose reach a read is limited to: a participant's chats, or the chats of a service key's project
/// (every chat for a key of no project). A key is presented by its hash and checked in the read's own
/// round trip.
#[derive(Debug, Clone, Copy)]
pub enum Reach<'a> {
    Member(&'a crate::domain::ids::UserId),
    Key(&'a crate::domain::keys::KeyHash),
}

/// A bound statement parameter.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Text(&'a str),
    Int(i64),
    Null,
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(s)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Text(s)
    }
}

impl From<i64> for Arg<'_> {
    fn from(i: i64) -> Self {
        Arg::Int(i)
    }
}

impl<'a, T: Into<Arg<'a>>> From<Option<T>> for Arg<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Arg::Null, Into::into)
    }
}

impl Arg<'_> {
    fn js(self) -> JsValue {
        match self {
            Arg::Text(s) => JsValue::from_str(s),
            Arg::Int(i) => JsValue::from_f64(i as f64),
            Arg::Null => JsValue::NULL,
        }
    }
}

/// Where a request's D1 session starts (API.md "Read-your-writes across replicas").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStart<'a> {
    /// Writes: the first query goes to the primary.
    Primary,
    /// Reads without a bookmark: any replica.
    Unconstrained,
    /// Reads after the client's bookmark: a replica at least that fresh.
    After(&'a str),
}

pub struct Db {
    db: D1DatabaseSession,
    cost: Cell<Cost>,
    /// A bookmark from work done elsewhere for this request (the chat's Durable Object's write).
    later_bookmark: RefCell<Option<String>>,
    /// The id of the service key this session found live (`keys::checked`), for the request's log
    /// line: a key is known only once storage has checked it.
    checked_key: RefCell<Option<String>>,
}

impl Db {
    /// A D1 session for one request (or one write of a chat), started as `start` says.
    pub fn new(db: &D1Database, start: SessionStart<'_>) -> Result<Self> {
        let constraint = match start {
            SessionStart::Primary => "first-primary",
            SessionStart::Unconstrained => "first-unconstrained",
            SessionStart::After(bookmark) => bookmark,
        };
        let db = db
            .with_session(Some(constraint))
            .map_err(|e| ApiError::from_storage_message(&e.to_string()))?;
        Ok(Db {
            db,
            cost: Cell::new(Cost::default()),
            later_bookmark: RefCell::new(None),
            checked_key: RefCell::new(None),
        })
    }

    /// The bookmark to give the client: the latest of this session's and one noted from elsewhere
    /// (bookmarks of one database order as strings).
    pub fn bookmark(&self) -> Option<String> {
        let own = self.db.get_bookmark().ok().flatten();
        let later = self.later_bookmark.borrow().clone();
        match (own, later) {
            (Some(a), Some(b)) => Some(if b > a { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// Notes the bookmark of work done for this request elsewhere (the chat's Durable Object).
    pub fn note_bookmark(&self, bookmark: Option<String>) {
        if bookmark.is_some() {
            *self.later_bookmark.borrow_mut() = bookmark;
        }
    }

    /// The id of the service key this session checked, if any.
    pub fn checked_key(&self) -> Option<String> {
        self.checked_key.borrow().clone()
    }

    pub(crate) fn note_checked_key(&self, id: &str) {
        *self.checked_key.borrow_mut() = Some(id.to_string());
    }

    pub fn cost(&self) -> Cost {
        self.cost.get()
    }

    /// Adds work done elsewhere on this request's behalf (the chat's Durable Object).
    pub fn add_cost(&self, cost: Cost) {
        self.cost.set(self.cost.get() + cost);
    }

    /// Binds exactly the arguments `sql` numbers (`?1` to `?N`): each statement has its own list, and a
    /// list of another length is a bug (D1 refuses extra arguments; a missing one would bind NULL).
    pub fn statement(&self, sql: &str, args: &[Arg<'_>]) -> Result<D1PreparedStatement> {
        let used = highest_parameter(sql);
        if args.len() != used {
            return Err(ApiError::internal(format!(
                "statement uses ?1 to ?{used} but {} arguments were given",
                args.len()
            )));
        }
        let values: Vec<JsValue> = args.iter().map(|a| a.js()).collect();
        Ok(self.db.prepare(sql).bind(&values)?)
    }

    /// Runs statements as one D1 round trip and one transaction: all apply or none.
    pub async fn batch(&self, statements: Vec<D1PreparedStatement>) -> Result<Vec<D1Result>> {
        let results = self.db.batch(statements).await;
        self.add_cost(Cost {
            queries: 1,
            ..Cost::default()
        });
        let results = results?;
        for result in &results {
            if let Ok(Some(meta)) = result.meta() {
                self.add_cost(Cost {
                    queries: 0,
                    rows_read: meta.rows_read.unwrap_or(0) as u64,
                    rows_written: meta.rows_written.unwrap_or(0) as u64,
                });
            }
        }
        Ok(results)
    }

    /// One statement, one round trip.
    pub async fn all(&self, statement: D1PreparedStatement) -> Result<D1Result> {
        let mut results = self.batch(vec![statement]).await?;
        results
            .pop()
            .ok_or_else(|| ApiError::internal("D1 returned no result"))
    }
}

/// A row that names the project of its chat, for a service key's reach.
pub(crate) trait OfProject {
    fn project_id(&self) -> Option<&str>;
}

impl OfProject for rows::ChatRow {
    fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }
}

/// Runs a read of one row for `reach`: for a service key, in one batch after the key's check (an
/// unknown or revoked key is a 401), and the row only when its chat is in the key's reach
/// (`ServiceKey::reaches`). A participant's reach is the statement's own condition. One round trip.
pub(crate) async fn read_in_reach<T: DeserializeOwned + OfProject>(
    db: &Db,
    reach: Reach<'_>,
    sql: &str,
    args: &[Arg<'_>],
) -> Result<Option<T>> {
    let read = db.statement(sql, args)?;
    let Reach::Key(hash) = reach else {
        return first::<T>(&db.all(read).await?);
    };
    let results = db
        .batch(vec![keys::check_statement(db, hash)?, read])
        .await?;
    let key = keys::checked(db, nth(&results, 0)?)?;
    let row = first::<T>(nth(&results, 1)?)?;
    Ok(row.filter(|row| key.reaches(row.project_id())))
}

/// Runs a read that returns at most one row as the author `who` presents: a service key is checked in
/// the read's own batch and comes back as the author (an unknown or revoked key is a 401). One round
/// trip, for a user and a key alike.
pub(crate) async fn read_as<T: DeserializeOwned>(
    db: &Db,
    who: &Credential,
    sql: &str,
    args: &[Arg<'_>],
) -> Result<(Author, Option<T>)> {
    let read = db.statement(sql, args)?;
    match who {
        Credential::User(caller) => {
            Ok((Author::User(caller.clone()), first(&db.all(read).await?)?))
        }
        Credential::Key(hash) => {
            let results = db
                .batch(vec![keys::check_statement(db, hash)?, read])
                .await?;
            let key = keys::checked(db, nth(&results, 0)?)?;
            Ok((Author::Service(key), first(nth(&results, 1)?)?))
        }
    }
}

/// `GET /health`'s probe: D1 answers.
pub const PING_SQL: &str = "SELECT 1 AS ok";

pub async fn ping(db: &Db) -> Result<()> {
    db.all(db.statement(PING_SQL, &[])?).await.map(|_| ())
}

/// The highest numbered parameter (`?N`) in a statement.
fn highest_parameter(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut highest = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'?' {
            let digits: String = bytes[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .map(|c| *c as char)
                .collect();
            highest = highest.max(digits.parse().unwrap_or(0));
        }
    }
    highest
}

pub fn rows<T: DeserializeOwned>(result: &D1Result) -> Result<Vec<T>> {
    result
        .results::<T>()
        .map_err(|e| ApiError::internal(format!("decoding D1 rows: {e}")))
}

/// Rows a write statement changed (D1's `meta.changes`).
pub fn changes(result: &D1Result) -> u64 {
    result
        .meta()
        .ok()
        .flatten()
        .and_then(|meta| meta.changes)
        .unwrap_or(0) as u64
}

/// The `text` column of a one-row result (SQLite built the text: JSON, or lines), `None` when it is
/// NULL or there is no row.
pub fn first_text(result: &D1Result) -> Result<Option<String>> {
    #[derive(serde::Deserialize)]
    struct Text {
        text: Option<String>,
    }
    Ok(first::<Text>(result)?.and_then(|t| t.text))
}

pub fn first<T: DeserializeOwned>(result: &D1Result) -> Result<Option<T>> {
    Ok(rows::<T>(result)?.into_iter().next())
}

/// The result at `index` of a batch (the batch was built here, so a missing one is a bug, not input).
pub fn nth(results: &[D1Result], index: usize) -> Result<&D1Result> {
    results
        .get(index)
        .ok_or_else(|| ApiError::internal(format!("D1 batch result {index} missing")))
}

/// `(name, statement)` pairs, the name written once.
macro_rules! named {
    ($($statement:path),* $(,)?) => {
        &[$((stringify!($statement), $statement)),*]
    };
}

/// Every statement of the store, by name: `cargo test --lib store::tests -- --nocapture` prints them
/// whole, and `tests/api/schema.rs` has the local D1 plan each one (none may scan a table or index
/// whose size grows with the data, unless listed there).
pub const STATEMENTS: &[(&str, &str)] = named![
    listing::PAGE_SQL,
    listing::BACKWARD_SQL,
    listing::FORWARD_SQL,
    listing::IDS_SQL,
    listing::SYNC_SQL,
    listing::SESSION_SQL,
    listing::AROUND_SQL,
    writes::READ_MARKS_SQL,
    writes::SEND_BUMP_SQL,
    writes::SERVICE_SEND_BUMP_SQL,
    writes::SEND_INSERT_SQL,
    writes::SERVICE_SEND_INSERT_SQL,
    writes::SEND_READ_MARK_SQL,
    writes::MESSAGE_BY_CLIENT_ID_SQL,
    writes::MESSAGE_BY_ID_SQL,
    writes::CHAT_OF_MESSAGE_SQL,
    writes::EDIT_SQL,
    writes::SERVICE_EDIT_SQL,
    writes::DELETE_SQL,
    writes::SERVICE_DELETE_SQL,
    writes::TAKEDOWN_SQL,
    writes::SEND_BLOCKED_SQL,
    writes::IS_MEMBER_SQL,
    writes::IN_PROJECT_SQL,
    writes::PARENT_OF_SQL,
    writes::OUTSIDERS_SQL,
    writes::ATTACH_FILE_SQL,
    writes::FILE_STATE_SQL,
    chat_list::UNARCHIVE_SQL,
    chat_list::LIST_MOVE_SQL,
    chat_list::LIST_CATCH_UP_SQL,
    chat_list::CHAT_LIST_SQL,
    chat_list::CHAT_COUNT_SQL,
    credits::TRANSFER_SQL,
    credits::DEBIT_SQL,
    credits::CREDIT_SQL,
    credits::TRANSFER_BUMP_SQL,
    credits::TRANSFER_MESSAGE_SQL,
    credits::LEDGER_LINE_SQL,
    credits::TRANSFER_BY_KEY_SQL,
    credits::TRANSFER_BY_ID_SQL,
    credits::TRANSFER_DIAGNOSIS_SQL,
    credits::GRANTEE_SQL,
    credits::GRANT_SQL,
    credits::GRANT_BY_KEY_SQL,
    credits::GRANT_BY_ID_SQL,
    credits::LEDGER_TOTAL_SQL,
    credits::LEDGER_PAGE_SQL,
    users::PROFILE_COPIES_SQL,
    users::CLAIM_SQL,
    users::CLAIM_IF_MEMBER_SQL,
    users::INSERT_NAMED_SQL,
    users::USER_SQL,
    users::UPDATE_PROFILE_SQL,
    users::COPY_PROFILE_SQL,
    chats::CHAT_FOR_CALLER_SQL,
    chats::DIRECT_CHAT_FOR_CALLER_SQL,
    chats::CHAT_SQL,
    chats::INSERT_CHAT_SQL,
    chats::PAIR_BLOCKED_SQL,
    chats::INSERT_PARTICIPANTS_SQL,
    chats::IS_PARTICIPANT_SQL,
    chats::MARK_READ_SQL,
    chats::READ_MARK_SQL,
    chats::SETTINGS_SQL,
    chats::UNREAD_SQL,
    chats::SHOWN_ONLINE_SQL,
    keys::KEY_SQL,
    keys::INSERT_KEY_SQL,
    keys::KEYS_SQL,
    keys::REVOKE_KEY_SQL,
    keys::KEY_BY_ID_SQL,
    keys::SET_HOOKS_SQL,
    keys::HOOKS_SQL,
    keys::BEFORE_SEND_SQL,
    keys::DELIVERIES_SQL,
    keys::RECORD_DELIVERY_SQL,
    members::MEMBER_FACTS_SQL,
    members::NAMED_SQL,
    members::MEMBERS_BUMP_SQL,
    members::SYSTEM_MESSAGE_SQL,
    members::ADD_MEMBERS_SQL,
    members::REMOVE_MEMBER_SQL,
    members::SET_ROLE_SQL,
    reactions::ADD_BUMP_SQL,
    reactions::SERVICE_ADD_BUMP_SQL,
    reactions::ADD_SQL,
    reactions::SERVICE_ADD_SQL,
    reactions::REMOVE_BUMP_SQL,
    reactions::SERVICE_REMOVE_BUMP_SQL,
    reactions::REMOVE_SQL,
    reactions::SERVICE_REMOVE_SQL,
    reactions::MESSAGE_FOR_READER_SQL,
    reactions::REACTIONS_SQL,
    reactions::KEY_REACTIONS_SQL,
    pins::PIN_SQL,
    pins::UNPIN_SQL,
    pins::PINNER_SQL,
    listing::PINS_SQL,
    threads::REPLIES_FORWARD_SQL,
    threads::REPLIES_BACKWARD_SQL,
    threads::MENTIONS_SQL,
    search::SEARCH_USER_CHAT_SQL,
    search::SEARCH_USER_ALL_SQL,
    search::SEARCH_KEY_CHAT_SQL,
    search::SEARCH_KEY_ANY_SQL,
    files::UPLOAD_REACH_SQL,
    files::INSERT_FILE_SQL,
    files::FILE_SQL,
    files::REMOVE_STALE_SQL,
    files::PURGE_DUE_SQL,
    files::MARK_PURGED_SQL,
    files::OLD_DELIVERIES_SQL,
    outbox::OUTBOX_SQL,
    outbox::LOST_SQL,
    outbox::QUEUED_SQL,
    outbox::STALE_SQL,
    outbox::MESSAGES_SQL,
    erasure::INSERT_ERASURE_SQL,
    erasure::ANONYMIZE_SQL,
    erasure::ERASE_BLOCKS_SQL,
    erasure::ERASE_BLOCKED_SQL,
    erasure::ERASE_REPORTS_SQL,
    erasure::ERASE_MENTIONS_SQL,
    erasure::ERASE_FILES_SQL,
    erasure::COUNT_FILES_SQL,
    erasure::ERASURE_SQL,
    erasure::RUNNING_SQL,
    erasure::NEXT_CHAT_SQL,
    erasure::STEP_SQL,
    erasure::LIVE_OF_SQL,
    erasure::ERASE_MESSAGES_SQL,
    erasure::ERASED_SQL,
    erasure::ERASE_REACTIONS_SQL,
    erasure::PASS_OWNERSHIP_SQL,
    erasure::LEAVE_GROUP_SQL,
    safety::BLOCK_SQL,
    safety::IS_BLOCKED_SQL,
    safety::UNBLOCK_SQL,
    safety::BLOCKS_SQL,
    safety::INSERT_REPORT_SQL,
    safety::REPORT_OF_SQL,
    safety::REPORT_SQL,
    safety::SET_REPORT_STATUS_SQL,
    safety::REPORTS_SQL,
    safety::EXPORT_MEMBERSHIPS_SQL,
    safety::EXPORT_MESSAGES_SQL,
    safety::EXPORT_LEDGER_SQL,
    safety::EXPORT_BLOCKS_SQL,
    PING_SQL,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Each statement numbers its parameters ?1 to ?N without a gap, so that its one argument list
    /// binds them all (`Db::statement` checks the count on every call).
    #[test]
    fn every_statement_numbers_its_parameters_from_one_without_gaps() {
        for (name, sql) in STATEMENTS {
            let highest = highest_parameter(sql);
            for n in 1..=highest {
                let used = sql.match_indices(&format!("?{n}")).any(|(at, _)| {
                    !sql[at + 1 + n.to_string().len()..].starts_with(|c: char| c.is_ascii_digit())
                });
                assert!(used, "{name} uses ?{highest} but not ?{n}");
            }
            assert!(!sql.contains("? "), "{name} has an unnumbered parameter");
            println!("-- {name}\n{sql};\n");
        }
        // The list holds every statement the store's files declare.
        let declared: usize = [
            include_str!("mod.rs"),
            include_str!("chat_list.rs"),
            include_str!("chats.rs"),
            include_str!("credits.rs"),
            include_str!("listing.rs"),
            include_str!("users.rs"),
            include_str!("keys.rs"),
            include_str!("writes.rs"),
            include_str!("members.rs"),
            include_str!("reactions.rs"),
            include_str!("pins.rs"),
            include_str!("threads.rs"),
            include_str!("search.rs"),
            include_str!("files.rs"),
            include_str!("safety.rs"),
            include_str!("outbox.rs"),
            include_str!("erasure.rs"),
        ]
        .iter()
        .map(|file| {
            file.lines()
                .filter(|l| l.starts_with("pub const ") && l.contains("_SQL: &str"))
                .count()
        })
        .sum();
        assert_eq!(STATEMENTS.len(), declared);
    }

    #[test]
    fn finds_the_highest_numbered_parameter() {
        assert_eq!(highest_parameter("SELECT 1"), 0);
        assert_eq!(highest_parameter("SELECT ?2, ?11 WHERE x = ?3"), 11);
    }
}

//! The chat's Durable Object (one per chat, `id_from_name(chatId)`): every write to a chat's messages
//! goes through it, and it holds the chat's live sockets.
//!
//! Why: a Durable Object is a single instance worldwide, so it can order the chat's writes: sequence
//! numbers are assigned in arrival order, and live delivery broadcasts from here in that order once a
//! write commits. Group commit: writes that arrive while a batch is committing queue, and the next
//! batch commits them all (up to `MAX_GROUP`) in one D1 batch, each write with its own guarded
//! statements (validation, idempotency, its dense sequence number, a transfer's all-or-nothing) and
//! its own slice of the results, so one write's refusal refuses only itself. A batch that fails as a
//! whole (a D1 error) is retried one write at a time, so that no write fails for another's sake.
//!
//! What it is not: the source of truth. Sequence numbers are assigned inside each write's D1 transaction
//! from `chats.last_seq`, so a restarted or evicted object picks up exactly where D1 is, and idempotency
//! rests on UNIQUE constraints, not on memory.
//!
//! Layout: `protocol` (the typed requests and replies between the worker and the object, and the socket
//! frames), `client` (the worker's side), `line` (the writes waiting for their group, and the commit
//! turn), `live` (the sockets), `webhooks` (their queue and delivery). The object's own `fetch` takes a
//! WebSocket upgrade (`live`) or a JSON `RoomRequest` and answers a JSON `RoomReply`.

pub mod before_send;
pub mod client;
mod line;
mod live;
pub mod protocol;
pub mod webhooks;

use std::cell::Cell;

use worker::{
    console_error, console_log, durable_object, DurableObject, Env, Request, Response, State,
    WebSocket, WebSocketIncomingMessage,
};

use crate::auth::Author;
use crate::domain::before_send::Verdict;
use crate::domain::time::now_ms;
use crate::error::{ApiError, Result};
use crate::store::keys::{self, Hook};
use crate::store::rows::MessageRow;
use crate::store::writes::{self, Gate, Plan};
use crate::store::{chat_list, cost_of, credits, erasure, outbox, Db, SessionStart};
use crate::views;
use protocol::{Event, MessageEvent, ReadEvent, RoomReply, RoomRequest, Write, Written};

/// The most messages one step of an erasure tombstones in a chat.
const ERASE_BATCH: i64 = 500;

/// The most writes one D1 batch commits: a transfer is 12 statements and a send up to 8, so a group
/// stays within 100 statements (each counts against the invocation's D1 query limit).
const MAX_GROUP: usize = 8;

/// Storage key of the chat whose members' list order the next alarm catches up.
const LIST_CATCH_UP_KEY: &str = "list_catch_up";
/// The most a member's chat list order may trail the chat's last message (API.md "Chats").
const LIST_LAG_MS: i64 = 5_000;

/// A write waiting for its group.
struct Queued {
    author: Author,
    write: Write,
}

#[durable_object]
pub struct ChatRoom {
    state: State,
    env: Env,
    /// Writes not yet committed, in arrival order (which is sequence order), and the commit turn:
    /// one group at a time per chat, D1 batch and broadcast included, so its events are out before
    /// the next group starts.
    line: line::Line<Queued, RoomReply>,
    /// Whether an alarm will catch up the members' chat-list order.
    catch_up_scheduled: Cell<bool>,
    /// Whether this instance has looked for events a crash left in the D1 outbox (it does in its
    /// first commit's batch, before any write of its own is queued).
    recovered: Cell<bool>,
    /// The outbox stamp of this instance's last group (strictly increasing per chat).
    last_stamp: Cell<i64>,
    /// `FILE_SIGNING_KEY` and `PUBLIC_ORIGIN`, read once (vars and secrets belong to the version, as
    /// `Config::of_isolate` says), for the file URLs of the events it sends.
    file_settings: (String, Option<String>),
}

impl DurableObject for ChatRoom {
    fn new(state: State, env: Env) -> Self {
        ChatRoom {
            state,
            line: line::Line::new(|| {
                failed(ApiError::internal(
                    "chat room: the commit of this write was interrupted",
                ))
            }),
            catch_up_scheduled: Cell::new(false),
            recovered: Cell::new(false),
            last_stamp: Cell::new(0),
            file_settings: crate::config::file_settings(&env),
            env,
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        if req.headers().has(protocol::SOCKET_HEADER)? {
            return live::accept(&self.state, &req).await;
        }
        // File URLs in the events of this request's write: for the origin it came to (or PUBLIC_ORIGIN).
        let here = req
            .headers()
            .get(client::ORIGIN_HEADER)?
            .unwrap_or_default();
        let (key, public_origin) = &self.file_settings;
        let urls = crate::config::file_urls(
            key,
            public_origin.as_deref(),
            &here,
            crate::domain::files::URL_TTL_SECONDS,
        );
        crate::views::set_file_urls(urls);
        let reply = match req.json::<RoomRequest>().await {
            Ok(RoomRequest::Write { author, write }) => self.write(author, write).await,
            Ok(RoomRequest::Presence) => return Response::from_json(&live::online(&self.state)),
            Ok(RoomRequest::ReadMoved(event)) => {
                let frame = event_text("read.updated", &event);
                live::broadcast(&self.state, &[frame], None, now_ms());
                return Ok(Response::empty()?.with_status(204));
            }
            Err(e) => RoomReply {
                outcome: Err(ApiError::internal(format!("chat room request: {e}"))),
                cost: Default::default(),
                bookmark: None,
                list_behind: false,
                erased: None,
            },
        };
        if let Err(err) = &reply.outcome {
            if err.status >= 500 {
                console_error!("chat room: {err}");
            }
        }
        Response::from_json(&reply)
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> worker::Result<()> {
        live::on_frame(&self.state, &self.env, &ws, message).await;
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _was_clean: bool,
    ) -> worker::Result<()> {
        live::on_close(&self.state, &ws, code, reason);
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, error: worker::Error) -> worker::Result<()> {
        console_error!("chat room socket error: {error}");
        live::close(&self.state, &ws, 1011, "socket error");
        Ok(())
    }

    /// Catches up the members' chat-list order if a send left it behind, closes the sockets whose
    /// token expired (4001) and sets the alarm for the next expiry.
    async fn alarm(&self) -> worker::Result<Response> {
        self.catch_up_list().await?;
        live::on_alarm(&self.state).await?;
        if let Some(next) = webhooks::deliver_due(&self.state, &self.env).await {
            live::set_alarm_at(&self.state, next).await?;
        }
        Response::ok("")
    }
}

/// An event frame as JSON text (serializing typed values cannot fail; an empty frame is never sent).
fn event_text(name: &'static str, data: &impl serde::Serialize) -> String {
    serde_json::to_string(&Event { event: name, data }).unwrap_or_default()
}

impl ChatRoom {
    /// Queues a write and waits for the group that commits it (`line`): the write holding the turn
    /// commits the oldest writes in line, its own among them, and answers each at once; a write that
    /// arrives meanwhile joins the next group. Events leave in commit order, before the next group.
    async fn write(&self, author: Author, write: Write) -> RoomReply {
        let mut place = self.line.join(Queued { author, write });
        loop {
            match place.next().await {
                line::Step::Answered(reply) => return reply,
                line::Step::Commit => {}
            }
            let (tickets, group) = place.take_group(MAX_GROUP, |q| {
                matches!(q.write, Write::Members { .. } | Write::Recover { .. })
            });
            if group.is_empty() {
                return failed(ApiError::internal("chat room: a queued write went missing"));
            }
            let replies = match &group[..] {
                [only @ Queued {
                    write: Write::Members { chat_id, change },
                    ..
                }] => vec![self.commit_members(only, chat_id, change).await],
                [Queued {
                    write: Write::Recover { chat_id },
                    ..
                }] => vec![self.recover_now(chat_id.as_str()).await],
                [Queued {
                    write: Write::Erase { chat_id, user_id },
                    ..
                }] => vec![self.erase(chat_id.as_str(), user_id.as_str()).await],
                _ => self.commit_group(&group).await,
            };
            let behind = replies.iter().any(|reply| reply.list_behind);
            // Answered first: the writers need not wait for the catch-up's storage write.
            place.answer_group(&tickets, replies);
            if behind {
                self.schedule_list_catch_up(group[0].write.chat_id().as_str())
                    .await;
            }
        }
    }

    /// Commits a group in one D1 batch (one round trip, one transaction) and announces each committed
    /// write in order. Writes start at the primary; the session's bookmark goes back to the worker.
    async fn commit_group(&self, group: &[Queued]) -> Vec<RoomReply> {
        let db = match self.primary() {
            Ok(db) => db,
            Err(e) => return group.iter().map(|_| failed(e.clone())).collect(),
        };
        // With sockets open, each write also reads the participant list, so that users no longer in
        // the chat are cut off instead of sent to.
        let listening = !self.state.get_websockets().is_empty();
        let chat = group[0].write.chat_id().as_str();
        let started = now_ms();
        let stamp = self.next_stamp(started);
        let mut plans: Vec<Result<Plan<'_>>> = group
            .iter()
            .map(|q| plan(&db, &q.author, &q.write, listening, &Gate::default()))
            .collect();
        let mut statements = Vec::new();
        // The first batch of this instance looks for events a crash left unqueued (0 rows when none).
        let recovering = !self.recovered.get();
        if recovering {
            match outbox::lost_statement(&db, chat, self.queued_through()) {
                Ok(statement) => statements.push(statement),
                Err(e) => return group.iter().map(|_| failed(e.clone())).collect(),
            }
        }
        let mut spans = Vec::with_capacity(plans.len());
        let mut entries = Vec::with_capacity(plans.len());
        let mut event_ids = Vec::with_capacity(plans.len());
        for (i, (plan, queued)) in plans.iter_mut().zip(group).enumerate() {
            let start = statements.len();
            let id = crate::domain::webhooks::new_event_id(stamp, 2 * i).unwrap_or_default();
            if let Ok(plan) = plan {
                statements.append(&mut plan.statements);
                entries.push(outbox_entry(queued, &plan.target, &id));
            }
            event_ids.push(id);
            spans.push(start..statements.len());
        }
        // The events of the group, in its own transaction (nothing written without a webhook), and
        // the webhooks interested in this chat (0 rows when there are none).
        let results = if spans.iter().all(|s| s.is_empty()) {
            Ok(Vec::new())
        } else {
            let recorded = outbox::record_statement(&db, chat, stamp, started, &entries);
            match (recorded, keys::hooks_statement(&db, chat)) {
                (Ok(recorded), Ok(hooks)) => {
                    statements.extend(recorded);
                    statements.push(hooks);
                    db.batch(statements).await
                }
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        };
        let results = match results {
            Ok(results) => results,
            Err(e) if group.len() == 1 => return vec![failed(e)],
            // The batch failed as a whole: each write on its own, so that none fails for another.
            Err(_) => return self.commit_one_by_one(&db, group, listening).await,
        };
        let hooks = results.last().map(keys::hooks).unwrap_or(Ok(Vec::new()));
        let lost = match (recovering, results.first()) {
            (true, Some(first)) => {
                self.recovered.set(true);
                outbox::lost(first).unwrap_or_else(|e| {
                    console_error!("chat room: reading the outbox: {e}");
                    Vec::new()
                })
            }
            _ => Vec::new(),
        };
        let bookmark = db.bookmark();
        let replies: Vec<RoomReply> = plans
            .into_iter()
            .zip(spans)
            .zip(group)
            .enumerate()
            .map(|(i, ((plan, span), queued))| {
                let mine = &results[span];
                // A write refused before any statement (a key's transfer) cost nothing. The first
                // write also carries the webhook read's cost.
                let mut cost = if mine.is_empty() {
                    Default::default()
                } else {
                    cost_of(mine)
                };
                if i == 0 {
                    let hooks_cost = cost_of(&results[results.len() - 1..]);
                    cost.rows_read += hooks_cost.rows_read;
                }
                let outcome = plan.and_then(|plan| (plan.outcome)(mine));
                self.reply(queued, outcome, cost, bookmark.clone(), listening)
            })
            .collect();
        if !lost.is_empty() {
            self.recover(&db, chat, lost).await;
        }
        self.queue_webhooks(group, &replies, hooks, stamp, &event_ids)
            .await;
        let mut replies = replies;
        self.ask_hooks(&db, group, &mut replies, listening).await;
        replies
    }

    /// A user's send or edit that a before-send hook's guard may have refused (it stored nothing):
    /// the chat's hooks are read (one round trip, only then: a chat that no hook reaches pays nothing
    /// more), asked, and it commits on its own, after its group, as they decided.
    async fn ask_hooks(
        &self,
        db: &Db,
        group: &[Queued],
        replies: &mut [RoomReply],
        listening: bool,
    ) {
        if !group
            .iter()
            .zip(replies.iter())
            .any(|(q, r)| needs_hooks(q, r))
        {
            return;
        }
        let chat = group[0].write.chat_id().as_str();
        let before = db.cost();
        let gates = match keys::before_send_statement(db, chat) {
            Ok(statement) => db.all(statement).await.and_then(|r| keys::before_send(&r)),
            Err(e) => Err(e),
        };
        // The read counts for the first write it was made for.
        if let Some(reply) = group
            .iter()
            .zip(replies.iter_mut())
            .find_map(|(q, r)| needs_hooks(q, r).then_some(r))
        {
            reply.cost = reply.cost + (db.cost() - before);
        }
        let gates = match gates {
            Ok(gates) if !gates.is_empty() => gates,
            Ok(_) => return,
            Err(e) => {
                console_error!("chat room: reading the before-send hooks: {e}");
                return;
            }
        };
        for (queued, reply) in group.iter().zip(replies.iter_mut()) {
            if needs_hooks(queued, reply) {
                let first = std::mem::replace(reply, failed(ApiError::internal("")));
                *reply = self
                    .gated(db, queued, first, gates.clone(), listening)
                    .await;
            }
        }
    }

    /// Asks the before-send hooks `gates` about a user's send or edit the guard refused (`first`:
    /// that reply), then commits it alone as they decided (again if a hook appeared meanwhile, up to
    /// three times).
    async fn gated(
        &self,
        db: &Db,
        queued: &Queued,
        first: RoomReply,
        mut gates: Vec<keys::BeforeSend>,
        listening: bool,
    ) -> RoomReply {
        let signing_key = crate::config::webhook_signing_key_text(&self.env);
        let mut cost = first.cost;
        let chat = queued.write.chat_id().as_str();
        for _ in 0..3 {
            let Some((kind, data)) = hook_view(queued, &first) else {
                return first;
            };
            let verdict = before_send::ask(&gates, kind, &data, &signing_key).await;
            let content = match verdict {
                Verdict::Reject(reason) => {
                    return RoomReply {
                        cost,
                        ..failed(ApiError::unprocessable(reason))
                    }
                }
                Verdict::Unavailable => {
                    let error = ApiError::not_configured(
                        "a before-send hook did not answer; try again",
                        crate::domain::before_send::RETRY_AFTER_SECONDS,
                    );
                    return RoomReply {
                        cost,
                        ..failed(error)
                    };
                }
                Verdict::Allow(content) => content,
            };
            let (write, fingerprint) = with_content(&queued.write, content);
            let consulted: Vec<&str> = gates.iter().map(|g| g.id.as_str()).collect();
            let gate = Gate {
                consulted: serde_json::to_string(&consulted).unwrap_or_else(|_| "[]".into()),
                fingerprint,
            };
            let alone = Queued {
                author: queued.author.clone(),
                write,
            };
            let started = now_ms();
            let stamp = self.next_stamp(started);
            let event_id = crate::domain::webhooks::new_event_id(stamp, 0).unwrap_or_default();
            let before = db.cost();
            let ran = async {
                let plan = plan(db, &alone.author, &alone.write, listening, &gate)?;
                let mut statements = plan.statements;
                let own = statements.len();
                let entry = outbox_entry(&alone, &plan.target, &event_id);
                statements.extend(outbox::record_statement(
                    db,
                    chat,
                    stamp,
                    started,
                    &[entry],
                )?);
                statements.push(keys::before_send_statement(db, chat)?);
                statements.push(keys::hooks_statement(db, chat)?);
                let results = db.batch(statements).await?;
                let n = results.len();
                let outcome = (plan.outcome)(&results[..own]);
                Ok::<_, ApiError>((
                    outcome,
                    keys::before_send(&results[n - 2])?,
                    keys::hooks(&results[n - 1]),
                ))
            };
            let (outcome, now_gates, hooks) = match ran.await {
                Ok(ran) => ran,
                Err(e) => return RoomReply { cost, ..failed(e) },
            };
            cost = cost + (db.cost() - before);
            let reply = self.reply(&alone, outcome, cost, db.bookmark(), listening);
            let unchanged = now_gates
                .iter()
                .map(|g| &g.id)
                .eq(gates.iter().map(|g| &g.id));
            if needs_hooks(&alone, &reply) && !unchanged && !now_gates.is_empty() {
                gates = now_gates;
                continue;
            }
            self.queue_webhooks(
                std::slice::from_ref(&alone),
                std::slice::from_ref(&reply),
                hooks,
                stamp,
                std::slice::from_ref(&event_id),
            )
            .await;
            return reply;
        }
        RoomReply {
            cost,
            ..failed(ApiError::not_configured(
                "the before-send hooks kept changing; try again",
                crate::domain::before_send::RETRY_AFTER_SECONDS,
            ))
        }
    }

    /// A D1 session for writes: its first query goes to the primary.
    fn primary(&self) -> Result<Db> {
        let db = self
            .env
            .d1("DB")
            .map_err(|e| ApiError::internal(format!("D1 binding DB: {e}")))?;
        Db::new(&db, SessionStart::Primary)
    }

    /// A group's outbox stamp: after every earlier group's, this instance's and the newest queued.
    fn next_stamp(&self, started: i64) -> i64 {
        let last = match self.last_stamp.get() {
            0 => self.queued_through(),
            last => last,
        };
        let stamp = started.max(last + 1);
        self.last_stamp.set(stamp);
        stamp
    }

    /// The stamp of the newest group whose deliveries are queued in this object's storage.
    fn queued_through(&self) -> i64 {
        webhooks::mark(&self.state)
            .ok()
            .flatten()
            .map_or(0, |(_, through, _)| through)
    }

    /// Queues the events a crash left in the D1 outbox (`lost`, oldest first), rebuilt from their
    /// messages as they are now (as the commit left them: every write of the chat goes through this
    /// object, and this runs before its next), before anything newer; one round trip.
    async fn recover(&self, db: &Db, chat: &str, lost: Vec<outbox::Entry>) {
        let ids: Vec<&str> = lost.iter().map(|e| e.message_id.as_str()).collect();
        let read = async {
            let json = serde_json::to_string(&ids)?;
            let results = db
                .batch(vec![
                    db.statement(outbox::MESSAGES_SQL, &[json.as_str().into()])?,
                    writes::read_marks_statement(db, chat)?,
                    keys::hooks_statement(db, chat)?,
                ])
                .await?;
            let messages: Vec<MessageRow> = crate::store::rows(&results[0])?;
            let marks = writes::read_marks(results.get(1))?;
            let hooks = keys::hooks(&results[2])?;
            Ok::<_, ApiError>((messages, marks, hooks))
        };
        let (messages, marks, hooks) = match read.await {
            Ok(read) => read,
            Err(e) => {
                console_error!("chat room: recovering the outbox: {e}");
                return;
            }
        };
        let through = lost.iter().map(|e| e.created_at).max().unwrap_or(0);
        let events = recovered_events(chat, &lost, &messages, &marks);
        let _ = self.last_stamp.get().max(through);
        self.last_stamp.set(self.last_stamp.get().max(through));
        let stored = webhooks::record(&self.state, &events, &hooks)
            .and_then(|any| webhooks::set_mark(&self.state, chat, through).map(|_| any));
        let scheduled = match stored {
            Ok(true) => live::set_alarm_at(&self.state, now_ms()).await,
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        };
        match scheduled {
            Ok(()) => console_log!("chat room: recovered {} webhook events", events.len()),
            Err(e) => console_error!("chat room: recording recovered deliveries: {e}"),
        }
    }

    /// A step of user `user`'s erasure in this chat: up to `ERASE_BATCH` of its live messages become
    /// tombstones (`deletedBy: moderator`; a credit transfer keeps its amount and parties), each
    /// announced as `message.deleted` on the sockets and to the webhooks (with outbox rows in the same
    /// batch); once none is left, its reactions go and it leaves a group (its ownership passing on),
    /// without a `member.left` message. Two round trips.
    async fn erase(&self, chat: &str, user: &str) -> RoomReply {
        let db = match self.primary() {
            Ok(db) => db,
            Err(e) => return failed(e),
        };
        if !self.recovered.get() {
            self.recover_now(chat).await;
        }
        let erased = async {
            let statement = db.statement(
                erasure::LIVE_OF_SQL,
                &[chat.into(), user.into(), ERASE_BATCH.into()],
            )?;
            let live = erasure::live_of(&db.all(statement).await?)?;
            let more = live.len() as i64 == ERASE_BATCH;
            let started = now_ms();
            let stamp = self.next_stamp(started);
            let seqs: Vec<i64> = live.iter().map(|(seq, _)| *seq).collect();
            let seqs = serde_json::to_string(&seqs)?;
            let entries: Vec<outbox::Entry> = live
                .iter()
                .enumerate()
                .map(|(i, (_, id))| outbox::Entry {
                    created_at: stamp,
                    event_id: crate::domain::webhooks::new_event_id(stamp, i.min(0xff))
                        .unwrap_or_default(),
                    kind: MessageEvent::Deleted.name().to_string(),
                    message_id: id.clone(),
                    detail: None,
                    author_key: None,
                })
                .collect();
            let (chat_arg, user_arg) = (chat.into(), user.into());
            let mut statements = vec![db.statement(
                erasure::ERASE_MESSAGES_SQL,
                &[chat_arg, seqs.as_str().into(), user_arg, started.into()],
            )?];
            if !more {
                statements.push(db.statement(erasure::ERASE_REACTIONS_SQL, &[chat_arg, user_arg])?);
                statements.push(db.statement(erasure::PASS_OWNERSHIP_SQL, &[chat_arg, user_arg])?);
                statements.push(db.statement(erasure::LEAVE_GROUP_SQL, &[chat_arg, user_arg])?);
            }
            let leave_at = statements.len() - 1;
            statements.extend(outbox::record_statement(
                &db, chat, stamp, started, &entries,
            )?);
            let read_at = statements.len();
            statements.push(db.statement(erasure::ERASED_SQL, &[chat_arg, seqs.as_str().into()])?);
            statements.push(writes::read_marks_statement(&db, chat)?);
            statements.push(keys::hooks_statement(&db, chat)?);
            let results = db.batch(statements).await?;
            let left = !more && crate::store::changes(crate::store::nth(&results, leave_at)?) > 0;
            let rows: Vec<MessageRow> = crate::store::rows(crate::store::nth(&results, read_at)?)?;
            let marks = writes::read_marks(results.get(read_at + 1))?;
            let hooks = keys::hooks(crate::store::nth(&results, read_at + 2)?)?;
            Ok::<_, ApiError>((rows, marks, hooks, entries, stamp, left, more))
        };
        let (rows, marks, hooks, entries, stamp, left, more) = match erased.await {
            Ok(erased) => erased,
            Err(e) => return failed(e),
        };
        // The sockets: each tombstone, and the user's own sockets closed if it left (4003).
        let frames: Vec<String> = rows
            .iter()
            .map(|row| {
                let read_by = marks_read_by(row, &marks);
                let view =
                    views::Message::shared(row, read_by.iter().map(String::as_str).collect());
                event_text(MessageEvent::Deleted.name(), &view)
            })
            .collect();
        let members: Vec<&str> = marks.iter().map(|(u, _)| u.as_str()).collect();
        if !frames.is_empty() || left {
            live::broadcast(&self.state, &frames, Some(&members), now_ms());
        }
        // The webhooks, under the outbox's event ids.
        let events: Vec<webhooks::Event> = rows
            .iter()
            .filter_map(|row| {
                let entry = entries.iter().find(|e| e.message_id == row.id)?;
                let read_by = marks_read_by(row, &marks);
                let data =
                    views::Message::shared(row, read_by.iter().map(String::as_str).collect());
                let id = entry.event_id.clone();
                webhook_event(chat, &None, MessageEvent::Deleted, &row.id, data, stamp, id).ok()
            })
            .collect();
        if !hooks.is_empty() {
            let stored = webhooks::record(&self.state, &events, &hooks)
                .and_then(|any| webhooks::set_mark(&self.state, chat, stamp).map(|_| any));
            let scheduled = match stored {
                Ok(true) => live::set_alarm_at(&self.state, now_ms()).await,
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = scheduled {
                console_error!("chat room: recording erasure deliveries: {e}");
            }
        }
        RoomReply {
            outcome: Ok(None),
            cost: db.cost(),
            bookmark: db.bookmark(),
            list_behind: false,
            erased: Some((rows.len() as i64, left, more)),
        }
    }

    /// On the sweep's call (an object that crashed and has had no write since): looks for lost events
    /// now, in the line like a write.
    async fn recover_now(&self, chat: &str) -> RoomReply {
        let db = match self.primary() {
            Ok(db) => db,
            Err(e) => return failed(e),
        };
        let lost = match outbox::lost_statement(&db, chat, self.queued_through()) {
            Ok(statement) => db.all(statement).await.and_then(|r| outbox::lost(&r)),
            Err(e) => Err(e),
        };
        match lost {
            Ok(lost) => {
                self.recovered.set(true);
                if !lost.is_empty() {
                    self.recover(&db, chat, lost).await;
                }
                let _ = live::set_alarm_at(&self.state, now_ms()).await;
                RoomReply {
                    outcome: Ok(None),
                    cost: db.cost(),
                    bookmark: None,
                    list_behind: false,
                    erased: None,
                }
            }
            Err(e) => failed(e),
        }
    }

    /// Commits a change of the group's members alone: its decision reads the chat first (one round
    /// trip), then one batch writes it with its `system` message, which is announced and queued for
    /// the webhooks like any other message. Sockets of users no longer members close with 4003.
    async fn commit_members(
        &self,
        queued: &Queued,
        chat_id: &crate::domain::ids::ChatId,
        change: &crate::domain::members::MemberChange,
    ) -> RoomReply {
        let Author::User(caller) = &queued.author else {
            return failed(ApiError::forbidden(
                "only users change a chat's members and title",
            ));
        };
        let db = match self.primary() {
            Ok(db) => db,
            Err(e) => return failed(e),
        };
        if !self.recovered.get() {
            self.recover_now(chat_id.as_str()).await;
        }
        let listening = !self.state.get_websockets().is_empty();
        let started = now_ms();
        let stamp = self.next_stamp(started);
        let event_id = crate::domain::webhooks::new_event_id(stamp, 0).unwrap_or_default();
        let chat = chat_id.as_str();
        let entry = |message: &str| outbox_entry(queued, message, &event_id);
        let recorded = |db: &Db, message: &str| {
            outbox::record_statement(db, chat, stamp, started, &[entry(message)])
        };
        let outcome = crate::store::members::change(
            &db, &caller.id, chat_id, change, started, listening, &recorded,
        )
        .await;
        let reply = match outcome {
            Ok(None) => RoomReply {
                outcome: Ok(None),
                cost: db.cost(),
                bookmark: db.bookmark(),
                list_behind: false,
                erased: None,
            },
            Ok(Some(stored)) => {
                let mut reply = self.reply(queued, Ok(stored), db.cost(), db.bookmark(), listening);
                reply.cost = db.cost();
                reply
            }
            Err(e) => RoomReply {
                outcome: Err(e),
                cost: db.cost(),
                bookmark: db.bookmark(),
                list_behind: false,
                erased: None,
            },
        };
        if reply.outcome.as_ref().is_ok_and(Option::is_some) {
            let hooks = match keys::hooks_statement(&db, chat_id.as_str()) {
                Ok(statement) => db.all(statement).await.and_then(|r| keys::hooks(&r)),
                Err(e) => Err(e),
            };
            self.queue_webhooks(
                std::slice::from_ref(queued),
                std::slice::from_ref(&reply),
                hooks,
                stamp,
                std::slice::from_ref(&event_id),
            )
            .await;
        }
        RoomReply {
            cost: db.cost(),
            ..reply
        }
    }

    /// Records the webhook deliveries of a group's committed writes (in the object's storage, before
    /// the writes are answered) and sets the alarm that sends them.
    async fn queue_webhooks(
        &self,
        group: &[Queued],
        replies: &[RoomReply],
        hooks: Result<Vec<Hook>>,
        stamp: i64,
        event_ids: &[String],
    ) {
        let hooks = match hooks {
            Ok(hooks) if hooks.is_empty() => return,
            Ok(hooks) => hooks,
            Err(e) => {
                console_error!("chat room: reading the webhooks: {e}");
                return;
            }
        };
        let commit_ms = stamp;
        // Webhook bodies carry file URLs that work for a day (a receiver may act later).
        let shown = crate::views::file_urls();
        crate::views::set_file_urls(shown.clone().map(|urls| crate::views::FileUrls {
            ttl_seconds: crate::domain::files::WEBHOOK_URL_TTL_SECONDS,
            ..urls
        }));
        let events: Vec<webhooks::Event> = group
            .iter()
            .zip(replies)
            .enumerate()
            .filter_map(|(i, (queued, reply))| {
                let written = reply
                    .outcome
                    .as_ref()
                    .ok()
                    .and_then(Option::as_ref)
                    .filter(|w| !w.replayed)?;
                let id = event_ids.get(i).cloned().unwrap_or_default();
                events(queued, written, commit_ms, i, id)
                    .map_err(|e| console_error!("chat room: webhook event: {e}"))
                    .ok()
            })
            .flatten()
            .collect();
        crate::views::set_file_urls(shown);
        // The deliveries and the mark that they are queued, stored together (no await between).
        let chat = group[0].write.chat_id().as_str();
        let stored = webhooks::record(&self.state, &events, &hooks)
            .and_then(|any| webhooks::set_mark(&self.state, chat, stamp).map(|_| any));
        let scheduled = match stored {
            Ok(true) => live::set_alarm_at(&self.state, commit_ms).await,
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = scheduled {
            console_error!("chat room: recording webhook deliveries: {e}");
        }
    }

    /// After a write that left the members' chat-list order behind (a large group's send between its
    /// refreshes, which come at most every 5 s): the order catches up within `LIST_LAG_MS`. Direct
    /// chats and small groups never need it, so their sends schedule no alarm. The chat is
    /// kept in storage, so an alarm after an eviction still knows it.
    async fn schedule_list_catch_up(&self, chat: &str) {
        if self.catch_up_scheduled.replace(true) {
            return;
        }
        let storage = self.state.storage();
        let scheduled = match storage.put(LIST_CATCH_UP_KEY, chat.to_string()).await {
            Ok(()) => live::set_alarm_at(&self.state, now_ms() + LIST_LAG_MS).await,
            Err(e) => Err(e),
        };
        if let Err(e) = scheduled {
            self.catch_up_scheduled.set(false);
            console_error!("chat room: scheduling the list catch-up: {e}");
        }
    }

    /// The alarm's catch-up of the members' list order, if one is due.
    async fn catch_up_list(&self) -> worker::Result<()> {
        let storage = self.state.storage();
        let Some(chat) = storage.get::<String>(LIST_CATCH_UP_KEY).await? else {
            return Ok(());
        };
        self.catch_up_scheduled.set(false);
        storage.delete(LIST_CATCH_UP_KEY).await?;
        let db = self
            .env
            .d1("DB")
            .map_err(|e| ApiError::internal(e.to_string()))
            .and_then(|db| Db::new(&db, SessionStart::Primary));
        let outcome = match db {
            Ok(db) => chat_list::catch_up(&db, &chat).await,
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            console_error!("chat room: list catch-up: {e}");
        }
        Ok(())
    }

    async fn commit_one_by_one(
        &self,
        db: &Db,
        group: &[Queued],
        listening: bool,
    ) -> Vec<RoomReply> {
        let mut replies = Vec::with_capacity(group.len());
        let chat = group[0].write.chat_id().as_str();
        let started = now_ms();
        let stamp = self.next_stamp(started);
        let mut event_ids = Vec::with_capacity(group.len());
        for (i, queued) in group.iter().enumerate() {
            let before = db.cost();
            let id = crate::domain::webhooks::new_event_id(stamp, 2 * i).unwrap_or_default();
            // Each alone, with its outbox entry in its own batch (after its statements).
            let outcome = match plan(
                db,
                &queued.author,
                &queued.write,
                listening,
                &Gate::default(),
            ) {
                Ok(plan) => {
                    let entry = outbox_entry(queued, &plan.target, &id);
                    let mut statements = plan.statements;
                    let own = statements.len();
                    let recorded = outbox::record_statement(db, chat, stamp, started, &[entry]);
                    match recorded {
                        Ok(recorded) => {
                            statements.extend(recorded);
                            match db.batch(statements).await {
                                Ok(results) => (plan.outcome)(&results[..own.min(results.len())]),
                                Err(e) => Err(e),
                            }
                        }
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            event_ids.push(id);
            let cost = db.cost() - before;
            replies.push(self.reply(queued, outcome, cost, db.bookmark(), listening));
        }
        let committed = replies.iter().any(|r| {
            r.outcome
                .as_ref()
                .is_ok_and(|w| w.as_ref().is_some_and(|w| !w.replayed))
        });
        if committed {
            let hooks = match keys::hooks_statement(db, chat) {
                Ok(statement) => db.all(statement).await.and_then(|r| keys::hooks(&r)),
                Err(e) => Err(e),
            };
            self.queue_webhooks(group, &replies, hooks, stamp, &event_ids)
                .await;
        }
        // Sends and edits the before-send guard may have refused go to the hooks, as in a group.
        self.ask_hooks(db, group, &mut replies, listening).await;
        replies
    }

    /// A write's reply; a committed write's events go to the sockets now (in commit order).
    fn reply(
        &self,
        queued: &Queued,
        outcome: Result<writes::Stored>,
        cost: crate::store::Cost,
        bookmark: Option<String>,
        listening: bool,
    ) -> RoomReply {
        let list_behind = outcome.as_ref().is_ok_and(|stored| stored.list_behind);
        let outcome = outcome.map(|stored| {
            let mut written = written(stored.message, &stored.read_marks, !stored.committed);
            written.parent = stored.parent.map(|parent| {
                let read_by = marks_read_by(&parent, &stored.read_marks);
                (parent, read_by)
            });
            if listening && stored.committed {
                self.announce(&queued.author, &queued.write, &written, &stored.read_marks);
            }
            Some(written)
        });
        RoomReply {
            outcome,
            cost,
            bookmark,
            list_behind,
            erased: None,
        }
    }

    /// The events of a committed write: the message's and, for a user's new message, their moved read
    /// mark (a service key's messages move no read mark). Sockets of users not among `read_marks` (the
    /// participants) are closed instead.
    fn announce(&self, author: &Author, write: &Write, written: &Written, marks: &[(String, i64)]) {
        let row = &written.message;
        let read_by = written.read_by.iter().map(String::as_str).collect();
        let mut frames = vec![match reaction_event(author, write, row) {
            Some(reaction) => event_text(write.event_name(), &reaction),
            None => event_text(write.event_name(), &views::Message::shared(row, read_by)),
        }];
        if let Some((parent, read_by)) = &written.parent {
            let read_by = read_by.iter().map(String::as_str).collect();
            frames.push(event_text(
                MessageEvent::Updated.name(),
                &views::Message::shared(parent, read_by),
            ));
        }
        let members: Vec<&str> = marks.iter().map(|(user, _)| user.as_str()).collect();
        // A user's new message moves their read mark to it; so does a chat event, for an actor who is
        // still a member.
        let moves_mark = match (author, write) {
            (Author::User(_), Write::Send { .. } | Write::Transfer(_)) => true,
            (Author::User(caller), Write::Members { .. }) => members.contains(&caller.id.as_str()),
            _ => false,
        };
        if let (Author::User(caller), true) = (author, moves_mark) {
            let moved = ReadEvent {
                chat_id: write.chat_id().clone(),
                user_id: caller.id.clone(),
                last_read_sequence: row.seq,
            };
            frames.push(event_text("read.updated", &moved));
        }
        // A membership change knows its members even when none is left.
        let known = !members.is_empty() || matches!(write, Write::Members { .. });
        let members = known.then_some(members.as_slice());
        live::broadcast(&self.state, &frames, members, now_ms());
    }
}

/// A write's statements and how to read its outcome (`Plan`), for the group it commits in.
fn plan<'a>(
    db: &Db,
    author: &'a Author,
    write: &'a Write,
    with_marks: bool,
    gate: &Gate,
) -> Result<Plan<'a>> {
    match (write, author) {
        (Write::Send { message, role }, _) => {
            writes::send_plan(db, author, message, *role, now_ms(), with_marks, gate)
        }
        (Write::Transfer(transfer), Author::User(caller)) => {
            credits::transfer_plan(db, caller, transfer, now_ms(), with_marks)
        }
        (Write::Transfer(_), Author::Service(_)) => {
            Err(ApiError::forbidden("service keys may not transfer credits"))
        }
        (
            Write::Change {
                chat_id,
                message_id,
                change,
            },
            _,
        ) => writes::change_plan(db, author, chat_id, message_id, change, now_ms(), gate),
        (Write::Members { .. } | Write::Recover { .. } | Write::Erase { .. }, _) => Err(
            ApiError::internal("chat room: a change of members, or a recovery, runs alone"),
        ),
        (
            Write::React {
                chat_id,
                message_id,
                key,
                change,
            },
            _,
        ) => crate::store::reactions::react_plan(
            db,
            author,
            (chat_id, message_id),
            key,
            *change,
            now_ms(),
            with_marks,
        ),
        (
            Write::Pin {
                chat_id,
                message_id,
                pin,
            },
            Author::User(caller),
        ) => crate::store::pins::pin_plan(db, &caller.id, (chat_id, message_id), *pin, now_ms()),
        (Write::Pin { .. }, Author::Service(_)) => {
            Err(ApiError::forbidden("service keys may not pin messages"))
        }
    }
}

/// A committed write as webhook events: its own (id `id`), whose body is the Message the write's
/// response carries (or a reaction's `reaction.updated` data), then `message.updated` for a reply's
/// parent. The `index` of the write in its group keeps the events' ids in commit order.
fn events(
    queued: &Queued,
    written: &Written,
    commit_ms: i64,
    index: usize,
    id: String,
) -> std::result::Result<Vec<webhooks::Event>, String> {
    let kind = queued.write.event();
    let chat = queued.write.chat_id().as_str();
    let author_key = author_key(&queued.author);
    let read_by = written.read_by.iter().map(String::as_str).collect();
    let own = match reaction_event(&queued.author, &queued.write, &written.message) {
        Some(data) => webhook_event(
            chat,
            &author_key,
            kind,
            &written.message.id,
            data,
            commit_ms,
            id,
        ),
        None => {
            let data = views::Message::shared(&written.message, read_by);
            webhook_event(
                chat,
                &author_key,
                kind,
                &written.message.id,
                data,
                commit_ms,
                id,
            )
        }
    }?;
    let mut events = vec![own];
    if let Some((parent, read_by)) = &written.parent {
        let data = views::Message::shared(parent, read_by.iter().map(String::as_str).collect());
        let id = crate::domain::webhooks::new_event_id(commit_ms, 2 * index + 1)?;
        let updated = MessageEvent::Updated;
        events.push(webhook_event(
            chat,
            &author_key,
            updated,
            &parent.id,
            data,
            commit_ms,
            id,
        )?);
    }
    Ok(events)
}

/// The key that made a write (not sent its own events).
fn author_key(author: &Author) -> Option<String> {
    match author {
        Author::Service(key) => Some(key.id.clone()),
        Author::User(_) => None,
    }
}

/// What the outbox records of a write of the group (its message `target`, its event id `id`).
fn outbox_entry(queued: &Queued, target: &str, id: &str) -> outbox::Entry {
    let detail = match &queued.write {
        Write::React { key, change, .. } => serde_json::to_string(&(
            queued.author.sender().as_str(),
            key.as_str(),
            *change == crate::domain::reactions::ReactionChange::Add,
        ))
        .ok(),
        _ => None,
    };
    outbox::Entry {
        created_at: 0,
        event_id: id.to_string(),
        kind: queued.write.event_name().to_string(),
        message_id: target.to_string(),
        detail,
        author_key: author_key(&queued.author),
    }
}

/// The events of `lost` outbox entries, from their messages as they are now (a reply's created or
/// deleted event brings its parent's `message.updated`, as at the commit).
fn recovered_events(
    chat: &str,
    lost: &[outbox::Entry],
    messages: &[MessageRow],
    marks: &[(String, i64)],
) -> Vec<webhooks::Event> {
    let find = |id: &str| messages.iter().find(|m| m.id == id);
    let mut events = Vec::new();
    for (i, entry) in lost.iter().enumerate() {
        let (Some(kind), Some(row)) = (MessageEvent::parse(&entry.kind), find(&entry.message_id))
        else {
            continue;
        };
        let id = entry.event_id.clone();
        let at = entry.created_at;
        let key = &entry.author_key;
        let built = match (kind, entry.detail.as_deref()) {
            (MessageEvent::Reaction, Some(detail)) => {
                match serde_json::from_str::<(String, String, bool)>(detail) {
                    Ok((user, reaction, added)) => {
                        let data = protocol::ReactionEvent {
                            chat_id: &row.chat_id,
                            message_id: &row.id,
                            user_id: &user,
                            key: &reaction,
                            added,
                            reaction_counts: views::CountsOrEmpty::of(&row.reaction_counts),
                        };
                        webhook_event(chat, key, kind, &row.id, data, at, id)
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
            _ => {
                let read_by = marks_read_by(row, marks);
                let data =
                    views::Message::shared(row, read_by.iter().map(String::as_str).collect());
                webhook_event(chat, key, kind, &row.id, data, at, id)
            }
        };
        match built {
            Ok(event) => events.push(event),
            Err(e) => console_error!("chat room: recovered event: {e}"),
        }
        let parent = row.parent_id.as_deref().and_then(find);
        if let (Some(parent), MessageEvent::Created | MessageEvent::Deleted) = (parent, kind) {
            let read_by = marks_read_by(parent, marks);
            let data = views::Message::shared(parent, read_by.iter().map(String::as_str).collect());
            let built = crate::domain::webhooks::new_event_id(at, 2 * i + 1).and_then(|id| {
                webhook_event(chat, key, MessageEvent::Updated, &parent.id, data, at, id)
            });
            match built {
                Ok(event) => events.push(event),
                Err(e) => console_error!("chat room: recovered event: {e}"),
            }
        }
    }
    events
}

/// One webhook event (id `id`) of a committed write of chat `chat` (by key `author_key`, if a key
/// made it), about message `message_id`.
fn webhook_event(
    chat: &str,
    author_key: &Option<String>,
    kind: MessageEvent,
    message_id: &str,
    data: impl serde::Serialize,
    commit_ms: i64,
    id: String,
) -> std::result::Result<webhooks::Event, String> {
    let body = serde_json::to_string(&webhooks::Payload {
        id: &id,
        kind,
        created_at: crate::domain::time::Timestamp(commit_ms),
        data,
    })
    .map_err(|e| e.to_string())?;
    Ok(webhooks::Event {
        kind: kind.name(),
        chat_id: chat.to_string(),
        message_id: message_id.to_string(),
        body,
        created_at: commit_ms,
        author_key: author_key.clone(),
        id,
    })
}

/// A reaction's event data (`reaction.updated`), for a reaction write; `None` for any other write.
fn reaction_event<'a>(
    author: &'a Author,
    write: &'a Write,
    row: &'a MessageRow,
) -> Option<protocol::ReactionEvent<'a>> {
    let Write::React { key, change, .. } = write else {
        return None;
    };
    Some(protocol::ReactionEvent {
        chat_id: &row.chat_id,
        message_id: &row.id,
        user_id: author.sender().as_str(),
        key: key.as_str(),
        added: *change == crate::domain::reactions::ReactionChange::Add,
        reaction_counts: views::CountsOrEmpty::of(&row.reaction_counts),
    })
}

fn failed(error: ApiError) -> RoomReply {
    RoomReply {
        outcome: Err(error),
        cost: Default::default(),
        bookmark: None,
        list_behind: false,
        erased: None,
    }
}

/// A message's `readBy` from the read marks read with it.
fn marks_read_by(message: &MessageRow, marks: &[(String, i64)]) -> Vec<String> {
    let marks = marks.iter().map(|(user, mark)| (user.as_str(), *mark));
    views::read_by(message.seq, &message.sender_id, marks)
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// The stored message with its `readBy` from the read marks read with it.
fn written(message: MessageRow, marks: &[(String, i64)], replayed: bool) -> Written {
    Written {
        read_by: marks_read_by(&message, marks),
        message,
        replayed,
        parent: None,
    }
}

/// Whether a write's reply is a user's send or edit that the before-send guard may have refused: a
/// send that stored nothing (404), an edit that changed nothing. (A replay was answered already.)
fn needs_hooks(queued: &Queued, reply: &RoomReply) -> bool {
    if !matches!(queued.author, Author::User(_)) {
        return false;
    }
    match (&queued.write, &reply.outcome) {
        (Write::Send { .. }, Err(e)) => e.status == 404,
        (
            Write::Change {
                change: crate::domain::message::Change::Edit { .. },
                ..
            },
            Ok(Some(written)),
        ) => written.replayed,
        _ => false,
    }
}

/// What a hook is shown of a send or an edit: its event type, and the message as it would be stored
/// (a send's without `_id` and with `sequenceNumber: null`: none is taken before the hooks answer; an
/// edit's with its new content).
fn hook_view(
    queued: &Queued,
    first: &RoomReply,
) -> Option<(&'static str, Box<serde_json::value::RawValue>)> {
    let now = now_ms();
    match &queued.write {
        Write::Send { message, role } => {
            let row = MessageRow {
                id: String::new(),
                chat_id: message.chat_id.as_str().to_string(),
                seq: 0,
                sender_id: queued.author.sender().as_str().to_string(),
                sender_role: *role,
                kind: message.kind.into(),
                content: message.content.clone(),
                media: message
                    .media
                    .as_ref()
                    .and_then(|m| serde_json::to_string(m).ok()),
                metadata: message
                    .metadata
                    .as_ref()
                    .and_then(|m| serde_json::to_string(m).ok()),
                transfer_amount: None,
                transfer_recipient: None,
                client_message_id: message.client_message_id.clone(),
                request_hash: None,
                edited_at: None,
                deleted_at: None,
                created_at: now,
                updated_at: now,
                chat_event: None,
                parent_id: message.parent_id.as_ref().map(|p| p.as_str().to_string()),
                reply_count: 0,
                last_reply_at: None,
                mentions: message
                    .mentions
                    .as_ref()
                    .and_then(|m| serde_json::to_string(m).ok()),
                reaction_counts: None,
                pinned_at: None,
                pinned_by: None,
                deleted_by: None,
                my_reactions: None,
            };
            // Without `_id`, `sequenceNumber` null: the view's text (its first field is `_id`, and the
            // row's empty id and sequence number 0 appear once each).
            let text = serde_json::to_string(&views::Message::shared(&row, Vec::new())).ok()?;
            let text = text.replacen(r#""_id":"","#, "", 1).replacen(
                r#""sequenceNumber":0,"#,
                r#""sequenceNumber":null,"#,
                1,
            );
            Some((
                "message.sending",
                serde_json::value::RawValue::from_string(text).ok()?,
            ))
        }
        Write::Change {
            change: crate::domain::message::Change::Edit { content, .. },
            ..
        } => {
            let written = first.outcome.as_ref().ok()?.as_ref()?;
            let mut row = written.message.clone();
            row.content = Some(content.clone());
            row.edited_at = Some(now);
            let read_by = written.read_by.iter().map(String::as_str).collect();
            let text = serde_json::to_string(&views::Message::shared(&row, read_by)).ok()?;
            Some((
                "message.editing",
                serde_json::value::RawValue::from_string(text).ok()?,
            ))
        }
        _ => None,
    }
}

/// The write with the content a hook replaced (if any), and for a send the fingerprint of the
/// request as the client sent it (a retry replays the stored message).
fn with_content(write: &Write, content: Option<String>) -> (Write, Option<String>) {
    let mut write = write.clone();
    let fingerprint = match &mut write {
        Write::Send { message, role } => {
            let fingerprint = message.request_hash(*role);
            if let Some(content) = content {
                message.content = Some(content);
            }
            Some(fingerprint)
        }
        Write::Change {
            change:
                crate::domain::message::Change::Edit {
                    content: edited, ..
                },
            ..
        } => {
            if let Some(content) = content {
                *edited = content;
            }
            None
        }
        _ => None,
    };
    (write, fingerprint)
}

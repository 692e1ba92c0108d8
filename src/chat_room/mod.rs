//! The chat's Durable Object (one per chat, `id_from_name(chatId)`): every write to a chat's messages
//! goes through it, and it holds the chat's live sockets.
//!
//! Why: a Durable Object is a single instance worldwide, so it can run the chat's writes one at a time, in
//! the order their sequence numbers are assigned. Credit transfers need exactly that, and live delivery
//! broadcasts from here in sequence order once a write commits. Its requests would otherwise
//! interleave while it awaits D1, so writes queue on `writes`, an async mutex held across the awaits.
//!
//! What it is not: the source of truth. Sequence numbers are assigned inside each write's D1 transaction
//! from `chats.last_seq`, so a restarted or evicted object picks up exactly where D1 is, and idempotency
//! rests on UNIQUE constraints, not on memory.
//!
//! Layout: `protocol` (the typed requests and replies between the worker and the object, and the socket
//! frames), `client` (the worker's side), `live` (the sockets). The object's own `fetch` takes a
//! WebSocket upgrade (`live`) or a JSON `RoomRequest` and answers a JSON `RoomReply`.

pub mod client;
mod live;
pub mod protocol;

use futures_util::lock::Mutex;
use worker::{
    console_error, durable_object, DurableObject, Env, Request, Response, State, WebSocket,
    WebSocketIncomingMessage,
};

use crate::auth::Author;
use crate::domain::time::now_ms;
use crate::error::{ApiError, Result};
use crate::store::rows::MessageRow;
use crate::store::{credits, messages, Db, SessionStart};
use crate::views;
use protocol::{Event, ReadEvent, RoomReply, RoomRequest, Write, Written};

#[durable_object]
pub struct ChatRoom {
    state: State,
    env: Env,
    /// Held for the whole of each write, D1 awaits and the broadcast included: one write at a time per
    /// chat, and its events out before the next write starts.
    writes: Mutex<()>,
}

impl DurableObject for ChatRoom {
    fn new(state: State, env: Env) -> Self {
        ChatRoom {
            state,
            env,
            writes: Mutex::new(()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        if req.headers().has(protocol::SOCKET_HEADER)? {
            return live::accept(&self.state, &req).await;
        }
        let reply = match req.json::<RoomRequest>().await {
            Ok(RoomRequest::Write { author, write }) => self.write(&author, &write).await,
            Ok(RoomRequest::ReadMoved(event)) => {
                let frame = event_text("read.updated", &event);
                live::broadcast(&self.state, &[frame], None, now_ms());
                return Ok(Response::empty()?.with_status(204));
            }
            Err(e) => RoomReply {
                outcome: Err(ApiError::internal(format!("chat room request: {e}"))),
                cost: Default::default(),
                bookmark: None,
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
        live::on_frame(&self.env, &ws, message).await;
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _was_clean: bool,
    ) -> worker::Result<()> {
        live::on_close(&ws, code, reason);
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, error: worker::Error) -> worker::Result<()> {
        console_error!("chat room socket error: {error}");
        live::close(&ws, 1011, "socket error");
        Ok(())
    }

    /// Closes the sockets whose token expired (4001) and sets the alarm for the next expiry.
    async fn alarm(&self) -> worker::Result<Response> {
        live::close_expired(&self.state).await?;
        Response::ok("")
    }
}

/// An event frame as JSON text (serializing typed values cannot fail; an empty frame is never sent).
fn event_text(name: &'static str, data: &impl serde::Serialize) -> String {
    serde_json::to_string(&Event { event: name, data }).unwrap_or_default()
}

impl ChatRoom {
    /// Runs one write of the chat in its turn, then, while still holding the turn, sends its events to
    /// the chat's sockets, so events leave in commit order. A write that fails sends nothing.
    async fn write(&self, author: &Author, write: &Write) -> RoomReply {
        // Writes start at the primary; the session's bookmark goes back to the worker and the client.
        let db = match self.env.d1("DB") {
            Ok(db) => Db::new(&db, SessionStart::Primary),
            Err(e) => Err(ApiError::internal(format!("D1 binding DB: {e}"))),
        };
        let db = match db {
            Ok(db) => db,
            Err(e) => {
                return RoomReply {
                    outcome: Err(e),
                    cost: Default::default(),
                    bookmark: None,
                }
            }
        };
        let _turn = self.writes.lock().await;
        // With sockets open, the write also reads the participant list, so that users no longer in
        // the chat are cut off instead of sent to.
        let listening = !self.state.get_websockets().is_empty();
        let outcome = store(&db, author, write, listening).await.map(|stored| {
            let written = written(stored.message, &stored.read_marks, !stored.committed);
            if listening && stored.committed {
                self.announce(author, write, &written, &stored.read_marks);
            }
            written
        });
        RoomReply {
            outcome,
            cost: db.cost(),
            bookmark: db.bookmark(),
        }
    }

    /// The events of a committed write: the message's and, for a user's new message, their moved read
    /// mark (a service key's messages move no read mark). Sockets of users not among `read_marks` (the
    /// participants) are closed instead.
    fn announce(&self, author: &Author, write: &Write, written: &Written, marks: &[(String, i64)]) {
        let row = &written.message;
        let read_by = written.read_by.iter().map(String::as_str).collect();
        let mut frames = vec![event_text(
            write.event_name(),
            &views::Message::new(row, read_by),
        )];
        if let (Author::User(caller), 201) = (author, write.success_status()) {
            let moved = ReadEvent {
                chat_id: write.chat_id().clone(),
                user_id: caller.id.clone(),
                last_read_sequence: row.seq,
            };
            frames.push(event_text("read.updated", &moved));
        }
        let members: Vec<&str> = marks.iter().map(|(user, _)| user.as_str()).collect();
        let members = (!members.is_empty()).then_some(members.as_slice());
        live::broadcast(&self.state, &frames, members, now_ms());
    }
}

async fn store(
    db: &Db,
    author: &Author,
    write: &Write,
    with_marks: bool,
) -> Result<messages::Stored> {
    match (write, author) {
        (Write::Send { message, role }, _) => {
            messages::send(db, author, message, *role, now_ms(), with_marks).await
        }
        (Write::Transfer(transfer), Author::User(caller)) => {
            credits::transfer(db, caller, transfer, now_ms(), with_marks).await
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
        ) => messages::change(db, author, chat_id, message_id, change, now_ms()).await,
    }
}

/// The stored message with its `readBy` from the read marks read with it.
fn written(message: MessageRow, marks: &[(String, i64)], replayed: bool) -> Written {
    let marks = marks.iter().map(|(user, mark)| (user.as_str(), *mark));
    let read_by = views::read_by(message.seq, &message.sender_id, marks)
        .into_iter()
        .map(str::to_string)
        .collect();
    Written {
        message,
        read_by,
        replayed,
    }
}

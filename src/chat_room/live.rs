//! The chat's live sockets, held with the hibernation API (an idle socket costs no CPU; the object may
//! be evicted and woken by the next frame, alarm or write). Each socket's attachment (`LiveSocket`)
//! holds its user, its chat and its token's expiry: an alarm closes expired sockets with 4001, and a
//! write that read the participant list closes the sockets of users no longer in it (4003) instead of
//! sending to them. Client frames (`ping`, `message_list`) are answered here.

use serde::Serialize;
use serde_json::Value;
use worker::{
    console_error, Env, Request, Response, State, WebSocket, WebSocketIncomingMessage,
    WebSocketPair,
};

use super::protocol::{
    ErrorResponse, Event, FrameFailure, MessageListResponse, Pong, PresenceEvent, PresenceSnapshot,
    ResponseFrame, TypingEvent, SOCKET_HEADER,
};
use crate::domain::cursor::CursorQuery;
use crate::domain::ids::UserId;
use crate::domain::listing::window_end;
use crate::domain::live::{
    echo_close_code, parse_frame, ClientFrame, FrameError, LiveSocket, CLOSE_NOT_PARTICIPANT,
    CLOSE_POLICY, CLOSE_TOKEN_EXPIRED, TYPING_LAPSE_MS,
};
use crate::domain::time::now_ms;
use crate::error::{ApiError, Result};
use crate::log::{self, SocketAction, SocketLine};
use crate::store::{listing, Db, Reach, SessionStart};
use crate::views::SamaMessage;

/// Accepts a socket for the user the worker vouches for (token and membership were checked there),
/// and makes the alarm fire at its token's expiry. On failure: the error as JSON with its status.
pub async fn accept(state: &State, req: &Request) -> worker::Result<Response> {
    match try_accept(state, req).await {
        Ok(response) => Ok(response),
        Err(err) => {
            console_error!("chat room live: {err}");
            Ok(Response::from_json(&err)?.with_status(500))
        }
    }
}

async fn try_accept(state: &State, req: &Request) -> Result<Response> {
    let grant = req.headers().get(SOCKET_HEADER)?.unwrap_or_default();
    let socket: LiveSocket = serde_json::from_str(&grant)?;
    let now = now_ms();
    let first = !open_sockets(state, now).any(|(_, s)| s.user == socket.user);
    let pair = WebSocketPair::new()?;
    state.accept_web_socket(&pair.server);
    pair.server.serialize_attachment(&socket)?;
    set_alarm_at(state, socket.expires_at_ms).await?;
    log_socket(SocketAction::Open, Some(&socket), None, None);
    if first && socket.shown {
        let online = presence_frame(&socket, true);
        to_others(state, &socket.user, &online, now);
    }
    // Sent before the 101 leaves: the runtime delivers it right after the handshake.
    let snapshot = PresenceSnapshot {
        chat_id: &socket.chat,
        online: shown_online(state, now),
    };
    send(
        &pair.server,
        &Event {
            event: "presence.snapshot",
            data: snapshot,
        },
    );
    Ok(Response::from_websocket(pair.client)?)
}

/// Makes the alarm fire no later than `at` (epoch ms).
pub(super) async fn set_alarm_at(state: &State, at: i64) -> worker::Result<()> {
    let storage = state.storage();
    let current = storage.get_alarm().await?;
    if current.is_none_or(|c| at < c) {
        let when = chrono::DateTime::from_timestamp_millis(at).unwrap_or_default();
        storage.set_alarm(when).await?;
    }
    Ok(())
}

/// The alarm's work on the sockets: closes those whose token expired (4001), lapses typing that got no
/// new `true` for `TYPING_LAPSE_MS` (the others get `typing: false`), and sets the alarm for the next
/// expiry or lapse.
pub async fn on_alarm(state: &State) -> worker::Result<()> {
    let now = now_ms();
    let mut next: Option<i64> = None;
    let mut sooner = |at: i64| next = Some(next.map_or(at, |n: i64| n.min(at)));
    for ws in state.get_websockets() {
        let Some(mut socket) = attachment(&ws).filter(|s| !s.closed) else {
            continue;
        };
        if socket.expires_at_ms <= now {
            close(state, &ws, CLOSE_TOKEN_EXPIRED, "token expired");
            continue;
        }
        sooner(socket.expires_at_ms);
        if socket.typing_until != 0 && socket.typing_until <= now {
            socket.typing_until = 0;
            let _ = ws.serialize_attachment(&socket);
            to_others(state, &socket.user, &typing_frame(&socket, false), now);
        } else if socket.typing_until != 0 {
            sooner(socket.typing_until);
        }
    }
    if let Some(at) = next {
        set_alarm_at(state, at).await?;
    }
    Ok(())
}

fn attachment(ws: &WebSocket) -> Option<LiveSocket> {
    ws.deserialize_attachment::<LiveSocket>().ok().flatten()
}

/// The sockets still open (not closed by the server, token not expired), with their records.
fn open_sockets(state: &State, now: i64) -> impl Iterator<Item = (WebSocket, LiveSocket)> {
    state.get_websockets().into_iter().filter_map(move |ws| {
        let socket = attachment(&ws).filter(|s| !s.closed && s.expires_at_ms > now)?;
        Some((ws, socket))
    })
}

/// The users with a socket open, each once, in the order their sockets opened.
pub fn online(state: &State) -> Vec<String> {
    let mut users: Vec<String> = Vec::new();
    for (_, socket) in open_sockets(state, now_ms()) {
        if !users.iter().any(|u| u == socket.user.as_str()) {
            users.push(socket.user.to_string());
        }
    }
    users
}

/// `online`, without the users who may not be shown (availability `offline` at their socket's open).
fn shown_online(state: &State, now: i64) -> Vec<String> {
    let mut users: Vec<String> = Vec::new();
    for (_, socket) in open_sockets(state, now).filter(|(_, s)| s.shown) {
        if !users.iter().any(|u| u == socket.user.as_str()) {
            users.push(socket.user.to_string());
        }
    }
    users
}

fn presence_frame(socket: &LiveSocket, online: bool) -> String {
    frame_text(&Event {
        event: "presence",
        data: PresenceEvent {
            chat_id: &socket.chat,
            user_id: &socket.user,
            online,
        },
    })
}

fn typing_frame(socket: &LiveSocket, typing: bool) -> String {
    frame_text(&Event {
        event: "typing",
        data: TypingEvent {
            chat_id: &socket.chat,
            user_id: &socket.user,
            typing,
        },
    })
}

fn frame_text(frame: &impl Serialize) -> String {
    serde_json::to_string(frame).unwrap_or_default()
}

/// Sends a frame to the open sockets of every user but `user`.
fn to_others(state: &State, user: &UserId, frame: &str, now: i64) {
    for (ws, socket) in open_sockets(state, now) {
        if &socket.user != user {
            let _ = ws.send_with_str(frame);
        }
    }
}

/// A socket is gone (closed by its client or by the server): its typing stops, and if it was its
/// user's last open socket, the others see the user go offline.
fn gone(state: &State, ws: &WebSocket, socket: &LiveSocket) {
    let now = now_ms();
    if socket.typing_until != 0 {
        to_others(state, &socket.user, &typing_frame(socket, false), now);
    }
    let others_open =
        open_sockets(state, now).any(|(other, s)| &other != ws && s.user == socket.user);
    if socket.shown && !others_open {
        to_others(state, &socket.user, &presence_frame(socket, false), now);
    }
}

/// Sends `frames` to every socket, in order. Sockets past their token's expiry are closed with 4001;
/// with `members` known, sockets of users not among them are closed with 4003.
pub fn broadcast(state: &State, frames: &[String], members: Option<&[&str]>, now: i64) {
    for ws in state.get_websockets() {
        let Some(socket) = attachment(&ws).filter(|s| !s.closed) else {
            continue;
        };
        if socket.expires_at_ms <= now {
            close(state, &ws, CLOSE_TOKEN_EXPIRED, "token expired");
            continue;
        }
        if members.is_some_and(|m| !m.contains(&socket.user.as_str())) {
            close(
                state,
                &ws,
                CLOSE_NOT_PARTICIPANT,
                "not a participant of this chat",
            );
            continue;
        }
        for frame in frames {
            // Fails only for a socket that is closing; the others still get the frame.
            let _ = ws.send_with_str(frame);
        }
    }
}

/// Completes the closing handshake (without this the client's close never finishes).
pub fn on_close(state: &State, ws: &WebSocket, code: usize, reason: String) {
    let socket = attachment(ws);
    log_socket(
        SocketAction::Close,
        socket.as_ref(),
        u16::try_from(code).ok(),
        Some("client"),
    );
    let _ = ws.close(Some(echo_close_code(code)), Some(reason));
    if let Some(socket) = socket.filter(|s| !s.closed) {
        gone(state, ws, &socket);
    }
}

/// Closes a socket from the server's side, with the code of the rule that closed it, and logs it.
pub fn close(state: &State, ws: &WebSocket, code: u16, reason: &str) {
    let socket = attachment(ws);
    log_socket(
        SocketAction::Close,
        socket.as_ref(),
        Some(code),
        Some("server"),
    );
    if let Some(mut socket) = socket.filter(|s| !s.closed) {
        socket.closed = true;
        let _ = ws.serialize_attachment(&socket);
        gone(state, ws, &socket);
    }
    let _ = ws.close(Some(code), Some(reason));
}

fn log_socket(
    action: SocketAction,
    socket: Option<&LiveSocket>,
    code: Option<u16>,
    by: Option<&'static str>,
) {
    let mut line = SocketLine::new(action);
    line.chat_id = socket.map(|s| s.chat.as_str());
    line.user_id = socket.map(|s| s.user.as_str());
    line.code = code;
    line.by = by;
    log::emit(&line);
}

/// Answers one client frame on its socket.
pub async fn on_frame(state: &State, env: &Env, ws: &WebSocket, message: WebSocketIncomingMessage) {
    let Some(mut socket) = attachment(ws) else {
        close(state, ws, 1011, "socket state lost; reconnect");
        return;
    };
    let now = now_ms();
    if socket.expires_at_ms <= now {
        close(state, ws, CLOSE_TOKEN_EXPIRED, "token expired");
        return;
    }
    let within = socket.count_frame(now);
    // Kept in the attachment so that hibernation does not reset the window.
    let _ = ws.serialize_attachment(&socket);
    if !within {
        close(
            state,
            ws,
            CLOSE_POLICY,
            "more than 20 frames in 10 seconds; slow down and reconnect",
        );
        return;
    }
    let text = match message {
        WebSocketIncomingMessage::String(text) => text,
        WebSocketIncomingMessage::Binary(_) => {
            let e = FrameError {
                id: Value::Null,
                status: 400,
                message: "frames must be JSON text, not binary".into(),
            };
            return send(ws, &error_frame(&e.id, e.status, e.message));
        }
    };
    match parse_frame(&text, &socket.chat) {
        Ok(ClientFrame::Ping(value)) => send(ws, &Pong { pong: &value }),
        Ok(ClientFrame::MessageList { id, query }) => {
            message_list(state, env, ws, &socket, &id, &query).await
        }
        Ok(ClientFrame::Typing(typing)) => {
            typed(state, ws, socket, typing, now).await;
        }
        Err(e) => send(ws, &error_frame(&e.id, e.status, e.message)),
    }
}

/// A `message_list` request: read like the HTTP cursor mode, answered in SAMA's shape. A user no
/// longer in the chat gets the 404 and then the socket's close (4003).
async fn message_list(
    state: &State,
    env: &Env,
    ws: &WebSocket,
    socket: &LiveSocket,
    id: &Value,
    query: &CursorQuery,
) {
    let db = match env.d1("DB").map_err(|e| ApiError::internal(e.to_string())) {
        Ok(db) => Db::new(&db, SessionStart::Unconstrained),
        Err(e) => Err(e),
    };
    let db = match db {
        Ok(db) => db,
        Err(e) => return send(ws, &failure(id, e)),
    };
    let reach = Reach::Member(&socket.user);
    let page = match listing::list_window(&db, reach, listing::Reader::Nobody, &socket.chat, query)
        .await
    {
        Ok(Some(page)) => page,
        Ok(None) => {
            send(ws, &failure(id, ApiError::not_found("chat")));
            close(
                state,
                ws,
                CLOSE_NOT_PARTICIPANT,
                "not a participant of this chat",
            );
            return;
        }
        Err(e) => return send(ws, &failure(id, e)),
    };
    match window_end(&socket.chat, query, &page.bounds, &page.positions()) {
        Ok(end) => send(
            ws,
            &ResponseFrame {
                response: MessageListResponse {
                    id,
                    messages: SamaMessage::all(&page.messages[..end.kept], &page.participants),
                    has_more: end.has_more(),
                    next_cursor: end.next_cursor,
                },
            },
        ),
        Err(e) => send(ws, &failure(id, e)),
    }
}

/// `{"typing": true | false}`: the others get it; a `true` lapses after `TYPING_LAPSE_MS` (the alarm
/// sends the `false`). Touches no storage but the socket's own attachment.
async fn typed(state: &State, ws: &WebSocket, mut socket: LiveSocket, typing: bool, now: i64) {
    if !typing && socket.typing_until == 0 {
        return;
    }
    socket.typing_until = if typing { now + TYPING_LAPSE_MS } else { 0 };
    let _ = ws.serialize_attachment(&socket);
    to_others(state, &socket.user, &typing_frame(&socket, typing), now);
    if typing {
        if let Err(e) = set_alarm_at(state, socket.typing_until).await {
            console_error!("chat room: typing alarm: {e}");
        }
    }
}

fn error_frame(id: &Value, status: u16, message: String) -> ResponseFrame<ErrorResponse<'_>> {
    ResponseFrame {
        response: ErrorResponse {
            id,
            error: FrameFailure { status, message },
        },
    }
}

/// An error answer; a 500's detail goes to the log, the client gets "internal error".
fn failure(id: &Value, e: ApiError) -> ResponseFrame<ErrorResponse<'_>> {
    if e.status >= 500 {
        console_error!("chat room message_list: {e}");
        return error_frame(id, e.status, "internal error".into());
    }
    error_frame(id, e.status, e.errors.join("; "))
}

/// Sends one frame; a send fails only when the socket is already closing (the client is gone).
fn send(ws: &WebSocket, frame: &impl Serialize) {
    if let Ok(text) = serde_json::to_string(frame) {
        let _ = ws.send_with_str(text);
    }
}

//! Pins: pinning and unpinning a message (a plan the chat's Durable Object commits with the chat's other
//! writes). A chat's pins are listed by `listing::list_pins`.
//!
//! A pin's cost does not grow with the chat: the cap counts the chat's pins (at most 50 entries of the
//! partial index `messages_pinned`), the rest are one-row probes.

use worker::D1Result;

use super::rows::MessageRow;
use super::sql::{concatcp, CHANGE_STAMP};
use super::writes::{read_marks, read_marks_statement, Plan, Stored};
use super::{changes, first, nth, Db};
use crate::domain::ids::{ChatId, MessageId, UserId};
use crate::domain::members::Role;
use crate::error::{ApiError, Result};

/// The most pins a chat holds.
pub const MAX_PINS: i64 = 50;

/// User ?2 may pin in chat ?1: either participant of a direct chat, a group's owner and admins.
const MAY_PIN: &str = "EXISTS (SELECT 1 FROM chat_participants p JOIN chats c ON c.id = p.chat_id
       WHERE p.chat_id = ?1 AND p.user_id = ?2 AND (c.type = 'direct' OR p.role IN ('owner', 'admin')))";

/// Pin: message ?3 of chat ?1, by user ?2 at ?4 (now), when it is live, not pinned yet, the chat has
/// room (fewer than 50 pins), the user may pin and no block stands between the two of a direct chat.
pub const PIN_SQL: &str = concatcp!(
    "UPDATE messages AS m SET pinned_at = ?4, pinned_by = ?2, updated_at = ",
    CHANGE_STAMP,
    " WHERE m.id = ?3 AND m.chat_id = ?1 AND m.deleted_at IS NULL AND m.pinned_at IS NULL
       AND (SELECT COUNT(*) FROM messages n WHERE n.chat_id = ?1 AND n.pinned_at IS NOT NULL) < 50
       AND ",
    MAY_PIN,
    " AND NOT ",
    super::writes::DIRECT_BLOCKED
);

/// Unpin: message ?3 of chat ?1, by user ?2 at ?4 (now), when it is live and pinned and the user may
/// pin.
pub const UNPIN_SQL: &str = concatcp!(
    "UPDATE messages AS m SET pinned_at = NULL, pinned_by = NULL, updated_at = ",
    CHANGE_STAMP,
    " WHERE m.id = ?3 AND m.chat_id = ?1 AND m.deleted_at IS NULL AND m.pinned_at IS NOT NULL
       AND ",
    MAY_PIN
);

/// The pinner's standing: user ?2's role in chat ?1 and the chat's type (no row: not a participant);
/// for a user who may not pin, also the chat's pins (up to 50), since a full chat is a 422 before the
/// role's 403 (API.md's order of checks).
pub const PINNER_SQL: &str = "SELECT c.type AS chat_type, p.role,
       CASE WHEN c.type = 'direct' OR p.role IN ('owner', 'admin') THEN NULL
            ELSE (SELECT COUNT(*) FROM (SELECT 1 FROM messages n
                  WHERE n.chat_id = ?1 AND n.pinned_at IS NOT NULL LIMIT 50)) END AS pins
     FROM chat_participants p JOIN chats c ON c.id = p.chat_id
     WHERE p.chat_id = ?1 AND p.user_id = ?2";

/// Pins (`pin` true) or unpins message `message_id` of chat `chat_id` as user `pinner`. Idempotent:
/// pinning a pinned message, or unpinning one that is not, commits nothing and answers the message as
/// it is. 404 when the message is not in the chat or the user not in it, 409 on a tombstone, 403 for a
/// group's plain member, 422 when the chat already holds 50 pins.
pub fn pin_plan<'a>(
    db: &Db,
    pinner: &'a UserId,
    (chat_id, message_id): (&ChatId, &MessageId),
    pin: bool,
    now_ms: i64,
) -> Result<Plan<'a>> {
    #[derive(serde::Deserialize)]
    struct Pinner {
        chat_type: String,
        role: Role,
        pins: Option<i64>,
    }
    let (chat, user, id) = (chat_id.as_str(), pinner.as_str(), message_id.as_str());
    let statements = vec![
        db.statement(
            if pin { PIN_SQL } else { UNPIN_SQL },
            &[chat.into(), user.into(), id.into(), now_ms.into()],
        )?,
        db.statement(
            super::reactions::MESSAGE_FOR_READER_SQL,
            &[chat.into(), user.into(), id.into()],
        )?,
        db.statement(PINNER_SQL, &[chat.into(), user.into()])?,
        read_marks_statement(db, chat)?,
        db.statement(super::writes::SEND_BLOCKED_SQL, &[chat.into(), user.into()])?,
    ];
    let outcome = move |results: &[D1Result]| {
        let pinner = first::<Pinner>(nth(results, 2)?)?;
        let stored = first::<MessageRow>(nth(results, 1)?)?
            .filter(|_| pinner.is_some())
            .ok_or_else(|| ApiError::not_found("message"))?;
        if stored.deleted_at.is_some() {
            return Err(ApiError::conflict("the message is deleted"));
        }
        let full = || ApiError::unprocessable(format!("a chat holds at most {MAX_PINS} pins"));
        let may = pinner
            .as_ref()
            .is_some_and(|p| p.chat_type == "direct" || p.role != Role::Member);
        if !may {
            let pins = pinner.and_then(|p| p.pins).unwrap_or(0);
            if pin && stored.pinned_at.is_none() && pins >= MAX_PINS {
                return Err(full());
            }
            return Err(ApiError::forbidden(
                "in a group only the owner and admins may pin or unpin",
            ));
        }
        let committed = changes(nth(results, 0)?) > 0;
        if pin && !committed && stored.pinned_at.is_none() {
            super::writes::refuse_blocked(nth(results, 4)?)?;
            return Err(full());
        }
        Ok(Stored {
            message: stored,
            committed,
            read_marks: read_marks(results.get(3))?,
            list_behind: false,
            parent: None,
        })
    };
    Ok(Plan {
        statements,
        outcome: Box::new(outcome),
        target: message_id.as_str().to_string(),
    })
}

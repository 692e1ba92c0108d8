//! A user's erasure, driven in steps (API.md "Erasure"): the admin's request runs a few
//! (`handlers::safety`), the per-minute cron trigger the rest (`scheduled`). Each step is one chat, in
//! the chat's Durable Object (`Write::Erase`); the record in D1 (`store::erasure`) says how far it got,
//! so a restart only delays it.

use crate::domain::ids::UserId;
use crate::error::Result;
use crate::store::erasure::{self, ErasureRow};
use crate::store::{Cost, Db};

/// Runs up to `steps` steps of erasure `row` (one chat each, in the chat's Durable Object: a batch of
/// the user's messages there, then its reactions and membership), recording each; answers the record
/// as it stands, the steps taken and the D1 work the chats' objects did. Two D1 round trips and one
/// call of a chat's object per step. Resumable at any point: a step's chat is done only once the
/// object found nothing more of the user's in it.
pub async fn advance(
    env: &worker::Env,
    db: &Db,
    mut row: ErasureRow,
    steps: usize,
) -> Result<(ErasureRow, usize, Cost)> {
    let id = row.id.clone();
    let id = id.as_str();
    let user = UserId::parse(&row.user_id, "userId")?;
    let mut taken = 0;
    let mut objects = Cost::default();
    for _ in 0..steps {
        if row.status != "running" {
            break;
        }
        taken += 1;
        let now = crate::domain::time::now_ms();
        let Some(chat) = erasure::next_chat(db, &row.user_id, &row.next_chat).await? else {
            erasure::record_step(db, id, (0, 0), None, true, now).await?;
            row.status = "done".into();
            break;
        };
        let chat_id = crate::domain::ids::ChatId::parse(&chat, "chatId")?;
        let ((erased, left, more), cost) =
            crate::chat_room::client::erase(env, &chat_id, &user).await?;
        objects = objects + cost;
        let through = (!more).then_some(chat.as_str());
        erasure::record_step(db, id, (erased, i64::from(left)), through, false, now).await?;
        row.messages_erased += erased;
        row.chats_left += i64::from(left);
        if let Some(chat) = through {
            row.next_chat = chat.to_string();
        }
    }
    Ok((row, taken, objects))
}

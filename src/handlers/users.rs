//! `GET /api/v1/users/me`, `PATCH /api/v1/users/me`.

use crate::auth::Caller;
use crate::context::Ctx;
use crate::domain::user::ProfilePatch;
use crate::error::Result;
use crate::http::{read_json_body, Reply};
use crate::store::users;
use crate::views;

/// Reads never write: a caller without a row yet is answered from the token's claims, with 0 credits.
pub async fn get_me(ctx: &Ctx, caller: &Caller) -> Result<Reply> {
    match users::find(&ctx.db, caller.id.as_str()).await? {
        Some(row) => Reply::ok(&views::User::new(&row)),
        None => Reply::ok(&views::User::from_claims(caller)),
    }
}

pub async fn patch_me(req: &mut worker::Request, ctx: &Ctx, caller: &Caller) -> Result<Reply> {
    let patch = ProfilePatch::parse(&read_json_body(req).await?)?;
    let row = users::update_profile(&ctx.db, caller, &patch, ctx.now_ms).await?;
    Reply::ok(&views::User::new(&row))
}

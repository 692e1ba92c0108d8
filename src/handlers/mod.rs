//! Thin handlers: parse the request into domain values, call the store or the chat's Durable Object,
//! shape the reply. One file per resource; `dispatch` runs the route the table resolved.

pub mod chats;
pub mod credits;
pub mod health;
pub mod live;
pub mod messages;
pub mod users;

use worker::Request;

use crate::context::Ctx;
use crate::error::Result;
use crate::http::Reply;
use crate::router::{AdminRoute, PublicRoute, Resolved, Target, UserRoute};

/// Runs a resolved route: its path arguments are parsed (400), its caller authenticated as its target
/// says (401), then its handler runs.
pub async fn dispatch(resolved: Resolved<'_>, req: &mut Request, ctx: &Ctx) -> Result<Reply> {
    let args = &resolved.args;
    match resolved.route.target {
        Target::Public(bind) => match bind(args)? {
            PublicRoute::Health => health::health(ctx).await,
            PublicRoute::OpenApi => Ok(Reply::json_text(200, crate::OPENAPI_JSON)),
        },
        Target::User(bind) => {
            let route = bind(args)?;
            let caller = ctx.user(req)?;
            user_route(route, req, ctx, &caller).await
        }
        Target::Socket(bind) => {
            let chat_id = bind(args)?;
            let caller = ctx.socket_user(req)?;
            live::open(req, ctx, &caller, &chat_id).await
        }
        Target::Admin(bind) => {
            let route = bind(args)?;
            ctx.admin(req)?;
            match route {
                AdminRoute::GrantCredits => credits::grant_credits(req, ctx).await,
            }
        }
    }
}

async fn user_route(
    route: UserRoute,
    req: &mut Request,
    ctx: &Ctx,
    caller: &crate::auth::Caller,
) -> Result<Reply> {
    match route {
        UserRoute::GetMe => users::get_me(ctx, caller).await,
        UserRoute::PatchMe => users::patch_me(req, ctx, caller).await,
        UserRoute::CreateChat => chats::create_chat(req, ctx, caller).await,
        UserRoute::ListChats => chats::list_chats(req, ctx, caller).await,
        UserRoute::GetChat(chat_id) => chats::get_chat(ctx, caller, &chat_id).await,
        UserRoute::ListMessages(chat_id) => {
            messages::list_messages(req, ctx, caller, &chat_id).await
        }
        UserRoute::SendMessage => messages::send_message(req, ctx, caller).await,
        UserRoute::MarkRead(chat_id) => messages::mark_read(req, ctx, caller, &chat_id).await,
        UserRoute::CreditTransfer => credits::credit_transfer(req, ctx, caller).await,
        UserRoute::Ledger => credits::ledger(req, ctx, caller).await,
        UserRoute::EditMessage(id) => messages::edit_message(req, ctx, caller, id).await,
        UserRoute::DeleteMessage(id) => messages::delete_message(ctx, caller, id).await,
    }
}

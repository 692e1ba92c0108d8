//! Thin handlers: parse the request into domain values, call the store or the chat's Durable Object,
//! shape the reply. One file per resource; `dispatch` runs the route the table resolved.

pub mod admin;
pub mod chats;
pub mod credits;
pub mod files;
pub mod health;
pub mod live;
pub mod members;
pub mod messages;
pub mod safety;
pub mod search;
pub mod surfaces;
pub mod threads;
pub mod users;

use worker::Request;

use crate::auth::{Caller, Credential};
use crate::context::Ctx;
use crate::error::{ApiError, Result};
use crate::http::{cors, header, Exchange, Reply};
use crate::router::{self, AdminRoute, CallerRoute, PublicRoute, Resolved, Target, UserRoute};

/// Answers a request: `OPTIONS` from the route table, else the route it resolves to (404 for an unknown
/// path, 405 for a method it does not serve), run by `dispatch`; errors come back in the route's
/// envelope.
pub async fn serve(req: &mut Request, ctx: &Ctx, exchange: &Exchange) -> Result<Reply> {
    if exchange.method == "OPTIONS" {
        return cors::options(ctx.config, &exchange.path, exchange.origin.as_deref());
    }
    let resolved = router::resolve(&exchange.method, &exchange.path)?;
    let envelope = resolved.route.envelope;
    // workerd shows every request that carries `Upgrade: websocket` to the worker as a GET without its
    // body, whatever its method was: outside the live route such a request is refused, never served
    // as the GET it looks like.
    let upgrade =
        header(req, "Upgrade").is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket"));
    if upgrade && !resolved.route.opens_socket() {
        return Err(ApiError::bad_request(
            "Upgrade: websocket is only accepted on /api/v1/chats/{chatId}/live",
        ));
    }
    let outcome = dispatch(resolved, req, ctx).await;
    // A request that failed authentication (or had none) spends its client's budget: past it, the
    // answer is the 429 instead of the 401.
    if outcome.as_ref().is_err_and(|e| e.status == 401) {
        ctx.limits
            .spend_unauthenticated(&ctx.env)
            .await
            .map_err(|e| e.in_envelope(envelope))?;
    }
    outcome.map_err(|e| e.in_envelope(envelope))
}

/// Runs a resolved route: its path arguments are parsed (400), its caller authenticated as its target
/// says (401; 403 for a service key on a route only users may call), its `X-D1-Bookmark` checked
/// (400), then its handler runs.
pub async fn dispatch(resolved: Resolved<'_>, req: &mut Request, ctx: &Ctx) -> Result<Reply> {
    let args = &resolved.args;
    match resolved.route.target {
        Target::Public(bind) => match bind(args)? {
            PublicRoute::Health => health::health(ctx).await,
            PublicRoute::OpenApi => Ok(health::openapi()),
            PublicRoute::Download(id) => files::download(req, ctx, &id).await,
        },
        Target::User(bind) => {
            let route = bind(args)?;
            let caller = ctx.user(req).await?;
            ctx.bookmark.clone()?;
            user_route(route, req, ctx, &caller).await
        }
        Target::Caller(bind) => {
            let route = bind(args)?;
            let credential = ctx.credential(req).await?;
            ctx.bookmark.clone()?;
            caller_route(route, req, ctx, &credential).await
        }
        Target::Socket(bind) => {
            let chat_id = bind(args)?;
            let caller = ctx.socket_user(req).await?;
            ctx.bookmark.clone()?;
            live::open(req, ctx, &caller, &chat_id).await
        }
        Target::Admin(bind) => {
            let route = bind(args)?;
            ctx.admin(req)?;
            ctx.bookmark.clone()?;
            match route {
                AdminRoute::GrantCredits => credits::grant_credits(req, ctx).await,
                AdminRoute::CreateKey => admin::create_key(req, ctx).await,
                AdminRoute::ListKeys => admin::list_keys(ctx).await,
                AdminRoute::RevokeKey(id) => admin::revoke_key(ctx, &id).await,
                AdminRoute::UpdateKey(id) => admin::update_key(req, ctx, &id).await,
                AdminRoute::Deliveries(id) => admin::deliveries(req, ctx, &id).await,
                AdminRoute::Reports => safety::reports(req, ctx).await,
                AdminRoute::UpdateReport(id) => safety::update_report(req, ctx, &id).await,
                AdminRoute::TakeDown(id) => safety::take_down(ctx, id).await,
                AdminRoute::EraseUser(user) => safety::erase_user(ctx, &user).await,
                AdminRoute::Erasure(id) => safety::erasure(ctx, &id).await,
            }
        }
    }
}

async fn user_route(
    route: UserRoute,
    req: &mut Request,
    ctx: &Ctx,
    caller: &Caller,
) -> Result<Reply> {
    match route {
        UserRoute::GetMe => users::get_me(ctx, caller).await,
        UserRoute::PatchMe => users::patch_me(req, ctx, caller).await,
        UserRoute::CreateChat => chats::create_chat(req, ctx, caller).await,
        UserRoute::ListChats => chats::list_chats(req, ctx, caller).await,
        UserRoute::MarkRead(chat_id) => messages::mark_read(req, ctx, caller, &chat_id).await,
        UserRoute::CreditTransfer => credits::credit_transfer(req, ctx, caller).await,
        UserRoute::Ledger => credits::ledger(req, ctx, caller).await,
        UserRoute::Unread => members::unread(ctx, caller).await,
        UserRoute::AddMembers(chat_id) => members::add(req, ctx, caller, &chat_id).await,
        UserRoute::RemoveMember(chat_id, user) => {
            members::remove(ctx, caller, &chat_id, user).await
        }
        UserRoute::SetRole(chat_id, user) => {
            members::set_role(req, ctx, caller, &chat_id, user).await
        }
        UserRoute::RenameChat(chat_id) => members::rename(req, ctx, caller, &chat_id).await,
        UserRoute::MySettings(chat_id) => members::settings(req, ctx, caller, &chat_id).await,
        UserRoute::Presence(chat_id) => members::presence(ctx, caller, &chat_id).await,
        UserRoute::Pin(id, pin) => messages::pin(ctx, caller, id, pin).await,
        UserRoute::Mentions => threads::mentions(req, ctx, caller).await,
        UserRoute::Block(user, true) => safety::block(ctx, caller, &user).await,
        UserRoute::Block(user, false) => safety::unblock(ctx, caller, &user).await,
        UserRoute::Blocks => safety::blocks(ctx, caller).await,
        UserRoute::Report(id) => safety::report(req, ctx, caller, &id).await,
        UserRoute::Export => safety::export(ctx, caller).await,
    }
}

async fn caller_route(
    route: CallerRoute,
    req: &mut Request,
    ctx: &Ctx,
    who: &Credential,
) -> Result<Reply> {
    match route {
        CallerRoute::GetChat(chat_id) => chats::get_chat(ctx, who, &chat_id).await,
        CallerRoute::ListMessages(chat_id) => {
            messages::list_messages(req, ctx, who, &chat_id).await
        }
        CallerRoute::SendMessage => messages::send_message(req, ctx, who).await,
        CallerRoute::EditMessage(id) => messages::edit_message(req, ctx, who, id).await,
        CallerRoute::DeleteMessage(id) => messages::delete_message(ctx, who, id).await,
        CallerRoute::React(id, key, change) => messages::react(ctx, who, id, key, change).await,
        CallerRoute::Reactions(id) => messages::reactions(req, ctx, who, &id).await,
        CallerRoute::Pins(chat_id) => messages::pins(ctx, who, &chat_id).await,
        CallerRoute::Replies(id) => threads::replies(req, ctx, who, &id).await,
        CallerRoute::Search => search::search(req, ctx, who).await,
        CallerRoute::Upload(chat_id) => files::upload(req, ctx, who, &chat_id).await,
        CallerRoute::SessionMessages(chat_id) => surfaces::session(req, ctx, who, &chat_id).await,
        CallerRoute::ProjectMessages(project, chat_id) => {
            surfaces::project(req, ctx, who, &project, &chat_id).await
        }
        CallerRoute::AssistantMessages(chat_id) => {
            surfaces::assistant_list(req, ctx, who, &chat_id).await
        }
        CallerRoute::AssistantSend(chat_id) => {
            surfaces::assistant_send(req, ctx, who, &chat_id).await
        }
    }
}

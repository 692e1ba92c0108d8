//! Thin handlers: parse the request into domain values, call the store or the chat's Durable Object,
//! shape the reply. One file per resource.

pub mod chats;
pub mod credits;
pub mod health;
pub mod live;
pub mod messages;
pub mod users;

use worker::{Env, Request};

use crate::auth::{authenticate, Caller};
use crate::chat_room::Operation;
use crate::config::Config;
use crate::error::Result;
use crate::http::{header, Reply};
use crate::router::Route;
use crate::store::Db;

/// What every handler gets: bindings fetched once, configuration, and the request's clock.
pub struct Ctx {
    pub env: Env,
    pub db: Db,
    pub config: Config,
    pub now_ms: i64,
}

impl Ctx {
    pub fn authenticate(&self, req: &Request) -> Result<Caller> {
        self.authenticate_token(header(req, "Authorization").as_deref())
    }

    /// `token`: an `Authorization` header value, or a bare token.
    pub fn authenticate_token(&self, token: Option<&str>) -> Result<Caller> {
        let now = chrono::DateTime::from_timestamp_millis(self.now_ms).unwrap_or_default();
        authenticate(token, &self.config.jwt(), now)
    }
}

pub async fn dispatch(route: Route, req: &mut Request, ctx: &Ctx) -> Result<Reply> {
    match route {
        Route::Health => return health::health(ctx).await,
        Route::OpenApi => {
            return Ok(Reply {
                status: 200,
                body: crate::OPENAPI_JSON.to_string(),
                headers: Vec::new(),
            })
        }
        Route::GrantCredits => return credits::grant_credits(req, ctx).await,
        _ => {}
    }
    let caller = ctx.authenticate(req)?;
    match route {
        // Served above, without a user token.
        Route::Health | Route::OpenApi | Route::GrantCredits | Route::Live(_) => {
            Err(crate::error::ApiError::internal("routed above"))
        }
        Route::GetMe => users::get_me(ctx, &caller).await,
        Route::PatchMe => users::patch_me(req, ctx, &caller).await,
        Route::CreateChat => chats::create_chat(req, ctx, &caller).await,
        Route::ListChats => chats::list_chats(req, ctx, &caller).await,
        Route::GetChat(chat_id) => chats::get_chat(ctx, &caller, &chat_id).await,
        Route::ListMessages(chat_id) => messages::list_messages(req, ctx, &caller, &chat_id).await,
        Route::SendMessage => messages::send_message(req, ctx, &caller).await,
        Route::MarkRead(chat_id) => messages::mark_read(req, ctx, &caller, &chat_id).await,
        Route::CreditTransfer => credits::credit_transfer(req, ctx, &caller).await,
        Route::Ledger => credits::ledger(req, ctx, &caller).await,
        Route::EditMessage(id) => {
            messages::change_message(req, ctx, &caller, id, Operation::Edit).await
        }
        Route::DeleteMessage(id) => {
            messages::change_message(req, ctx, &caller, id, Operation::Delete).await
        }
    }
}

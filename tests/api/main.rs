//! Black-box tests of the built worker in a real `wrangler dev` (see helpers.rs). One binary, so the
//! server starts once per run, with fresh local state.

mod around;
mod auth;
mod chat_list;
mod chats;
mod client;
mod contract;
mod credits;
mod edits;
mod erasure;
mod files;
mod helpers;
mod keys;
mod limits;
mod live;
mod logs;
mod members;
mod messages;
mod pins;
mod providers;
mod reactions;
mod safety;
mod schema;
mod search;
mod service;
mod surfaces;
mod sync;
mod threads;
mod validation;
mod webhooks;

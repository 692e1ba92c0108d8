//! Pure rules and types: no `worker` types here, so `cargo test` checks them natively in milliseconds.

pub mod before_send;
pub mod chat;
pub mod credits;
pub mod cursor;
pub mod files;
pub mod ids;
pub mod input;
pub mod keys;
pub mod listing;
pub mod live;
pub mod members;
pub mod message;
pub mod pagination;
pub mod reactions;
pub mod safety;
pub mod search;
pub mod surfaces;
pub mod threads;
pub mod time;
pub mod url;
pub mod user;
pub mod webhooks;
pub mod wire;

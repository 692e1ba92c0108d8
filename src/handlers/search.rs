//! `GET /api/v1/search`: full-text search over the live messages the caller may read.

use worker::Request;

use crate::auth::Credential;
use crate::context::Ctx;
use crate::domain::search::{highlight, SearchParams, SearchQuery};
use crate::error::Result;
use crate::http::{query, Reply};
use crate::store::search;
use crate::views;

/// One round trip → `{"results": [{"message", "highlight"}], "hasMore", "nextCursor"}`.
pub async fn search(req: &Request, ctx: &Ctx, who: &Credential) -> Result<Reply> {
    let params: SearchParams = query(req)?;
    let request = SearchQuery::try_from(params)?;
    let page = search::search(&ctx.db, who, &request).await?;
    Reply::ok(&views::SearchResults {
        results: page
            .hits
            .iter()
            .map(|hit| views::SearchResult {
                message: views::Message::with_marks(
                    &hit.message,
                    views::participants_of(&page.participants, &hit.message.chat_id),
                ),
                highlight: highlight(&hit.snippet),
            })
            .collect(),
        has_more: page.next.is_some(),
        next_cursor: page.next.as_ref().map(|p| p.encode(request.sort)),
    })
}

//! Page-mode pagination. Message pages are computed from sequence numbers, not OFFSET: sequence numbers
//! are dense (1..=last_seq), so page `p` of a snapshot is exactly the range
//! `[snapshot - p*limit + 1, snapshot - (p-1)*limit]`, one contiguous primary-key read that costs the same
//! at page 2,000 as at page 1. (`store::messages` computes the same range in SQL.)

use schemars::JsonSchema;
use serde::Deserialize;

use super::wire::Checks;
use crate::error::Result;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;
/// Keeps `page * limit` far inside the 2^53 integer range.
pub const MAX_PAGE: i64 = 10_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: i64,
    pub limit: i64,
}

/// A query of page mode's parameters only (the ledger's).
#[derive(Deserialize, JsonSchema)]
pub struct PageQuery {
    /// Default 1: the newest.
    #[schemars(with = "Option<u64>", range(min = 1, max = MAX_PAGE))]
    pub page: Option<String>,
    /// Default 20.
    #[schemars(with = "Option<u64>", range(min = 1, max = MAX_LIMIT))]
    pub limit: Option<String>,
}

impl PageRequest {
    /// Reads `page` and `limit` (each optional); problems are recorded in `check`.
    pub fn from_parts(check: &mut Checks, page: Option<&str>, limit: Option<&str>) -> Option<Self> {
        let page = check.query_integer("page", page, 1, MAX_PAGE, Some(1));
        let limit = check.query_integer("limit", limit, 1, MAX_LIMIT, Some(DEFAULT_LIMIT));
        Some(PageRequest {
            page: page?,
            limit: limit?,
        })
    }

    /// A query string that holds only page-mode parameters (`page`, `limit`).
    pub fn parse(query: PageQuery) -> Result<Self> {
        let mut check = Checks::new();
        let page = Self::from_parts(&mut check, query.page.as_deref(), query.limit.as_deref());
        check.finish()?;
        page.ok_or_else(|| crate::error::ApiError::bad_request("invalid page query"))
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.limit
    }
}

/// The page fields every paged response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    #[schemars(range(min = 1, max = MAX_PAGE))]
    pub page: i64,
    #[schemars(range(min = 1, max = MAX_LIMIT))]
    pub limit: i64,
    #[schemars(range(min = 0, max = super::input::MAX_SAFE_INTEGER))]
    pub total: i64,
    #[schemars(range(min = 0, max = super::input::MAX_SAFE_INTEGER))]
    pub total_pages: i64,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl PageInfo {
    pub fn new(request: PageRequest, total: i64) -> Self {
        let total = total.max(0);
        let total_pages = (total + request.limit - 1) / request.limit;
        PageInfo {
            page: request.page,
            limit: request.limit,
            total,
            total_pages,
            has_next_page: request.page < total_pages,
            has_previous_page: request.page > 1,
        }
    }
}

/// Inclusive sequence range of a message page over a snapshot whose last sequence number is `snapshot`.
/// Empty (`lo > hi`) past the last page.
pub fn message_page_range(snapshot: i64, request: PageRequest) -> (i64, i64) {
    let hi = snapshot - request.offset();
    let lo = (hi - request.limit + 1).max(1);
    (lo, hi)
}

/// Page-mode query of the message list: `page`, `limit` and the optional `asOf` snapshot. (Cursor mode
/// is `domain::cursor`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessagePageQuery {
    pub page: PageRequest,
    pub as_of: Option<i64>,
}

impl MessagePageQuery {
    pub fn parse(query: &super::cursor::MessageListQuery) -> Result<Self> {
        let mut check = Checks::new();
        let page =
            PageRequest::from_parts(&mut check, query.page.as_deref(), query.limit.as_deref());
        let as_of_given = query.as_of.is_some();
        let as_of = check.query_integer(
            "asOf",
            query.as_of.as_deref(),
            0,
            super::input::MAX_SAFE_INTEGER,
            None,
        );
        check.finish()?;
        match page {
            Some(page) if as_of.is_some() || !as_of_given => Ok(MessagePageQuery { page, as_of }),
            _ => Err(crate::error::ApiError::bad_request("invalid page query")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(page: i64, limit: i64) -> PageRequest {
        PageRequest { page, limit }
    }

    #[test]
    fn pages_count_back_from_the_newest() {
        assert_eq!(message_page_range(125, req(1, 20)), (106, 125));
        assert_eq!(message_page_range(125, req(6, 20)), (6, 25));
        assert_eq!(message_page_range(125, req(7, 20)), (1, 5));
        let (lo, hi) = message_page_range(125, req(8, 20));
        assert!(lo > hi, "past the end is empty");
        let (lo, hi) = message_page_range(0, req(1, 20));
        assert!(lo > hi);
    }

    #[test]
    fn page_info_matches_the_contract() {
        let info = PageInfo::new(req(7, 20), 125);
        assert_eq!(
            (info.total_pages, info.has_next_page, info.has_previous_page),
            (7, false, true)
        );
        let info = PageInfo::new(req(1, 20), 0);
        assert_eq!(
            (info.total_pages, info.has_next_page, info.has_previous_page),
            (0, false, false)
        );
        let info = PageInfo::new(req(1, 20), 21);
        assert_eq!((info.total_pages, info.has_next_page), (2, true));
    }

    #[test]
    fn parse_rejects_bad_values() {
        let q = |pairs: &[(&str, &str)]| -> super::super::cursor::MessageListQuery {
            let pairs = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            super::super::wire::query(pairs).unwrap()
        };
        assert!(MessagePageQuery::parse(&q(&[("page", "0")])).is_err());
        assert!(MessagePageQuery::parse(&q(&[("asOf", "-1")])).is_err());
        let ok =
            MessagePageQuery::parse(&q(&[("page", "2"), ("limit", "50"), ("asOf", "7")])).unwrap();
        assert_eq!(
            ok,
            MessagePageQuery {
                page: req(2, 50),
                as_of: Some(7)
            }
        );
    }
}

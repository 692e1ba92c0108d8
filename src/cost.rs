//! What a request costs D1: round trips (a batch counts once), rows read and rows written, as D1
//! reports them. The counts become the `X-D1-*` response headers and the request's log line, and the
//! tests assert them, so a query that starts scanning shows up as a failing test, not a surprise bill.

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    pub queries: u64,
    pub rows_read: u64,
    pub rows_written: u64,
}

impl std::ops::Add for Cost {
    type Output = Cost;

    fn add(self, other: Cost) -> Cost {
        Cost {
            queries: self.queries + other.queries,
            rows_read: self.rows_read + other.rows_read,
            rows_written: self.rows_written + other.rows_written,
        }
    }
}

impl std::ops::Sub for Cost {
    type Output = Cost;

    fn sub(self, other: Cost) -> Cost {
        Cost {
            queries: self.queries.saturating_sub(other.queries),
            rows_read: self.rows_read.saturating_sub(other.rows_read),
            rows_written: self.rows_written.saturating_sub(other.rows_written),
        }
    }
}

//! Safety and privacy (API.md "Safety and privacy"): blocks, reports of messages and the admin's
//! queue of them. Pure: the bodies and queries as sent, checked into domain values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ids::UserId;
use super::input::MAX_SAFE_INTEGER;
use super::pagination::{DEFAULT_LIMIT, MAX_LIMIT};
use super::threads::hex_text;
use super::wire::{self, Checks};
use crate::error::{ApiError, Result};

/// The most users one user may block (a block list is one response, like Slack's and Discord's).
pub const MAX_BLOCKS: i64 = 1_000;
/// A report's note, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// Why a message was reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportReason {
    Spam,
    Abuse,
    Other,
}

impl ReportReason {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "spam" => Some(Self::Spam),
            "abuse" => Some(Self::Abuse),
            "other" => Some(Self::Other),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spam => "spam",
            Self::Abuse => "abuse",
            Self::Other => "other",
        }
    }
}

/// Where a report stands: `open` until the admin dismisses it or acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    Open,
    Dismissed,
    Actioned,
}

impl ReportStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "dismissed" => Some(Self::Dismissed),
            "actioned" => Some(Self::Actioned),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Dismissed => "dismissed",
            Self::Actioned => "actioned",
        }
    }
}

/// `POST /api/v1/messages/{messageId}/reports`.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "NewReport")]
pub struct NewReportBody {
    #[schemars(with = "ReportReason")]
    pub reason: Option<Value>,
    /// What the reporter wants the moderator to know (never logged).
    #[schemars(with = "Option<String>", length(max = MAX_NOTE_CHARS))]
    pub note: Option<Value>,
}

/// A report as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    pub reason: ReportReason,
    pub note: Option<String>,
}

impl NewReport {
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let body: NewReportBody = wire::body(bytes)?;
        let mut check = Checks::new();
        let reason = check
            .required_string("reason", body.reason.as_ref(), 1, 16)
            .and_then(|raw| {
                let reason = ReportReason::parse(&raw);
                if reason.is_none() {
                    check.error("reason must be spam, abuse or other");
                }
                reason
            });
        let note = check
            .string("note", body.note.as_ref(), 0, MAX_NOTE_CHARS)
            .filter(|n| !super::input::is_blank(n));
        check.finish()?;
        let reason = reason.ok_or_else(|| ApiError::bad_request("reason is required"))?;
        Ok(NewReport { reason, note })
    }
}

/// `PATCH /api/v1/admin/reports/{reportId}`.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ReportChange")]
pub struct ReportChangeBody {
    /// `dismissed` or `actioned` (`open` reopens it).
    #[schemars(with = "ReportStatus")]
    pub status: Option<Value>,
}

/// The status a report changes to.
pub fn parse_report_change(bytes: &[u8]) -> Result<ReportStatus> {
    let body: ReportChangeBody = wire::body(bytes)?;
    let mut check = Checks::new();
    let status = check
        .required_string("status", body.status.as_ref(), 1, 16)
        .and_then(|raw| {
            let status = ReportStatus::parse(&raw);
            if status.is_none() {
                check.error("status must be open, dismissed or actioned");
            }
            status
        });
    check.finish()?;
    status.ok_or_else(|| ApiError::bad_request("status is required"))
}

/// `GET /api/v1/admin/reports`.
#[derive(Deserialize, JsonSchema)]
pub struct ReportListParams {
    /// Default `open`.
    #[schemars(with = "Option<ReportStatus>")]
    pub status: Option<String>,
    /// Default 20.
    #[schemars(with = "Option<u64>", range(min = 1, max = MAX_LIMIT))]
    pub limit: Option<String>,
    /// The nextCursor of an earlier page (opaque).
    #[schemars(with = "Option<String>", pattern("^(?:[0-9a-fA-F]{2}){1,256}$"))]
    pub cursor: Option<String>,
}

/// Where a page of reports ends: the last report's creation time and id (oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPosition {
    pub created_at: i64,
    pub id: String,
}

impl ReportPosition {
    /// Opaque: hex of "r1.<createdAt>.<id>".
    pub fn encode(&self) -> String {
        hex::encode(format!("r1.{}.{}", self.created_at, self.id))
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let text = hex_text(raw)?;
        let fields: Vec<&str> = text.split('.').collect();
        let ["r1", created_at, id] = fields.as_slice() else {
            return None;
        };
        let created_at = created_at
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=MAX_SAFE_INTEGER).contains(n))?;
        super::ids::is_object_id(id).then(|| ReportPosition {
            created_at,
            id: id.to_string(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    pub status: ReportStatus,
    pub limit: i64,
    pub after: Option<ReportPosition>,
}

impl TryFrom<ReportListParams> for ReportQuery {
    type Error = ApiError;

    fn try_from(params: ReportListParams) -> Result<Self> {
        let mut check = Checks::new();
        let status = match params.status.as_deref() {
            None => Some(ReportStatus::Open),
            Some(raw) => {
                let status = ReportStatus::parse(raw);
                if status.is_none() {
                    check.error("status must be open, dismissed or actioned");
                }
                status
            }
        };
        let limit = check.query_integer(
            "limit",
            params.limit.as_deref(),
            1,
            MAX_LIMIT,
            Some(DEFAULT_LIMIT),
        );
        let after = check.cursor(params.cursor.as_deref(), "this list", |raw| {
            ReportPosition::decode(raw)
        });
        check.finish()?;
        Ok(ReportQuery {
            status: status.unwrap_or(ReportStatus::Open),
            limit: limit.unwrap_or(DEFAULT_LIMIT),
            after,
        })
    }
}

/// A block of `other` by `me`: never of oneself.
pub fn check_block(me: &UserId, other: &UserId) -> Result<()> {
    if me == other {
        return Err(ApiError::unprocessable(
            "userId must be another user: you cannot block yourself",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_need_a_known_reason_and_a_short_note() {
        let ok = NewReport::parse(br#"{"reason":"spam","note":"  "}"#).unwrap();
        assert_eq!(ok.reason, ReportReason::Spam);
        assert_eq!(ok.note, None);
        let noted = NewReport::parse(br#"{"reason":"abuse","note":"calls me names"}"#).unwrap();
        assert_eq!(noted.note.as_deref(), Some("calls me names"));
        for bad in [
            &br#"{}"#[..],
            br#"{"reason":"rude"}"#,
            br#"{"reason":5}"#,
            br#"[1]"#,
        ] {
            let e = NewReport::parse(bad).unwrap_err();
            assert_eq!(e.status, 400, "{}", String::from_utf8_lossy(bad));
        }
        let long = format!(r#"{{"reason":"other","note":"{}"}}"#, "é".repeat(501));
        let e = NewReport::parse(long.as_bytes()).unwrap_err();
        assert!(e.errors[0].contains("note"), "{:?}", e.errors);
    }

    #[test]
    fn report_cursors_round_trip_and_garbage_is_refused() {
        let position = ReportPosition {
            created_at: 1_700_000_000_000,
            id: "64d15f9e2e6c8f4d5a123456".into(),
        };
        assert_eq!(ReportPosition::decode(&position.encode()), Some(position));
        for bad in [
            "",
            "zz",
            "00",
            &hex::encode("r1.1.nothex"),
            &hex::encode("n1.1.2.3"),
        ] {
            assert_eq!(ReportPosition::decode(bad), None, "{bad}");
        }
        let params = ReportListParams {
            status: Some("closed".into()),
            limit: Some("0".into()),
            cursor: Some("zz".into()),
        };
        let e = ReportQuery::try_from(params).unwrap_err();
        assert_eq!(e.errors.len(), 3, "{:?}", e.errors);
    }

    #[test]
    fn report_changes_name_a_status() {
        assert_eq!(
            parse_report_change(br#"{"status":"dismissed"}"#).unwrap(),
            ReportStatus::Dismissed
        );
        assert!(parse_report_change(br#"{"status":"gone"}"#).is_err());
        assert!(parse_report_change(b"{}").is_err());
    }

    #[test]
    fn nobody_blocks_themselves() {
        let me = UserId::parse("u1", "userId").unwrap();
        let other = UserId::parse("u2", "userId").unwrap();
        assert!(check_block(&me, &other).is_ok());
        assert_eq!(check_block(&me, &me).unwrap_err().status, 422);
    }
}

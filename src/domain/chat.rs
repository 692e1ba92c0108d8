//! A chat as a client asks to create it (API.md "Chats").

use super::ids::{ProjectId, UserId};
use super::input::{is_blank, JsonBody, Query};
use super::pagination::PageRequest;
use crate::error::{ApiError, Result};

pub const MAX_GROUP_PARTICIPANTS: usize = 256;
pub const MAX_TITLE_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    Direct,
    Group,
}

impl ChatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Direct => "direct",
            ChatKind::Group => "group",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChat {
    pub kind: ChatKind,
    pub title: Option<String>,
    /// The participants other than the caller: valid, distinct, in the order given.
    pub others: Vec<UserId>,
    /// The chat's project, set at creation and never changed.
    pub project: Option<ProjectId>,
}

impl NewChat {
    pub fn parse(bytes: &[u8], caller: &UserId) -> Result<Self> {
        let mut body = JsonBody::parse(bytes)?;
        let ids = body.string_array("participantIds");
        if !body.has("participantIds") {
            body.error("participantIds is required: an array of user ids".into());
        }
        if ids
            .as_ref()
            .is_some_and(|ids| ids.len() > MAX_GROUP_PARTICIPANTS)
        {
            body.error(format!(
                "participantIds holds at most {MAX_GROUP_PARTICIPANTS} ids"
            ));
        }
        let kind = match body.string("type", 1, 16).as_deref() {
            None => None,
            Some("direct") => Some(ChatKind::Direct),
            Some("group") => Some(ChatKind::Group),
            Some(_) => {
                body.error("type must be direct or group".into());
                None
            }
        };
        let title = body
            .string("title", 0, MAX_TITLE_CHARS)
            .filter(|t| !is_blank(t));
        let project = body
            .string("projectId", 1, 64)
            .and_then(|p| body.check(ProjectId::parse(&p, "projectId")));
        let mut others: Vec<UserId> = Vec::new();
        for (i, raw) in ids.unwrap_or_default().iter().enumerate() {
            match UserId::parse(raw, &format!("participantIds[{i}]")) {
                Ok(id) if &id == caller || others.contains(&id) => {}
                Ok(id) => others.push(id),
                Err(e) => body.error(e.errors.join("; ")),
            }
        }
        body.finish()?;
        let kind = kind.unwrap_or(if others.len() == 1 {
            ChatKind::Direct
        } else {
            ChatKind::Group
        });
        match kind {
            ChatKind::Direct if others.len() != 1 => Err(ApiError::bad_request(
                "a direct chat needs exactly one participant other than the caller",
            )),
            ChatKind::Direct if title.is_some() => Err(ApiError::bad_request(
                "title is only allowed on group chats",
            )),
            ChatKind::Group if others.is_empty() || others.len() + 1 > MAX_GROUP_PARTICIPANTS => {
                Err(ApiError::bad_request(format!(
                    "a group holds 2 to {MAX_GROUP_PARTICIPANTS} participants counting the caller"
                )))
            }
            _ => Ok(NewChat {
                kind,
                title,
                others,
                project,
            }),
        }
    }

    /// The key that makes a direct chat unique per pair within its project, whichever side asks:
    /// `"<a> <b>"` (the two ids sorted) without a project, `"<project> <a> <b>"` with one. Ids hold no
    /// spaces, so the two forms never meet.
    pub fn direct_key(&self, caller: &UserId) -> Option<String> {
        match (self.kind, self.others.first()) {
            (ChatKind::Direct, Some(other)) => {
                let (a, b) = if caller.as_str() <= other.as_str() {
                    (caller, other)
                } else {
                    (other, caller)
                };
                Some(match &self.project {
                    None => format!("{a} {b}"),
                    Some(project) => format!("{} {a} {b}", project.as_str()),
                })
            }
            _ => None,
        }
    }
}

/// `GET /api/v1/chats`: `page`, `limit` and the optional `projectId` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatListQuery {
    pub page: PageRequest,
    pub project: Option<ProjectId>,
}

impl ChatListQuery {
    pub fn parse(mut query: Query) -> Result<Self> {
        let page = PageRequest::from_query(&mut query);
        let project = match query
            .get("projectId")
            .map(|p| ProjectId::parse(p, "projectId"))
        {
            None => None,
            Some(Ok(project)) => Some(project),
            Some(Err(e)) => {
                query.error(e.errors.join("; "));
                None
            }
        };
        query.finish()?;
        let page = page.ok_or_else(|| ApiError::bad_request("invalid page query"))?;
        Ok(ChatListQuery { page, project })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> UserId {
        UserId::parse("me", "sub").unwrap()
    }

    #[test]
    fn type_defaults_from_the_participant_count() {
        let direct = NewChat::parse(br#"{"participantIds":["u2","me","u2"]}"#, &me()).unwrap();
        assert_eq!((direct.kind, direct.others.len()), (ChatKind::Direct, 1));
        let group =
            NewChat::parse(br#"{"participantIds":["u2","u3"],"title":"t"}"#, &me()).unwrap();
        assert_eq!(group.kind, ChatKind::Group);
    }

    #[test]
    fn direct_key_is_the_same_from_both_sides() {
        let u2 = UserId::parse("u2", "sub").unwrap();
        let a = NewChat::parse(br#"{"participantIds":["u2"]}"#, &me()).unwrap();
        let b = NewChat::parse(br#"{"participantIds":["me"]}"#, &u2).unwrap();
        assert_eq!(a.direct_key(&me()), b.direct_key(&u2));
    }

    #[test]
    fn direct_keys_are_per_project() {
        let none = NewChat::parse(br#"{"participantIds":["u2"]}"#, &me()).unwrap();
        let p1 = NewChat::parse(br#"{"participantIds":["u2"],"projectId":"p1"}"#, &me()).unwrap();
        let p2 = NewChat::parse(br#"{"participantIds":["u2"],"projectId":"p2"}"#, &me()).unwrap();
        let keys = [none, p1, p2].map(|c| c.direct_key(&me()).unwrap());
        assert_eq!(keys, ["me u2", "p1 me u2", "p2 me u2"].map(String::from));
        assert!(NewChat::parse(br#"{"participantIds":["u2"],"projectId":"a b"}"#, &me()).is_err());
    }

    #[test]
    fn rules_are_enforced() {
        for bad in [
            br#"{}"#.as_slice(),
            br#"{"participantIds":[]}"#,
            br#"{"participantIds":["me"]}"#,
            br#"{"participantIds":["u2","u3"],"type":"direct"}"#,
            br#"{"participantIds":["bad id"]}"#,
            br#"{"participantIds":"u2"}"#,
            br#"{"participantIds":["u2"],"type":"channel"}"#,
        ] {
            assert_eq!(
                NewChat::parse(bad, &me()).unwrap_err().status,
                400,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let many: Vec<String> = (0..256).map(|i| format!("\"u{i}\"")).collect();
        let body = format!(r#"{{"participantIds":[{}]}}"#, many.join(","));
        assert_eq!(
            NewChat::parse(body.as_bytes(), &me()).unwrap_err().status,
            400
        );
    }
}

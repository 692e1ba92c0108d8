//! A chat as a client asks to create it (API.md "Chats").

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::ids::{ProjectId, UserId};
use super::input::{is_blank, NOT_BLANK_PATTERN};
use super::pagination::{PageRequest, MAX_LIMIT, MAX_PAGE};
use super::wire::{self, Checks};
use crate::error::{ApiError, Result};

pub const MAX_GROUP_PARTICIPANTS: usize = 256;
pub const MAX_TITLE_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, JsonSchema)]
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

/// A chat to create.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "NewChat", transform = no_title_on_direct)]
pub struct NewChatBody {
    /// The caller is always a participant; duplicates and the caller's own id are ignored. direct:
    /// exactly one other participant; group: 1 to 255 others.
    #[schemars(with = "Vec<UserId>", length(min = 1, max = MAX_GROUP_PARTICIPANTS))]
    pub participant_ids: Option<Value>,
    /// Absent or null: direct when exactly one other participant is named, else group.
    #[serde(rename = "type")]
    #[schemars(with = "Option<ChatKind>")]
    pub kind: Option<Value>,
    /// Groups only; a blank title is stored as null.
    #[schemars(with = "Option<String>", length(max = MAX_TITLE_CHARS))]
    pub title: Option<Value>,
    /// Set at creation, never changed. A direct chat is unique per pair within a project.
    #[schemars(with = "Option<ProjectId>")]
    pub project_id: Option<Value>,
    /// Who asks (the caller is always a participant), set by the handler.
    #[serde(skip)]
    pub caller: Option<UserId>,
}

/// A direct chat takes no title (a blank one counts as none).
fn no_title_on_direct(schema: &mut schemars::Schema) {
    schema.insert(
        "allOf".into(),
        serde_json::json!([{
            "if": {"required": ["type"], "properties": {"type": {"const": "direct"}}},
            "then": {"properties": {"title": {"anyOf": [
                {"type": "null"},
                {"type": "string", "not": {"pattern": NOT_BLANK_PATTERN}}
            ]}}}
        }]),
    );
}

impl NewChat {
    pub fn parse(bytes: &[u8], caller: &UserId) -> Result<Self> {
        let mut body: NewChatBody = wire::body(bytes)?;
        body.caller = Some(caller.clone());
        body.try_into()
    }
}

impl TryFrom<NewChatBody> for NewChat {
    type Error = ApiError;

    fn try_from(body: NewChatBody) -> Result<Self> {
        let caller = body
            .caller
            .ok_or_else(|| ApiError::internal("a new chat without its caller"))?;
        let mut check = Checks::new();
        let ids = check.string_array("participantIds", body.participant_ids.as_ref());
        if body.participant_ids.is_none() {
            check.error("participantIds is required: an array of user ids");
        }
        if ids
            .as_ref()
            .is_some_and(|ids| ids.len() > MAX_GROUP_PARTICIPANTS)
        {
            check.error(format!(
                "participantIds holds at most {MAX_GROUP_PARTICIPANTS} ids"
            ));
        }
        let kind = match check.string("type", body.kind.as_ref(), 1, 16).as_deref() {
            None => None,
            Some("direct") => Some(ChatKind::Direct),
            Some("group") => Some(ChatKind::Group),
            Some(_) => {
                check.error("type must be direct or group");
                None
            }
        };
        let title = check
            .string("title", body.title.as_ref(), 0, MAX_TITLE_CHARS)
            .filter(|t| !is_blank(t));
        let project = check
            .string("projectId", body.project_id.as_ref(), 1, 64)
            .and_then(|p| check.check(ProjectId::parse(&p, "projectId")));
        let mut others: Vec<UserId> = Vec::new();
        for (i, raw) in ids.unwrap_or_default().iter().enumerate() {
            match UserId::parse(raw, &format!("participantIds[{i}]")) {
                Ok(id) if id == caller || others.contains(&id) => {}
                Ok(id) => others.push(id),
                Err(e) => check.error(e.errors.join("; ")),
            }
        }
        check.finish()?;
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
}

impl NewChat {
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
    /// `?archived=true`: only the archived chats (else only the others).
    pub archived: bool,
}

impl ChatListQuery {
    /// The key of the `chat_list` entries and `chat_counts` row this list reads: `''` (all chats) or
    /// the project, `'!'`-prefixed for the archived ones (migration 0007).
    pub fn list_key(&self) -> String {
        let project = self.project.as_ref().map_or("", ProjectId::as_str);
        if self.archived {
            format!("!{project}")
        } else {
            project.to_string()
        }
    }
}

/// `GET /api/v1/chats`'s query.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatListParams {
    /// Default 1: the most recently active chats.
    #[schemars(with = "Option<u64>", range(min = 1, max = MAX_PAGE))]
    pub page: Option<String>,
    /// Default 20.
    #[schemars(with = "Option<u64>", range(min = 1, max = MAX_LIMIT))]
    pub limit: Option<String>,
    /// Only the caller's chats of this project.
    #[schemars(with = "Option<ProjectId>")]
    pub project_id: Option<String>,
    /// true: only the caller's archived chats; false or absent: the others.
    #[schemars(with = "Option<bool>")]
    pub archived: Option<String>,
}

impl TryFrom<ChatListParams> for ChatListQuery {
    type Error = ApiError;

    fn try_from(query: ChatListParams) -> Result<Self> {
        let mut check = Checks::new();
        let page =
            PageRequest::from_parts(&mut check, query.page.as_deref(), query.limit.as_deref());
        let project = query
            .project_id
            .as_deref()
            .and_then(|p| check.check(ProjectId::parse(p, "projectId")));
        let archived = match query.archived.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                check.error("archived must be true or false");
                false
            }
        };
        check.finish()?;
        let page = page.ok_or_else(|| ApiError::bad_request("invalid page query"))?;
        Ok(ChatListQuery {
            page,
            project,
            archived,
        })
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

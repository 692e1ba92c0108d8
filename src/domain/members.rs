//! Groups that change (API.md "Members and roles"): the requests, who may make them, and what each
//! one does to the chat. Pure: the chat's Durable Object reads the facts (`ChatFacts`, `Named`) while
//! it holds the chat's commit turn, `decide` says what happens, and the store writes it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::chat::{ChatKind, MAX_GROUP_PARTICIPANTS, MAX_TITLE_CHARS};
use super::ids::UserId;
use super::input::is_blank;
use super::wire::{self, Checks};
use crate::error::{ApiError, Result};

/// The most ids one `POST /members` names.
pub const MAX_ADDED: usize = 50;

/// A member's role in a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// May add members and rename the chat.
    fn manages(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// A change of a chat's members or title, checked at the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MemberChange {
    /// Distinct ids, in the order given.
    Add(Vec<UserId>),
    /// Removing someone, or oneself (leaving).
    Remove(UserId),
    SetRole(UserId, Role),
    /// A blank title is stored as none.
    Rename(Option<String>),
}

impl MemberChange {
    /// The users the change names (their roles and names are read with the chat).
    pub fn named(&self) -> Vec<&UserId> {
        match self {
            MemberChange::Add(ids) => ids.iter().collect(),
            MemberChange::Remove(id) | MemberChange::SetRole(id, _) => vec![id],
            MemberChange::Rename(_) => Vec::new(),
        }
    }
}

/// `POST /api/v1/chats/{chatId}/members`.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "NewMembers")]
pub struct NewMembersBody {
    /// Users to add (unknown ids become users, as at chat creation); members already present are
    /// ignored.
    #[schemars(with = "Vec<UserId>", length(min = 1, max = MAX_ADDED))]
    pub user_ids: Option<Value>,
}

/// `PATCH /api/v1/chats/{chatId}/members/{userId}`.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "RoleChange")]
pub struct RoleChangeBody {
    /// Naming a new owner makes the old owner an admin.
    #[schemars(with = "Role")]
    pub role: Option<Value>,
}

/// `PATCH /api/v1/chats/{chatId}`.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ChatChange", transform = title_required)]
pub struct ChatChangeBody {
    /// null or blank: no title.
    #[schemars(with = "Option<String>", length(max = MAX_TITLE_CHARS))]
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Value>,
}

/// `PATCH /api/v1/chats/{chatId}/me`: the caller's own settings.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "MySettings", transform = one_setting_at_least)]
pub struct SettingsBody {
    /// Left out of the unread totals (its own unread count stays exact).
    #[schemars(with = "bool")]
    #[serde(default, deserialize_with = "present")]
    pub muted: Option<Value>,
    /// Left out of the chat list unless `?archived=true`; a new message from someone else unarchives.
    #[schemars(with = "bool")]
    #[serde(default, deserialize_with = "present")]
    pub archived: Option<Value>,
}

/// `title` must be there, a string or null (serde's `default`, which tells a missing title from a null
/// one, hides both from the derived schema).
fn title_required(schema: &mut schemars::Schema) {
    schema.insert("required".into(), serde_json::json!(["title"]));
    if let Some(title) = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("title"))
        .and_then(serde_json::Value::as_object_mut)
    {
        title.insert("type".into(), serde_json::json!(["string", "null"]));
        title.remove("default");
    }
}

/// Either setting, or both.
fn one_setting_at_least(schema: &mut schemars::Schema) {
    wire::at_least_one_of(schema, &["muted", "archived"]);
}

/// A field that is there, even as `null`, is `Some(Value::Null)`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl MemberChange {
    pub fn parse_add(bytes: &[u8]) -> Result<Self> {
        let body: NewMembersBody = wire::body(bytes)?;
        let mut check = Checks::new();
        let ids = check.string_array("userIds", body.user_ids.as_ref());
        if body.user_ids.is_none() {
            check.error("userIds is required: an array of 1 to 50 user ids");
        }
        let ids = ids.unwrap_or_default();
        if body.user_ids.is_some() && (ids.is_empty() || ids.len() > MAX_ADDED) {
            check.error(format!("userIds holds 1 to {MAX_ADDED} ids"));
        }
        let mut distinct: Vec<UserId> = Vec::new();
        for (i, raw) in ids.iter().enumerate() {
            if let Some(id) = check.check(UserId::parse(raw, &format!("userIds[{i}]"))) {
                if !distinct.contains(&id) {
                    distinct.push(id);
                }
            }
        }
        check.finish()?;
        Ok(MemberChange::Add(distinct))
    }

    pub fn parse_role(bytes: &[u8], user: UserId) -> Result<Self> {
        let body: RoleChangeBody = wire::body(bytes)?;
        let mut check = Checks::new();
        let role = match check.required_string("role", body.role.as_ref(), 1, 16) {
            Some(raw) => Role::parse(&raw),
            None => None,
        };
        if role.is_none() && check.count() == 0 {
            check.error("role must be owner, admin or member");
        }
        check.finish()?;
        role.map(|role| MemberChange::SetRole(user, role))
            .ok_or_else(|| ApiError::bad_request("role must be owner, admin or member"))
    }

    pub fn parse_rename(bytes: &[u8]) -> Result<Self> {
        let body: ChatChangeBody = wire::body(bytes)?;
        let mut check = Checks::new();
        let title = match &body.title {
            None => {
                check.error("title is required: a string of at most 200 characters, or null");
                None
            }
            Some(Value::Null) => None,
            Some(value) => check
                .string("title", Some(value), 0, MAX_TITLE_CHARS)
                .filter(|t| !is_blank(t)),
        };
        check.finish()?;
        Ok(MemberChange::Rename(title))
    }
}

/// The caller's own settings of a chat: what to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub muted: Option<bool>,
    pub archived: Option<bool>,
}

impl Settings {
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let body: SettingsBody = wire::body(bytes)?;
        let mut check = Checks::new();
        let mut flag = |name: &str, value: Option<&Value>| match value {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                check.error(format!("{name} must be true or false"));
                None
            }
        };
        let settings = Settings {
            muted: flag("muted", body.muted.as_ref()),
            archived: flag("archived", body.archived.as_ref()),
        };
        if body.muted.is_none() && body.archived.is_none() {
            check.error("give muted, archived or both");
        }
        check.finish()?;
        Ok(settings)
    }
}

/// What the chat's `system` message records (`chatEvent` of API.md's Message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatEvent {
    #[serde(rename = "type")]
    pub kind: ChatEventKind,
    pub actor_id: UserId,
    pub user_ids: Vec<UserId>,
    pub role: Option<Role>,
    #[schemars(length(max = MAX_TITLE_CHARS))]
    pub title: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ChatEventKind {
    #[serde(rename = "members.added")]
    MembersAdded,
    #[serde(rename = "member.removed")]
    MemberRemoved,
    #[serde(rename = "member.left")]
    MemberLeft,
    #[serde(rename = "role.changed")]
    RoleChanged,
    #[serde(rename = "chat.renamed")]
    ChatRenamed,
}

/// The chat as its Durable Object reads it before a change, with the actor's membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatFacts {
    pub kind: ChatKind,
    pub title: Option<String>,
    /// Its members, counted up to `MAX_GROUP_PARTICIPANTS + 1`.
    pub members: usize,
    /// The actor's role; `None` when the actor is not a member.
    pub actor_role: Option<Role>,
    pub actor_name: String,
}

/// A user the change names, as found: their role in the chat (`None`: not a member) and their name
/// (the id when they have no user row yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub id: UserId,
    pub role: Option<Role>,
    pub name: String,
    /// Whether a block stands between this user and the actor, either way (API.md "Blocks").
    pub blocked: bool,
}

/// What a change does, once allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    pub event: ChatEvent,
    /// The `system` message's content: a short English sentence.
    pub content: String,
    pub store: Store,
}

/// The rows a change writes besides its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    Add(Vec<UserId>),
    Remove(UserId),
    /// The roles to set, in order (a new owner first, then the old owner as admin).
    Roles(Vec<(UserId, Role)>),
    Rename(Option<String>),
}

/// Decides a change: the error to answer, `None` for a change that alters nothing (200, nothing
/// written), or what to write. `named` holds the users `change.named()` lists, in any order.
pub fn decide(
    actor: &UserId,
    change: &MemberChange,
    chat: Option<&ChatFacts>,
    named: &[Named],
) -> Result<Option<Effect>> {
    let Some(chat) = chat else {
        return Err(ApiError::not_found("chat"));
    };
    let Some(actor_role) = chat.actor_role else {
        return Err(ApiError::not_found("chat"));
    };
    if chat.kind == ChatKind::Direct {
        return Err(ApiError::unprocessable(
            "a direct chat never changes: its members and title are fixed",
        ));
    }
    let find = |id: &UserId| {
        named
            .iter()
            .find(|n| &n.id == id)
            .cloned()
            .unwrap_or_else(|| Named {
                id: id.clone(),
                role: None,
                name: id.to_string(),
                blocked: false,
            })
    };
    let me = &chat.actor_name;
    let event = |kind, user_ids: Vec<UserId>, role, title| ChatEvent {
        kind,
        actor_id: actor.clone(),
        user_ids,
        role,
        title,
    };
    let effect = match change {
        MemberChange::Add(ids) => {
            if !actor_role.manages() {
                return Err(ApiError::forbidden(
                    "only the chat's owner and admins may add members",
                ));
            }
            let new: Vec<Named> = ids.iter().map(find).filter(|n| n.role.is_none()).collect();
            if new.is_empty() {
                return Ok(None);
            }
            if chat.members + new.len() > MAX_GROUP_PARTICIPANTS {
                return Err(ApiError::unprocessable(format!(
                    "a group holds at most {MAX_GROUP_PARTICIPANTS} members: it has {}, and {} would \
                     join",
                    chat.members,
                    new.len()
                )));
            }
            if new.iter().any(|n| n.blocked) {
                return Err(ApiError::forbidden(
                    "you cannot add a user you blocked or who blocked you",
                ));
            }
            let names: Vec<&str> = new.iter().map(|n| n.name.as_str()).collect();
            let ids: Vec<UserId> = new.iter().map(|n| n.id.clone()).collect();
            Effect {
                content: format!("{me} added {}", english_list(&names)),
                event: event(ChatEventKind::MembersAdded, ids.clone(), None, None),
                store: Store::Add(ids),
            }
        }
        MemberChange::Remove(target) => {
            let them = find(target);
            let Some(their_role) = them.role else {
                return Err(ApiError::not_found("member"));
            };
            if target == actor {
                if actor_role == Role::Owner && chat.members > 1 {
                    return Err(ApiError::unprocessable(
                        "the owner cannot leave while other members remain: hand ownership over \
                         first (PATCH /api/v1/chats/{chatId}/members/{userId} {\"role\": \"owner\"})",
                    ));
                }
                Effect {
                    content: format!("{me} left"),
                    event: event(ChatEventKind::MemberLeft, vec![actor.clone()], None, None),
                    store: Store::Remove(actor.clone()),
                }
            } else {
                let allowed = match actor_role {
                    Role::Owner => true,
                    Role::Admin => their_role == Role::Member,
                    Role::Member => false,
                };
                if !allowed {
                    return Err(ApiError::forbidden(match actor_role {
                        Role::Admin => "an admin may remove members, not admins or the owner",
                        _ => "only the chat's owner and admins may remove others",
                    }));
                }
                Effect {
                    content: format!("{me} removed {}", them.name),
                    event: event(
                        ChatEventKind::MemberRemoved,
                        vec![target.clone()],
                        None,
                        None,
                    ),
                    store: Store::Remove(target.clone()),
                }
            }
        }
        MemberChange::SetRole(target, role) => {
            if actor_role != Role::Owner {
                return Err(ApiError::forbidden("only the chat's owner may set roles"));
            }
            let them = find(target);
            let Some(their_role) = them.role else {
                return Err(ApiError::not_found("member"));
            };
            if their_role == *role {
                return Ok(None);
            }
            if target == actor {
                return Err(ApiError::unprocessable(
                    "the owner keeps the role until naming a new owner",
                ));
            }
            let mut roles = vec![(target.clone(), *role)];
            if *role == Role::Owner {
                roles.push((actor.clone(), Role::Admin));
            }
            let what = match role {
                Role::Owner => "the owner",
                Role::Admin => "an admin",
                Role::Member => "a member",
            };
            Effect {
                content: format!("{me} made {} {what}", them.name),
                event: event(
                    ChatEventKind::RoleChanged,
                    vec![target.clone()],
                    Some(*role),
                    None,
                ),
                store: Store::Roles(roles),
            }
        }
        MemberChange::Rename(title) => {
            if !actor_role.manages() {
                return Err(ApiError::forbidden(
                    "only the chat's owner and admins may rename it",
                ));
            }
            if &chat.title == title {
                return Ok(None);
            }
            let content = match title {
                Some(t) => format!("{me} renamed the chat to \u{201c}{t}\u{201d}"),
                None => format!("{me} removed the chat's title"),
            };
            Effect {
                content,
                event: event(ChatEventKind::ChatRenamed, Vec::new(), None, title.clone()),
                store: Store::Rename(title.clone()),
            }
        }
    };
    Ok(Some(effect))
}

/// "a", "a and b", "a, b and c".
fn english_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> UserId {
        UserId::parse(s, "id").unwrap()
    }

    fn group(actor_role: Option<Role>, members: usize) -> ChatFacts {
        ChatFacts {
            kind: ChatKind::Group,
            title: Some("Team".into()),
            members,
            actor_role,
            actor_name: "alice".into(),
        }
    }

    fn named(user: &str, role: Option<Role>) -> Named {
        Named {
            id: id(user),
            role,
            name: format!("{user}-name"),
            blocked: false,
        }
    }

    fn status(r: Result<Option<Effect>>) -> u16 {
        r.err().map_or(200, |e| e.status)
    }

    #[test]
    fn parses_bodies_and_refuses_bad_ones() {
        assert_eq!(
            MemberChange::parse_add(br#"{"userIds":["b","c","b"]}"#).unwrap(),
            MemberChange::Add(vec![id("b"), id("c")])
        );
        let ids: Vec<String> = (0..51).map(|i| format!("\"u{i}\"")).collect();
        let many = format!("{{\"userIds\":[{}]}}", ids.join(","));
        for bad in [
            "{}",
            r#"{"userIds":[]}"#,
            r#"{"userIds":"b"}"#,
            r#"{"userIds":["a b"]}"#,
            r#"{"userIds":[1]}"#,
            many.as_str(),
        ] {
            assert_eq!(
                MemberChange::parse_add(bad.as_bytes()).unwrap_err().status,
                400,
                "{bad}"
            );
        }
        assert_eq!(
            MemberChange::parse_role(br#"{"role":"admin"}"#, id("b")).unwrap(),
            MemberChange::SetRole(id("b"), Role::Admin)
        );
        for bad in [
            "{}",
            r#"{"role":"boss"}"#,
            r#"{"role":"Owner"}"#,
            r#"{"role":null}"#,
            r#"{"role":1}"#,
        ] {
            assert_eq!(
                MemberChange::parse_role(bad.as_bytes(), id("b"))
                    .unwrap_err()
                    .status,
                400,
                "{bad}"
            );
        }
        assert_eq!(
            MemberChange::parse_rename(br#"{"title":null}"#).unwrap(),
            MemberChange::Rename(None)
        );
        assert_eq!(
            MemberChange::parse_rename(br#"{"title":"  "}"#).unwrap(),
            MemberChange::Rename(None)
        );
        let long = format!("{{\"title\":\"{}\"}}", "x".repeat(201));
        for bad in ["{}", r#"{"title":5}"#, long.as_str()] {
            assert_eq!(
                MemberChange::parse_rename(bad.as_bytes())
                    .unwrap_err()
                    .status,
                400,
                "{bad}"
            );
        }
        assert_eq!(
            Settings::parse(br#"{"muted":true}"#).unwrap(),
            Settings {
                muted: Some(true),
                archived: None
            }
        );
        for bad in [
            "{}",
            r#"{"muted":1}"#,
            r#"{"archived":"yes"}"#,
            r#"{"archived":false,"muted":null}"#,
            r#"{"muted":null}"#,
        ] {
            assert_eq!(Settings::parse(bad.as_bytes()).unwrap_err().status, 400);
        }
    }

    #[test]
    fn who_may_do_what() {
        let add = MemberChange::Add(vec![id("d")]);
        assert_eq!(status(decide(&id("a"), &add, None, &[])), 404);
        assert_eq!(
            status(decide(&id("a"), &add, Some(&group(None, 3)), &[])),
            404
        );
        let mut direct = group(Some(Role::Member), 2);
        direct.kind = ChatKind::Direct;
        for change in [
            add.clone(),
            MemberChange::Rename(Some("x".into())),
            MemberChange::Remove(id("a")),
        ] {
            assert_eq!(status(decide(&id("a"), &change, Some(&direct), &[])), 422);
        }
        assert_eq!(
            status(decide(
                &id("a"),
                &add,
                Some(&group(Some(Role::Member), 3)),
                &[]
            )),
            403
        );
        assert_eq!(
            status(decide(
                &id("a"),
                &add,
                Some(&group(Some(Role::Admin), 3)),
                &[]
            )),
            200
        );
        // Removing: owner anyone but self, admin members only, member nobody else.
        let remove_b = MemberChange::Remove(id("b"));
        for (actor, target, expected) in [
            (Role::Owner, Role::Admin, 200),
            (Role::Admin, Role::Member, 200),
            (Role::Admin, Role::Admin, 403),
            (Role::Admin, Role::Owner, 403),
            (Role::Member, Role::Member, 403),
        ] {
            let facts = group(Some(actor), 3);
            let found = [named("b", Some(target))];
            assert_eq!(
                status(decide(&id("a"), &remove_b, Some(&facts), &found)),
                expected,
                "{actor:?} removing {target:?}"
            );
        }
        let facts = group(Some(Role::Owner), 3);
        assert_eq!(
            status(decide(
                &id("a"),
                &remove_b,
                Some(&facts),
                &[named("b", None)]
            )),
            404
        );
        // Leaving: anyone, but the owner only as the last member.
        let leave = MemberChange::Remove(id("a"));
        let me = [named("a", Some(Role::Owner))];
        assert_eq!(status(decide(&id("a"), &leave, Some(&facts), &me)), 422);
        assert_eq!(
            status(decide(
                &id("a"),
                &leave,
                Some(&group(Some(Role::Owner), 1)),
                &me
            )),
            200
        );
        let me = [named("a", Some(Role::Member))];
        let facts = group(Some(Role::Member), 3);
        let left = decide(&id("a"), &leave, Some(&facts), &me)
            .unwrap()
            .unwrap();
        assert_eq!(left.event.kind, ChatEventKind::MemberLeft);
        assert_eq!(left.content, "alice left");
        // Roles: the owner only.
        let promote = MemberChange::SetRole(id("b"), Role::Admin);
        let found = [named("b", Some(Role::Member))];
        assert_eq!(
            status(decide(
                &id("a"),
                &promote,
                Some(&group(Some(Role::Admin), 3)),
                &found
            )),
            403
        );
    }

    #[test]
    fn effects_and_changes_that_alter_nothing() {
        let owner = group(Some(Role::Owner), 3);
        let found = [named("b", Some(Role::Member)), named("c", None)];
        let add = MemberChange::Add(vec![id("b"), id("c"), id("d")]);
        let effect = decide(&id("a"), &add, Some(&owner), &found)
            .unwrap()
            .unwrap();
        assert_eq!(effect.store, Store::Add(vec![id("c"), id("d")]));
        assert_eq!(effect.content, "alice added c-name and d");
        assert_eq!(effect.event.user_ids, vec![id("c"), id("d")]);
        let present = MemberChange::Add(vec![id("b")]);
        assert_eq!(
            decide(&id("a"), &present, Some(&owner), &found).unwrap(),
            None
        );
        // The size limit counts only who joins.
        let full = group(Some(Role::Owner), 255);
        assert!(decide(&id("a"), &add, Some(&full), &found).is_err());
        let one = MemberChange::Add(vec![id("c")]);
        assert!(decide(&id("a"), &one, Some(&full), &found)
            .unwrap()
            .is_some());
        // Ownership handed over: the old owner becomes an admin, one event naming the new owner.
        let hand = MemberChange::SetRole(id("b"), Role::Owner);
        let effect = decide(&id("a"), &hand, Some(&owner), &found)
            .unwrap()
            .unwrap();
        assert_eq!(
            effect.store,
            Store::Roles(vec![(id("b"), Role::Owner), (id("a"), Role::Admin)])
        );
        assert_eq!(
            (effect.event.role, effect.event.user_ids.clone()),
            (Some(Role::Owner), vec![id("b")])
        );
        assert_eq!(effect.content, "alice made b-name the owner");
        let same = MemberChange::SetRole(id("b"), Role::Member);
        assert_eq!(decide(&id("a"), &same, Some(&owner), &found).unwrap(), None);
        let me = [named("a", Some(Role::Owner))];
        let demote_self = MemberChange::SetRole(id("a"), Role::Admin);
        assert_eq!(
            status(decide(&id("a"), &demote_self, Some(&owner), &me)),
            422
        );
        // Renames.
        let same = MemberChange::Rename(Some("Team".into()));
        assert_eq!(decide(&id("a"), &same, Some(&owner), &[]).unwrap(), None);
        let clear = MemberChange::Rename(None);
        let effect = decide(&id("a"), &clear, Some(&owner), &[])
            .unwrap()
            .unwrap();
        assert_eq!(effect.content, "alice removed the chat's title");
        let event = serde_json::to_value(&effect.event).unwrap();
        assert_eq!(
            event,
            serde_json::json!({"type": "chat.renamed", "actorId": "a", "userIds": [],
                               "role": null, "title": null})
        );
    }

    #[test]
    fn lists_names_in_english() {
        assert_eq!(english_list(&["a"]), "a");
        assert_eq!(english_list(&["a", "b"]), "a and b");
        assert_eq!(english_list(&["a", "b", "c"]), "a, b and c");
    }
}

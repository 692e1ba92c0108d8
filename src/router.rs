//! The route table: one line per endpoint, with the method, the path pattern, who may call it, the
//! typed route it becomes and its operation in the OpenAPI document. Everything else is derived from
//! this one list: resolving a request (404 for an unknown path, 405 with `Allow` for a method the path
//! does not serve, 400 for a malformed id in the path), the `Allow` header, CORS preflights, dispatch
//! (`handlers::dispatch`), and the document's paths, methods, parameters and security (`openapi`, in
//! native builds only: the `doc` of a route is not in the wasm).
//!
//! Pure (method name and path in, route out), so every rule here is unit-tested natively.

use crate::domain::ids::{
    ChatId, ErasureId, FileId, KeyId, MessageId, ProjectId, ReportId, UserId,
};
use crate::domain::reactions::{ReactionChange, ReactionKey};
use crate::error::{ApiError, Envelope, Result};

/// An endpoint that needs no caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicRoute {
    Health,
    OpenApi,
    /// A file's bytes: with a signed URL, or a credential (checked by the handler).
    Download(FileId),
}

/// An endpoint only a user (a JWT in `Authorization`) may call: a service key gets a 403.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRoute {
    GetMe,
    PatchMe,
    CreateChat,
    ListChats,
    MarkRead(ChatId),
    CreditTransfer,
    Ledger,
    Unread,
    AddMembers(ChatId),
    RemoveMember(ChatId, UserId),
    SetRole(ChatId, UserId),
    RenameChat(ChatId),
    MySettings(ChatId),
    Presence(ChatId),
    /// `true`: pin; `false`: unpin.
    Pin(MessageId, bool),
    Mentions,
    /// `true`: block; `false`: unblock.
    Block(UserId, bool),
    Blocks,
    Report(MessageId),
    Export,
}

/// An endpoint a user or a service key (`X-API-Key`) may call (API.md "Service access").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerRoute {
    GetChat(ChatId),
    ListMessages(ChatId),
    SendMessage,
    EditMessage(MessageId),
    DeleteMessage(MessageId),
    React(MessageId, ReactionKey, ReactionChange),
    Reactions(MessageId),
    Pins(ChatId),
    /// A message's thread.
    Replies(MessageId),
    Search,
    Upload(ChatId),
    /// The AI-chat session surface.
    SessionMessages(ChatId),
    /// The project-chat surface.
    ProjectMessages(ProjectId, ChatId),
    /// The assistant-chat surface: `GET` lists, `POST` sends.
    AssistantMessages(ChatId),
    AssistantSend(ChatId),
}

/// An endpoint called with the admin key (`X-API-Key: <ADMIN_API_KEY>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRoute {
    GrantCredits,
    CreateKey,
    ListKeys,
    RevokeKey(KeyId),
    UpdateKey(KeyId),
    Deliveries(KeyId),
    Reports,
    UpdateReport(ReportId),
    TakeDown(MessageId),
    EraseUser(UserId),
    Erasure(ErasureId),
}

/// Who may call a route, and the route it becomes once the path's ids are parsed.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    Public(fn(&PathArgs) -> Result<PublicRoute>),
    User(fn(&PathArgs) -> Result<UserRoute>),
    Caller(fn(&PathArgs) -> Result<CallerRoute>),
    /// A user opening the chat's WebSocket: the token may also come as `?access_token=` (browsers
    /// cannot set headers on a WebSocket).
    Socket(fn(&PathArgs) -> Result<ChatId>),
    Admin(fn(&PathArgs) -> Result<AdminRoute>),
}

/// Who may call a route (derived from its `Target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    User,
    UserOrKey,
    Admin,
}

#[derive(Debug, Clone, Copy)]
pub struct RouteDef {
    pub method: &'static str,
    pub pattern: &'static str,
    pub target: Target,
    pub envelope: Envelope,
    /// The route's `operationId` in the OpenAPI document, where `openapi::operations` describes it.
    pub operation: &'static str,
}

impl RouteDef {
    /// Whether this route opens a WebSocket.
    pub fn opens_socket(&self) -> bool {
        matches!(self.target, Target::Socket(_))
    }

    pub fn access(&self) -> Access {
        match self.target {
            Target::Public(_) => Access::Public,
            Target::User(_) | Target::Socket(_) => Access::User,
            Target::Caller(_) => Access::UserOrKey,
            Target::Admin(_) => Access::Admin,
        }
    }
}

const fn route(
    method: &'static str,
    pattern: &'static str,
    target: Target,
    operation: &'static str,
) -> RouteDef {
    RouteDef {
        method,
        pattern,
        target,
        envelope: Envelope::Main,
        operation,
    }
}

/// A route whose errors use another API's envelope.
const fn surface(envelope: Envelope, route: RouteDef) -> RouteDef {
    RouteDef { envelope, ..route }
}

use Target::{Admin, Caller, Public, Socket, User};

/// A file's download: its security is a signed URL or a credential.
pub const FILE_PATTERN: &str = "/api/v1/files/{fileId}";

/// The live socket's route (its refusals are logged as socket events too).
pub const LIVE_PATTERN: &str = "/api/v1/chats/{chatId}/live";

/// Every endpoint. Fixed path segments win over `{id}` segments (`/messages/credit-transfer` is not a
/// message id), whatever the order here.
#[rustfmt::skip]
pub const ROUTES: &[RouteDef] = &[
    route("GET", "/health", Public(|_| Ok(PublicRoute::Health)), "health"),
    route("GET", "/openapi.json", Public(|_| Ok(PublicRoute::OpenApi)), "openapi"),
    route("GET", "/api/v1/users/me", User(|_| Ok(UserRoute::GetMe)), "getMe"),
    route("PATCH", "/api/v1/users/me", User(|_| Ok(UserRoute::PatchMe)), "patchMe"),
    route("GET", "/api/v1/users/me/credits/ledger", User(|_| Ok(UserRoute::Ledger)), "getLedger"),
    route("GET", "/api/v1/users/me/unread", User(|_| Ok(UserRoute::Unread)), "getUnread"),
    route("GET", "/api/v1/users/me/mentions", User(|_| Ok(UserRoute::Mentions)), "listMentions"),
    route("GET", "/api/v1/users/me/blocks", User(|_| Ok(UserRoute::Blocks)), "listBlocks"),
    route("PUT", "/api/v1/users/me/blocks/{userId}", User(|p| Ok(UserRoute::Block(p.user_id()?, true))), "blockUser"),
    route("DELETE", "/api/v1/users/me/blocks/{userId}", User(|p| Ok(UserRoute::Block(p.user_id()?, false))), "unblockUser"),
    route("GET", "/api/v1/users/me/export", User(|_| Ok(UserRoute::Export)), "exportMyData"),
    route("GET", "/api/v1/search", Caller(|_| Ok(CallerRoute::Search)), "search"),
    route("GET", "/api/v1/chats", User(|_| Ok(UserRoute::ListChats)), "listChats"),
    route("POST", "/api/v1/chats", User(|_| Ok(UserRoute::CreateChat)), "createChat"),
    route("GET", "/api/v1/chats/{chatId}", Caller(|p| Ok(CallerRoute::GetChat(p.chat_id()?))), "getChat"),
    route("PATCH", "/api/v1/chats/{chatId}", User(|p| Ok(UserRoute::RenameChat(p.chat_id()?))), "updateChat"),
    route("PATCH", "/api/v1/chats/{chatId}/me", User(|p| Ok(UserRoute::MySettings(p.chat_id()?))), "updateMySettings"),
    route("POST", "/api/v1/chats/{chatId}/members", User(|p| Ok(UserRoute::AddMembers(p.chat_id()?))), "addMembers"),
    route("DELETE", "/api/v1/chats/{chatId}/members/{userId}", User(|p| Ok(UserRoute::RemoveMember(p.chat_id()?, p.user_id()?))), "removeMember"),
    route("PATCH", "/api/v1/chats/{chatId}/members/{userId}", User(|p| Ok(UserRoute::SetRole(p.chat_id()?, p.user_id()?))), "setMemberRole"),
    route("GET", "/api/v1/chats/{chatId}/presence", User(|p| Ok(UserRoute::Presence(p.chat_id()?))), "getPresence"),
    route("GET", "/api/v1/chats/{chatId}/pins", Caller(|p| Ok(CallerRoute::Pins(p.chat_id()?))), "listPins"),
    route("POST", "/api/v1/chats/{chatId}/files", Caller(|p| Ok(CallerRoute::Upload(p.chat_id()?))), "uploadFile"),
    route("GET", FILE_PATTERN, Public(|p| Ok(PublicRoute::Download(p.file_id()?))), "downloadFile"),
    route("GET", LIVE_PATTERN, Socket(|p| p.chat_id()), "openLive"),
    route("POST", "/api/v1/messages", Caller(|_| Ok(CallerRoute::SendMessage)), "sendMessage"),
    route("GET", "/api/v1/messages/chat/{chatId}", Caller(|p| Ok(CallerRoute::ListMessages(p.chat_id()?))), "listMessages"),
    route("POST", "/api/v1/messages/chat/{chatId}/read", User(|p| Ok(UserRoute::MarkRead(p.chat_id()?))), "markRead"),
    route("POST", "/api/v1/messages/credit-transfer", User(|_| Ok(UserRoute::CreditTransfer)), "creditTransfer"),
    route("PATCH", "/api/v1/messages/{messageId}", Caller(|p| Ok(CallerRoute::EditMessage(p.message_id()?))), "editMessage"),
    route("DELETE", "/api/v1/messages/{messageId}", Caller(|p| Ok(CallerRoute::DeleteMessage(p.message_id()?))), "deleteMessage"),
    route("PUT", "/api/v1/messages/{messageId}/reactions/{key}", Caller(|p| Ok(CallerRoute::React(p.message_id()?, p.reaction_key()?, ReactionChange::Add))), "addReaction"),
    route("DELETE", "/api/v1/messages/{messageId}/reactions/{key}", Caller(|p| Ok(CallerRoute::React(p.message_id()?, p.reaction_key()?, ReactionChange::Remove))), "removeReaction"),
    route("GET", "/api/v1/messages/{messageId}/reactions", Caller(|p| Ok(CallerRoute::Reactions(p.message_id()?))), "listReactions"),
    route("GET", "/api/v1/messages/{messageId}/replies", Caller(|p| Ok(CallerRoute::Replies(p.message_id()?))), "listReplies"),
    route("PUT", "/api/v1/messages/{messageId}/pin", User(|p| Ok(UserRoute::Pin(p.message_id()?, true))), "pinMessage"),
    route("DELETE", "/api/v1/messages/{messageId}/pin", User(|p| Ok(UserRoute::Pin(p.message_id()?, false))), "unpinMessage"),
    route("POST", "/api/v1/messages/{messageId}/reports", User(|p| Ok(UserRoute::Report(p.message_id()?))), "reportMessage"),
    route("POST", "/api/v1/admin/credits", Admin(|_| Ok(AdminRoute::GrantCredits)), "grantCredits"),
    route("POST", "/api/v1/admin/api-keys", Admin(|_| Ok(AdminRoute::CreateKey)), "createApiKey"),
    route("GET", "/api/v1/admin/api-keys", Admin(|_| Ok(AdminRoute::ListKeys)), "listApiKeys"),
    route("DELETE", "/api/v1/admin/api-keys/{keyId}", Admin(|p| Ok(AdminRoute::RevokeKey(p.key_id()?))), "revokeApiKey"),
    route("PATCH", "/api/v1/admin/api-keys/{keyId}", Admin(|p| Ok(AdminRoute::UpdateKey(p.key_id()?))), "updateApiKey"),
    route("GET", "/api/v1/admin/api-keys/{keyId}/deliveries", Admin(|p| Ok(AdminRoute::Deliveries(p.key_id()?))), "listWebhookDeliveries"),
    route("GET", "/api/v1/admin/reports", Admin(|_| Ok(AdminRoute::Reports)), "listReports"),
    route("PATCH", "/api/v1/admin/reports/{reportId}", Admin(|p| Ok(AdminRoute::UpdateReport(p.report_id()?))), "updateReport"),
    route("DELETE", "/api/v1/admin/messages/{messageId}", Admin(|p| Ok(AdminRoute::TakeDown(p.message_id()?))), "moderatorDeleteMessage"),
    route("DELETE", "/api/v1/admin/users/{userId}", Admin(|p| Ok(AdminRoute::EraseUser(p.user_id()?))), "eraseUser"),
    route("GET", "/api/v1/admin/erasures/{erasureId}", Admin(|p| Ok(AdminRoute::Erasure(p.erasure_id()?))), "getErasure"),
    surface(Envelope::Session, route("GET", "/api/v1/chat/{chatId}/messages",
        Caller(|p| Ok(CallerRoute::SessionMessages(p.chat_id()?))), "sessionMessages")),
    surface(Envelope::Project, route("GET", "/api/chat/projects/{projectId}/chats/{chatId}/messages",
        Caller(|p| Ok(CallerRoute::ProjectMessages(p.project_id()?, p.chat_id()?))), "projectMessages")),
    route("GET", "/api/v1/chats/{chatId}/messages", Caller(|p| Ok(CallerRoute::AssistantMessages(p.chat_id()?))), "assistantMessages"),
    route("POST", "/api/v1/chats/{chatId}/messages", Caller(|p| Ok(CallerRoute::AssistantSend(p.chat_id()?))), "assistantSend"),
];

/// The path segments that a pattern's `{name}` segments matched.
#[derive(Debug)]
pub struct PathArgs<'a> {
    pattern: &'static str,
    segments: Vec<&'a str>,
}

impl PathArgs<'_> {
    fn get(&self, name: &str) -> Result<&str> {
        let wanted = format!("{{{name}}}");
        pattern_segments(self.pattern)
            .zip(&self.segments)
            .find(|(p, _)| *p == wanted)
            .map(|(_, s)| *s)
            .ok_or_else(|| ApiError::internal(format!("{} has no {wanted}", self.pattern)))
    }

    pub fn chat_id(&self) -> Result<ChatId> {
        ChatId::parse(self.get("chatId")?, "chatId")
    }

    pub fn message_id(&self) -> Result<MessageId> {
        MessageId::parse(self.get("messageId")?, "messageId")
    }

    /// A user id in the path, percent-decoded (`:` and `@` may come encoded).
    pub fn user_id(&self) -> Result<UserId> {
        let raw = self.get("userId")?;
        let decoded = percent_decoded(raw)
            .ok_or_else(|| ApiError::bad_request("userId is not valid percent-encoding"))?;
        UserId::parse(&decoded, "userId")
    }

    /// A reaction key in the path, percent-decoded (emoji always come encoded).
    pub fn reaction_key(&self) -> Result<ReactionKey> {
        let decoded = percent_decoded(self.get("key")?).ok_or_else(|| {
            ApiError::bad_request("the reaction key is not valid percent-encoding")
        })?;
        ReactionKey::parse(&decoded)
    }

    pub fn file_id(&self) -> Result<FileId> {
        FileId::parse(self.get("fileId")?, "fileId")
    }

    pub fn erasure_id(&self) -> Result<ErasureId> {
        ErasureId::parse(self.get("erasureId")?, "erasureId")
    }

    pub fn report_id(&self) -> Result<ReportId> {
        ReportId::parse(self.get("reportId")?, "reportId")
    }

    pub fn key_id(&self) -> Result<KeyId> {
        KeyId::parse(self.get("keyId")?, "keyId")
    }

    pub fn project_id(&self) -> Result<ProjectId> {
        ProjectId::parse(self.get("projectId")?, "projectId")
    }
}

/// A path segment with its `%XX` escapes decoded; `None` for a bad escape or bytes that are not UTF-8.
fn percent_decoded(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn pattern_segments(pattern: &str) -> impl Iterator<Item = &str> {
    pattern.split('/').skip(1)
}

fn path_segments(path: &str) -> Vec<&str> {
    path.trim_end_matches('/').split('/').skip(1).collect()
}

/// How well a pattern matches a path: `None` if it does not, else the number of fixed segments (a
/// fixed segment beats a `{name}` segment).
fn specificity(pattern: &str, segments: &[&str]) -> Option<usize> {
    let parts: Vec<&str> = pattern_segments(pattern).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut fixed = 0;
    for (part, segment) in parts.iter().zip(segments) {
        if part.starts_with('{') {
            if segment.is_empty() {
                return None;
            }
        } else if part == segment {
            fixed += 1;
        } else {
            return None;
        }
    }
    Some(fixed)
}

/// The routes of the path pattern that best matches `path` (one per method), or none.
fn routes_of(path: &str) -> (Vec<&'static RouteDef>, Vec<&str>) {
    let segments = path_segments(path);
    let best = ROUTES
        .iter()
        .filter_map(|r| specificity(r.pattern, &segments))
        .max();
    let routes = ROUTES
        .iter()
        .filter(|r| best.is_some() && specificity(r.pattern, &segments) == best)
        .collect();
    (routes, segments)
}

/// The pattern of the routes that best match `path`, whatever their methods (for logs).
pub fn pattern_of(path: &str) -> Option<&'static str> {
    routes_of(path).0.first().map(|r| r.pattern)
}

/// The segment of `path` that `pattern`'s `{name}` matched, if it has one.
pub fn path_arg<'a>(pattern: &'static str, path: &'a str, name: &str) -> Option<&'a str> {
    let wanted = format!("{{{name}}}");
    pattern_segments(pattern)
        .zip(path_segments(path))
        .find(|(p, _)| *p == wanted)
        .map(|(_, segment)| segment)
}

/// A request matched to its route, with the path's segments for its `{name}` arguments.
pub struct Resolved<'a> {
    pub route: &'static RouteDef,
    pub args: PathArgs<'a>,
}

/// `method` is the request's method name exactly as sent (`QUERY` stays `QUERY`).
pub fn resolve<'a>(method: &str, path: &'a str) -> Result<Resolved<'a>> {
    let (routes, segments) = routes_of(path);
    let Some(first) = routes.first() else {
        return Err(ApiError::not_found("route"));
    };
    let route = routes
        .iter()
        .find(|r| r.method == method)
        .ok_or_else(|| ApiError::method_not_allowed(method, first.pattern))?;
    Ok(Resolved {
        route,
        args: PathArgs {
            pattern: route.pattern,
            segments,
        },
    })
}

/// The methods a path serves, for the `Allow` header of 405 answers and `OPTIONS`; `None` for an
/// unknown path.
pub fn allowed_methods(path: &str) -> Option<Vec<&'static str>> {
    let (routes, _) = routes_of(path);
    (!routes.is_empty()).then(|| routes.iter().map(|r| r.method).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "64d15f9e2e6c8f4d5a654321";

    fn user_route(method: &str, path: &str) -> Result<UserRoute> {
        let resolved = resolve(method, path)?;
        match resolved.route.target {
            Target::User(bind) => bind(&resolved.args),
            _ => panic!("{method} {path} is not a user route"),
        }
    }

    #[test]
    fn routes_resolve_to_typed_routes() {
        let chat = ChatId::parse(ID, "chatId").unwrap();
        assert_eq!(resolve("GET", "/health").unwrap().route.pattern, "/health");
        let session_path = format!("/api/v1/chat/{ID}/messages");
        let session = resolve("GET", &session_path).unwrap();
        assert_eq!(session.route.envelope, Envelope::Session);
        assert_eq!(
            user_route("POST", "/api/v1/chats/").unwrap(),
            UserRoute::CreateChat
        );
        let list_path = format!("/api/v1/messages/chat/{ID}");
        let list = resolve("GET", &list_path).unwrap();
        match list.route.target {
            Target::Caller(bind) => assert_eq!(
                bind(&list.args).unwrap(),
                CallerRoute::ListMessages(chat.clone())
            ),
            _ => panic!("the message list is for users and keys"),
        }
        assert_eq!(
            user_route("POST", &format!("/api/v1/messages/chat/{ID}/read")).unwrap(),
            UserRoute::MarkRead(chat)
        );
        // A fixed segment beats an id segment, whatever the table order.
        assert_eq!(
            user_route("POST", "/api/v1/messages/credit-transfer").unwrap(),
            UserRoute::CreditTransfer
        );
        assert_eq!(
            resolve("PATCH", "/api/v1/messages/credit-transfer")
                .err()
                .map(|e| e.status),
            Some(405)
        );
    }

    #[test]
    fn unknown_paths_wrong_methods_and_bad_ids() {
        let status = |method: &str, path: &str| resolve(method, path).err().map(|e| e.status);
        assert_eq!(status("GET", "/api/v1/nope"), Some(404));
        assert_eq!(status("GET", "/"), Some(404));
        assert_eq!(status("GET", "/api/v1/chats//live"), Some(404));
        assert_eq!(status("DELETE", "/api/v1/chats"), Some(405));
        assert_eq!(status("PUT", &format!("/api/v1/chats/{ID}")), Some(405));
        // Unknown method names are never served as another method.
        for method in ["QUERY", "PROPFIND", "FOO", "get", "HEAD", "OPTIONS"] {
            assert_eq!(status(method, "/api/v1/chats"), Some(405), "{method}");
        }
        assert_eq!(
            user_route("POST", "/api/v1/messages/chat/not-an-id/read")
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            allowed_methods(&format!("/api/v1/messages/{ID}")),
            Some(vec!["PATCH", "DELETE"])
        );
        assert_eq!(allowed_methods("/api/v1/nope"), None);
    }

    #[test]
    fn user_ids_in_the_path_are_percent_decoded() {
        assert_eq!(percent_decoded("%3An350%3Azp").as_deref(), Some(":n350:zp"));
        assert_eq!(percent_decoded("a%40b.c").as_deref(), Some("a@b.c"));
        for bad in ["%", "%4", "%zz", "%ff"] {
            assert_eq!(percent_decoded(bad), None, "{bad}");
        }
    }

    /// Every line of the table resolves to itself and binds its path arguments: a pattern whose
    /// `{name}` its route does not read, or a route reading a name its pattern lacks, fails here.
    #[test]
    fn every_route_in_the_table_resolves_and_binds() {
        for def in ROUTES {
            let path = def
                .pattern
                .replace("{chatId}", ID)
                .replace("{messageId}", ID)
                .replace("{keyId}", ID)
                .replace("{reportId}", ID)
                .replace("{erasureId}", ID)
                .replace("{fileId}", ID)
                .replace("{projectId}", "proj_1")
                .replace("{userId}", "user-1");
            let resolved = resolve(def.method, &path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(
                (resolved.route.method, resolved.route.pattern),
                (def.method, def.pattern)
            );
            let bound = match def.target {
                Target::Public(bind) => bind(&resolved.args).map(|_| ()),
                Target::User(bind) => bind(&resolved.args).map(|_| ()),
                Target::Caller(bind) => bind(&resolved.args).map(|_| ()),
                Target::Socket(bind) => bind(&resolved.args).map(|_| ()),
                Target::Admin(bind) => bind(&resolved.args).map(|_| ()),
            };
            assert!(bound.is_ok(), "{} {}: {bound:?}", def.method, def.pattern);
            assert!(allowed_methods(&path).is_some_and(|m| m.contains(&def.method)));
        }
    }
}

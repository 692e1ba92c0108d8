//! Search (API.md "Search"): the query parsed at the edge, its translation into the full-text index's
//! own language (where every character of `q` stays text), the opaque cursor, and the highlight.
//!
//! `q` becomes FTS5 strings only: each word `"word"`, each quoted part `"several words"` (a phrase), a
//! word ending in `*` after at least 2 characters `"inv" *` (a prefix). Inside an FTS5 string every
//! character is literal but `"`, which is doubled, so no input can reach FTS5's operators (`AND`, `OR`,
//! `NOT`, `NEAR`, column filters, `^`, `+`): they are words like any other. FTS5 then folds case and
//! accents as it indexed (`unicode61 remove_diacritics 2`).

use schemars::JsonSchema;
use serde::Deserialize;

use super::ids::{ChatId, ProjectId};
use super::input::MAX_SAFE_INTEGER;
use super::wire::Checks;
use crate::error::{ApiError, Result};

pub const MAX_QUERY_CHARS: usize = 200;
pub const MAX_LIMIT: i64 = 50;
pub const DEFAULT_LIMIT: i64 = 20;
/// The most characters of text a highlight holds (its `<mark>` tags not counted).
pub const MAX_HIGHLIGHT_CHARS: usize = 200;
/// What the index's snippets mark matches with (the index holds these characters as spaces).
pub const MARK_START: char = '\u{2}';
pub const MARK_END: char = '\u{3}';

/// `GET /api/v1/search`'s query.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchParams {
    /// 1 to 200 characters: words (all must match, any order), "quoted words" (a phrase), and a
    /// trailing * after at least 2 characters (a prefix: inv*). Every other character is text. Case
    /// and accents are ignored.
    #[schemars(with = "String", length(min = 1, max = MAX_QUERY_CHARS))]
    pub q: Option<String>,
    /// Only this chat.
    #[schemars(with = "Option<ChatId>")]
    pub chat_id: Option<String>,
    /// Only this project's chats.
    #[schemars(with = "Option<ProjectId>")]
    pub project_id: Option<String>,
    /// Default 20.
    #[schemars(with = "Option<u64>", range(min = 1, max = MAX_LIMIT))]
    pub limit: Option<String>,
    /// relevance (default: best first, newest first among equals) or newest (time only).
    #[schemars(with = "Option<SearchSort>")]
    pub sort: Option<String>,
    /// The nextCursor of an earlier page of the same search (opaque).
    #[schemars(with = "Option<String>", pattern("^(?:[0-9a-fA-F]{2}){1,256}$"))]
    pub cursor: Option<String>,
}

/// The order of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchSort {
    Relevance,
    Newest,
}

/// Where a page of results ends, in the order of its sort: (relevance score, `createdAt`, chat,
/// sequence number), the score only for `relevance`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPosition {
    pub score: i64,
    pub created_at: i64,
    pub chat_id: ChatId,
    pub seq: i64,
}

impl SearchPosition {
    /// Opaque: hex of "q1.<sort>.<score>.<createdAt>.<chat>.<seq>".
    pub fn encode(&self, sort: SearchSort) -> String {
        let sort = match sort {
            SearchSort::Relevance => "r",
            SearchSort::Newest => "n",
        };
        hex::encode(format!(
            "q1.{sort}.{}.{}.{}.{}",
            self.score,
            self.created_at,
            self.chat_id.as_str(),
            self.seq
        ))
    }

    fn decode(raw: &str, sort: SearchSort) -> Option<Self> {
        if raw.is_empty() || raw.len() > 512 {
            return None;
        }
        let text = String::from_utf8(hex::decode(raw).ok()?).ok()?;
        let fields: Vec<&str> = text.split('.').collect();
        let ["q1", kind, score, created_at, chat, seq] = fields.as_slice() else {
            return None;
        };
        let expected = match sort {
            SearchSort::Relevance => "r",
            SearchSort::Newest => "n",
        };
        if *kind != expected {
            return None;
        }
        let number = |s: &str, min: i64| {
            s.parse::<i64>()
                .ok()
                .filter(|n| (min..=MAX_SAFE_INTEGER).contains(n))
        };
        Some(SearchPosition {
            score: number(score, -MAX_SAFE_INTEGER)?,
            created_at: number(created_at, 0)?,
            chat_id: ChatId::parse(chat, "cursor").ok()?,
            seq: number(seq, 1)?,
        })
    }
}

/// A search, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// `q` in FTS5's language (`None`: no term can match, such as a `q` of spaces only).
    pub fts: Option<String>,
    pub chat: Option<ChatId>,
    pub project: Option<ProjectId>,
    pub limit: i64,
    pub sort: SearchSort,
    /// Results strictly after this position (none: from the first).
    pub after: Option<SearchPosition>,
}

impl TryFrom<SearchParams> for SearchQuery {
    type Error = ApiError;

    fn try_from(params: SearchParams) -> Result<Self> {
        let mut check = Checks::new();
        let q = match params.q.as_deref() {
            None => {
                check.error("q is required: 1 to 200 characters");
                None
            }
            Some(q) if q.is_empty() || q.chars().count() > MAX_QUERY_CHARS => {
                check.error("q must be 1 to 200 characters");
                None
            }
            Some(q) => Some(q),
        };
        let chat = params
            .chat_id
            .as_deref()
            .and_then(|id| check.check(ChatId::parse(id, "chatId")));
        let project = params
            .project_id
            .as_deref()
            .and_then(|id| check.check(ProjectId::parse(id, "projectId")));
        let limit = check.query_integer(
            "limit",
            params.limit.as_deref(),
            1,
            MAX_LIMIT,
            Some(DEFAULT_LIMIT),
        );
        let sort = match params.sort.as_deref() {
            None | Some("relevance") => SearchSort::Relevance,
            Some("newest") => SearchSort::Newest,
            Some(_) => {
                check.error("sort must be relevance or newest");
                SearchSort::Relevance
            }
        };
        let after = check.cursor(
            params.cursor.as_deref(),
            "this search (with the same sort)",
            |raw| SearchPosition::decode(raw, sort),
        );
        check.finish()?;
        Ok(SearchQuery {
            fts: q.and_then(fts_query),
            chat,
            project,
            limit: limit.unwrap_or(DEFAULT_LIMIT),
            sort,
            after,
        })
    }
}

/// `q` as an FTS5 query of strings only (see the module's doc); `None` when it holds no term.
pub fn fts_query(q: &str) -> Option<String> {
    // Control characters are never text worth matching; as spaces they cannot reach the engine.
    let q: String = q
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut terms: Vec<String> = Vec::new();
    let mut rest = q.as_str();
    while !rest.is_empty() {
        let (outside, phrase, after) = match rest.split_once('"') {
            Some((outside, after)) => match after.split_once('"') {
                Some((phrase, after)) => (outside, Some(phrase), after),
                // An unbalanced quote: the rest is one phrase.
                None => (outside, Some(after), ""),
            },
            None => (rest, None, ""),
        };
        for word in outside.split_whitespace() {
            terms.push(word_term(word));
        }
        if let Some(phrase) = phrase.filter(|p| !p.trim().is_empty()) {
            terms.push(string(phrase.trim()));
        }
        rest = after;
    }
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// One word: a prefix when it ends in `*` after at least 2 characters, else the word as text.
fn word_term(word: &str) -> String {
    let stem = word.trim_end_matches('*');
    if stem.len() < word.len() && stem.chars().count() >= 2 {
        format!("{} *", string(stem))
    } else {
        string(word)
    }
}

/// An FTS5 string: every character literal, `"` doubled.
fn string(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// A snippet of the index (matches between `MARK_START` and `MARK_END`) as the highlight API.md
/// shows: at most 200 characters of text around the first match, matches in `<mark>…</mark>`,
/// everything else HTML-escaped.
pub fn highlight(snippet: &str) -> String {
    // (character, marked) pairs of the text.
    let mut chars: Vec<(char, bool)> = Vec::with_capacity(snippet.len());
    let mut marked = false;
    for c in snippet.chars() {
        match c {
            MARK_START => marked = true,
            MARK_END => marked = false,
            c => chars.push((c, marked)),
        }
    }
    let (start, end) = if chars.len() <= MAX_HIGHLIGHT_CHARS {
        (0, chars.len())
    } else {
        // Keep the first match in view, with some text before it.
        let first = chars.iter().position(|(_, m)| *m).unwrap_or(0);
        let start = first
            .saturating_sub(40)
            .min(chars.len() - MAX_HIGHLIGHT_CHARS);
        (start, start + MAX_HIGHLIGHT_CHARS)
    };
    let mut out = String::with_capacity((end - start) * 2);
    let mut open = false;
    for (i, (c, m)) in chars[start..end].iter().enumerate() {
        let c = match (i, *c) {
            // A cut is shown as an ellipsis (it counts as text).
            (0, _) if start > 0 => '…',
            (i, _) if i + 1 == end - start && end < chars.len() => '…',
            (_, c) => c,
        };
        if *m != open {
            out.push_str(if *m { "<mark>" } else { "</mark>" });
            open = *m;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_becomes_fts5_strings_only() {
        assert_eq!(
            fts_query("invoice march").as_deref(),
            Some(r#""invoice" "march""#)
        );
        assert_eq!(
            fts_query(r#"say "the march invoice" now"#).as_deref(),
            Some(r#""say" "the march invoice" "now""#)
        );
        assert_eq!(fts_query("inv*").as_deref(), Some(r#""inv" *"#));
        assert_eq!(fts_query("i*").as_deref(), Some(r#""i*""#));
        assert_eq!(fts_query("*").as_deref(), Some(r#""*""#));
        // Operators, column filters and quotes are text.
        assert_eq!(
            fts_query(r#"a OR b NOT c NEAR(d e) body:x ^y +z"#).as_deref(),
            Some(r#""a" "OR" "b" "NOT" "c" "NEAR(d" "e)" "body:x" "^y" "+z""#)
        );
        assert_eq!(
            fts_query(r#"say "unbalanced"#).as_deref(),
            Some(r#""say" "unbalanced""#)
        );
        assert_eq!(fts_query(r#"a""b"#).as_deref(), Some(r#""a" "b""#));
        assert_eq!(fts_query("x\"\"\"y").as_deref(), Some(r#""x" "y""#));
        assert_eq!(fts_query("   "), None);
        assert_eq!(fts_query("\"  \""), None);
        assert_eq!(fts_query("a\u{0}b").as_deref(), Some(r#""a" "b""#));
        // Every output is strings: outside them only spaces and the prefix star.
        for q in [
            "\"\"\"",
            "(((",
            "a\"b\"c\"",
            "*\"*",
            "😀 שלום",
            &"!?".repeat(100),
        ] {
            let fts = fts_query(q).unwrap_or_default();
            let mut inside = false;
            let mut prev = ' ';
            for c in fts.chars() {
                if c == '"' {
                    inside = !inside;
                } else if !inside {
                    assert!(c == ' ' || (c == '*' && prev == ' '), "{q}: {fts}");
                }
                prev = c;
            }
            assert!(!inside, "{q}: {fts}");
        }
    }

    #[test]
    fn highlights_escape_everything_but_their_marks_and_keep_200_characters() {
        assert_eq!(
            highlight("the \u{2}invoice\u{3} for <b>March</b> & 'you'"),
            "the <mark>invoice</mark> for &lt;b&gt;March&lt;/b&gt; &amp; &#39;you&#39;"
        );
        let long = format!("{}\u{2}needle\u{3}{}", "a".repeat(300), "b".repeat(300));
        let h = highlight(&long);
        let text: String = h.replace("<mark>", "").replace("</mark>", "");
        assert_eq!(text.chars().count(), MAX_HIGHLIGHT_CHARS);
        assert!(h.contains("<mark>needle</mark>"), "{h}");
        assert!(text.starts_with('…') && text.ends_with('…'));
        // A mark left open by a cut is closed.
        let cut = format!("\u{2}{}\u{3}", "z".repeat(300));
        assert!(highlight(&cut).ends_with("</mark>"));
    }

    #[test]
    fn cursors_belong_to_their_sort_and_bad_params_are_listed() {
        let position = SearchPosition {
            score: -12,
            created_at: 1_700_000_000_000,
            chat_id: ChatId::parse("64d15f9e2e6c8f4d5a654321", "x").unwrap(),
            seq: 9,
        };
        let raw = position.encode(SearchSort::Relevance);
        assert_eq!(
            SearchPosition::decode(&raw, SearchSort::Relevance),
            Some(position.clone())
        );
        assert_eq!(SearchPosition::decode(&raw, SearchSort::Newest), None);
        for bad in [
            "",
            "zz",
            &hex::encode("q1.r.1.2.nope.3"),
            &hex::encode("q1.r.x.2.3.4"),
        ] {
            assert_eq!(
                SearchPosition::decode(bad, SearchSort::Relevance),
                None,
                "{bad}"
            );
        }
        let params = SearchParams {
            q: Some("x".repeat(201)),
            chat_id: Some("nope".into()),
            limit: Some("51".into()),
            sort: Some("best".into()),
            ..Default::default()
        };
        assert_eq!(SearchQuery::try_from(params).unwrap_err().errors.len(), 4);
        assert!(SearchQuery::try_from(SearchParams::default()).is_err());
    }
}

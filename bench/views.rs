//! 50 messages serialized alone, in one run (`cargo bench --bench views`): the `#[derive(Serialize)]`
//! views edge-chat uses (`views::Message`) against the hand-written `Serialize` impl of a message it
//! used before (kept here, as it was, for the comparison; both format timestamps with the same
//! `format_ms`), and the whole page (`views::MessageList`). Figures and the decision they led to:
//! bench/README.md.

use std::hint::black_box;
use std::time::Instant;

use edge_chat::domain::message::{MessageKind, SenderRole};
use edge_chat::domain::pagination::{PageInfo, PageRequest};
use edge_chat::domain::time::format_ms;
use edge_chat::domain::user::Availability;
use edge_chat::store::rows::{MessageRow, ParticipantRow};
use edge_chat::views;
use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::value::RawValue;

fn rows() -> (Vec<MessageRow>, Vec<ParticipantRow>) {
    let participants = ["alice", "bob"]
        .iter()
        .map(|u| ParticipantRow {
            user_id: u.to_string(),
            last_read_seq: 99_990,
            joined_at: 1_700_000_000_000,
            username: Some(u.to_string()),
            photo_id: None,
            photo_url: None,
            photo_type: None,
            availability: Some(Availability::Available),
            first_name: None,
            role: None,
            muted: 0,
            archived: 0,
            unread_mentions: 0,
        })
        .collect();
    let messages = (99_951..=100_000)
        .map(|seq| MessageRow {
            id: format!("6553f100{seq:016x}"),
            chat_id: "00000000000000000000b16c".into(),
            seq,
            sender_id: if seq % 2 == 0 { "alice" } else { "bob" }.into(),
            sender_role: SenderRole::User,
            kind: MessageKind::Text,
            content: Some(format!("seeded message number {seq}")),
            media: None,
            metadata: (seq % 5 == 0).then(|| r#"{"k":[1,2],"s":"x"}"#.to_string()),
            transfer_amount: None,
            transfer_recipient: None,
            client_message_id: None,
            request_hash: None,
            edited_at: None,
            deleted_at: None,
            created_at: 1_700_000_000_000 + seq,
            updated_at: 1_700_000_000_000 + seq,
            chat_event: None,
            parent_id: None,
            reply_count: 0,
            last_reply_at: None,
            mentions: None,
            reaction_counts: None,
            pinned_at: None,
            pinned_by: None,
            deleted_by: None,
            my_reactions: None,
        })
        .collect();
    (messages, participants)
}

/// The former hand-written message serializer (views.rs before the typed views).
struct HandMessage<'a> {
    row: &'a MessageRow,
    read_by: Vec<&'a str>,
}

fn raw_json(text: &Option<String>) -> Option<&RawValue> {
    text.as_deref()
        .and_then(|t| serde_json::from_str::<&RawValue>(t).ok())
}

impl Serialize for HandMessage<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let row = self.row;
        let deleted = row.deleted_at.is_some();
        let mut st = s.serialize_struct("Message", 25)?;
        st.serialize_field("_id", &row.id)?;
        st.serialize_field("chatId", &row.chat_id)?;
        st.serialize_field("senderId", &row.sender_id)?;
        st.serialize_field("senderRole", &row.sender_role)?;
        st.serialize_field("type", &row.kind)?;
        st.serialize_field(
            "content",
            &if deleted {
                None
            } else {
                row.content.as_deref()
            },
        )?;
        st.serialize_field("media", &if deleted { None } else { raw_json(&row.media) })?;
        st.serialize_field("creditTransfer", &None::<()>)?;
        st.serialize_field(
            "metadata",
            &if deleted {
                None
            } else {
                raw_json(&row.metadata)
            },
        )?;
        st.serialize_field("readBy", &self.read_by)?;
        st.serialize_field("sequenceNumber", &row.seq)?;
        st.serialize_field("clientMessageId", &row.client_message_id)?;
        st.serialize_field("editedAt", &row.edited_at.map(format_ms))?;
        st.serialize_field("deletedAt", &row.deleted_at.map(format_ms))?;
        st.serialize_field("createdAt", &format_ms(row.created_at))?;
        st.serialize_field("updatedAt", &format_ms(row.updated_at))?;
        // The interaction fields every Message has carried since issues 22 and 23 (these rows have
        // none), so that both sides still write the same JSON.
        st.serialize_field("chatEvent", &None::<()>)?;
        st.serialize_field("parentId", &row.parent_id)?;
        st.serialize_field("replyCount", &row.reply_count)?;
        st.serialize_field("lastReplyAt", &row.last_reply_at.map(format_ms))?;
        st.serialize_field("mentions", &[(); 0])?;
        st.serialize_field("reactionCounts", &serde_json::Map::new())?;
        st.serialize_field("myReactions", &[(); 0])?;
        st.serialize_field("pinnedAt", &row.pinned_at.map(format_ms))?;
        st.serialize_field("pinnedBy", &row.pinned_by)?;
        st.serialize_field("deletedBy", &deleted.then_some("sender"))?;
        st.end()
    }
}

fn hand_page(messages: &[MessageRow], participants: &[ParticipantRow]) -> String {
    let list: Vec<HandMessage<'_>> = messages
        .iter()
        .map(|row| HandMessage {
            row,
            read_by: views::read_by(row.seq, &row.sender_id, views::marks(participants)),
        })
        .collect();
    serde_json::to_string(&list).unwrap_or_default()
}

fn derived_page(messages: &[MessageRow], participants: &[ParticipantRow]) -> String {
    serde_json::to_string(&views::Message::all(messages, participants)).unwrap_or_default()
}

fn derived_list(messages: &[MessageRow], participants: &[ParticipantRow]) -> String {
    serde_json::to_string(&views::MessageList {
        messages: views::Message::all(messages, participants),
        participants: views::Participant::all(participants),
        info: PageInfo::new(PageRequest { page: 1, limit: 50 }, 100_000),
        as_of_sequence: 100_000,
    })
    .unwrap_or_default()
}

fn run(name: &str, f: &dyn Fn() -> String) -> f64 {
    const N: u32 = 20_000;
    let mut rounds: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..N {
                black_box(f());
            }
            started.elapsed().as_nanos() as f64 / f64::from(N) / 1000.0
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    println!("{name:<48} {:>7.1} us per page of 50", rounds[2]);
    rounds[2]
}

fn main() {
    let (messages, participants) = rows();
    // The same JSON, byte for byte.
    assert_eq!(
        derived_page(&messages, &participants),
        hand_page(&messages, &participants)
    );
    let list: serde_json::Value =
        serde_json::from_str(&derived_list(&messages, &participants)).unwrap();
    assert_eq!(list["messages"].as_array().map(Vec::len), Some(50));
    // `cargo test --all-targets` runs this file too, without `--bench`: the checks above suffice there.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let hand = run("50 messages, hand-written Serialize (before)", &|| {
        hand_page(&messages, &participants)
    });
    let derived = run("50 messages, derive(Serialize) views (now)", &|| {
        derived_page(&messages, &participants)
    });
    run("whole MessageList, derive(Serialize) (now)", &|| {
        derived_list(&messages, &participants)
    });
    println!("ratio: derived / hand-written = {:.2}", derived / hand);
}

//! The chat room's line of writes waiting for group commit.
//!
//! Writes join the line in arrival order. One of them at a time holds the commit turn: it takes the
//! oldest writes (its own among them), commits them as one group, answers each one directly, and hands
//! the turn to the write now at the front. So each invocation commits one group, every answer wakes its
//! own waiter at once, and no waiter queues behind another just to pick up its answer.
//!
//! A waiter that goes away (its request cancelled) leaves its write in line, to be committed with the
//! others; if it held the turn, the writes it was committing are answered with the interrupted reply
//! (their outcome is unknown to them) and the turn passes on.
//!
//! Everything here runs on the object's single thread: `Cell`/`RefCell`, no locks.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::task::{Poll, Waker};

use futures_util::future::poll_fn;

/// What a waiting write is told next.
pub enum Step<R> {
    /// Its answer.
    Answered(R),
    /// It holds the commit turn: commit a group (`Place::take_group`), answer it, and ask again.
    Commit,
}

struct Slot<R> {
    answer: Option<R>,
    /// The turn was handed to this write and it has not taken it yet.
    handed: bool,
    waker: Option<Waker>,
}

pub struct Line<T, R> {
    queue: RefCell<VecDeque<(u64, T)>>,
    slots: RefCell<HashMap<u64, Slot<R>>>,
    next_ticket: Cell<u64>,
    /// Whether some write holds (or has been handed) the turn.
    taken: Cell<bool>,
    /// The tickets of the group being committed.
    in_flight: RefCell<Vec<u64>>,
    interrupted: fn() -> R,
}

/// A write's place in line; dropping it gives up the turn if it held it.
pub struct Place<'a, T, R> {
    line: &'a Line<T, R>,
    ticket: u64,
    turn: bool,
}

impl<T, R> Line<T, R> {
    /// `interrupted`: the answer of a write whose group's committer went away mid-commit.
    pub fn new(interrupted: fn() -> R) -> Self {
        Line {
            queue: RefCell::new(VecDeque::new()),
            slots: RefCell::new(HashMap::new()),
            next_ticket: Cell::new(0),
            taken: Cell::new(false),
            in_flight: RefCell::new(Vec::new()),
            interrupted,
        }
    }

    /// Joins the line; the first write to find the turn free takes it.
    pub fn join(&self, item: T) -> Place<'_, T, R> {
        let ticket = self.next_ticket.get();
        self.next_ticket.set(ticket + 1);
        self.queue.borrow_mut().push_back((ticket, item));
        self.slots.borrow_mut().insert(
            ticket,
            Slot {
                answer: None,
                handed: false,
                waker: None,
            },
        );
        let turn = !self.taken.replace(true);
        Place {
            line: self,
            ticket,
            turn,
        }
    }

    /// Answers a committed write (a write whose waiter went away is dropped silently).
    fn answer(&self, ticket: u64, answer: R) {
        let waker = self.slots.borrow_mut().get_mut(&ticket).and_then(|slot| {
            slot.answer = Some(answer);
            slot.waker.take()
        });
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Hands the turn to the oldest write in line whose waiter is still there; with none, the turn is
    /// free (the next write to join takes it and commits any writes left in line first).
    fn pass_turn(&self) {
        let next = {
            let slots = self.slots.borrow();
            self.queue
                .borrow()
                .iter()
                .map(|(ticket, _)| *ticket)
                .find(|ticket| slots.contains_key(ticket))
        };
        let mut slots = self.slots.borrow_mut();
        let waker = match next.and_then(|ticket| slots.get_mut(&ticket)) {
            Some(slot) => {
                slot.handed = true;
                slot.waker.take()
            }
            None => {
                self.taken.set(false);
                None
            }
        };
        drop(slots);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.queue.borrow().len()
    }
}

impl<T, R> Place<'_, T, R> {
    /// Waits for this write's answer or for the turn. Holding the turn, it is `Commit` until this
    /// write's own group has been answered.
    pub async fn next(&mut self) -> Step<R> {
        poll_fn(|cx| {
            let mut slots = self.line.slots.borrow_mut();
            let Some(slot) = slots.get_mut(&self.ticket) else {
                return Poll::Ready(Step::Answered((self.line.interrupted)()));
            };
            if let Some(answer) = slot.answer.take() {
                return Poll::Ready(Step::Answered(answer));
            }
            if self.turn || std::mem::take(&mut slot.handed) {
                self.turn = true;
                return Poll::Ready(Step::Commit);
            }
            slot.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// With the turn: takes the oldest `max` writes in line (this one among them when it is at the
    /// front) as the group to commit, with their tickets for `answer_group`. A write that `alone` picks
    /// is a group of its own: it ends the group before it, and is taken alone when at the front.
    pub fn take_group(&self, max: usize, alone: impl Fn(&T) -> bool) -> (Vec<u64>, Vec<T>) {
        debug_assert!(self.turn, "only the turn's holder takes a group");
        let mut queue = self.line.queue.borrow_mut();
        let n = match queue.front() {
            Some((_, first)) if alone(first) => 1,
            _ => queue
                .iter()
                .take(max)
                .take_while(|(_, t)| !alone(t))
                .count(),
        };
        let (tickets, items): (Vec<u64>, Vec<T>) = queue.drain(..n).unzip();
        *self.line.in_flight.borrow_mut() = tickets.clone();
        (tickets, items)
    }

    /// Answers a committed group, each write in it at once.
    pub fn answer_group(&self, tickets: &[u64], answers: Vec<R>) {
        self.line.in_flight.borrow_mut().clear();
        for (&ticket, answer) in tickets.iter().zip(answers) {
            self.line.answer(ticket, answer);
        }
    }
}

impl<T, R> Drop for Place<'_, T, R> {
    fn drop(&mut self) {
        let slot = self.line.slots.borrow_mut().remove(&self.ticket);
        let turn = self.turn || slot.is_some_and(|slot| slot.handed);
        if !turn {
            return;
        }
        let unanswered = std::mem::take(&mut *self.line.in_flight.borrow_mut());
        for ticket in unanswered {
            self.line.answer(ticket, (self.line.interrupted)());
        }
        self.line.pass_turn();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::Context;

    type TestLine = Line<&'static str, String>;

    fn line() -> TestLine {
        Line::new(|| "interrupted".to_string())
    }

    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(
            futures_util::task::noop_waker_ref(),
        ))
    }

    fn step(place: &mut Place<'_, &'static str, String>) -> Option<Result<String, ()>> {
        match poll_once(pin!(place.next())) {
            Poll::Ready(Step::Answered(a)) => Some(Ok(a)),
            Poll::Ready(Step::Commit) => Some(Err(())),
            Poll::Pending => None,
        }
    }

    #[test]
    fn a_write_that_goes_alone_ends_the_group_before_it_and_is_a_group_of_its_own() {
        let line = line();
        let mut a = line.join("a");
        assert_eq!(step(&mut a), Some(Err(())));
        let _b = line.join("b");
        let _m = line.join("members");
        let _c = line.join("c");
        let alone = |t: &&str| *t == "members";
        let (_, first) = a.take_group(8, alone);
        assert_eq!(first, vec!["a", "b"]);
        let (_, second) = a.take_group(8, alone);
        assert_eq!(second, vec!["members"]);
        let (_, third) = a.take_group(8, alone);
        assert_eq!(third, vec!["c"]);
    }

    /// Commits a group for the turn's holder: answers "<item> ok".
    fn commit(place: &Place<'_, &'static str, String>, max: usize) -> Vec<&'static str> {
        let (tickets, items) = place.take_group(max, |_| false);
        place.answer_group(&tickets, items.iter().map(|i| format!("{i} ok")).collect());
        items
    }

    /// A waker that counts its wakes.
    struct Count(std::sync::atomic::AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn answers_and_the_handed_turn_wake_their_waiters() {
        let line = line();
        let mut a = line.join("a");
        assert_eq!(step(&mut a), Some(Err(())));
        let (tickets, _) = a.take_group(8, |_| false);
        let (mut b, mut c) = (line.join("b"), line.join("c"));
        let wakes = |n: usize| std::sync::Arc::new(Count(n.into()));
        let (woke_b, woke_c) = (wakes(0), wakes(0));
        let poll_with = |place: &mut Place<'_, &'static str, String>,
                         count: &std::sync::Arc<Count>| {
            let waker = Waker::from(count.clone());
            matches!(
                pin!(place.next()).poll(&mut Context::from_waker(&waker)),
                Poll::Pending
            )
        };
        assert!(poll_with(&mut b, &woke_b) && poll_with(&mut c, &woke_c));
        a.answer_group(&tickets, vec!["a ok".into()]);
        drop(a);
        let count = |w: &std::sync::Arc<Count>| w.0.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            (count(&woke_b), count(&woke_c)),
            (1, 0),
            "b is handed the turn"
        );
        assert_eq!(step(&mut b), Some(Err(())));
        assert!(poll_with(&mut c, &woke_c));
        assert_eq!(commit(&b, 8), vec!["b", "c"]);
        assert_eq!(count(&woke_c), 1, "c is woken by its answer");
        assert_eq!(step(&mut c), Some(Ok("c ok".into())));
    }

    #[test]
    fn the_first_write_commits_the_writes_that_queued_behind_it_in_one_group_next() {
        let line = line();
        let mut a = line.join("a");
        assert_eq!(step(&mut a), Some(Err(())), "a finds the turn free");
        let mut b = line.join("b");
        let mut c = line.join("c");
        assert_eq!(step(&mut b), None);
        assert_eq!(commit(&a, 8), vec!["a", "b", "c"]);
        // Everyone in the group is answered directly, in any order.
        assert_eq!(step(&mut c), Some(Ok("c ok".into())));
        assert_eq!(step(&mut b), Some(Ok("b ok".into())));
        assert_eq!(step(&mut a), Some(Ok("a ok".into())));
        drop((a, b, c));
        // The turn is free again: the next write takes it at once.
        let mut d = line.join("d");
        assert_eq!(step(&mut d), Some(Err(())));
    }

    #[test]
    fn the_turn_passes_to_the_oldest_waiting_write_and_groups_keep_arrival_order() {
        let line = line();
        let mut a = line.join("a");
        assert_eq!(step(&mut a), Some(Err(())));
        let (tickets, items) = a.take_group(8, |_| false);
        assert_eq!(items, vec!["a"]);
        // b and c arrive while a's group commits.
        let mut b = line.join("b");
        let mut c = line.join("c");
        assert_eq!(step(&mut b), None);
        assert_eq!(step(&mut c), None);
        a.answer_group(&tickets, vec!["a ok".into()]);
        assert_eq!(step(&mut a), Some(Ok("a ok".into())));
        assert_eq!(step(&mut c), None, "c waits: the turn is not free");
        drop(a);
        assert_eq!(step(&mut c), None, "the turn goes to b, the oldest");
        assert_eq!(step(&mut b), Some(Err(())));
        assert_eq!(commit(&b, 1), vec!["b"], "groups take at most max");
        assert_eq!(step(&mut b), Some(Ok("b ok".into())));
        drop(b);
        assert_eq!(step(&mut c), Some(Err(())));
        assert_eq!(commit(&c, 8), vec!["c"]);
        assert_eq!(step(&mut c), Some(Ok("c ok".into())));
    }

    #[test]
    fn a_holder_whose_write_is_not_in_the_first_group_commits_until_it_is() {
        let line = line();
        let mut a = line.join("a");
        assert_eq!(step(&mut a), Some(Err(())));
        let mut b = line.join("b");
        assert_eq!(commit(&a, 1), vec!["a"]);
        // a's answer is in: its next step is the answer even though it holds the turn.
        assert_eq!(step(&mut a), Some(Ok("a ok".into())));
        drop(a);
        assert_eq!(step(&mut b), Some(Err(())));
        assert_eq!(
            step(&mut b),
            Some(Err(())),
            "holding the turn, unanswered: commit again"
        );
        assert_eq!(commit(&b, 8), vec!["b"]);
        assert_eq!(step(&mut b), Some(Ok("b ok".into())));
    }

    #[test]
    fn a_holder_that_goes_away_mid_commit_answers_its_group_as_interrupted_and_passes_the_turn() {
        let line = line();
        let mut a = line.join("a");
        assert_eq!(step(&mut a), Some(Err(())));
        let mut b = line.join("b");
        let (_tickets, items) = a.take_group(8, |_| false);
        assert_eq!(items, vec!["a", "b"]);
        let mut c = line.join("c");
        drop(a);
        assert_eq!(step(&mut b), Some(Ok("interrupted".into())));
        assert_eq!(step(&mut c), Some(Err(())), "the turn passed to c");
        assert_eq!(commit(&c, 8), vec!["c"]);
    }

    #[test]
    fn a_waiter_that_goes_away_leaves_its_write_in_line_and_is_skipped_for_the_turn() {
        let line = line();
        let mut a = line.join("a");
        assert_eq!(step(&mut a), Some(Err(())));
        let (tickets, _) = a.take_group(8, |_| false);
        let b = line.join("b");
        let mut c = line.join("c");
        drop(b);
        a.answer_group(&tickets, vec!["a ok".into()]);
        assert_eq!(step(&mut a), Some(Ok("a ok".into())));
        drop(a);
        // b's waiter is gone: c gets the turn and commits b's write with its own.
        assert_eq!(step(&mut c), Some(Err(())));
        assert_eq!(commit(&c, 8), vec!["b", "c"]);
        assert_eq!(step(&mut c), Some(Ok("c ok".into())));
        drop(c);
        assert_eq!(line.len(), 0);
    }

    #[test]
    fn a_handed_turn_not_yet_taken_passes_on_when_its_waiter_goes_away() {
        let line = line();
        let mut a = line.join("a");
        assert_eq!(step(&mut a), Some(Err(())));
        let (tickets, _) = a.take_group(8, |_| false);
        let mut b = line.join("b");
        let mut c = line.join("c");
        assert_eq!(step(&mut b), None);
        a.answer_group(&tickets, vec!["a ok".into()]);
        drop(a); // hands the turn to b
        drop(b); // before b took it
        assert_eq!(step(&mut c), Some(Err(())));
        assert_eq!(commit(&c, 8), vec!["b", "c"]);
    }

    #[test]
    fn with_no_waiter_left_the_turn_is_free_and_the_next_write_commits_the_leftovers_first() {
        let line = line();
        let mut a = line.join("a");
        assert_eq!(step(&mut a), Some(Err(())));
        let (tickets, _) = a.take_group(8, |_| false);
        drop(line.join("b"));
        drop(line.join("c"));
        a.answer_group(&tickets, vec!["a ok".into()]);
        drop(a);
        let mut d = line.join("d");
        assert_eq!(step(&mut d), Some(Err(())));
        assert_eq!(commit(&d, 2), vec!["b", "c"]);
        assert_eq!(step(&mut d), Some(Err(())));
        assert_eq!(commit(&d, 2), vec!["d"]);
        assert_eq!(step(&mut d), Some(Ok("d ok".into())));
    }
}

//! A log read over `STREAM.MSG.GET` requests, with several in flight: the
//! answers are taken exactly as asking one at a time would have taken them,
//! so asking ahead changes how long a read takes, never what it returns.

use super::api::Got;
use crate::client::Completion;
use serde_json::{json, Value};

/// Where a read stands: what it took so far, and the offset it asks next.
#[derive(Debug, PartialEq)]
pub struct Reading {
    /// `[seq value]` pairs in the order taken.
    pub entries: Vec<Value>,
    pub next: u64,
}

/// What the answers left for the read to do.
#[derive(Debug, PartialEq)]
pub enum Walked {
    /// Ask again from `next`.
    More,
    /// The end of the stream (None), or the completion of the answer that
    /// broke the read off.
    Done(Option<Completion>),
}

impl Reading {
    pub fn from(offset: u64) -> Self {
        Reading {
            entries: Vec::new(),
            next: offset,
        }
    }

    /// Takes `(offset asked, answer)` pairs, asked at consecutive offsets
    /// from [`Self::next`] on. One-at-a-time asking asks next where the
    /// previous answer led, so an answer counts only if it was asked
    /// there: those asked inside a hole an earlier answer stepped over are
    /// dropped, errors among them too. An answer that went backwards (a
    /// server bug, kept as received for the checker) leaves `next` where it
    /// was: the rest is dropped and the read asks again from there.
    pub fn take(
        &mut self,
        answers: impl IntoIterator<Item = (u64, Result<Got, Completion>)>,
    ) -> Walked {
        for (at, answer) in answers {
            if at < self.next {
                continue;
            }
            if at > self.next {
                return Walked::More;
            }
            match answer {
                Ok(Got::Message { seq, value }) => {
                    self.entries.push(json!([seq, value]));
                    self.next = self.next.max(seq.saturating_add(1));
                }
                Ok(Got::End) => return Walked::Done(None),
                Ok(Got::Error(e)) => return Walked::Done(Some(Completion::info(e.label()))),
                Err(completion) => return Walked::Done(Some(completion)),
            }
        }
        Walked::More
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: u64) -> Result<Got, Completion> {
        Ok(Got::Message {
            seq,
            value: json!(seq * 10),
        })
    }

    fn seqs(reading: &Reading) -> Vec<u64> {
        reading
            .entries
            .iter()
            .map(|e| e[0].as_u64().unwrap())
            .collect()
    }

    #[test]
    fn a_hole_is_stepped_over_once() {
        // Offsets 3 and 4 are gone: asked at 3 and 4, the server answers 5.
        let mut r = Reading::from(1);
        let answers = [
            (1, message(1)),
            (2, message(2)),
            (3, message(5)),
            (4, message(5)),
            (5, message(5)),
            (6, message(6)),
        ];
        assert_eq!(r.take(answers), Walked::More);
        assert_eq!(seqs(&r), [1, 2, 5, 6]);
        assert_eq!(r.next, 7);
    }

    #[test]
    fn the_end_stops_the_read_and_errors_past_it_do_not_count() {
        let mut r = Reading::from(1);
        let gone = || Err(Completion::info("timed-out"));
        let answers = [(1, message(1)), (2, Ok(Got::End)), (3, gone())];
        assert_eq!(r.take(answers), Walked::Done(None));
        assert_eq!(seqs(&r), [1]);
    }

    #[test]
    fn an_error_where_the_read_stands_breaks_it_off() {
        let mut r = Reading::from(4);
        let answers = [
            (4, message(4)),
            (5, Err(Completion::info("connection-lost: x"))),
            (6, message(6)),
        ];
        assert_eq!(
            r.take(answers),
            Walked::Done(Some(Completion::info("connection-lost: x")))
        );
        assert_eq!((seqs(&r), r.next), (vec![4], 5));
    }

    #[test]
    fn an_error_inside_a_stepped_over_hole_is_dropped() {
        let mut r = Reading::from(1);
        let answers = [
            (1, message(3)),
            (2, Err(Completion::info("timed-out"))),
            (3, message(3)),
            (4, message(4)),
        ];
        assert_eq!(r.take(answers), Walked::More);
        assert_eq!(seqs(&r), [3, 4]);
    }

    #[test]
    fn an_answer_going_backwards_is_kept_and_the_rest_asked_again() {
        let mut r = Reading::from(5);
        let answers = [(5, message(2)), (6, message(6))];
        assert_eq!(r.take(answers), Walked::More);
        assert_eq!((seqs(&r), r.next), (vec![2], 5));
    }
}

//! The op mix: which function a free worker performs next, and its argument.

use crate::rng::Rng;
use serde_json::{json, Value};
use std::fmt;

type MakeValue = Box<dyn FnMut(&mut Rng) -> Value + Send>;

struct Choice {
    f: String,
    weight: u64,
    make: MakeValue,
}

/// A weighted choice of functions, each making its argument from the
/// generator's seeded [`Rng`] (and nothing else, so a seed replays a run).
///
/// The argument makers are `FnMut` so that a workload can hand out unique
/// values (`enqueue 1`, `enqueue 2`, ...) from a counter it owns.
#[derive(Default)]
pub struct Mix {
    choices: Vec<Choice>,
    total: u64,
}

impl Mix {
    pub fn new() -> Self {
        Mix::default()
    }

    /// Adds function `f`, chosen `weight` times out of the sum of weights.
    pub fn with(
        mut self,
        f: impl Into<String>,
        weight: u32,
        make: impl FnMut(&mut Rng) -> Value + Send + 'static,
    ) -> Self {
        self.total += u64::from(weight);
        self.choices.push(Choice {
            f: f.into(),
            weight: u64::from(weight),
            make: Box::new(make),
        });
        self
    }

    /// Jepsen's cas-register mix (etcd, Zookeeper...): `read`, `write v` and
    /// `cas [a b]` in equal parts, values drawn from `0..values`. Few values
    /// make compares match often enough to matter.
    pub fn cas_register(values: u64) -> Self {
        Mix::new()
            .with("read", 1, |_| Value::Null)
            .with("write", 1, move |rng| json!(rng.below(values)))
            .with("cas", 1, move |rng| {
                json!([rng.below(values), rng.below(values)])
            })
    }

    /// The replicated-log mix (Jepsen's Kafka workload, one log): `append v`
    /// with v = 1, 2, 3, ... (unique, in the order ops are handed out) and
    /// `poll` (null), weighted `append : poll`.
    pub fn log(append: u32, poll: u32) -> Self {
        Mix::new()
            .with("append", append, unique_values())
            .with("poll", poll, |_| Value::Null)
    }

    /// The total-queue mix: `enqueue v` with v = 1, 2, 3, ... (unique) and
    /// `dequeue` (null), weighted `enqueue : dequeue`.
    pub fn queue(enqueue: u32, dequeue: u32) -> Self {
        Mix::new()
            .with("enqueue", enqueue, unique_values())
            .with("dequeue", dequeue, |_| Value::Null)
    }

    /// The set mix: `add v` with v = 1, 2, 3, ... (unique) and `read`
    /// (null), weighted `add : read`.
    pub fn set(add: u32, read: u32) -> Self {
        Mix::new()
            .with("add", add, unique_values())
            .with("read", read, |_| Value::Null)
    }

    /// The functions it chooses from, in the order added.
    pub fn functions(&self) -> Vec<&str> {
        self.choices.iter().map(|c| c.f.as_str()).collect()
    }

    /// The same functions with the weights given (`--mix read=2,write=1`);
    /// those not named keep theirs. A function the mix does not have, or
    /// weights that leave nothing to choose, are refused, naming the
    /// functions there are.
    pub fn reweighted(mut self, weights: &[(String, u32)]) -> Result<Self, String> {
        for (f, weight) in weights {
            let offered = self.functions().join(", ");
            let Some(choice) = self.choices.iter_mut().find(|c| &c.f == f) else {
                return Err(format!("--mix: this workload has no {f:?}: use {offered}"));
            };
            self.total = self.total - choice.weight + u64::from(*weight);
            choice.weight = u64::from(*weight);
        }
        if self.is_empty() {
            return Err("--mix: every weight is 0, so no op could be chosen".into());
        }
        Ok(self)
    }

    /// True when no function can be chosen (none added, or all weight 0).
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The next function and its argument. Consumes one draw to choose, then
    /// whatever the argument maker draws.
    pub fn pick(&mut self, rng: &mut Rng) -> (String, Value) {
        assert!(!self.is_empty(), "Mix::pick on an empty mix");
        let mut ticket = rng.below(self.total);
        for choice in &mut self.choices {
            if ticket < choice.weight {
                return (choice.f.clone(), (choice.make)(rng));
            }
            ticket -= choice.weight;
        }
        unreachable!("the ticket is below the sum of weights")
    }
}

/// 1, 2, 3, ...: the checkers of logs and queues tell ops apart by value.
fn unique_values() -> impl FnMut(&mut Rng) -> Value + Send + 'static {
    let mut last = 0u64;
    move |_| {
        last += 1;
        json!(last)
    }
}

impl fmt::Debug for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_map();
        for c in &self.choices {
            list.entry(&c.f, &c.weight);
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reweighting_changes_only_the_named_functions() {
        let mix = Mix::cas_register(5)
            .reweighted(&[("read".into(), 0)])
            .unwrap();
        let mut rng = Rng::new(1);
        let mut mix = mix;
        assert!((0..1_000).all(|_| mix.pick(&mut rng).0 != "read"));
        let e = Mix::queue(1, 1)
            .reweighted(&[("append".into(), 1)])
            .err()
            .unwrap();
        assert_eq!(
            e,
            "--mix: this workload has no \"append\": use enqueue, dequeue"
        );
        let all_zero = [("enqueue".into(), 0), ("dequeue".into(), 0)];
        assert!(Mix::queue(1, 1).reweighted(&all_zero).is_err());
    }

    #[test]
    fn weights_set_the_proportions_and_zero_is_never_chosen() {
        let mut mix = Mix::new()
            .with("a", 3, |_| Value::Null)
            .with("never", 0, |_| Value::Null)
            .with("b", 1, |_| Value::Null);
        let mut rng = Rng::new(9);
        let a = (0..4_000)
            .map(|_| mix.pick(&mut rng).0)
            .inspect(|f| assert_ne!(f, "never"))
            .filter(|f| f == "a")
            .count();
        assert!((2_800..3_200).contains(&a), "{a} of 4000");
    }

    #[test]
    fn cas_register_makes_well_formed_arguments() {
        let mut mix = Mix::cas_register(5);
        let mut rng = Rng::new(1);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..300 {
            let (f, v) = mix.pick(&mut rng);
            match f.as_str() {
                "read" => assert_eq!(v, Value::Null),
                "write" => assert!(v.as_u64().unwrap() < 5),
                "cas" => {
                    let pair = v.as_array().unwrap();
                    assert_eq!(pair.len(), 2);
                    assert!(pair.iter().all(|x| x.as_u64().unwrap() < 5));
                }
                other => panic!("unexpected f {other}"),
            }
            seen.insert(f);
        }
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn log_and_queue_mixes_hand_out_unique_values_and_null_reads() {
        for (mut mix, write, read) in [
            (Mix::log(1, 1), "append", "poll"),
            (Mix::queue(2, 1), "enqueue", "dequeue"),
        ] {
            let mut rng = Rng::new(3);
            let mut written = Vec::new();
            let mut reads = 0;
            for _ in 0..200 {
                match mix.pick(&mut rng) {
                    (f, v) if f == write => written.push(v.as_u64().unwrap()),
                    (f, v) if f == read => {
                        assert_eq!(v, Value::Null);
                        reads += 1;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert!(
                reads > 30 && written.len() > 60,
                "{reads} {}",
                written.len()
            );
            let expected: Vec<u64> = (1..=written.len() as u64).collect();
            assert_eq!(written, expected, "{write} values are 1, 2, 3, ...");
        }
    }

    #[test]
    fn makers_may_keep_state() {
        let mut next = 0;
        let mut mix = Mix::new().with("enqueue", 1, move |_| {
            next += 1;
            json!(next)
        });
        let mut rng = Rng::new(0);
        let values: Vec<Value> = (0..3).map(|_| mix.pick(&mut rng).1).collect();
        assert_eq!(values, vec![json!(1), json!(2), json!(3)]);
    }
}

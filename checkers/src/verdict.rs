//! What every checker returns: valid, invalid, or unknown, never a guess.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Validity {
    Valid,
    Invalid,
    /// The checker could not decide (budget exceeded, input it cannot judge).
    Unknown,
}

impl Validity {
    /// Combines the verdicts of independent parts: any invalid part makes the
    /// whole invalid; otherwise any undecided part leaves the whole unknown.
    pub fn merge(self, other: Validity) -> Validity {
        use Validity::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }

    /// The process exit code `chaos check` and `chaos run` use.
    pub fn exit_code(self) -> i32 {
        match self {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            Validity::Unknown => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        }
    }
}

impl FromIterator<Validity> for Validity {
    fn from_iter<I: IntoIterator<Item = Validity>>(iter: I) -> Self {
        iter.into_iter().fold(Validity::Valid, Validity::merge)
    }
}

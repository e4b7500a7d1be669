//! Run reports: what ops people paste into their docs.

mod markdown;
mod units;

pub use markdown::{markdown, Evidence, NodeSignal, RunReport};
pub use units::{duration, offset};

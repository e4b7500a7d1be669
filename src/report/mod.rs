//! Run reports: what ops people paste into their docs.

mod html;
mod markdown;
mod svg;
mod units;

pub use html::html;
pub use markdown::{markdown, Evidence, NodeSignal, RunReport};
pub use svg::{anomaly, latency, throughput};
pub use units::{duration, offset};

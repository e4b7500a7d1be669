//! Run reports: what ops people paste into their docs.

mod examples;
mod html;
mod markdown;
mod signals;
mod svg;
mod units;

pub use html::html;
pub use markdown::{markdown, Evidence, NodeSignal, RunReport, SignalSearch};
pub use signals::{near_faults, signals};
pub use svg::{anomaly, latency, throughput};
pub use units::{duration, offset};

//! Run reports: what ops people paste into their docs.

mod availability;
mod examples;
mod html;
mod index;
mod markdown;
mod signals;
mod svg;
mod units;
mod xml;

pub use availability::{availability, Availability, Share};
pub use html::html;
pub use index::{index_html, index_markdown, Ending, IndexEntry, RunRow};
pub use markdown::{markdown, Evidence, NodeSignal, RunReport, SignalSearch};
pub use signals::{near_faults, signals};
pub use svg::{anomaly, latency, throughput};
pub use units::{duration, offset};

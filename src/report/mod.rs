//! Run reports: what ops people paste into their docs.

mod availability;
mod examples;
mod html;
mod index;
mod markdown;
mod plot;
mod signals;
mod units;
mod xml;

pub use availability::{availability, Availability, Share};
pub use html::html;
pub use index::{index_html, index_markdown, Ending, IndexEntry, RunRow};
pub use markdown::{markdown, Evidence, NodeSignal, RunReport, SignalSearch};
pub use plot::{anomaly, plots, Plot, PLOTS};
pub use signals::{near_faults, signals};
pub use units::{duration, offset};

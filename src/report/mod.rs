//! Run reports: what ops people paste into their docs. The run's data
//! (`input`) becomes the report's model (`model`) once; Markdown, HTML and
//! JSON are laid out from it. Beside them: the plots and the index of runs.

mod availability;
mod html;
mod index;
mod input;
mod markdown;
mod model;
mod plot;
mod signals;
mod units;
mod xml;

pub use availability::{availability, Availability, Share};
pub use html::render as render_html;
pub use index::{index_html, index_markdown, Ending, IndexEntry, RunRow};
pub use input::{Evidence, NodeSignal, RunReport, SignalSearch};
pub use markdown::{markdown, render as render_markdown};
pub use model::{verdict_word, Report};
pub use plot::{anomaly, anomaly_plots, plots, Plot, PLOTS};
pub use signals::{near_faults, signals};
pub use units::{duration, offset};

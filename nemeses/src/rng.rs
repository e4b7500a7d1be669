//! The harness's one seeded RNG (crate `chaos-rng`), which makes fault
//! choices replayable from the run's seed.

pub use chaos_rng::Rng;

//! The harness's one seeded RNG (crate `chaos-rng`), behind every op choice.

pub use chaos_rng::Rng;

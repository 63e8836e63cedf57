//! Shared helpers for the benchmarks under `benches/`.

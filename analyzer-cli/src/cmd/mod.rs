//! One module per command (or group of related commands).
pub mod hash;
pub mod salvage;
pub mod wal;

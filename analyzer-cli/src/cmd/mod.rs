//! One module per command (or group of related commands).
pub mod bbolt;
pub mod diff;
pub mod dumpdb;
pub mod export;
pub mod hash;
pub mod member_check;
pub mod members;
pub mod prefixes;
pub mod report;
pub mod salvage;
pub mod space;
pub mod status;
pub mod wal;

//! Fuzz target: any bytes as a WAL segment (and as a .snap file) must decode without panic.
//! The body lives in `wal_reader::fuzz::exercise` so `cargo test -p wal-reader` replays the
//! committed corpus in fuzz/corpus/wal_segment_decode/.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wal_reader::fuzz::exercise(data);
});

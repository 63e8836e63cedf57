//! Fuzz target: any bytes as a `.snap` file must decode and be judged without panic. The
//! body lives in `wal_reader::fuzz::exercise_snap` so `cargo test -p wal-reader` replays
//! the committed corpus in fuzz/corpus/snap_decode/.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wal_reader::fuzz::exercise_snap(data);
});

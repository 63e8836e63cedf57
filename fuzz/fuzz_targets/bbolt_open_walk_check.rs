//! Open + walk + stats + check of arbitrary bytes as a bbolt file. The body lives in
//! `bbolt_reader::fuzz::exercise` so `cargo test -p bbolt-reader` replays this corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bbolt_reader::fuzz::exercise(data);
});

//! Fuzz target: bytes describe a member directory whose names may be files, directories,
//! FIFOs or links (to themselves, each other, /dev/zero); the whole-member check must
//! finish and never panic. The body lives in `etcd_autopsy::fuzz::exercise_member_layout`
//! so `cargo test -p analyzer-cli` replays the committed corpus in
//! fuzz/corpus/member_layout/.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let root = std::env::temp_dir().join(format!("member-layout-fuzz-{}", std::process::id()));
    etcd_autopsy::fuzz::exercise_member_layout(data, &root);
});

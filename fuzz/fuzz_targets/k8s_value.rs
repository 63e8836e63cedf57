//! Fuzz target: any bytes as a value kube-apiserver stored (protobuf, JSON, CBOR,
//! encrypted, unknown) must decode without panic. The body lives in
//! `etcd_mvcc::k8s::fuzz::exercise` so `cargo test -p etcd-mvcc` replays the committed
//! corpus in fuzz/corpus/k8s_value/.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    etcd_mvcc::k8s::fuzz::exercise(data);
});

//! The body of the `member_layout` fuzz target: bytes describe a member directory whose
//! names may be files, directories, FIFOs, links to themselves, to each other or to
//! `/dev/zero`; the whole-member check must finish on every layout (never block on a
//! FIFO, never follow a link loop) and never panic. `cargo test` replays the committed
//! corpus in fuzz/corpus/member_layout/ (analyzer-cli/tests/fuzz_member_layout_corpus.rs).

use std::path::Path;

/// The names a layout can fill, relative to the data dir.
const SLOTS: [&str; 14] = [
    "member",
    "member/snap",
    "member/wal",
    "member/snap/db",
    "member/wal/0000000000000000-0000000000000000.wal",
    "member/wal/0000000000000001-0000000000000002.wal",
    "member/wal/0.tmp",
    "member/wal/0000000000000000-0000000000000000.wal.broken",
    "member/snap/0000000000000001-0000000000000002.snap",
    "member/snap/0000000000000001-0000000000000003.snap",
    "member/snap/0000000000000003.snap.db",
    "snap",
    "wal",
    "member/snap/db.tmp",
];

/// At most this many records are read from the input.
const MAX_RECORDS: usize = 24;

/// Builds the layout `data` describes under `root` (emptied first) and runs the member
/// check on it. Records: `[op, slot, len, len bytes of content]`; op % 6: write a file,
/// make a directory, link to another slot (content byte 0) or to itself, make a FIFO
/// (a hard link to one made once with mkfifo), link to /dev/zero, remove.
pub fn exercise_member_layout(data: &[u8], root: &Path) {
    let dir = root.join("data");
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let fifo = root.join("fifo");
    if std::fs::symlink_metadata(&fifo).is_err() {
        // std has no mkfifo; coreutils' is enough for a fuzz harness.
        let _ = std::process::Command::new("mkfifo").arg(&fifo).status();
    }
    let mut rest = data;
    for _ in 0..MAX_RECORDS {
        let [op, slot, len, tail @ ..] = rest else {
            break;
        };
        let n = (*len as usize).min(tail.len());
        let (content, next) = tail.split_at(n);
        rest = next;
        let path = dir.join(SLOTS[*slot as usize % SLOTS.len()]);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::remove_file(&path);
        let _ = match op % 6 {
            0 => std::fs::write(&path, content),
            1 => std::fs::create_dir_all(&path),
            2 => {
                // To another slot, or (no content) to itself.
                let target = match content.first() {
                    Some(t) => dir.join(SLOTS[*t as usize % SLOTS.len()]),
                    None => path.clone(),
                };
                std::os::unix::fs::symlink(target, &path)
            }
            3 => std::fs::hard_link(&fifo, &path),
            4 => std::os::unix::fs::symlink("/dev/zero", &path),
            _ => std::fs::remove_dir_all(&path),
        };
    }
    if let Ok(member) = etcd_mvcc::member::resolve(&dir) {
        let _ = crate::cmd::member_check::check_member(&member, bbolt_reader::MetaChoice::Newest);
        let _ = etcd_mvcc::member::DbImage::open(&dir);
    }
}

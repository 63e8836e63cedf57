//! One module per command (or group of related commands), and here the plumbing they
//! share: opening an image, a thread pool, the key-bucket scan, loading a keyspace at a
//! revision and replaying a member's WAL on it.
pub mod bbolt;
pub mod diff;
pub mod dumpdb;
pub mod export;
pub mod hash;
pub mod k8s;
pub mod member_check;
pub mod members;
pub mod ncdu;
pub mod prefixes;
pub mod report;
pub mod salvage;
pub mod shell;
pub mod space;
pub mod status;
pub mod wal;

use crate::error::{CliError, Result};
use bbolt_reader::Db;
use etcd_mvcc::info::EtcdInfo;
use etcd_mvcc::member::{self as input, DbImage, Member};
pub(crate) use etcd_mvcc::replay::Replayed;
use etcd_mvcc::replay::{load_raw_at, LoadError, Loaded, LoadedRaw, State};
use etcd_mvcc::scan::Keyspace;
use std::path::Path;

/// Running-member checks started by [`warn_if_running`] whose result nobody asked for:
/// [`wait_for_running_checks`] waits for them (and so for their warnings) before exit.
static RUNNING_CHECKS: std::sync::Mutex<Vec<std::thread::JoinHandle<Option<String>>>> =
    std::sync::Mutex::new(Vec::new());

/// Checks on a thread of its own whether a running etcd appears to hold `member`'s files,
/// and prints the warning on stderr as soon as it is known. The check reads
/// `/proc/locks`, whose first read in a while waits for a kernel RCU grace period (12-15
/// ms on the bench machine, for every command): beside the opening and the work it costs
/// nothing. [`RunningCheck::warning`] gives the warning to a caller that also reports it.
pub(crate) fn warn_if_running(member: &Member) -> RunningCheck {
    fn check(member: &Member) -> Option<String> {
        let warning = input::running_member_warning(member);
        if let Some(w) = &warning {
            crate::output::note(w);
        }
        warning
    }
    let owned = member.clone();
    match std::thread::Builder::new()
        .name("running-check".into())
        .spawn(move || check(&owned))
    {
        Ok(h) => RunningCheck {
            pending: Some(h),
            done: None,
        },
        // No thread to be had: checked here.
        Err(_) => RunningCheck {
            pending: None,
            done: check(member),
        },
    }
}

/// A running-member check of [`warn_if_running`]. Dropped without
/// [`RunningCheck::warning`], it is left to [`wait_for_running_checks`].
pub(crate) struct RunningCheck {
    pending: Option<std::thread::JoinHandle<Option<String>>>,
    done: Option<String>,
}

impl RunningCheck {
    /// The warning (printed already), once the check is over.
    pub(crate) fn warning(mut self) -> Option<String> {
        match self.pending.take() {
            Some(h) => h.join().ok().flatten(),
            None => self.done.take(),
        }
    }
}

impl Drop for RunningCheck {
    fn drop(&mut self) {
        if let Some(h) = self.pending.take() {
            RUNNING_CHECKS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(h);
        }
    }
}

/// Waits for the running-member checks nobody waited for, so that their warnings are
/// printed before the process exits.
pub fn wait_for_running_checks() {
    let pending = std::mem::take(
        &mut *RUNNING_CHECKS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for h in pending {
        let _ = h.join();
    }
}

/// Maps the image read-only, warning on stderr when a running etcd holds it.
pub fn open_image(path: &Path) -> Result<DbImage> {
    if let Ok(member) = input::resolve(path) {
        warn_if_running(&member);
    }
    let mut image = DbImage::open(path)?;
    leave_big_map_to_exit(&mut image);
    Ok(image)
}

/// This process ends soon after the command: a mapping of at least 64 MiB is left to
/// process exit rather than unmapped by hand.
pub(crate) fn leave_big_map_to_exit(image: &mut DbImage) {
    if image.file_len() >= 64 << 20 {
        image.keep_mapped_after_drop();
    }
}

/// [`open_image`] for commands that read every page of the db (the key bucket scans,
/// hashes, status): also advises the kernel to read the file ahead, front to back.
pub fn open_image_for_scan(path: &Path) -> Result<DbImage> {
    let image = open_image(path)?;
    image.advise_sequential_read();
    Ok(image)
}

/// A bbolt reader error naming the file.
/// A file that is not a db but another part of a data dir (a WAL segment, an empty
/// file, a `.snap`) also gets the command that reads it.
pub(crate) fn bolt_err(image: &DbImage, e: bbolt_reader::Error) -> CliError {
    let hint = match &e {
        bbolt_reader::Error::NoValidMeta { .. } | bbolt_reader::Error::MetaInvalid { .. } => {
            input::other_format_hint(&image.path, image.bytes())
        }
        _ => None,
    };
    match hint {
        Some(h) => CliError::input(image.path.clone(), format!("{e}; {h}")),
        None => CliError::input(image.path.clone(), e.to_string()),
    }
}

/// A rayon pool of `threads` threads (default: available cores).
pub(crate) fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let n = threads
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map_err(|e| CliError::Other(format!("starting {n} threads: {e}")))
}

/// The bbolt view of an image.
pub(crate) fn open_db<'a>(image: &'a DbImage) -> Result<Db<'a>> {
    Db::open(image.bytes()).map_err(|e| bolt_err(image, e))
}

/// Scans the key bucket with a progress bar; `limit` as in [`etcd_mvcc::scan::scan_keyspace`],
/// `keep_leaf_pages` as in [`etcd_mvcc::scan::scan_bucket`].
pub(crate) fn scan_with_progress<'a>(
    image: &DbImage,
    db: &Db<'a>,
    pool: &rayon::ThreadPool,
    limit: i64,
    keep_leaf_pages: bool,
) -> Result<Option<Keyspace<'a>>> {
    let Some(bucket) = db
        .bucket(etcd_mvcc::KEY_BUCKET)
        .map_err(|e| bolt_err(image, e))?
    else {
        return Ok(None);
    };
    // Damaged branches are skipped and reported: the figures cover what is readable. The
    // walk and the scan are one pass, so the bar counts pages of the file read so far.
    let bar = crate::progress::bar(db.meta().high_water_mark, "key bucket", false);
    let ks = pool
        .install(|| etcd_mvcc::scan::scan_bucket(&bucket, limit, keep_leaf_pages, &|n| bar.inc(n)));
    bar.finish_and_clear();
    Ok(Some(ks))
}

/// Loads the keyspace of `image` at `rev` on `pool`.
pub(crate) fn load<'a>(
    image: &etcd_mvcc::member::DbImage,
    db: &bbolt_reader::Db<'a>,
    info: &EtcdInfo,
    rev: Option<i64>,
    pool: &rayon::ThreadPool,
) -> Result<Loaded<'a>> {
    let raw = load_raw(image, db, info, rev, pool)?;
    Ok(pool.install(|| raw.into_loaded()))
}

/// [`load`] with the live keys left encoded (for a caller that decodes each where it
/// uses it).
pub(crate) fn load_raw<'a>(
    image: &etcd_mvcc::member::DbImage,
    db: &bbolt_reader::Db<'a>,
    info: &EtcdInfo,
    rev: Option<i64>,
    pool: &rayon::ThreadPool,
) -> Result<LoadedRaw<'a>> {
    pool.install(|| load_raw_at(db, &info.meta, rev))
        .map_err(|e| load_err(&image.path, e))
}

/// Maps `err` of the keyspace loader to a CLI error naming the input.
pub(crate) fn load_err(path: &std::path::Path, e: LoadError) -> CliError {
    match e {
        LoadError::Bolt(m) => CliError::input(
            path,
            format!("{m} (the db is damaged: `etcd-autopsy check` names the damage, `etcd-autopsy salvage` rebuilds what is readable)"),
        ),
        other => CliError::Other(format!("--rev: {other}")),
    }
}

/// Replays `member`'s WAL on top of `state` (whose db has `info`); see
/// [`etcd_mvcc::replay::replay_member`].
pub(crate) fn replay_member(
    member: &Member,
    info: &EtcdInfo,
    state: &mut State<'_>,
) -> Result<Replayed> {
    Ok(etcd_mvcc::replay::replay_member(member, info, state)?)
}

/// Refuses an output path inside the input's member directory, since nothing is written
/// next to an input. A bare db file is protected only when it sits in a member directory
/// (`member/snap/db`); elsewhere the output may go beside it. `what` names the output in
/// the message.
pub(crate) fn refuse_output_inside_input(out: &Path, member: &Member, what: &str) -> Result<()> {
    use etcd_mvcc::member::InputKind;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let parent = parent.canonicalize().map_err(|e| CliError::Io {
        path: parent.clone(),
        source: e,
    })?;
    let protected = match member.kind {
        InputKind::DataDir => Some(member.given.join("member")),
        InputKind::MemberDir => Some(member.given.clone()),
        InputKind::DbFile | InputKind::SnapshotFile => {
            let db = member.db.clone().unwrap_or_else(|| member.given.clone());
            let db = db.canonicalize().unwrap_or(db);
            db.parent()
                .filter(|d| d.file_name().is_some_and(|n| n == "snap"))
                .and_then(Path::parent)
                .map(Path::to_path_buf)
        }
    };
    if let Some(Ok(p)) = protected.map(|p| p.canonicalize()) {
        if parent.starts_with(&p) {
            return Err(CliError::input(
                out,
                format!(
                    "is inside {}, the input's own directory; write {what} elsewhere",
                    p.display()
                ),
            ));
        }
    }
    Ok(())
}

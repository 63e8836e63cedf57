//! Progress bars for long scans. They draw on stderr, only when stderr is a terminal and
//! `--quiet` is not given, and only once a scan has run for a second: a short run shows
//! nothing, so pipes, files, CI logs and quick commands never see them. Finished bars are
//! cleared.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a scan runs before its bar appears.
pub const SHOW_AFTER: Duration = Duration::from_secs(1);

/// A progress bar that stays hidden for its first [`SHOW_AFTER`]; cleared when dropped.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    /// Whether this bar may ever be drawn (stderr is a terminal, not quiet).
    drawable: bool,
    shown: AtomicBool,
}

impl Progress {
    /// Adds `n` units; draws the bar once [`SHOW_AFTER`] has passed.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        self.show_when_due();
    }

    /// Sets the position to `n` units; draws the bar once [`SHOW_AFTER`] has passed.
    pub fn set_position(&self, n: u64) {
        self.bar.set_position(n);
        self.show_when_due();
    }

    fn show_when_due(&self) {
        if self.drawable
            && !self.shown.load(Ordering::Relaxed)
            && self.started.elapsed() >= SHOW_AFTER
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish_and_clear(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// A bar of `len` units (bytes, pages or entries) labelled `what`; never drawn when stderr
/// is not a terminal, `quiet` or `--quiet` is set.
pub fn bar(len: u64, what: &str, quiet: bool) -> Progress {
    let drawable = !quiet && !crate::output::settings().quiet && std::io::stderr().is_terminal();
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
    let style = ProgressStyle::with_template("{msg:>12} [{bar:40}] {percent:>3}% {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_string());
    Progress {
        bar,
        started: Instant::now(),
        drawable,
        shown: AtomicBool::new(false),
    }
}

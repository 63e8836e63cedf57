//! Writing results: human text or JSON, with a closed pipe (`| head`) treated as a normal end.

use crate::error::{CliError, Result};
use base64::Engine as _;
use serde::Serialize;
use std::io::{BufWriter, Write};

/// Buffered stdout for a command's output.
pub fn stdout() -> BufWriter<std::io::StdoutLock<'static>> {
    BufWriter::with_capacity(1 << 16, std::io::stdout().lock())
}

/// Prints `value` as pretty JSON followed by a newline.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let mut out = stdout();
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// True when `err` is a write to a closed pipe, which ends output normally.
pub fn is_broken_pipe(err: &CliError) -> bool {
    matches!(err, CliError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Bytes for JSON: `{"text": ...}` when valid UTF-8, else `{"base64": ...}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonBytes {
    /// The bytes were valid UTF-8.
    Text(String),
    /// The bytes were not valid UTF-8; standard base64.
    Base64(String),
}

impl JsonBytes {
    /// Encodes `b`.
    pub fn new(b: &[u8]) -> Self {
        match std::str::from_utf8(b) {
            Ok(s) => JsonBytes::Text(s.to_string()),
            Err(_) => JsonBytes::Base64(base64::engine::general_purpose::STANDARD.encode(b)),
        }
    }
}

pub use etcd_mvcc::display::sanitize;

pub use etcd_mvcc::advice::human_bytes;

/// Go's `strconv.IsPrint` and `%q`: the one implementation lives in wal-reader.
pub use wal_reader::goquote::{go_is_print, go_quote};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_quote_matches_strconv_quote() {
        assert_eq!(go_quote(b"abc"), "\"abc\"");
        assert_eq!(go_quote(b"a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(go_quote(b"\n\t\x00\x7f"), "\"\\n\\t\\x00\\x7f\"");
        assert_eq!(go_quote(b"\xff\xfe"), "\"\\xff\\xfe\"");
        assert_eq!(go_quote("é✓".as_bytes()), "\"é✓\"");
        assert_eq!(go_quote("\u{a0}\u{200b}".as_bytes()), "\"\\u00a0\\u200b\"");
        assert_eq!(
            go_quote(b"\x00\x00\x00\x00\x00\x00\x00\x02_\x00"),
            "\"\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02_\\x00\""
        );
    }
}

/// Process-wide output settings from the global flags (`--quiet`, `--color`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    /// `-q/--quiet`: nothing on stderr but errors (no progress bars, notes or warnings).
    pub quiet: bool,
    /// Whether verdicts on stdout are coloured (`--color`, `NO_COLOR`, a terminal).
    pub color: bool,
}

static SETTINGS: std::sync::OnceLock<Settings> = std::sync::OnceLock::new();

/// Sets the output settings once, before a command runs; later calls are ignored.
pub fn init(settings: Settings) {
    let _ = SETTINGS.set(settings);
}

/// The output settings ([`Settings::default`] when [`init`] was not called: library use
/// and tests see no colour and every note).
pub fn settings() -> Settings {
    SETTINGS.get().copied().unwrap_or_default()
}

/// Whether `--color WHEN` colours stdout: `always` does, `never` does not, `auto` does when
/// stdout is a terminal and `NO_COLOR` is unset or empty (no-color.org).
pub fn color_wanted(when: &str, stdout_is_terminal: bool, no_color: Option<&str>) -> bool {
    match when {
        "always" => true,
        "never" => false,
        _ => stdout_is_terminal && no_color.is_none_or(str::is_empty),
    }
}

/// A note or warning on stderr, prefixed with the program name; dropped under `--quiet`.
pub fn note(msg: &str) {
    if !settings().quiet {
        eprintln!("etcd-autopsy: {msg}");
    }
}

/// How a verdict reads at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Nothing wrong.
    Good,
    /// Worth a look, not damage.
    Caution,
    /// Damage, or a member that will not start.
    Bad,
}

/// `text` in the colour of `tone` when colour is on (see [`Settings::color`]), else as is.
pub fn paint(tone: Tone, text: &str) -> String {
    if !settings().color {
        return text.to_string();
    }
    let code = match tone {
        Tone::Good => "32",
        Tone::Caution => "33",
        Tone::Bad => "1;31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The width prose is wrapped to: `COLUMNS` when it is set (at least 20), else the
/// terminal's when stdout is one (at least 40); `None` — no wrapping — when stdout is a pipe
/// or a file, so `grep` and scripts see one finding per line.
pub fn wrap_width() -> Option<usize> {
    use std::io::IsTerminal;
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
    {
        return Some(c.max(20));
    }
    if std::io::stdout().is_terminal() {
        if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size() {
            return Some(usize::from(w).max(40));
        }
    }
    None
}

/// The hanging indent of a line of our text layouts: its leading spaces, plus a step
/// number (`3. `), a `label:` or a label column (`file         2.0 MiB`).
fn hanging_indent(line: &str) -> usize {
    let lead = line.len() - line.trim_start().len();
    let rest = &line[lead..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && rest[digits..].starts_with(". ") {
        return lead + digits + 2;
    }
    if let Some(gap) = rest.find("  ") {
        let after = rest[gap..].len() - rest[gap..].trim_start().len();
        if gap > 0 && !rest[..gap].contains(' ') {
            return lead + gap + after;
        }
    }
    if let Some(colon) = rest.find(": ") {
        if colon < 24 && !rest[..colon].contains("  ") {
            return lead + 4;
        }
    }
    lead + 4
}

/// A row of a column table (two or more gaps of 2+ spaces after its first word): its
/// columns would not survive wrapping, so it is left as it is.
fn is_table_row(line: &str) -> bool {
    line.trim().matches("  ").count() >= 2
        && line
            .trim()
            .split("  ")
            .filter(|c| !c.trim().is_empty())
            .count()
            >= 3
}

/// Wraps every line of `text` longer than `width` at spaces, with its hanging indent.
/// Lines that are commands to copy (`$ ...`) are never broken.
pub fn wrap_lines(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        if body.chars().count() <= width
            || body.trim_start().starts_with("$ ")
            || is_table_row(body)
        {
            out.push_str(body);
        } else {
            // The head (indent, step number, label column) stays as it is; the rest is
            // wrapped into the columns after it.
            let mut indent = hanging_indent(body).min(width / 2).min(body.len());
            while !body.is_char_boundary(indent) {
                indent -= 1;
            }
            let lead = body.len() - body.trim_start().len();
            let (head, rest, hang) = if indent > lead && body[..indent].ends_with(' ') {
                (&body[..indent], &body[indent..], 0)
            } else {
                // No column to keep: wrap after the leading spaces, later lines hanging.
                (&body[..lead], &body[lead..], indent.saturating_sub(lead))
            };
            out.push_str(head);
            let pad = format!("\n{}", " ".repeat(head.chars().count()));
            let cols = width.saturating_sub(head.len()).max(1);
            out.push_str(&wrap(rest, cols, hang).replace('\n', &pad));
        }
        out.push_str(nl);
    }
    out
}

/// Colours the verdict words of a text report when colour is on: `OK`, `DAMAGE`,
/// `N problems found`, `verdict:`, `problem:`, `NOT READY`, `BLOCKS`.
pub fn colorize(text: &str) -> String {
    if !settings().color {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let painted = if body == "OK" {
            paint(Tone::Good, body)
        } else if body.ends_with("problems found") {
            paint(Tone::Bad, body)
        } else if let Some(rest) = body.strip_prefix("verdict:") {
            format!("{}{rest}", paint(Tone::Bad, "verdict:"))
        } else if let Some(rest) = body.strip_prefix("problem:") {
            format!("{}{rest}", paint(Tone::Bad, "problem:"))
        } else {
            let mut b = body.to_string();
            for (word, tone) in [
                (" DAMAGE ", Tone::Bad),
                ("NOT READY", Tone::Bad),
                (" BLOCKS ", Tone::Bad),
                (" info ", Tone::Caution),
            ] {
                if let Some(i) = b.find(word) {
                    let w = word.trim();
                    let at = i + word.find(w).unwrap_or(0);
                    b = format!("{}{}{}", &b[..at], paint(tone, w), &b[at + w.len()..]);
                    break;
                }
            }
            b
        };
        out.push_str(&painted);
        out.push_str(nl);
    }
    out
}

/// Text for stdout: wrapped to [`wrap_width`] (when there is one), then coloured.
pub fn present(text: &str) -> String {
    let wrapped = match wrap_width() {
        Some(w) => wrap_lines(text, w),
        None => text.to_string(),
    };
    colorize(&wrapped)
}

/// Wraps `text` at spaces to `width` columns; lines after the first start with `indent`
/// spaces. A word longer than the line is kept whole (a path or a command must not break).
pub fn wrap(text: &str, width: usize, indent: usize) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut col = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let w = word.chars().count();
        if col > 0 && col + 1 + w > width {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent));
            col = indent;
        } else if col > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += w;
    }
    out
}

#[cfg(test)]
mod settings_tests {
    use super::*;

    #[test]
    fn no_color_turns_auto_off_but_not_always() {
        assert!(color_wanted("auto", true, None));
        assert!(color_wanted("auto", true, Some("")));
        assert!(!color_wanted("auto", true, Some("1")));
        assert!(!color_wanted("auto", false, None));
        assert!(color_wanted("always", false, Some("1")));
        assert!(!color_wanted("never", true, None));
    }

    #[test]
    fn wrap_lines_hangs_steps_and_labels_and_never_breaks_commands() {
        let text = "  1. one two three four five six\n       $ etcdctl defrag --data-dir /a/long/path/x\nfile         aa bb cc dd ee ff gg\n";
        let w = wrap_lines(text, 30);
        assert_eq!(
            w,
            "  1. one two three four five\n     six\n       $ etcdctl defrag --data-dir /a/long/path/x\nfile         aa bb cc dd ee ff\n             gg\n"
        );
        assert_eq!(wrap_lines("short\n", 20), "short\n");
        let row = "member                                  id  cluster  term  commit\n";
        assert_eq!(wrap_lines(row, 30), row, "table rows are never wrapped");
    }

    #[test]
    fn wrap_breaks_at_spaces_and_keeps_long_words() {
        assert_eq!(wrap("aa bb cc", 5, 2), "aa bb\n  cc");
        assert_eq!(
            wrap("x /a/very/long/path/that/does/not/fit", 10, 0),
            "x\n/a/very/long/path/that/does/not/fit"
        );
        assert_eq!(wrap("one", 80, 4), "one");
    }
}

/// A text report's stdout: collects the lines, and on [`Write::flush`] writes them
/// [`present`]ed (wrapped to the terminal, verdicts coloured). For our own reports only,
/// never for outputs that must equal an upstream tool byte for byte.
#[derive(Debug, Default)]
pub struct TextOut {
    buf: Vec<u8>,
}

impl TextOut {
    /// An empty report.
    pub fn new() -> Self {
        TextOut::default()
    }
}

impl Write for TextOut {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = present(&String::from_utf8_lossy(&self.buf));
        self.buf.clear();
        let mut out = stdout();
        out.write_all(text.as_bytes())?;
        out.flush()
    }
}

impl Drop for TextOut {
    fn drop(&mut self) {
        // A report that returned early (`?`) still prints what it had; a closed pipe
        // here is a normal end.
        let _ = self.flush();
    }
}

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

/// Makes untrusted bytes safe for a terminal: control characters and invalid UTF-8 are
/// escaped, so a key cannot move the cursor or change colours.
pub fn sanitize(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `n` bytes in human units (KiB, MiB, GiB, binary), with the exact count for small sizes.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

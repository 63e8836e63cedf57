//! Go's `%q` of a byte string (`strconv.Quote`), the one implementation in the workspace.
//!
//! etcd's tools print keys and values with `%q`, so output that claims to match them must
//! escape exactly what Go escapes. Go keeps a printable rune as it is and escapes the rest;
//! "printable" is `strconv.IsPrint`: Unicode categories L, M, N, P, S plus U+0020, from the
//! Unicode version of the Go release. etcd 3.4.23 is built with Go 1.17 (upstream) and
//! 1.19 (Debian), both Unicode 13.0.0, so code points unassigned in 13.0.0 (U+0590, U+05C8,
//! U+0381, ...) and private-use ones are escaped as `\uXXXX`. The table is generated from
//! Go itself (scripts/gen-go-isprint.go), not approximated with Rust's char properties.
//!
//! Escapes, in Go's order: `\"` and `\\`; printable runes as they are; `\a \b \f \n \r \t
//! \v`; other runes below U+0020 and U+007F as `\xHH`; other runes as `\uHHHH` or
//! `\UHHHHHHHH`; each byte of invalid UTF-8 as `\xHH` (Go decodes one byte at a time past
//! an invalid sequence, which gives the same bytes as escaping the whole invalid run).

use crate::go_isprint_table::PRINTABLE;
use std::fmt::Write;

pub use crate::go_isprint_table::UNICODE_VERSION;

/// Go's `strconv.IsPrint` for the Unicode version etcd 3.4's Go uses.
pub fn go_is_print(c: char) -> bool {
    let c = c as u32;
    // Ranges are sorted and disjoint: the last range starting at or before `c` decides.
    let i = PRINTABLE.partition_point(|&(lo, _)| lo <= c);
    i > 0 && c <= PRINTABLE[i - 1].1
}

/// Appends Go's `%q` of `b` (with the surrounding quotes) to `out`.
pub fn push_go_quote(out: &mut String, b: &[u8]) {
    out.push('"');
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if go_is_print(c) => out.push(c),
                '\u{07}' => out.push_str("\\a"),
                '\u{08}' => out.push_str("\\b"),
                '\u{0c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{0b}' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if (c as u32) < 0x10000 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out.push('"');
}

/// Go's `%q` of `b`, with the surrounding quotes.
pub fn go_quote(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    push_go_quote(&mut out, b);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_and_control_bytes_escape_as_strconv_quote() {
        assert_eq!(go_quote(b"abc"), "\"abc\"");
        assert_eq!(go_quote(b"a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(
            go_quote(b"\x07\x08\x0c\n\r\t\x0b"),
            "\"\\a\\b\\f\\n\\r\\t\\v\""
        );
        assert_eq!(go_quote(b"\x00\x1f\x7f"), "\"\\x00\\x1f\\x7f\"");
        assert_eq!(
            go_quote(b"\x00\x00\x00\x00\x00\x00\x00\x02_\x00"),
            "\"\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02_\\x00\""
        );
    }

    #[test]
    fn invalid_utf8_escapes_every_byte() {
        assert_eq!(go_quote(b"\xff\xfe"), "\"\\xff\\xfe\"");
        // A truncated 3-byte sequence followed by ASCII: both bytes escaped, 'A' kept.
        assert_eq!(go_quote(b"\xe2\x82A"), "\"\\xe2\\x82A\"");
        // An encoded surrogate is invalid UTF-8 in Go as in Rust.
        assert_eq!(go_quote(b"\xed\xa0\x80"), "\"\\xed\\xa0\\x80\"");
    }

    #[test]
    fn unassigned_code_points_of_unicode_13_are_escaped() {
        // etcd-dump-db prints `\x10\u0590` for a create_revision varint in the k8s
        // fixture's key bucket: U+0590 is unassigned, so not printable.
        assert_eq!(go_quote("\x10\u{590}".as_bytes()), "\"\\x10\\u0590\"");
        assert_eq!(
            go_quote("\u{5c8}\u{381}\u{7ba}".as_bytes()),
            "\"\\u05c8\\u0381\\u07ba\""
        );
        // Private use is category Co: escaped.
        assert_eq!(go_quote("\u{e66e}".as_bytes()), "\"\\ue66e\"");
        // Assigned in Unicode 14.0 (after Go 1.17-1.20's 13.0.0): escaped here.
        assert_eq!(go_quote("\u{870}".as_bytes()), "\"\\u0870\"");
        assert_eq!(go_quote("\u{1fae0}".as_bytes()), "\"\\U0001fae0\"");
    }

    #[test]
    fn printable_letters_marks_and_symbols_are_kept() {
        assert_eq!(go_quote("éѪ✓".as_bytes()), "\"éѪ✓\"");
        assert_eq!(go_quote("\u{591}".as_bytes()), "\"\u{591}\"");
        assert_eq!(go_quote("\u{fffd}".as_bytes()), "\"\u{fffd}\"");
        assert_eq!(go_quote("\u{1f600}".as_bytes()), "\"\u{1f600}\"");
    }

    #[test]
    fn spaces_and_format_characters_other_than_ascii_space_are_escaped() {
        assert_eq!(go_quote(" ".as_bytes()), "\" \"");
        // U+00A0 is Zs and U+200B is Cf: Go escapes both (the two old copies disagreed).
        assert_eq!(go_quote("\u{a0}\u{200b}".as_bytes()), "\"\\u00a0\\u200b\"");
        assert_eq!(
            go_quote("\u{2028}\u{feff}\u{ad}".as_bytes()),
            "\"\\u2028\\ufeff\\u00ad\""
        );
        assert_eq!(go_quote("\u{e0001}".as_bytes()), "\"\\U000e0001\"");
    }

    #[test]
    fn table_is_sorted_and_disjoint() {
        assert_eq!(UNICODE_VERSION, "13.0.0");
        for w in PRINTABLE.windows(2) {
            assert!(w[0].0 <= w[0].1 && w[0].1 + 1 < w[1].0, "{w:?}");
        }
        assert!(!go_is_print('\u{10ffff}'));
        assert!(go_is_print('~') && !go_is_print('\u{7f}'));
    }
}

//! Text for people: names and keys from an untrusted file made safe to show.

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

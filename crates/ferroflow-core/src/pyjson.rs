//! Pieces of Python's `json.dumps` output that MLflow's stored values carry (its tags
//! hold JSON written by Python, so bytes must match what MLflow would have written).

/// Appends `text` as Python's `json.dumps` writes a string with its default
/// `ensure_ascii=True`: short escapes for the usual control characters, `\uXXXX` (UTF-16
/// units) for every other control character and everything outside printable ASCII.
pub fn push_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_python_writes_them() {
        let mut out = String::new();
        push_string(&mut out, "a\"b\\c\n\u{1}é😀~");
        assert_eq!(out, r#""a\"b\\c\n\u0001\u00e9\ud83d\ude00~""#);
    }
}

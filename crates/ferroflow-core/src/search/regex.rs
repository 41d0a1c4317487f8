//! The regular expressions of the `RLIKE` extension.
//!
//! [`Regex`] is the one definition shared by filter validation, the in-memory evaluator
//! and the SQL store's `ff_regexp` function, so the three always agree on what a pattern
//! means and which patterns are refused.
//!
//! Matching is the `regex` crate's: a search (the pattern may match anywhere),
//! case-sensitive, in time linear in the text whatever the pattern (a lazy DFA, with a
//! Pike VM fallback; never backtracking). Explicit limits bound the rest: a pattern of at
//! most [`MAX_PATTERN_CHARS`] characters, [`MAX_NESTING`] nested groups, a compiled
//! program of at most [`MAX_COMPILED_BYTES`] and a lazy-DFA cache of at most
//! [`MAX_DFA_CACHE_BYTES`]. A pattern over a limit is refused like a syntax error.
//!
//! # Differences from Python's `re`
//!
//! ferroflow used to follow Python's `re` (what MLflow's SQLite `REGEXP` uses). The
//! common syntax is the same: literals, `.`, classes `[…]` with ranges and negation,
//! `\d \D \w \W \s \S \b \B \A`, `^ $`, groups `(…)`, `(?:…)`, `(?P<name>…)`, `|`,
//! the quantifiers `* + ? {n} {n,} {n,m}` and their lazy forms, inline flags
//! `(?i) (?m) (?s) (?x)`, and the escapes `\n \t \r \f \v \a \xhh \uhhhh \Uhhhhhhhh`.
//! `\Z` (end of text) is accepted and means `\z`. Where the two differ:
//!
//! * `$` (without `(?m)`) matches only at the very end of the text; Python's also
//!   matches before a final `\n`. Write `\n?$` for Python's meaning.
//! * Backreferences (`\1`, `(?P=name)`), look-ahead and look-behind (`(?=…)`, `(?!…)`,
//!   `(?<=…)`, `(?<!…)`), conditionals and atomic groups are refused: they cannot be
//!   matched in linear time.
//! * Octal escapes (`\0`, `\012`) and the `(?a)` (ASCII) flag are refused; write `\x00`,
//!   `\n`, or ASCII classes such as `[0-9]`.
//! * `{` must start a valid repetition: Python reads `a{x}` literally and `a{,3}` as
//!   `a{0,3}`; here both are errors (write `a\{x\}`, `a{0,3}`).
//! * A quantifier after a quantifier repeats the repetition: `a**` (which Python refuses)
//!   is `(?:a*)*`, and `a*+` (possessive in Python 3.11+) is `(?:a*)+`.
//! * Inside a class, `[` starts a nested class and `&&`, `--`, `~~` are set operations
//!   (`[\w&&[^\d]]`); escape a literal `[` as `\[`. `\<` and `\>` are word-start and
//!   word-end assertions, where Python reads them as `<` and `>`.
//! * `\d`, `\w`, `\s` and `\b` are Unicode-aware, as in Python, but use Unicode's
//!   definitions (`\w` is Alphabetic, Mark, Decimal_Number, Connector_Punctuation and
//!   Join_Control; Python's is `str.isalnum()` plus `_`), so a few rare characters differ.
//!   `(?i)` folds case by Unicode simple case folding. `\p{…}` classes (`\p{Greek}`) are
//!   an addition.

use std::fmt;

/// The longest pattern accepted, in characters.
pub const MAX_PATTERN_CHARS: usize = 4096;
/// The deepest nesting of groups and classes accepted (the parser recurses per level).
pub const MAX_NESTING: u32 = 64;
/// The largest compiled program accepted. A Pike VM fallback costs about this × the
/// text's length per match, so it bounds the worst case of one row; at 1 MiB that is a
/// few milliseconds on an 8,000-character tag value. Unicode classes are large (`\w` is
/// about 50 KiB), so `\w{30}` is over it where `[0-9A-Za-z_]{30}` is not.
pub const MAX_COMPILED_BYTES: usize = 1 << 20;
/// The lazy DFA's cache, per pattern and thread; when it fills too often the search
/// falls back to the (slower, still linear) Pike VM.
pub const MAX_DFA_CACHE_BYTES: usize = 2 << 20;

/// A compiled `RLIKE` pattern. Two are equal when their patterns are.
#[derive(Clone)]
pub struct Regex {
    pattern: String,
    compiled: regex::Regex,
}

/// Why a pattern was refused, as a message for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RegexError(String);

impl Regex {
    pub fn new(pattern: &str) -> Result<Regex, RegexError> {
        if pattern.chars().count() > MAX_PATTERN_CHARS {
            return Err(RegexError(format!("the pattern is longer than {MAX_PATTERN_CHARS} characters")));
        }
        let compiled = regex::RegexBuilder::new(&python_end_of_text(pattern))
            .size_limit(MAX_COMPILED_BYTES)
            .dfa_size_limit(MAX_DFA_CACHE_BYTES)
            .nest_limit(MAX_NESTING)
            .build()
            .map_err(|error| RegexError(describe(error)))?;
        Ok(Regex { pattern: pattern.to_string(), compiled })
    }

    /// Whether the pattern matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.compiled.is_match(text)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Regex").field(&self.pattern).finish()
    }
}

/// Python's `\Z` (end of text) is the `regex` crate's `\z`, which Python lacks before
/// 3.14. Every other escape is kept as written.
fn python_end_of_text(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '\\' {
            match chars.next() {
                Some('Z') => out.push('z'),
                Some(escaped) => out.push(escaped),
                None => {}
            }
        }
    }
    out
}

/// One line for the user: the crate's syntax errors repeat the pattern and underline the
/// problem over several lines, ending with `error: <what>`.
fn describe(error: regex::Error) -> String {
    match error {
        regex::Error::CompiledTooBig(limit) => format!(
            "the compiled pattern is larger than the limit of {} KiB; use fewer or smaller repetitions, \
             or ASCII classes such as [0-9A-Za-z_] instead of \\w (Unicode classes are large)",
            limit / 1024
        ),
        regex::Error::Syntax(text) => {
            let reason = text.rsplit_once("error: ").map_or(text.as_str(), |(_, reason)| reason).trim();
            // A one-line pattern: the header, the pattern and the carets under the problem,
            // both indented by 4 spaces, then the reason.
            let lines: Vec<&str> = text.lines().collect();
            match lines.as_slice() {
                [_, _, carets, _] if !carets.trim().is_empty() && carets.trim().chars().all(|c| c == '^') => {
                    let position = carets.chars().take_while(|c| *c == ' ').count().saturating_sub(4);
                    format!("{reason} (at character {position})")
                }
                _ => reason.to_string(),
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}")).is_match(text)
    }

    #[test]
    fn search_semantics() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "xxabcxx", true),
            ("^abc", "xxabc", false),
            ("^abc$", "abc", true),
            // `$` is the end of the text; Python's also matches before a final newline.
            ("abc$", "abc\n", false),
            ("abc\\n?$", "abc\n", true),
            ("abc\\Z", "abc\n", false),
            ("abc\\Z", "xabc", true),
            ("\\\\Z", "\\Z", true),
            ("a.c", "a\nc", false),
            ("a.c", "abc", true),
            ("colou?r", "color", true),
            ("(ab)+$", "ababab", true),
            ("^(ab)+$", "ababa", false),
            ("^a{2,3}$", "aaa", true),
            ("^a{2,3}$", "aaaa", false),
            ("^a{2}$", "aa", true),
            ("^a{0,2}$", "", true),
            ("a\\{x\\}", "a{x}", true),
            ("[a-c]+x", "zzbcax", true),
            ("[^a-c]", "abc", false),
            ("[]a]", "]", true),
            ("^\\d+\\.\\d*$", "12.5", true),
            ("^\\d$", "٣", true),
            ("\\bcat\\b", "a cat!", true),
            ("\\bcat\\b", "concat", false),
            ("^(a|b|)$", "", true),
            ("^(?:x|y)z$", "yz", true),
            ("\\w+@\\w+", "me@host", true),
            ("é+", "café", true),
            ("(?i)CAFÉ", "café", true),
            ("(a*)*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", false),
            ("a*?b", "aaab", true),
            ("[\\d-]+$", "12-3", true),
            ("(?P<major>\\d+)\\.(?P<minor>\\d+)", "v1.2", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(m(pattern, text), *expected, "{pattern} on {text:?}");
        }
    }

    #[test]
    fn refuses_what_cannot_be_matched_in_linear_time_or_is_malformed() {
        for (pattern, reason) in [
            ("(", "unclosed group"),
            (")", "unopened group"),
            ("[a", "unclosed character class"),
            ("*a", "repetition operator missing expression"),
            ("a{3,2}", "invalid repetition count range"),
            ("a{,2}", "repetition quantifier expects a valid decimal"),
            ("\\1", "backreferences are not supported"),
            ("(?=a)", "look-around"),
            ("(?<!a)b", "look-around"),
            ("\\q", "unrecognized escape sequence"),
            ("[z-a]", "invalid character class range"),
        ] {
            let error = Regex::new(pattern).err().unwrap_or_else(|| panic!("{pattern} was accepted"));
            assert!(error.to_string().contains(reason), "{pattern}: {error}");
            assert!(!error.to_string().contains('\n'), "{pattern}: one line, got {error}");
        }
    }

    #[test]
    fn limits_refuse_oversized_patterns() {
        let long = "a".repeat(MAX_PATTERN_CHARS + 1);
        assert!(Regex::new(&long).unwrap_err().to_string().contains("longer than 4096 characters"));
        assert!(Regex::new(&"a".repeat(MAX_PATTERN_CHARS)).is_ok());
        let big = Regex::new("\\w{30}").unwrap_err().to_string();
        assert!(big.starts_with("the compiled pattern is larger than the limit of 1024 KiB"), "{big}");
        assert!(Regex::new("[0-9A-Za-z_]{30}").is_ok());
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(Regex::new(&deep)
            .unwrap_err()
            .to_string()
            .contains("maximum number of nested parentheses/brackets (64)"));
    }

    #[test]
    fn the_reproduction_of_issue_10_answers() {
        // 9 × `(?:a?){1000}` then `b`: seconds per row with the old engine.
        let pattern = format!("{}b", "(?:a?){1000}".repeat(9));
        let regex = Regex::new(&pattern).expect("under the limits");
        assert!(!regex.is_match(&"a".repeat(8000)));
        assert!(regex.is_match(&format!("{}b", "a".repeat(8000))));
    }

    #[test]
    fn equality_is_by_pattern() {
        assert_eq!(Regex::new("a+").unwrap(), Regex::new("a+").unwrap());
        assert_ne!(Regex::new("a+").unwrap(), Regex::new("a*").unwrap());
        assert_eq!(Regex::new("x\\Z").unwrap().as_str(), "x\\Z");
    }
}

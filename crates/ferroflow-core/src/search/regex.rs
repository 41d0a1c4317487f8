//! A small, linear-time regular-expression engine for the `RLIKE` extension.
//!
//! Why our own: ferroflow-core has no regex dependency, and `RLIKE` needs one definition
//! shared by the in-memory evaluator and the SQL store (which can register
//! [`Regex::is_match`] as SQLite's `REGEXP` function), so both always agree.
//!
//! The syntax is the common subset of Python's `re` (what MLflow's SQLite `REGEXP` uses):
//! literals, `.`, `[…]` classes with ranges and negation, `\d \D \w \W \s \S`, `\b \B \A
//! \Z`, `^`, `$`, groups `(…)` / `(?:…)`, alternation `|`, and the quantifiers `* + ?
//! {n} {n,} {,m} {n,m}` (a trailing `?` for laziness is accepted; it does not change
//! whether a string matches). Backreferences, look-around and inline flags are rejected.
//! Matching is a search (the pattern may match anywhere), case-sensitive, on Unicode
//! scalar values; `.` does not match `\n` and `$` also matches before a final `\n`, as in
//! Python. `\d`, `\w`, `\s` use Rust's Unicode `is_numeric` / `is_alphanumeric` /
//! `is_whitespace`, which are close to (not identical with) Python's definitions.

use std::fmt;

/// Limits that keep compilation and matching cheap on hostile input.
const MAX_PATTERN_CHARS: usize = 4096;
const MAX_PROGRAM: usize = 20_000;
const MAX_REPEAT: u32 = 1000;

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Regex {
    program: Vec<Inst>,
}

/// Why a pattern was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexError(String);

impl fmt::Display for RegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RegexError {}

impl Regex {
    pub fn new(pattern: &str) -> Result<Regex, RegexError> {
        let chars: Vec<char> = pattern.chars().collect();
        if chars.len() > MAX_PATTERN_CHARS {
            return Err(RegexError(format!("pattern longer than {MAX_PATTERN_CHARS} characters")));
        }
        let mut parser = Parser { chars: &chars, pos: 0, depth: 0 };
        let node = parser.alternation()?;
        if parser.pos < chars.len() {
            // Only an unbalanced ')' stops the top-level alternation early.
            return Err(RegexError(format!("unbalanced parenthesis at position {}", parser.pos)));
        }
        let mut program = Vec::new();
        compile(&node, &mut program)?;
        program.push(Inst::Match);
        Ok(Regex { program })
    }

    /// Whether the pattern matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let n = self.program.len();
        let mut current = Threads::new(n);
        let mut next = Threads::new(n);
        for pos in 0..=chars.len() {
            // Unanchored search: a new attempt may start at every position.
            self.add_thread(&mut current, 0, &chars, pos);
            if current.matched {
                return true;
            }
            if pos == chars.len() {
                break;
            }
            let c = chars[pos];
            next.clear();
            for idx in 0..current.list.len() {
                let pc = current.list[idx];
                let advance = match &self.program[pc] {
                    Inst::Char(expected) => *expected == c,
                    Inst::Any => c != '\n',
                    Inst::Class(class) => class.contains(c),
                    _ => false,
                };
                if advance {
                    self.add_thread(&mut next, pc + 1, &chars, pos + 1);
                }
            }
            if next.matched {
                return true;
            }
            std::mem::swap(&mut current, &mut next);
        }
        false
    }

    /// Follows jumps, splits and assertions from `pc` at `pos`, adding char-consuming
    /// instructions to the thread list (each at most once per position).
    fn add_thread(&self, threads: &mut Threads, pc: usize, chars: &[char], pos: usize) {
        let mut stack = vec![pc];
        while let Some(pc) = stack.pop() {
            if !threads.insert(pc) {
                continue;
            }
            match &self.program[pc] {
                Inst::Match => threads.matched = true,
                Inst::Jmp(to) => stack.push(*to),
                Inst::Split(first, second) => {
                    stack.push(*second);
                    stack.push(*first);
                }
                Inst::Assert(look) => {
                    if look.holds(chars, pos) {
                        stack.push(pc + 1);
                    }
                }
                Inst::Char(_) | Inst::Any | Inst::Class(_) => threads.list.push(pc),
            }
        }
    }
}

/// A sparse set of program counters plus the ordered list of runnable ones.
struct Threads {
    seen: Vec<u32>,
    generation: u32,
    list: Vec<usize>,
    matched: bool,
}

impl Threads {
    fn new(n: usize) -> Self {
        Threads { seen: vec![0; n], generation: 1, list: Vec::new(), matched: false }
    }

    fn insert(&mut self, pc: usize) -> bool {
        if self.seen[pc] == self.generation {
            return false;
        }
        self.seen[pc] = self.generation;
        true
    }

    fn clear(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
        self.list.clear();
        self.matched = false;
    }
}

#[derive(Debug, Clone)]
enum Inst {
    Char(char),
    Any,
    Class(Class),
    Split(usize, usize),
    Jmp(usize),
    Assert(Look),
    Match,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    Start,
    End,
    EndOrFinalNewline,
    WordBoundary,
    NotWordBoundary,
}

impl Look {
    fn holds(self, chars: &[char], pos: usize) -> bool {
        match self {
            Look::Start => pos == 0,
            Look::End => pos == chars.len(),
            Look::EndOrFinalNewline => pos == chars.len() || (pos + 1 == chars.len() && chars[pos] == '\n'),
            Look::WordBoundary | Look::NotWordBoundary => {
                let before = pos > 0 && is_word(chars[pos - 1]);
                let after = pos < chars.len() && is_word(chars[pos]);
                (before != after) == (self == Look::WordBoundary)
            }
        }
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Perl {
    Digit,
    Word,
    Space,
}

impl Perl {
    fn contains(self, c: char) -> bool {
        match self {
            Perl::Digit => c.is_numeric(),
            Perl::Word => is_word(c),
            Perl::Space => c.is_whitespace(),
        }
    }
}

#[derive(Debug, Clone)]
enum ClassItem {
    Range(char, char),
    Perl(Perl, bool),
}

#[derive(Debug, Clone)]
struct Class {
    negated: bool,
    items: Vec<ClassItem>,
}

impl Class {
    fn contains(&self, c: char) -> bool {
        let hit = self.items.iter().any(|item| match item {
            ClassItem::Range(lo, hi) => *lo <= c && c <= *hi,
            ClassItem::Perl(perl, negated) => perl.contains(c) != *negated,
        });
        hit != self.negated
    }
}

#[derive(Debug, Clone)]
enum Node {
    Empty,
    Char(char),
    Any,
    Class(Class),
    Look(Look),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat { node: Box<Node>, min: u32, max: Option<u32> },
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    depth: usize,
}

/// Group nesting limit: the parser and compiler recurse once per level.
const MAX_NESTING: usize = 64;

fn error<T>(message: impl Into<String>) -> Result<T, RegexError> {
    Err(RegexError(message.into()))
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn alternation(&mut self) -> Result<Node, RegexError> {
        let mut branches = vec![self.concat()?];
        while self.peek() == Some('|') {
            self.pos += 1;
            branches.push(self.concat()?);
        }
        Ok(if branches.len() == 1 { branches.pop().unwrap_or(Node::Empty) } else { Node::Alt(branches) })
    }

    fn concat(&mut self) -> Result<Node, RegexError> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.quantified(atom)?);
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(items),
        })
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, RegexError> {
        let Some((min, max)) = self.quantifier()? else {
            return Ok(atom);
        };
        if matches!(atom, Node::Look(_)) {
            return error("nothing to repeat (an assertion cannot be repeated)");
        }
        if self.peek() == Some('?') {
            self.pos += 1; // lazy: same language
        }
        if self.peek() == Some('+') {
            return error("possessive quantifiers are not supported");
        }
        if self.quantifier_ahead() {
            return error(format!("multiple repeat at position {}", self.pos));
        }
        Ok(Node::Repeat { node: Box::new(atom), min, max })
    }

    fn quantifier_ahead(&self) -> bool {
        match self.peek() {
            Some('*' | '+' | '?') => true,
            Some('{') => self.counted(self.pos).is_some(),
            _ => false,
        }
    }

    fn quantifier(&mut self) -> Result<Option<(u32, Option<u32>)>, RegexError> {
        let q = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => match self.counted(self.pos) {
                Some((min, max, end)) => {
                    self.pos = end;
                    if max.is_some_and(|max| max < min) {
                        return error("min repeat greater than max repeat");
                    }
                    if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT) {
                        return error(format!("repeat count above {MAX_REPEAT}"));
                    }
                    return Ok(Some((min, max)));
                }
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        self.pos += 1;
        Ok(Some(q))
    }

    /// `{n}`, `{n,}`, `{,m}`, `{n,m}` starting at `at`; otherwise `{` is a literal.
    fn counted(&self, at: usize) -> Option<(u32, Option<u32>, usize)> {
        let mut p = at + 1;
        let number = |p: &mut usize| -> Option<u32> {
            let start = *p;
            while self.chars.get(*p).is_some_and(|c| c.is_ascii_digit()) {
                *p += 1;
            }
            if *p == start {
                return None;
            }
            let text: String = self.chars[start..*p].iter().collect();
            Some(text.parse::<u32>().unwrap_or(u32::MAX))
        };
        let min = number(&mut p);
        if self.chars.get(p) == Some(&'}') {
            let n = min?;
            return Some((n, Some(n), p + 1));
        }
        if self.chars.get(p) != Some(&',') {
            return None;
        }
        p += 1;
        let max = number(&mut p);
        if self.chars.get(p) != Some(&'}') {
            return None;
        }
        Some((min.unwrap_or(0), max, p + 1))
    }

    fn atom(&mut self) -> Result<Node, RegexError> {
        let Some(c) = self.peek() else {
            return error("unexpected end of pattern");
        };
        self.pos += 1;
        Ok(match c {
            '(' => {
                self.depth += 1;
                if self.depth > MAX_NESTING {
                    return error(format!("more than {MAX_NESTING} nested groups"));
                }
                if self.peek() == Some('?') {
                    if self.chars.get(self.pos + 1) == Some(&':') {
                        self.pos += 2;
                    } else {
                        return error("only (?:...) groups are supported");
                    }
                }
                let inner = self.alternation()?;
                if self.peek() != Some(')') {
                    return error("missing ), unterminated subpattern");
                }
                self.pos += 1;
                self.depth -= 1;
                inner
            }
            '[' => Node::Class(self.class()?),
            '.' => Node::Any,
            '^' => Node::Look(Look::Start),
            '$' => Node::Look(Look::EndOrFinalNewline),
            '\\' => self.escape()?,
            '*' | '+' | '?' => return error(format!("nothing to repeat at position {}", self.pos - 1)),
            '{' if self.counted(self.pos - 1).is_some() => {
                return error(format!("nothing to repeat at position {}", self.pos - 1))
            }
            other => Node::Char(other),
        })
    }

    fn escape(&mut self) -> Result<Node, RegexError> {
        let Some(e) = self.peek() else {
            return error("bad escape (end of pattern)");
        };
        self.pos += 1;
        let perl = |p, negated| Node::Class(Class { negated: false, items: vec![ClassItem::Perl(p, negated)] });
        Ok(match e {
            'd' => perl(Perl::Digit, false),
            'D' => perl(Perl::Digit, true),
            'w' => perl(Perl::Word, false),
            'W' => perl(Perl::Word, true),
            's' => perl(Perl::Space, false),
            'S' => perl(Perl::Space, true),
            'b' => Node::Look(Look::WordBoundary),
            'B' => Node::Look(Look::NotWordBoundary),
            'A' => Node::Look(Look::Start),
            'Z' => Node::Look(Look::End),
            _ => Node::Char(self.char_escape(e)?),
        })
    }

    /// Escapes that stand for one character (shared by classes and the top level).
    fn char_escape(&mut self, e: char) -> Result<char, RegexError> {
        Ok(match e {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'f' => '\x0c',
            'v' => '\x0b',
            'a' => '\x07',
            '0' => {
                let mut value = 0u32;
                for _ in 0..2 {
                    match self.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            value = value * 8 + d;
                            self.pos += 1;
                        }
                        None => break,
                    }
                }
                char::from_u32(value).unwrap_or('\0')
            }
            'x' | 'u' | 'U' => {
                let width = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut value = 0u32;
                for _ in 0..width {
                    let Some(d) = self.peek().and_then(|d| d.to_digit(16)) else {
                        return error(format!("incomplete \\{e} escape"));
                    };
                    value = value.saturating_mul(16).saturating_add(d);
                    self.pos += 1;
                }
                match char::from_u32(value) {
                    Some(c) => c,
                    None => return error(format!("bad \\{e} escape value")),
                }
            }
            '1'..='9' => return error("backreferences are not supported"),
            c if c.is_ascii_alphanumeric() => return error(format!("bad escape \\{c}")),
            c => c,
        })
    }

    fn class(&mut self) -> Result<Class, RegexError> {
        let mut class = Class { negated: false, items: Vec::new() };
        if self.peek() == Some('^') {
            class.negated = true;
            self.pos += 1;
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return error("unterminated character set");
            };
            if c == ']' && !first {
                self.pos += 1;
                return Ok(class);
            }
            first = false;
            self.pos += 1;
            let lo = match c {
                '\\' => {
                    let Some(e) = self.peek() else {
                        return error("unterminated character set");
                    };
                    self.pos += 1;
                    match e {
                        'd' | 'D' | 'w' | 'W' | 's' | 'S' => {
                            let perl = match e.to_ascii_lowercase() {
                                'd' => Perl::Digit,
                                'w' => Perl::Word,
                                _ => Perl::Space,
                            };
                            class.items.push(ClassItem::Perl(perl, e.is_ascii_uppercase()));
                            continue;
                        }
                        'b' => '\x08',
                        _ => self.char_escape(e)?,
                    }
                }
                other => other,
            };
            // A range `lo-hi`, unless the '-' is the last char before ']'.
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|c| *c != ']') {
                self.pos += 1;
                let Some(h) = self.peek() else {
                    return error("unterminated character set");
                };
                self.pos += 1;
                let hi = if h == '\\' {
                    let Some(e) = self.peek() else {
                        return error("unterminated character set");
                    };
                    self.pos += 1;
                    if matches!(e, 'd' | 'D' | 'w' | 'W' | 's' | 'S') {
                        return error("bad character range");
                    }
                    if e == 'b' {
                        '\x08'
                    } else {
                        self.char_escape(e)?
                    }
                } else {
                    h
                };
                if hi < lo {
                    return error(format!("bad character range {lo}-{hi}"));
                }
                class.items.push(ClassItem::Range(lo, hi));
            } else {
                class.items.push(ClassItem::Range(lo, lo));
            }
        }
    }
}

fn compile(node: &Node, program: &mut Vec<Inst>) -> Result<(), RegexError> {
    if program.len() > MAX_PROGRAM {
        return error("regular expression too large");
    }
    match node {
        Node::Empty => {}
        Node::Char(c) => program.push(Inst::Char(*c)),
        Node::Any => program.push(Inst::Any),
        Node::Class(class) => program.push(Inst::Class(class.clone())),
        Node::Look(look) => program.push(Inst::Assert(*look)),
        Node::Concat(items) => {
            for item in items {
                compile(item, program)?;
            }
        }
        Node::Alt(branches) => {
            // split L1, next; L1: branch; jmp end; next: split …
            let mut jumps = Vec::new();
            for (idx, branch) in branches.iter().enumerate() {
                if idx + 1 < branches.len() {
                    let split = program.len();
                    program.push(Inst::Split(split + 1, 0));
                    compile(branch, program)?;
                    jumps.push(program.len());
                    program.push(Inst::Jmp(0));
                    let next = program.len();
                    program[split] = Inst::Split(split + 1, next);
                } else {
                    compile(branch, program)?;
                }
            }
            let end = program.len();
            for j in jumps {
                program[j] = Inst::Jmp(end);
            }
        }
        Node::Repeat { node, min, max } => {
            for _ in 0..*min {
                compile(node, program)?;
            }
            match max {
                None => {
                    // L: split body, end; body; jmp L
                    let split = program.len();
                    program.push(Inst::Split(split + 1, 0));
                    compile(node, program)?;
                    program.push(Inst::Jmp(split));
                    let end = program.len();
                    program[split] = Inst::Split(split + 1, end);
                }
                Some(max) => {
                    // Optional copies: each split may skip to the end.
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(program.len());
                        program.push(Inst::Split(program.len() + 1, 0));
                        compile(node, program)?;
                        if program.len() > MAX_PROGRAM {
                            return error("regular expression too large");
                        }
                    }
                    let end = program.len();
                    for s in splits {
                        program[s] = Inst::Split(s + 1, end);
                    }
                }
            }
        }
    }
    if program.len() > MAX_PROGRAM {
        return error("regular expression too large");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Regex;

    fn m(pattern: &str, text: &str) -> bool {
        Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}")).is_match(text)
    }

    #[test]
    fn search_semantics() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "xxabcxx", true),
            ("^abc", "xxabc", false),
            ("^abc$", "abc", true),
            ("abc$", "abc\n", true),
            ("abc\\Z", "abc\n", false),
            ("a.c", "a\nc", false),
            ("a.c", "abc", true),
            ("colou?r", "color", true),
            ("(ab)+$", "ababab", true),
            ("^(ab)+$", "ababa", false),
            ("^a{2,3}$", "aaa", true),
            ("^a{2,3}$", "aaaa", false),
            ("^a{2}$", "aa", true),
            ("^a{,2}$", "", true),
            ("a{x}", "a{x}", true),
            ("[a-c]+x", "zzbcax", true),
            ("[^a-c]", "abc", false),
            ("[]a]", "]", true),
            ("^\\d+\\.\\d*$", "12.5", true),
            ("\\bcat\\b", "a cat!", true),
            ("\\bcat\\b", "concat", false),
            ("^(a|b|)$", "", true),
            ("^(?:x|y)z$", "yz", true),
            ("\\w+@\\w+", "me@host", true),
            ("é+", "café", true),
            ("(a*)*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", false),
            ("a*?b", "aaab", true),
            ("[\\d-]+$", "12-3", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(m(pattern, text), *expected, "{pattern} on {text:?}");
        }
    }

    #[test]
    fn rejects_what_python_rejects_or_we_do_not_support() {
        for pattern in ["(", ")", "a)", "[a", "*a", "a**", "a{3,2}", "\\1", "(?=a)", "\\q", "[z-a]", "a{1001}"] {
            assert!(Regex::new(pattern).is_err(), "{pattern}");
        }
    }
}

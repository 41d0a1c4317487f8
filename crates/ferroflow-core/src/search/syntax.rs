//! The filter grammar, written with winnow: text → untyped syntax tree with byte spans.
//!
//! Nothing entity-specific happens here; `validate.rs` turns the tree into the typed AST.
//! The lexical rules deliberately follow what MLflow's `sqlparse`-based parser accepts,
//! because "the same filter means the same thing" is the compatibility contract:
//!
//! * string literals end like sqlparse's regexes: `''` and `\'` inside `'…'` do not end the
//!   string, and the content is kept raw (MLflow never unescapes it);
//! * numbers are sqlparse's `Integer`/`Float` tokens (`-1`, `.5`, `5.`, `1e-3`; no `+`);
//! * `IN (…)` lists are Python tuple literals (MLflow runs `ast.literal_eval` on them), so
//!   escapes are processed and adjacent strings concatenate there, and only there;
//! * `AND` is optional between comparisons and may lead or trail (sqlparse simply skips
//!   `AND` tokens and MLflow collects every comparison it finds).
//!
//! Extensions over MLflow: `OR`, `NOT`, parentheses, and the `RLIKE` operator keyword.

use winnow::error::{ContextError, ErrMode};
use winnow::stream::{LocatingSlice, Location, Stream};
use winnow::token::take_while;
use winnow::ModalResult;
use winnow::Parser as _;

pub(crate) type In<'a> = LocatingSlice<&'a str>;
type PResult<T> = ModalResult<T, ContextError<String>>;

/// A syntax error: byte offset into the filter and what was expected there.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub pos: usize,
    pub expected: String,
}

/// Untyped expression tree straight from the grammar.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawExpr {
    And(Vec<RawExpr>),
    Or(Vec<RawExpr>),
    Not(Box<RawExpr>),
    Cmp(RawCmp),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawCmp {
    pub key: RawKey,
    pub op: RawOp,
    pub op_pos: usize,
    pub value: RawValue,
    pub value_pos: usize,
}

/// A key exactly as written, e.g. ``tags.`a b` `` or `"run name"`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawKey {
    /// The source text of the whole key (MLflow splits this on its first `.`).
    pub text: String,
    pub segments: Vec<Segment>,
    pub pos: usize,
}

/// One dot-separated part of a key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Segment {
    /// The text between the quotes (raw), or the bare word.
    pub inner: String,
    /// `None` for a bare word, else the quote character used.
    pub quote: Option<char>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawOp {
    /// A run of `<>=~!` characters, validated later (`==`, `<>` are errors).
    Symbol(String),
    Like,
    ILike,
    RLike,
    /// `NOT LIKE` and friends: MLflow's lexer knows them, MLflow's stores reject them.
    NegatedPattern(&'static str),
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawValue {
    /// A quoted string; `inner` is the raw text between the quotes.
    Str { inner: String, quote: char },
    /// A number literal exactly as written. `sqlparse` is false for `1e+5`: Python's
    /// float() reads it (so the logged-model parser takes it) but sqlparse does not.
    Num { text: String, integer: bool, sqlparse: bool },
    /// An unquoted word, which MLflow rejects with a specific message.
    Bare(String),
    /// A parenthesized Python tuple literal.
    List(Vec<ListItem>),
    /// No value (IS NULL / IS NOT NULL).
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ListItem {
    Str(String),
    /// A non-string Python literal (number, True, None, bytes…), kept for the message.
    Other(String),
}

impl RawValue {
    /// The value as MLflow would print it in an error message.
    pub fn display(&self) -> String {
        match self {
            RawValue::Str { inner, quote } => format!("{quote}{inner}{quote}"),
            RawValue::Num { text, .. } => text.clone(),
            RawValue::Bare(text) => text.clone(),
            RawValue::List(items) => {
                let parts: Vec<String> = items
                    .iter()
                    .map(|item| match item {
                        ListItem::Str(s) => format!("'{s}'"),
                        ListItem::Other(s) => s.clone(),
                    })
                    .collect();
                format!("({})", parts.join(", "))
            }
            RawValue::None => "None".to_string(),
        }
    }
}

/// Parses a whole filter. `Ok(None)` when it holds no comparison at all (empty, blank,
/// or only `AND`s — MLflow treats all of those as "no filter").
pub(crate) fn parse(text: &str) -> Result<Option<RawExpr>, SyntaxError> {
    let mut input = LocatingSlice::new(text);
    match filter(&mut input) {
        Ok(expr) => Ok(expr),
        Err(err) => {
            let pos = input.current_token_start();
            let expected = match err {
                ErrMode::Backtrack(e) | ErrMode::Cut(e) => e.context().last().cloned(),
                ErrMode::Incomplete(_) => None,
            }
            .unwrap_or_else(|| "a valid filter".to_string());
            Err(SyntaxError { pos, expected })
        }
    }
}

fn filter(i: &mut In<'_>) -> PResult<Option<RawExpr>> {
    let expr = or_expr(i, true, 0)?;
    skip_ws(i);
    if !i.is_empty() {
        let what = if expr.is_some() { "AND, OR or the end of the filter" } else { "a comparison" };
        return fail_here(i, what);
    }
    Ok(expr)
}

/// `and_chain (OR and_chain)*`; an empty chain is only allowed when it is the only one.
fn or_expr(i: &mut In<'_>, top_level: bool, depth: usize) -> PResult<Option<RawExpr>> {
    let mut chains = Vec::new();
    loop {
        let first = chains.is_empty();
        let chain = and_chain(i, top_level && first, depth)?;
        skip_ws(i);
        let before_or = i.checkpoint();
        if keyword(i, "OR") {
            if chain.is_none() {
                i.reset(&before_or);
                return fail_here(i, "a comparison before OR");
            }
            chains.extend(chain);
            skip_ws(i);
            if !starts_operand(i) {
                return fail_here(i, "a comparison after OR");
            }
            continue;
        }
        chains.extend(chain);
        break;
    }
    Ok(collapse(chains, RawExpr::Or))
}

/// Operands joined by `AND`. For MLflow compatibility the `AND` may be repeated, stray at
/// the very start or end of the filter, or missing between two comparisons (sqlparse
/// skips `AND` tokens and MLflow collects every comparison it finds). Inside parentheses
/// or next to `OR` a stray `AND` is an error, and a missing `AND` is only accepted where
/// sqlparse still sees two comparisons: before a plain comparison, or before an `IN` /
/// `IS [NOT] NULL` one when the previous comparison ended in `NULL`. Elsewhere (and
/// before `NOT` or `(`) sqlparse glues the text into one nonsensical key, so MLflow's
/// answer has no meaning worth reproducing and ferroflow asks for the `AND`.
fn and_chain(i: &mut In<'_>, at_filter_start: bool, depth: usize) -> PResult<Option<RawExpr>> {
    let mut items = Vec::new();
    let mut dangling_and = None;
    let mut joined = true;
    loop {
        skip_ws(i);
        let before = i.checkpoint();
        if keyword(i, "AND") {
            if items.is_empty() && !at_filter_start {
                i.reset(&before);
                return fail_here(i, "a comparison before AND");
            }
            dangling_and = Some(before);
            joined = true;
            continue;
        }
        if !starts_operand(i) {
            break;
        }
        if !joined {
            let rest: &str = i;
            let plain_start = !rest.starts_with('(') && !peek_word(rest).is_some_and(|w| w.eq_ignore_ascii_case("NOT"));
            let item = if plain_start { Some(comparison(i)?) } else { None };
            let after_null =
                matches!(items.last(), Some(RawExpr::Cmp(c)) if matches!(c.op, RawOp::IsNull | RawOp::IsNotNull));
            match item {
                Some(cmp)
                    if after_null || !matches!(cmp.op, RawOp::In | RawOp::NotIn | RawOp::IsNull | RawOp::IsNotNull) =>
                {
                    items.push(RawExpr::Cmp(cmp));
                    continue;
                }
                _ => {
                    i.reset(&before);
                    return fail_here(i, "AND or OR before this comparison");
                }
            }
        }
        items.push(unary(i, depth)?);
        dangling_and = None;
        joined = false;
    }
    if let Some(and_pos) = dangling_and {
        // Only the end of the whole filter may follow a stray AND.
        if !i.is_empty() {
            i.reset(&and_pos);
            return fail_here(i, "a comparison after AND");
        }
    }
    Ok(collapse(items, RawExpr::And))
}

fn collapse(mut items: Vec<RawExpr>, wrap: fn(Vec<RawExpr>) -> RawExpr) -> Option<RawExpr> {
    match items.len() {
        0 => None,
        1 => items.pop(),
        _ => Some(wrap(items)),
    }
}

/// Whether the input starts a `NOT`, a parenthesized expression or a comparison.
fn starts_operand(i: &In<'_>) -> bool {
    let rest: &str = i;
    match rest.chars().next() {
        Some('(') | Some('"') | Some('`') => true,
        Some(c) if is_word_start(c) => match peek_word(rest) {
            // These words can never start a key; leaving them alone gives a better error.
            Some(w) => !is_reserved(w) || w.eq_ignore_ascii_case("NOT"),
            None => false,
        },
        _ => false,
    }
}

fn is_reserved(word: &str) -> bool {
    const RESERVED: [&str; 9] = ["AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "RLIKE"];
    RESERVED.iter().any(|r| word.eq_ignore_ascii_case(r))
}

/// How deeply `NOT` and parentheses may nest; keeps recursion (here, in validation and
/// in evaluation) far from the stack limit on hostile input.
const MAX_NESTING: usize = 64;

fn unary(i: &mut In<'_>, depth: usize) -> PResult<RawExpr> {
    if depth >= MAX_NESTING {
        return fail_here(i, "at most 64 nested NOTs and parentheses");
    }
    skip_ws(i);
    if keyword(i, "NOT") {
        skip_ws(i);
        if !starts_operand(i) {
            return fail_here(i, "a comparison or '(' after NOT");
        }
        return Ok(RawExpr::Not(Box::new(unary(i, depth + 1)?)));
    }
    if i.starts_with('(') {
        let _ = i.next_token();
        let inner = or_expr(i, false, depth + 1)?;
        skip_ws(i);
        let Some(inner) = inner else {
            return fail_here(i, "a comparison inside parentheses");
        };
        if !i.starts_with(')') {
            return fail_here(i, "')' to close the parenthesis");
        }
        let _ = i.next_token();
        return Ok(inner);
    }
    comparison(i).map(RawExpr::Cmp)
}

fn comparison(i: &mut In<'_>) -> PResult<RawCmp> {
    let key = key(i, false)?;
    skip_ws(i);
    let op_pos = i.current_token_start();
    let op = operator(i)?;
    skip_ws(i);
    let value_pos = i.current_token_start();
    let value = match op {
        RawOp::IsNull | RawOp::IsNotNull => RawValue::None,
        RawOp::In | RawOp::NotIn => {
            if !i.starts_with('(') {
                return fail_here(i, "a parenthesized list of quoted strings after IN");
            }
            python_tuple(i)?
        }
        _ => value(i)?,
    };
    Ok(RawCmp { key, op, op_pos, value, value_pos })
}

/// `segment ('.' segment)*`. A key may not start with a single-quoted segment (sqlparse
/// would see a string there, not an identifier) but later segments may be.
pub(crate) fn key(i: &mut In<'_>, allow_leading_single_quote: bool) -> PResult<RawKey> {
    let pos = i.current_token_start();
    let start: &str = i;
    let mut segments = Vec::new();
    loop {
        let first = segments.is_empty();
        let segment = match i.chars().next() {
            Some(q @ ('"' | '`')) => quoted_segment(i, q)?,
            Some('\'') if !first || allow_leading_single_quote => quoted_segment(i, '\'')?,
            Some(c) if is_word_start(c) => {
                let word = take_while(1.., is_word_char).parse_next(i)?;
                Segment { inner: word.to_string(), quote: None }
            }
            // MLflow takes `tags.` as the tag named "" (which matches nothing).
            _ if !first => Segment { inner: String::new(), quote: None },
            _ => return fail_here(i, "a key such as metrics.x"),
        };
        segments.push(segment);
        if i.starts_with('.') {
            let _ = i.next_token();
            continue;
        }
        break;
    }
    let consumed = start.len() - i.len();
    Ok(RawKey { text: start[..consumed].to_string(), segments, pos })
}

fn quoted_segment(i: &mut In<'_>, quote: char) -> PResult<Segment> {
    let inner = sql_string(i, quote)?;
    Ok(Segment { inner, quote: Some(quote) })
}

fn operator(i: &mut In<'_>) -> PResult<RawOp> {
    let rest: &str = i;
    let symbol_len: usize =
        rest.chars().take_while(|c| matches!(c, '<' | '>' | '=' | '~' | '!')).map(char::len_utf8).sum();
    if symbol_len > 0 {
        let symbol = i.next_slice(symbol_len);
        return Ok(RawOp::Symbol(symbol.to_string()));
    }
    let start = i.checkpoint();
    let op = if keyword(i, "LIKE") {
        Some(RawOp::Like)
    } else if keyword(i, "ILIKE") {
        Some(RawOp::ILike)
    } else if keyword(i, "RLIKE") {
        Some(RawOp::RLike)
    } else if keyword(i, "IN") {
        Some(RawOp::In)
    } else if keyword(i, "IS") {
        skip_ws(i);
        if keyword(i, "NULL") {
            Some(RawOp::IsNull)
        } else if keyword_pair(i, "NOT", "NULL") {
            Some(RawOp::IsNotNull)
        } else {
            return fail_here(i, "NULL or NOT NULL after IS");
        }
    } else if keyword(i, "NOT") {
        let after_not = i.checkpoint();
        skip_ws(i);
        if keyword(i, "IN") {
            Some(RawOp::NotIn)
        } else if keyword(i, "LIKE") {
            Some(RawOp::NegatedPattern("NOT LIKE"))
        } else if keyword(i, "ILIKE") {
            Some(RawOp::NegatedPattern("NOT ILIKE"))
        } else if keyword(i, "RLIKE") {
            Some(RawOp::NegatedPattern("NOT RLIKE"))
        } else {
            i.reset(&after_not);
            None
        }
    } else {
        None
    };
    match op {
        Some(op) => Ok(op),
        None => {
            i.reset(&start);
            fail_here(
                i,
                "a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, RLIKE, IN, NOT IN, \
                 IS NULL, IS NOT NULL)",
            )
        }
    }
}

/// `NOT` then `NULL` with whitespace between (sqlparse's `NOT\s+NULL\b` token).
fn keyword_pair(i: &mut In<'_>, first: &str, second: &str) -> bool {
    let start = i.checkpoint();
    if keyword(i, first) {
        let rest: &str = i;
        if rest.starts_with(char::is_whitespace) {
            skip_ws(i);
            if keyword(i, second) {
                return true;
            }
        }
    }
    i.reset(&start);
    false
}

fn value(i: &mut In<'_>) -> PResult<RawValue> {
    match i.chars().next() {
        Some(q @ ('\'' | '"')) => {
            let inner = sql_string(i, q)?;
            Ok(RawValue::Str { inner, quote: q })
        }
        Some('(') => python_tuple(i),
        Some(c) if c == '-' || c == '.' || c.is_ascii_digit() => number(i),
        Some(c) if is_word_start(c) || c == '`' => {
            let key = key(i, false)?;
            Ok(RawValue::Bare(key.text))
        }
        _ => fail_here(i, "a value (a quoted string or a number)"),
    }
}

/// sqlparse's number tokens, tried in its order: `-?\d+(\.\d+)?E-?\d+`, then
/// `-?(\d+\.\d*|\.\d+)`, then `-?\d+`. A letter, digit, `_` or `.` right after the number
/// makes sqlparse split the text into two adjacent tokens, which MLflow rejects.
fn number(i: &mut In<'_>) -> PResult<RawValue> {
    let rest: &str = i;
    let b = rest.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut p = usize::from(b.first() == Some(&b'-'));
    let int_digits = digits(p);
    let mut len = None;
    let mut integer = false;
    let mut sqlparse = true;
    if int_digits > 0 {
        // Exponent form.
        let mut q = p + int_digits;
        if b.get(q) == Some(&b'.') && digits(q + 1) > 0 {
            q += 1 + digits(q + 1);
        }
        if matches!(b.get(q), Some(b'e' | b'E')) {
            let mut r = q + 1;
            if b.get(r) == Some(&b'-') || (p == 0 && b.get(r) == Some(&b'+')) {
                sqlparse = b.get(r) != Some(&b'+');
                r += 1;
            }
            let exp_digits = digits(r);
            if exp_digits > 0 {
                len = Some(r + exp_digits);
            } else {
                sqlparse = true;
            }
        }
    }
    if len.is_none() {
        if int_digits > 0 && b.get(p + int_digits) == Some(&b'.') {
            p += int_digits + 1;
            p += digits(p);
            len = Some(p);
        } else if int_digits == 0 && b.get(p) == Some(&b'.') && digits(p + 1) > 0 {
            p += 1 + digits(p + 1);
            len = Some(p);
        } else if int_digits > 0 {
            len = Some(p + int_digits);
            integer = true;
        }
    }
    let Some(len) = len else {
        return fail_here(i, "a number");
    };
    // sqlparse's Integer token may not touch a letter; `1abc` is a name instead (but
    // `0x1F` is a hexadecimal token, which no MLflow parser accepts as a value).
    let hex =
        rest.len() > 2 && (rest.starts_with("0x") || rest.starts_with("0X")) && rest.as_bytes()[2].is_ascii_hexdigit();
    if hex {
        return fail_here(i, "a decimal number (hexadecimal literals are not supported)");
    }
    if integer && p == 0 && rest[len..].starts_with(|c: char| c.is_alphabetic() || c == '_') {
        let word = peek_word(rest).unwrap_or_default().to_string();
        let _ = i.next_slice(word.len());
        return Ok(RawValue::Bare(word));
    }
    let text = rest[..len].to_string();
    let _ = i.next_slice(len);
    if i.chars().next().is_some_and(|c| is_word_char(c) || c == '.') {
        return fail_here(i, "whitespace or an operator after the number");
    }
    Ok(RawValue::Num { text, integer, sqlparse })
}

/// A string or quoted identifier with sqlparse's end rule (see module docs); returns the
/// raw text between the quotes. The input must start at the opening quote.
fn sql_string(i: &mut In<'_>, quote: char) -> PResult<String> {
    let rest: &str = i;
    let allow_backslash = quote != '`';
    // Only the text up to the first "barrier" (see `quoted_end`) can matter; collecting
    // just that keeps many strings in one long filter linear overall.
    let mut body: Vec<char> = Vec::new();
    let mut chars = rest.chars().skip(1).peekable();
    while let Some(c) = chars.next() {
        let prev = body.last().copied();
        body.push(c);
        let lone = c == quote && chars.peek() != Some(&quote);
        let after_special = prev == Some(quote) || (allow_backslash && prev == Some('\\'));
        if lone && !after_special {
            body.extend(chars.next());
            break;
        }
    }
    match quoted_end(&body, quote, allow_backslash) {
        Some(end_chars) => {
            let inner: String = body[..end_chars - 1].iter().collect();
            let byte_len = 2 * quote.len_utf8() + inner.len();
            let _ = i.next_slice(byte_len);
            Ok(inner)
        }
        None => fail_here(i, &format!("a closing {quote} for this quoted text")),
    }
}

/// Where sqlparse's `Q(QQ|\\Q|[^Q])*Q` regex ends, as a count of chars after the opening
/// quote including the closing one; `None` if it never closes.
///
/// Python's backtracking prefers `QQ` and `\Q` (each consuming two chars) over ending the
/// string, so `m[p]` ("where does the match end when resumed at p") only depends on
/// `m[p+1]` and `m[p+2]`. A lone quote not preceded by a quote or backslash always ends the
/// match, so the table only needs to reach the first such "barrier" (keeps this linear).
fn quoted_end(body: &[char], q: char, allow_backslash: bool) -> Option<usize> {
    let n = body.len();
    let mut barrier = n;
    for p in 0..n {
        let lone = body[p] == q && body.get(p + 1) != Some(&q);
        let after_special = p > 0 && (body[p - 1] == q || (allow_backslash && body[p - 1] == '\\'));
        if lone && !after_special {
            barrier = p;
            break;
        }
    }
    // m[p] for p in 0..=barrier+1, computed right to left.
    let mut m: Vec<Option<usize>> = vec![None; barrier + 3];
    if barrier < n {
        m[barrier] = Some(barrier + 1);
    }
    for p in (0..barrier).rev() {
        let c = body[p];
        let next = body.get(p + 1).copied();
        m[p] = if c == q {
            if next == Some(q) && m[p + 2].is_some() {
                m[p + 2]
            } else {
                Some(p + 1)
            }
        } else if allow_backslash && c == '\\' && next == Some(q) {
            m[p + 2].or(m[p + 1])
        } else {
            m[p + 1]
        };
    }
    m[0]
}

/// A Python tuple literal as `ast.literal_eval` reads it: `('a', "b")`, `('a',)`, `('a')`,
/// `()`; adjacent strings concatenate and escapes are processed. Non-string items are kept
/// as `Other` so validation can answer with MLflow's "different type" message.
fn python_tuple(i: &mut In<'_>) -> PResult<RawValue> {
    const ILL_FORMED: &str = "a list of quoted strings like ('a', 'b') (While parsing a list in \
                              the query, expected a non-empty list of string values, but got \
                              ill-formed list.)";
    let _ = i.next_token(); // '('
    let mut items = Vec::new();
    loop {
        skip_py_ws(i);
        if i.starts_with(')') {
            let _ = i.next_token();
            return Ok(RawValue::List(items));
        }
        match python_item(i)? {
            Some(item) => items.push(item),
            None => return fail_here(i, ILL_FORMED),
        }
        skip_py_ws(i);
        if i.starts_with(',') {
            let _ = i.next_token();
            continue;
        }
        if i.starts_with(')') {
            continue;
        }
        return fail_here(i, ILL_FORMED);
    }
}

fn skip_py_ws(i: &mut In<'_>) {
    let _: PResult<&str> = take_while(0.., |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')).parse_next(i);
}

/// One tuple element: adjacent string literals (concatenated), or a number / keyword.
fn python_item(i: &mut In<'_>) -> PResult<Option<ListItem>> {
    let mut text: Option<String> = None;
    let mut other = false;
    loop {
        let Some(lit) = python_string(i)? else { break };
        match lit {
            PyLit::Str(s) => text.get_or_insert_with(String::new).push_str(&s),
            PyLit::Bytes => other = true,
        }
        skip_py_ws(i);
    }
    if let Some(s) = text {
        if other {
            return fail_here(i, "strings only (cannot mix str and bytes literals)");
        }
        return Ok(Some(ListItem::Str(s)));
    }
    if other {
        return Ok(Some(ListItem::Other("b'…'".to_string())));
    }
    // A number, or True/False/None: valid Python literals that are not strings.
    let rest: &str = i;
    let len: usize = rest
        .chars()
        .enumerate()
        .take_while(|(n, c)| c.is_ascii_alphanumeric() || *c == '.' || *c == '_' || (*n == 0 && *c == '-'))
        .map(|(_, c)| c.len_utf8())
        .sum();
    let word = &rest[..len];
    let is_number = {
        let w = word.strip_prefix('-').unwrap_or(word);
        !w.is_empty() && (w.parse::<f64>().is_ok() || w.starts_with(|c: char| c.is_ascii_digit()))
    };
    if is_number || matches!(word, "True" | "False" | "None") {
        let word = word.to_string();
        let _ = i.next_slice(len);
        return Ok(Some(ListItem::Other(word)));
    }
    Ok(None)
}

enum PyLit {
    Str(String),
    Bytes,
}

/// A Python string literal with optional prefix (r, u, b, combinations); `None` if the
/// input does not start one. f-strings are rejected like `literal_eval` rejects them.
fn python_string(i: &mut In<'_>) -> PResult<Option<PyLit>> {
    let rest: &str = i;
    let prefix_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).take(3).count();
    let prefix = &rest[..prefix_len];
    let after = &rest[prefix_len..];
    if !(after.starts_with('\'') || after.starts_with('"')) {
        return Ok(None);
    }
    let lower = prefix.to_ascii_lowercase();
    let (raw, bytes) = match lower.as_str() {
        "" | "u" => (false, false),
        "r" => (true, false),
        "b" => (false, true),
        "br" | "rb" => (true, true),
        _ => return fail_here(i, "a plain string literal (no f-strings or other prefixes)"),
    };
    let start = i.checkpoint();
    let _ = i.next_slice(prefix_len);
    let rest: &str = i;
    let quote = rest.chars().next().unwrap_or('\'');
    let triple: String = std::iter::repeat_n(quote, 3).collect();
    let (delim, multiline) = if rest.starts_with(&triple) { (triple.as_str(), true) } else { (&triple[..1], false) };
    let body = &rest[delim.len()..];
    // Find the end: the first unescaped delimiter.
    let mut chars = body.char_indices();
    let mut end = None;
    while let Some((idx, c)) = chars.next() {
        if c == '\\' {
            let _ = chars.next();
            continue;
        }
        if !multiline && c == '\n' {
            break;
        }
        if body[idx..].starts_with(delim) {
            end = Some(idx);
            break;
        }
    }
    let Some(end) = end else {
        i.reset(&start);
        return fail_here(i, "a closing quote for the string in the list");
    };
    let content = &body[..end];
    let total = delim.len() * 2 + end;
    let decoded = if raw { Some(content.to_string()) } else { python_unescape(content) };
    let Some(decoded) = decoded else {
        i.reset(&start);
        return fail_here(i, "a valid escape sequence in the string");
    };
    let _ = i.next_slice(total);
    Ok(Some(if bytes { PyLit::Bytes } else { PyLit::Str(decoded) }))
}

/// Python's escape processing for non-raw `str` literals. `None` for escapes Python
/// rejects (truncated `\x`, out-of-range `\U`) or that cannot be represented (`\N{…}`,
/// lone surrogates).
fn python_unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        match e {
            '\n' => {}
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '0'..='7' => {
                let mut value = e.to_digit(8)?;
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            value = value * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(value)?);
            }
            'x' | 'u' | 'U' => {
                let width = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut value = 0u32;
                for _ in 0..width {
                    let d = chars.next()?.to_digit(16)?;
                    value = value.checked_mul(16)?.checked_add(d)?;
                }
                out.push(char::from_u32(value)?);
            }
            'N' => return None,
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

/// Matches a case-insensitive keyword followed by a non-word character.
fn keyword(i: &mut In<'_>, word: &str) -> bool {
    let rest: &str = i;
    match peek_word(rest) {
        Some(w) if w.eq_ignore_ascii_case(word) => {
            let _ = i.next_slice(w.len());
            true
        }
        _ => false,
    }
}

/// The bare word at the start of `rest`, if any.
fn peek_word(rest: &str) -> Option<&str> {
    if !rest.starts_with(is_word_start) {
        return None;
    }
    let len: usize = rest.chars().take_while(|c| is_word_char(*c)).map(char::len_utf8).sum();
    Some(&rest[..len])
}

/// sqlparse's names are `\w[$#\w]*` (Unicode word characters).
pub(crate) fn is_word_start(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || c == '#'
}

pub(crate) fn skip_ws(i: &mut In<'_>) {
    let _: PResult<&str> = take_while(0.., char::is_whitespace).parse_next(i);
}

/// Fails (without backtracking) at the current position with an "expected …" context.
pub(crate) fn fail_here<T>(_i: &mut In<'_>, expected: &str) -> PResult<T> {
    let mut err = ContextError::new();
    err.push(expected.to_string());
    Err(ErrMode::Cut(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(s: &str, q: char) -> Option<String> {
        let body: Vec<char> = s.chars().collect();
        quoted_end(&body, q, q != '`').map(|n| body[..n - 1].iter().collect())
    }

    #[test]
    fn string_end_follows_sqlparse() {
        assert_eq!(end("abc' rest", '\'').as_deref(), Some("abc"));
        assert_eq!(end("it''s' x", '\'').as_deref(), Some("it''s"));
        assert_eq!(end("a\\'b' x", '\'').as_deref(), Some("a\\'b"));
        // A backslash before the only closing quote still lets it close.
        assert_eq!(end("a\\'", '\'').as_deref(), Some("a\\"));
        assert_eq!(end("abc", '\''), None);
        assert_eq!(end("a``b` x", '`').as_deref(), Some("a``b"));
        assert_eq!(end("a'' AND x = 'b'", '\'').as_deref(), Some("a'' AND x = "));
    }

    #[test]
    fn python_escapes() {
        assert_eq!(python_unescape(r"a\nb").as_deref(), Some("a\nb"));
        assert_eq!(python_unescape(r"\x41\u00e9\101").as_deref(), Some("Aé\u{41}"));
        assert_eq!(python_unescape(r"\d").as_deref(), Some(r"\d"));
        assert_eq!(python_unescape(r"\x4"), None);
    }
}

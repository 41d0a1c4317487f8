//! In-memory evaluation of a [`Filter`]: the reference semantics ("oracle") that the SQL
//! store must reproduce exactly.
//!
//! For filters MLflow accepts, the answers are those of MLflow's **SQL** store (the
//! `mlflow server` default), not its file store, where the two differ. What that means:
//!
//! * **Missing values.** A comparison on a param, tag, metric or dataset field the record
//!   does not have is false, for every operator including `!=` and `NOT IN`: MLflow
//!   inner-joins a subquery per comparison, so a run without tag `x` is not returned by
//!   `tags.x != 'a'`. Only `IS NULL` is true for a missing param/tag. Attributes that
//!   are NULL in the database (`end_time` of a running run, a model version without
//!   `run_id`) behave the same way (SQL `NULL != 'a'` is not true).
//! * **Registered models and model versions: the prompt tag.** MLflow hides prompts
//!   (entities whose tag `mlflow.prompt.is_prompt` is exactly `true`) unless the filter
//!   asks for them, and the 3.18 client appends `` tag.`mlflow.prompt.is_prompt` != 'true' ``
//!   to every search. Rule (from the registry SQL store): the *first* comparison on that tag
//!   (pre-order, left to right) decides; if it is `= 'true'` or `!= 'false'` (value
//!   compared case-insensitively) the search is "for prompts" and every comparison,
//!   including those on the prompt tag, is evaluated normally. Otherwise prompts are
//!   excluded and every comparison on the prompt tag counts as true (MLflow drops them) —
//!   so a model without the tag satisfies `!= 'true'`, and so does `= 'false'`.
//! * **Metrics.** Runs compare the latest value (the caller passes exactly one value per
//!   key). A NaN latest value satisfies only `!=` (MLflow stores `is_nan` and special-cases
//!   it). Logged models compare every stored value of the metric (the caller restricts them
//!   to the request's `datasets`); the comparison holds if any value satisfies it. MLflow
//!   stores a NaN logged-model metric as 0.0 (that table has no `is_nan` column), so the
//!   caller should pass what its store keeps; a NaN that does reach the evaluator never
//!   satisfies anything (SQL NULL). ±Infinity compare as the values the store holds
//!   (MLflow's run store clamps them to ±f64::MAX before storing).
//! * **Runs: `run_name`** is compared against the `mlflow.runName` tag, as MLflow does.
//! * **Datasets** (runs): a comparison holds if *any* dataset input of the run satisfies
//!   it; separate comparisons may be satisfied by different inputs. `context` is the
//!   input's `mlflow.data.context` tag (absent → never matches).
//! * **Strings.** `=`/`!=`/`IN` are exact and case-sensitive. `LIKE` is SQL LIKE with `%`
//!   and `_`, no escape character, case-sensitive (MLflow sets SQLite's
//!   `case_sensitive_like`). `ILIKE` folds ASCII letters only, as SQLite's `lower()` does.
//! * **Numbers.** Integer attributes (timestamps, `version_number`, `experiment_id`)
//!   compare exactly against the filter's number, like SQLite compares INTEGER with REAL.
//!
//! Extensions (not in MLflow), with these deterministic semantics:
//!
//! * Every comparison is two-valued (true/false, never "unknown") by the rules above;
//!   `AND`, `OR` and `NOT` are ordinary boolean logic over them, so `NOT (tags.x = 'a')`
//!   is true for a record without tag `x` (SQL: `NOT EXISTS (…)`, or
//!   `NOT COALESCE(cond, FALSE)` for nullable columns).
//! * `IN` / `NOT IN` on params and tags: the key must exist (like `!=`).
//! * `RLIKE`: a regex search with [`Regex`](super::Regex) (case-sensitive, anywhere in
//!   the string; compiled once, by validation); the key must exist.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::ast::{Comparison, Entity, Expr, Filter, KeyKind, Op, Value};

/// The tag that marks a registered model (or version) as a prompt.
pub const PROMPT_TAG_KEY: &str = "mlflow.prompt.is_prompt";

/// The run tag MLflow compares `run_name` filters against.
pub const RUN_NAME_TAG_KEY: &str = "mlflow.runName";

/// A searchable record of any entity, flattened to what filters can see.
///
/// Attribute names are the canonical ones the parser produces (`start_time`,
/// `version_number`, `creation_timestamp`, …); an absent attribute is SQL NULL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub attributes: BTreeMap<String, AttrValue>,
    /// Runs: the latest value per key (exactly one). Logged models: every stored value.
    pub metrics: BTreeMap<String, Vec<f64>>,
    pub params: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub datasets: Vec<DatasetRecord>,
}

/// An attribute value: text, or an integer column (timestamps, versions, ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
}

/// One dataset input of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetRecord {
    pub name: String,
    pub digest: String,
    /// The input's `mlflow.data.context` tag.
    pub context: Option<String>,
}

impl Record {
    pub fn with_attr(mut self, name: &str, value: impl Into<AttrValue>) -> Self {
        self.attributes.insert(name.to_string(), value.into());
        self
    }

    pub fn with_metric(mut self, key: &str, value: f64) -> Self {
        self.metrics.entry(key.to_string()).or_default().push(value);
        self
    }

    pub fn with_param(mut self, key: &str, value: &str) -> Self {
        self.params.insert(key.to_string(), value.to_string());
        self
    }

    pub fn with_tag(mut self, key: &str, value: &str) -> Self {
        self.tags.insert(key.to_string(), value.to_string());
        self
    }

    pub fn with_dataset(mut self, name: &str, digest: &str, context: Option<&str>) -> Self {
        self.datasets.push(DatasetRecord {
            name: name.to_string(),
            digest: digest.to_string(),
            context: context.map(str::to_string),
        });
        self
    }
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        AttrValue::Str(s.to_string())
    }
}

impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue::Str(s)
    }
}

impl From<i64> for AttrValue {
    fn from(n: i64) -> Self {
        AttrValue::Int(n)
    }
}

impl Filter {
    /// Whether `record` passes this filter (see the module docs for the exact semantics).
    pub fn matches(&self, record: &Record) -> bool {
        matches(self.entity, Some(self), record)
    }
}

/// Whether `record` of `entity` is returned by a search with `filter` (`None` = no
/// filter). For registered models and model versions this includes MLflow's implicit
/// "hide prompts unless asked for" rule, which applies even without a filter.
pub fn matches(entity: Entity, filter: Option<&Filter>, record: &Record) -> bool {
    let registry = matches!(entity, Entity::RegisteredModel | Entity::ModelVersion);
    let mut ctx = Ctx { entity, record, ignore_prompt_tag: false };
    if registry && !filter.is_some_and(|f| queries_prompts(&f.expr)) {
        if record.tags.get(PROMPT_TAG_KEY).map(String::as_str) == Some("true") {
            return false;
        }
        ctx.ignore_prompt_tag = true;
    }
    filter.is_none_or(|f| ctx.eval(&f.expr))
}

/// MLflow's `_is_querying_prompt`: the first comparison on the prompt tag decides.
pub fn queries_prompts(expr: &Expr) -> bool {
    fn first_prompt_cmp(expr: &Expr) -> Option<&Comparison> {
        match expr {
            Expr::Compare(c) if c.key.kind == KeyKind::Tag && c.key.name == PROMPT_TAG_KEY => Some(c),
            Expr::Compare(_) => None,
            Expr::Not(inner) => first_prompt_cmp(inner),
            Expr::And(items) | Expr::Or(items) => items.iter().find_map(first_prompt_cmp),
        }
    }
    match first_prompt_cmp(expr) {
        Some(Comparison { op, value: Value::String(v), .. }) => {
            let v = v.to_lowercase();
            (*op == Op::Eq && v == "true") || (*op == Op::Ne && v == "false")
        }
        _ => false,
    }
}

struct Ctx<'a> {
    entity: Entity,
    record: &'a Record,
    ignore_prompt_tag: bool,
}

impl Ctx<'_> {
    fn eval(&self, expr: &Expr) -> bool {
        match expr {
            Expr::And(items) => items.iter().all(|e| self.eval(e)),
            Expr::Or(items) => items.iter().any(|e| self.eval(e)),
            Expr::Not(inner) => !self.eval(inner),
            Expr::Compare(c) => self.compare(c),
        }
    }

    fn compare(&self, c: &Comparison) -> bool {
        let record = self.record;
        let name = c.key.name.as_str();
        match c.key.kind {
            KeyKind::Metric => {
                let (Some(values), Value::Number(target)) = (record.metrics.get(name), &c.value) else {
                    return false;
                };
                values.iter().any(|v| self.metric_holds(c.op, *v, *target))
            }
            KeyKind::Param => optional_string_holds(record.params.get(name).map(String::as_str), c.op, &c.value),
            KeyKind::Tag => {
                if self.ignore_prompt_tag && name == PROMPT_TAG_KEY {
                    return true;
                }
                optional_string_holds(record.tags.get(name).map(String::as_str), c.op, &c.value)
            }
            KeyKind::Dataset => record.datasets.iter().any(|d| {
                let field = match name {
                    "name" => Some(d.name.as_str()),
                    "digest" => Some(d.digest.as_str()),
                    "context" => d.context.as_deref(),
                    _ => None,
                };
                field.is_some_and(|f| string_holds(f, c.op, &c.value))
            }),
            KeyKind::Attribute => {
                if self.entity == Entity::Run && name == "run_name" {
                    return match record.tags.get(RUN_NAME_TAG_KEY) {
                        Some(v) => string_holds(v, c.op, &c.value),
                        None => false,
                    };
                }
                match record.attributes.get(name) {
                    None => false,
                    Some(AttrValue::Int(n)) => int_holds(*n, c.op, &c.value),
                    Some(AttrValue::Str(s)) => match (&c.value, s.trim().parse::<i64>()) {
                        // An integer column handed over as text (e.g. an id string).
                        (Value::Number(_), Ok(n)) => int_holds(n, c.op, &c.value),
                        (_, Ok(n)) if name == "experiment_id" => int_holds(n, c.op, &c.value),
                        _ => string_holds(s, c.op, &c.value),
                    },
                }
            }
        }
    }

    fn metric_holds(&self, op: Op, value: f64, target: f64) -> bool {
        if value.is_nan() || target.is_nan() {
            // Runs keep NaN with an is_nan flag: only "!=" holds. Elsewhere NaN is NULL.
            return self.entity == Entity::Run && value.is_nan() && op == Op::Ne;
        }
        ordering_holds(op, value.partial_cmp(&target))
    }
}

fn ordering_holds(op: Op, ord: Option<Ordering>) -> bool {
    let Some(ord) = ord else { return false };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        _ => false,
    }
}

/// Exact comparison of an integer column with a number, as SQLite does.
fn cmp_int_float(a: i64, b: f64) -> Option<Ordering> {
    if b.is_nan() {
        return None;
    }
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if b >= TWO_POW_63 {
        return Some(Ordering::Less);
    }
    if b < -TWO_POW_63 {
        return Some(Ordering::Greater);
    }
    let whole = b.trunc();
    Some(match a.cmp(&(whole as i64)) {
        Ordering::Equal if b > whole => Ordering::Less,
        Ordering::Equal if b < whole => Ordering::Greater,
        other => other,
    })
}

fn int_holds(n: i64, op: Op, value: &Value) -> bool {
    let parse = |s: &String| s.trim().parse::<i64>().ok();
    match value {
        Value::Number(b) => ordering_holds(op, cmp_int_float(n, *b)),
        Value::String(s) => match parse(s) {
            Some(m) => ordering_holds(op, Some(n.cmp(&m))),
            None => false,
        },
        Value::List(items) => {
            let found = items.iter().any(|s| parse(s) == Some(n));
            match op {
                Op::In => found,
                Op::NotIn => !found,
                _ => false,
            }
        }
        Value::Regex(_) | Value::None => false,
    }
}

fn optional_string_holds(actual: Option<&str>, op: Op, value: &Value) -> bool {
    match (actual, op) {
        (None, Op::IsNull) => true,
        (None, _) => false,
        (Some(_), Op::IsNull) => false,
        (Some(_), Op::IsNotNull) => true,
        (Some(s), _) => string_holds(s, op, value),
    }
}

fn string_holds(s: &str, op: Op, value: &Value) -> bool {
    match (op, value) {
        (Op::In, Value::List(items)) => items.iter().any(|v| v == s),
        (Op::NotIn, Value::List(items)) => !items.iter().any(|v| v == s),
        (Op::Like, Value::String(p)) => like(s, p, false),
        (Op::ILike, Value::String(p)) => like(s, p, true),
        (Op::RLike, Value::Regex(regex)) => regex.is_match(s),
        (Op::IsNotNull, _) => true,
        (Op::IsNull, _) => false,
        // Byte order, like SQLite's BINARY collation.
        (_, Value::String(v)) => ordering_holds(op, Some(s.as_bytes().cmp(v.as_bytes()))),
        _ => false,
    }
}

/// SQL `LIKE`: `%` matches any run of characters, `_` exactly one; no escape character.
/// `ascii_case_insensitive` folds only ASCII letters (SQLite's `lower()` / `LIKE`).
pub fn like(text: &str, pattern: &str, ascii_case_insensitive: bool) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let same = |a: char, b: char| {
        if ascii_case_insensitive {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut ti, mut pi) = (0, 0);
    // Position of the last '%' seen and the text position it is currently matched up to.
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '%' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '_' || same(p[pi], t[ti])) {
            ti += 1;
            pi += 1;
        } else if let Some((star, matched_to)) = backtrack {
            pi = star + 1;
            ti = matched_to + 1;
            backtrack = Some((star, matched_to + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '%')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        let cases: &[(&str, &str, bool, bool)] = &[
            ("abc", "abc", false, true),
            ("abc", "a%", false, true),
            ("abc", "%c", false, true),
            ("abc", "%b%", false, true),
            ("abc", "a_c", false, true),
            ("abc", "a_", false, false),
            ("abc", "ABC", false, false),
            ("abc", "ABC", true, true),
            ("ÄBC", "äbc", true, false),
            ("", "%", false, true),
            ("", "_", false, false),
            ("a%c", "a%c", false, true),
            ("mississippi", "%iss%ppi", false, true),
            ("mississippi", "m%s_s%", false, true),
            ("héllo", "h_llo", false, true),
        ];
        for (text, pattern, ci, expected) in cases {
            assert_eq!(like(text, pattern, *ci), *expected, "{text:?} LIKE {pattern:?} ci={ci}");
        }
    }

    #[test]
    fn int_float_comparison_is_exact() {
        assert_eq!(cmp_int_float(5, 5.5), Some(Ordering::Less));
        assert_eq!(cmp_int_float(6, 5.5), Some(Ordering::Greater));
        assert_eq!(cmp_int_float(5, 5.0), Some(Ordering::Equal));
        assert_eq!(cmp_int_float(-5, -5.5), Some(Ordering::Greater));
        assert_eq!(cmp_int_float(i64::MAX, 1e19), Some(Ordering::Less));
        assert_eq!(cmp_int_float(i64::MIN, -1e19), Some(Ordering::Greater));
        assert_eq!(cmp_int_float(1, f64::NAN), None);
    }
}

//! Entity-specific validation: syntax tree → typed [`Expr`].
//!
//! Which prefixes, attributes, comparators and value types each entity accepts, and the
//! messages for what it rejects, follow MLflow 3.17/3.18's server (the SQL store path):
//! `SearchUtils` (runs), `SearchExperimentsUtils` + `_get_search_experiments_filter_clauses`
//! (experiments), `SearchModelUtils` / `SearchModelVersionUtils` + the registry SQL store
//! (registered models, model versions), and `search_logged_model_utils.parse_filter_string`
//! (logged models, which the SQL store parses with its own, looser rules). The checks run
//! in MLflow's order (key, then value, then comparator) so the first error reported is the
//! one MLflow would report.
//!
//! Extensions accepted here on top of MLflow: `IN`/`NOT IN` on params and tags, and
//! `RLIKE` wherever `LIKE` is accepted on a string.

use super::ast::{Comparison, Entity, Expr, Key, KeyKind, Op, Value};
use super::regex::Regex;
use super::syntax::{ListItem, RawCmp, RawExpr, RawKey, RawOp, RawValue};

/// A validation error: byte offset of the offending part and MLflow-style message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SemanticError {
    pub pos: usize,
    pub message: String,
}

type VResult<T> = Result<T, SemanticError>;

fn err<T>(pos: usize, message: impl Into<String>) -> VResult<T> {
    Err(SemanticError { pos, message: message.into() })
}

pub(crate) fn validate(entity: Entity, raw: RawExpr) -> VResult<Expr> {
    Ok(match raw {
        RawExpr::And(items) => Expr::And(validate_all(entity, items)?),
        RawExpr::Or(items) => Expr::Or(validate_all(entity, items)?),
        RawExpr::Not(inner) => Expr::Not(Box::new(validate(entity, *inner)?)),
        RawExpr::Cmp(cmp) => Expr::Compare(comparison(entity, cmp)?),
    })
}

fn validate_all(entity: Entity, items: Vec<RawExpr>) -> VResult<Vec<Expr>> {
    items.into_iter().map(|item| validate(entity, item)).collect()
}

fn comparison(entity: Entity, raw: RawCmp) -> VResult<Comparison> {
    let mut cmp = match entity {
        Entity::Run => run_comparison(&raw)?,
        Entity::Experiment => experiment_comparison(&raw)?,
        Entity::RegisteredModel | Entity::ModelVersion => registry_comparison(entity, &raw)?,
        Entity::LoggedModel => logged_model_comparison(&raw)?,
    };
    // RLIKE patterns are compiled here, once: the evaluator and the SQL store use them.
    if cmp.op == Op::RLike {
        if let Value::String(pattern) = &cmp.value {
            match Regex::new(pattern) {
                Ok(regex) => cmp.value = Value::Regex(regex),
                Err(reason) => {
                    return err(raw.value_pos, format!("Invalid regular expression '{pattern}' for RLIKE: {reason}"))
                }
            }
        }
    }
    Ok(cmp)
}

// ---------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------

/// MLflow's `_is_quoted` + trim: one matching quote char at each end.
fn strip_quotes(s: &str) -> &str {
    for q in ['\'', '"'] {
        if s.chars().count() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return &s[1..s.len() - 1];
        }
    }
    s
}

fn trim_backticks(s: &str) -> &str {
    if s.chars().count() >= 2 && s.starts_with('`') && s.ends_with('`') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// MLflow's key-name cleanup: `_trim_backticks(_strip_quotes(key))`.
pub(crate) fn clean_name(s: &str) -> String {
    trim_backticks(strip_quotes(s)).to_string()
}

/// A Python-set-like rendering used in MLflow's messages, in a fixed order.
fn set_repr(items: &[&str]) -> String {
    let parts: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("{{{}}}", parts.join(", "))
}

fn list_repr(items: &[&str]) -> String {
    let parts: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", parts.join(", "))
}

/// The comparator as MLflow prints it (upper-cased keywords, symbols verbatim).
fn op_text(op: &RawOp) -> String {
    match op {
        RawOp::Symbol(s) => s.clone(),
        RawOp::Like => "LIKE".into(),
        RawOp::ILike => "ILIKE".into(),
        RawOp::RLike => "RLIKE".into(),
        RawOp::NegatedPattern(s) => (*s).into(),
        RawOp::In => "IN".into(),
        RawOp::NotIn => "NOT IN".into(),
        RawOp::IsNull => "IS NULL".into(),
        RawOp::IsNotNull => "IS NOT NULL".into(),
    }
}

/// The typed operator, if the raw one is a real operator at all.
fn typed_op(op: &RawOp) -> Option<Op> {
    Some(match op {
        RawOp::Symbol(s) => match s.as_str() {
            "=" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        },
        RawOp::Like => Op::Like,
        RawOp::ILike => Op::ILike,
        RawOp::RLike => Op::RLike,
        RawOp::NegatedPattern(_) => return None,
        RawOp::In => Op::In,
        RawOp::NotIn => Op::NotIn,
        RawOp::IsNull => Op::IsNull,
        RawOp::IsNotNull => Op::IsNotNull,
    })
}

const NUMERIC_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge];
const NUMERIC_OPS_TEXT: &[&str] = &[">", ">=", "!=", "=", "<", "<="];

/// Checks the operator against an allowed set, with `message` for anything else.
fn check_op(raw: &RawCmp, allowed: &[Op], message: impl FnOnce(&str) -> String) -> VResult<Op> {
    match typed_op(&raw.op) {
        Some(op) if allowed.contains(&op) => Ok(op),
        _ => err(raw.op_pos, message(&op_text(&raw.op))),
    }
}

fn parse_number(text: &str) -> f64 {
    // The grammar only produces decimal literals Rust parses like Python's float().
    text.parse::<f64>().unwrap_or(f64::NAN)
}

/// Python's `int(str)` for the forms that matter: surrounding whitespace, a sign, digits
/// with single underscores between them.
fn python_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let value: i64 = clean.parse().ok()?;
    Some(if neg { -value } else { value })
}

/// MLflow's list checks (`_check_valid_identifier_list`) on an `IN (…)` tuple.
fn string_list(raw: &RawCmp, items: &[ListItem]) -> VResult<Vec<String>> {
    if items.is_empty() {
        return err(
            raw.value_pos,
            "While parsing a list in the query, expected a non-empty list of string values, \
             but got empty list",
        );
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            ListItem::Str(s) => out.push(s.clone()),
            ListItem::Other(_) => {
                return err(
                    raw.value_pos,
                    format!(
                        "While parsing a list in the query, expected string value, punctuation, \
                         or whitespace, but got different type in list: {}",
                        raw.value.display()
                    ),
                )
            }
        }
    }
    Ok(out)
}

/// What MLflow answers when a string was expected but an unquoted word was given.
fn not_quoted(raw: &RawCmp, word: &str) -> SemanticError {
    SemanticError {
        pos: raw.value_pos,
        message: format!(
            "Parameter value is either not quoted or unidentified quote types used for string \
             value {word}. Use either single or double quotes."
        ),
    }
}

/// A list value is only meaningful with IN / NOT IN, and those only with a list.
fn check_list_op(raw: &RawCmp, op: Op) -> VResult<()> {
    let is_list = matches!(raw.value, RawValue::List(_));
    let wants_list = matches!(op, Op::In | Op::NotIn);
    if is_list && !wants_list {
        return err(raw.op_pos, format!("A list value can only be used with IN or NOT IN, not with '{op}'"));
    }
    Ok(())
}

/// The value of a string comparison that accepts `IN` lists: a quoted string or a list.
fn string_or_list(raw: &RawCmp, op: Op) -> VResult<Value> {
    check_list_op(raw, op)?;
    match &raw.value {
        RawValue::Str { inner, .. } => Ok(Value::String(inner.clone())),
        RawValue::List(items) => Ok(Value::List(string_list(raw, items)?)),
        RawValue::None => Ok(Value::None),
        other => err(raw.value_pos, format!("Expected a quoted string value. Got value {}", other.display())),
    }
}

fn key_of(kind: KeyKind, name: &str) -> Key {
    Key::new(kind, name)
}

// ---------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------

const RUN_IDENTIFIERS: &[&str] = &["metric", "parameter", "tag", "attribute", "dataset"];
const RUN_NUMERIC_ATTRIBUTES: &[&str] = &["end_time", "start_time"];
const RUN_SEARCH_ATTRIBUTES: &[&str] = &[
    "Created",
    "Run Name",
    "Run name",
    "artifact_uri",
    "created",
    "end_time",
    "run name",
    "run_id",
    "run_name",
    "start_time",
    "status",
    "user_id",
];
const DATASET_KEYS: &[&str] = &["context", "digest", "name"];
const PARAM_TAG_OPS: &[&str] = &["!=", "=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"];
const STRING_ATTRIBUTE_OPS: &[&str] = &["!=", "=", "LIKE", "ILIKE", "IN", "NOT IN"];

/// MLflow's `_valid_entity_type` for runs (backticked prefixes allowed).
pub(crate) fn run_prefix(prefix: &str) -> Option<KeyKind> {
    Some(match trim_backticks(prefix) {
        "metric" | "metrics" => KeyKind::Metric,
        "parameter" | "parameters" | "param" | "params" => KeyKind::Param,
        "tag" | "tags" => KeyKind::Tag,
        "attribute" | "attributes" | "attr" | "run" => KeyKind::Attribute,
        "dataset" | "datasets" => KeyKind::Dataset,
        _ => return None,
    })
}

/// Canonical run attribute for an accepted spelling (`created` → `start_time`, …).
pub(crate) fn run_attribute_alias(name: &str) -> &str {
    match name {
        "created" | "Created" => "start_time",
        "run name" | "Run name" | "Run Name" => "run_name",
        other => other,
    }
}

/// Splits `prefix.rest` like MLflow's `_get_identifier` and resolves the prefix for runs.
pub(crate) fn resolve_run_key(key: &RawKey, search_attributes: &[&str]) -> VResult<(KeyKind, String)> {
    let (kind, name) = match key.text.split_once('.') {
        None => (KeyKind::Attribute, clean_name(&key.text)),
        Some((prefix, rest)) => match run_prefix(prefix) {
            Some(kind) => (kind, clean_name(rest)),
            None => {
                return err(
                    key.pos,
                    format!(
                        "Invalid entity type '{}'. Valid values are {}",
                        trim_backticks(prefix),
                        list_repr(RUN_IDENTIFIERS)
                    ),
                )
            }
        },
    };
    check_run_key(key.pos, kind, &name, search_attributes)?;
    Ok((kind, name))
}

fn check_run_key(pos: usize, kind: KeyKind, name: &str, search_attributes: &[&str]) -> VResult<()> {
    if kind == KeyKind::Attribute && !search_attributes.contains(&name) {
        return err(
            pos,
            format!("Invalid attribute key '{name}' specified. Valid keys are '{}'", set_repr(search_attributes)),
        );
    }
    if kind == KeyKind::Dataset && !DATASET_KEYS.contains(&name) {
        return err(
            pos,
            format!("Invalid dataset key '{name}' specified. Valid keys are '{}'", set_repr(DATASET_KEYS)),
        );
    }
    Ok(())
}

fn mlflow_type_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Metric => "metric",
        KeyKind::Param => "parameter",
        KeyKind::Tag => "tag",
        KeyKind::Attribute => "attribute",
        KeyKind::Dataset => "dataset",
    }
}

fn run_comparison(raw: &RawCmp) -> VResult<Comparison> {
    let (kind, name) = resolve_run_key(&raw.key, RUN_SEARCH_ATTRIBUTES)?;
    let is_null_op = matches!(raw.op, RawOp::IsNull | RawOp::IsNotNull);
    if is_null_op && !matches!(kind, KeyKind::Param | KeyKind::Tag) {
        return err(
            raw.op_pos,
            format!(
                "IS NULL / IS NOT NULL is only supported for tags and params, not for '{}' '{name}'",
                mlflow_type_name(kind)
            ),
        );
    }
    match kind {
        KeyKind::Metric => {
            let value = metric_value(raw)?;
            let op = check_op(raw, NUMERIC_OPS, |op| {
                format!("Invalid comparator '{op}' not one of '{}", set_repr(NUMERIC_OPS_TEXT))
            })?;
            Ok(Comparison { key: key_of(kind, &name), op, value })
        }
        KeyKind::Param | KeyKind::Tag => {
            let value = param_tag_value(raw, kind)?;
            let op = check_op(
                raw,
                &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::IsNull, Op::IsNotNull, Op::In, Op::NotIn, Op::RLike],
                |op| format!("Invalid comparator '{op}' not one of '{}'", set_repr(PARAM_TAG_OPS)),
            )?;
            check_list_op(raw, op)?;
            Ok(Comparison { key: key_of(kind, &name), op, value })
        }
        KeyKind::Attribute => {
            let canonical = run_attribute_alias(&name);
            if RUN_NUMERIC_ATTRIBUTES.contains(&canonical) {
                let value = match &raw.value {
                    RawValue::Num { text, sqlparse: true, .. } => Value::Number(parse_number(text)),
                    other => {
                        return err(
                            raw.value_pos,
                            format!(
                                "Expected numeric value type for numeric attribute: {name}. Found {}",
                                other.display()
                            ),
                        )
                    }
                };
                let op = check_op(raw, NUMERIC_OPS, |op| {
                    format!("Invalid comparator '{op}' not one of '{}", set_repr(STRING_ATTRIBUTE_OPS))
                })?;
                return Ok(Comparison { key: key_of(kind, canonical), op, value });
            }
            match &raw.value {
                RawValue::Str { .. } => {}
                RawValue::Bare(word) => return Err(not_quoted(raw, word)),
                RawValue::List(_) if canonical != "run_id" => {
                    return err(
                        raw.value_pos,
                        "Only ['run_id'] attributes support comparison with a list of quoted string values.",
                    )
                }
                RawValue::List(_) => {}
                other => {
                    return err(
                        raw.value_pos,
                        format!("Expected a quoted string value for attributes. Got value {}", other.display()),
                    )
                }
            }
            let op = check_op(raw, &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn, Op::RLike], |op| {
                format!("Invalid comparator '{op}' not one of '{}'", set_repr(STRING_ATTRIBUTE_OPS))
            })?;
            let value = string_or_list(raw, op)?;
            Ok(Comparison { key: key_of(kind, canonical), op, value })
        }
        KeyKind::Dataset => {
            match &raw.value {
                RawValue::Str { .. } | RawValue::List(_) => {}
                RawValue::Bare(word) => return Err(not_quoted(raw, word)),
                other => {
                    return err(
                        raw.value_pos,
                        format!("Expected a quoted string value for dataset attributes. Got value {}", other.display()),
                    )
                }
            }
            let op = check_op(raw, &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn, Op::RLike], |op| {
                format!("Invalid comparator '{op}' not one of '{}", set_repr(STRING_ATTRIBUTE_OPS))
            })?;
            let value = string_or_list(raw, op)?;
            Ok(Comparison { key: key_of(kind, &name), op, value })
        }
    }
}

fn metric_value(raw: &RawCmp) -> VResult<Value> {
    match &raw.value {
        RawValue::Num { text, sqlparse: true, .. } => Ok(Value::Number(parse_number(text))),
        other => err(raw.value_pos, format!("Expected numeric value type for metric. Found {}", other.display())),
    }
}

/// Params and tags take a quoted string; lists (for the IN extension) and no value (IS
/// NULL) pass through to the comparator check.
fn param_tag_value(raw: &RawCmp, kind: KeyKind) -> VResult<Value> {
    match &raw.value {
        RawValue::Str { inner, .. } => Ok(Value::String(inner.clone())),
        RawValue::None => Ok(Value::None),
        RawValue::Bare(word) => Err(not_quoted(raw, word)),
        RawValue::List(items) if matches!(raw.op, RawOp::In | RawOp::NotIn) => {
            Ok(Value::List(string_list(raw, items)?))
        }
        other => err(
            raw.value_pos,
            format!(
                "Expected a quoted string value for {} (e.g. 'my-value'). Got value {}",
                mlflow_type_name(kind),
                other.display()
            ),
        ),
    }
}

// ---------------------------------------------------------------------------------------
// Experiments
// ---------------------------------------------------------------------------------------

const EXPERIMENT_SEARCH_ATTRIBUTES: &[&str] = &["creation_time", "experiment_id", "last_update_time", "name"];
const EXPERIMENT_NUMERIC_ATTRIBUTES: &[&str] = &["creation_time", "last_update_time"];
const REGISTRY_ENTITY_TYPES: &str = "('attribute', 'tag', 'tags')";

/// `SearchExperimentsUtils._get_identifier`: prefixes `attribute`, `tag`, `tags` only.
pub(crate) fn resolve_experiment_key(key: &RawKey, attributes: &[&str]) -> VResult<(KeyKind, String)> {
    let (kind, name) = match key.text.split_once('.') {
        None => (KeyKind::Attribute, clean_name(&key.text)),
        Some((prefix, rest)) => {
            let kind = match prefix {
                "attribute" => KeyKind::Attribute,
                "tag" | "tags" => KeyKind::Tag,
                _ => {
                    return err(
                        key.pos,
                        format!("Invalid entity type '{prefix}'. Valid entity types are {REGISTRY_ENTITY_TYPES}"),
                    )
                }
            };
            (kind, clean_name(rest))
        }
    };
    if kind == KeyKind::Attribute && !attributes.contains(&name.as_str()) {
        return err(
            key.pos,
            format!("Invalid attribute key '{name}' specified. Valid keys are '{}'", set_repr(attributes)),
        );
    }
    Ok((kind, name))
}

fn experiment_comparison(raw: &RawCmp) -> VResult<Comparison> {
    let (kind, name) = resolve_experiment_key(&raw.key, EXPERIMENT_SEARCH_ATTRIBUTES)?;
    let is_null_op = matches!(raw.op, RawOp::IsNull | RawOp::IsNotNull);
    if is_null_op && kind != KeyKind::Tag {
        return err(
            raw.op_pos,
            format!("IS NULL / IS NOT NULL is only supported for tags, not for attribute '{name}'"),
        );
    }
    let key = key_of(kind, &name);
    if kind == KeyKind::Tag {
        let value = param_tag_value(raw, kind)?;
        let op = check_op(
            raw,
            &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::IsNull, Op::IsNotNull, Op::In, Op::NotIn, Op::RLike],
            |op| format!("Invalid comparator for tag: {op}"),
        )?;
        check_list_op(raw, op)?;
        return Ok(Comparison { key, op, value });
    }
    if EXPERIMENT_NUMERIC_ATTRIBUTES.contains(&name.as_str()) {
        let RawValue::Num { text, integer, sqlparse: true } = &raw.value else {
            return err(
                raw.value_pos,
                format!("Expected numeric value type for numeric attribute: {name}. Found {}", raw.value.display()),
            );
        };
        let op = check_op(raw, NUMERIC_OPS, |op| {
            format!("Invalid comparator '{op}' not one of '{}", set_repr(STRING_ATTRIBUTE_OPS))
        })?;
        if !integer {
            return err(raw.value_pos, format!("Invalid value for numeric attribute '{name}': '{text}'"));
        }
        return Ok(Comparison { key, op, value: Value::Number(parse_number(text)) });
    }
    // `name` and `experiment_id` take quoted strings; only experiment_id takes lists.
    match &raw.value {
        RawValue::Str { .. } => {}
        RawValue::Bare(word) => return Err(not_quoted(raw, word)),
        RawValue::List(_) if name != "experiment_id" => {
            return err(
                raw.value_pos,
                "Only ['experiment_id'] attributes support comparison with a list of quoted string values.",
            )
        }
        RawValue::List(items) => {
            string_list(raw, items)?;
        }
        other => {
            return err(
                raw.value_pos,
                format!("Expected a quoted string value for attributes. Got value {}", other.display()),
            )
        }
    }
    if name == "experiment_id" {
        let op = check_op(raw, &[Op::Eq, Op::Ne, Op::In, Op::NotIn], |op| {
            format!("Invalid comparator for experiment_id: {op}")
        })?;
        check_list_op(raw, op)?;
        // The column is an integer: '01' and '1' are the same id.
        let canonical = |s: &str| -> VResult<String> {
            match python_int(s) {
                Some(id) => Ok(id.to_string()),
                None => {
                    err(raw.value_pos, format!("Invalid experiment ID '{s}'. Experiment ID must be a valid integer."))
                }
            }
        };
        let value = match string_or_list(raw, op)? {
            Value::String(s) => Value::String(canonical(&s)?),
            Value::List(items) => Value::List(items.iter().map(|s| canonical(s)).collect::<VResult<_>>()?),
            other => other,
        };
        return Ok(Comparison { key, op, value });
    }
    let op = check_op(raw, &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn, Op::RLike], |op| {
        format!("Invalid comparator '{op}' not one of '{}'", set_repr(STRING_ATTRIBUTE_OPS))
    })?;
    if matches!(op, Op::In | Op::NotIn) {
        return err(raw.op_pos, format!("Invalid comparator for string attribute: {op}"));
    }
    Ok(Comparison { key, op, value: string_or_list(raw, op)? })
}

// ---------------------------------------------------------------------------------------
// Registered models and model versions
// ---------------------------------------------------------------------------------------

const MODEL_VERSION_SEARCH_ATTRIBUTES: &[&str] = &["name", "run_id", "source_path", "version_number"];
const MODEL_VERSION_NUMERIC_ATTRIBUTES: &[&str] = &["creation_timestamp", "last_updated_timestamp", "version_number"];

/// `_get_model_search_identifier`: like experiments, but the attribute check runs on the
/// raw (still quoted) key, so `"name"` is not the `name` attribute.
pub(crate) fn resolve_registry_key(key: &RawKey, attributes: &[&str]) -> VResult<(KeyKind, String)> {
    let (kind, raw_name) = match key.text.split_once('.') {
        None => (KeyKind::Attribute, key.text.as_str()),
        Some((prefix, rest)) => {
            let kind = match prefix {
                "attribute" => KeyKind::Attribute,
                "tag" | "tags" => KeyKind::Tag,
                _ => {
                    return err(
                        key.pos,
                        format!("Invalid entity type '{prefix}'. Valid entity types are {REGISTRY_ENTITY_TYPES}"),
                    )
                }
            };
            (kind, rest)
        }
    };
    if kind == KeyKind::Attribute && !attributes.contains(&raw_name) {
        return err(
            key.pos,
            format!("Invalid attribute key '{raw_name}' specified. Valid keys are '{}'", set_repr(attributes)),
        );
    }
    Ok((kind, clean_name(raw_name)))
}

fn registry_comparison(entity: Entity, raw: &RawCmp) -> VResult<Comparison> {
    let versions = entity == Entity::ModelVersion;
    let attributes: &[&str] = if versions { MODEL_VERSION_SEARCH_ATTRIBUTES } else { &["name"] };
    let (kind, name) = resolve_registry_key(&raw.key, attributes)?;
    if matches!(raw.op, RawOp::IsNull | RawOp::IsNotNull) {
        let what = if versions { "model versions" } else { "registered models" };
        return err(raw.op_pos, format!("IS NULL / IS NOT NULL is not supported when searching {what}"));
    }
    let key = key_of(kind, &name);
    if kind == KeyKind::Tag {
        let value = param_tag_value(raw, kind)?;
        let op = check_op(raw, &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn, Op::RLike], |op| {
            format!("Invalid comparator for tag: {op}")
        })?;
        check_list_op(raw, op)?;
        return Ok(Comparison { key, op, value });
    }
    let list_keys: &[&str] = if versions { &["name", "run_id"] } else { &["name"] };
    // Value checks (`_get_value`).
    match &raw.value {
        RawValue::Str { .. } => {}
        RawValue::Bare(word) => return Err(not_quoted(raw, word)),
        RawValue::List(_) if !list_keys.contains(&name.as_str()) => {
            return err(
                raw.value_pos,
                format!(
                    "Only {} attributes support comparison with a list of quoted string values.",
                    list_repr(list_keys)
                ),
            )
        }
        RawValue::List(items) => {
            string_list(raw, items)?;
        }
        RawValue::Num { .. } if versions && name != "version_number" => {
            return err(
                raw.value_pos,
                format!(
                    "Only the '{}' attributes support comparison with numeric values.",
                    set_repr(MODEL_VERSION_NUMERIC_ATTRIBUTES)
                ),
            )
        }
        RawValue::Num { .. } if versions => {}
        other => {
            return err(
                raw.value_pos,
                format!(
                    "Expected a quoted string value or a list of quoted string values for attributes. \
                     Got value {}",
                    other.display()
                ),
            )
        }
    }
    if versions && name == "version_number" {
        let op = check_op(raw, NUMERIC_OPS, |op| format!("Invalid comparator for attribute {name}: {op}"))?;
        let number = match &raw.value {
            RawValue::Num { text, integer: true, sqlparse: true } => parse_number(text),
            RawValue::Num { text, .. } => {
                return err(raw.value_pos, format!("Invalid value for numeric attribute '{name}': {text}"))
            }
            RawValue::Str { inner, .. } => match python_int(inner) {
                Some(n) => n as f64,
                None => return err(raw.value_pos, format!("Invalid value for numeric attribute '{name}': '{inner}'")),
            },
            _ => unreachable!("checked above"),
        };
        return Ok(Comparison { key, op, value: Value::Number(number) });
    }
    let op = check_op(raw, &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn, Op::RLike], |op| {
        format!("Invalid comparator for attribute: {op}")
    })?;
    Ok(Comparison { key, op, value: string_or_list(raw, op)? })
}

// ---------------------------------------------------------------------------------------
// Logged models
// ---------------------------------------------------------------------------------------

const LOGGED_MODEL_ENTITY_TYPES: &[&str] = &["attributes", "metrics", "params", "tags"];
const LOGGED_MODEL_STRING_ATTRIBUTES: &[&str] = &["model_id", "model_type", "name", "source_run_id", "status"];
const LOGGED_MODEL_NUMERIC_ATTRIBUTES: &[&str] =
    &["creation_time", "creation_timestamp", "last_updated_time", "last_updated_timestamp"];
const LOGGED_MODEL_STRING_OPS: &str = "('=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN')";
const LOGGED_MODEL_NUMERIC_OPS: &str = "('<', '<=', '>', '>=', '=', '!=')";

/// Canonical logged-model attribute (`creation_time` → `creation_timestamp`, …).
pub(crate) fn logged_model_attribute_alias(name: &str) -> &str {
    match name {
        "creation_time" => "creation_timestamp",
        "last_updated_time" => "last_updated_timestamp",
        other => other,
    }
}

/// `Entity.from_str`: `^([a-z]+)\.(.+)$` picks the prefix (only the four plural forms);
/// anything else is an attribute. Backticks around the name are stripped; so are double
/// quotes (MLflow keeps them, which can never match a real key).
pub(crate) fn resolve_logged_model_key(key: &RawKey) -> VResult<(KeyKind, String)> {
    let text = key.text.as_str();
    let split = text.split_once('.').filter(|(p, rest)| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()) && !rest.is_empty() && !rest.contains('\n')
    });
    let clean = |s: &str| -> String {
        let s = s.trim_matches('`');
        match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            Some(inner) => inner.to_string(),
            None => s.to_string(),
        }
    };
    let (kind, name) = match split {
        Some((prefix, rest)) => {
            let kind = match prefix {
                "attributes" => KeyKind::Attribute,
                "metrics" => KeyKind::Metric,
                "params" => KeyKind::Param,
                "tags" => KeyKind::Tag,
                _ => {
                    return err(
                        key.pos,
                        format!(
                            "Invalid entity type: '{prefix}'. Expected one of {}.",
                            list_repr(LOGGED_MODEL_ENTITY_TYPES)
                        ),
                    )
                }
            };
            (kind, clean(rest))
        }
        None => (KeyKind::Attribute, clean(text)),
    };
    if kind == KeyKind::Attribute
        && !LOGGED_MODEL_STRING_ATTRIBUTES.contains(&name.as_str())
        && !LOGGED_MODEL_NUMERIC_ATTRIBUTES.contains(&name.as_str())
    {
        let mut all: Vec<&str> = LOGGED_MODEL_STRING_ATTRIBUTES.to_vec();
        all.extend_from_slice(LOGGED_MODEL_NUMERIC_ATTRIBUTES);
        all.sort_unstable();
        return err(key.pos, format!("Invalid attribute key '{name}' specified. Valid keys are '{}'", set_repr(&all)));
    }
    Ok((kind, name))
}

fn logged_model_comparison(raw: &RawCmp) -> VResult<Comparison> {
    let (kind, name) = resolve_logged_model_key(&raw.key)?;
    let shown = format!(
        "{}.{name}",
        match kind {
            KeyKind::Attribute => "attributes",
            KeyKind::Metric => "metrics",
            KeyKind::Param => "params",
            _ => "tags",
        }
    );
    if matches!(raw.op, RawOp::IsNull | RawOp::IsNotNull) {
        return err(raw.op_pos, format!("Invalid comparison: {}. Expected a comparison with 3 tokens.", raw.key.text));
    }
    let numeric = kind == KeyKind::Metric
        || (kind == KeyKind::Attribute && LOGGED_MODEL_NUMERIC_ATTRIBUTES.contains(&name.as_str()));
    let canonical = if kind == KeyKind::Attribute { logged_model_attribute_alias(&name) } else { &name };
    let key = key_of(kind, canonical);
    if numeric {
        let op = check_op(raw, NUMERIC_OPS, |op| {
            format!("Invalid comparison operator for {shown}: '{op}'. Expected one of {LOGGED_MODEL_NUMERIC_OPS}.")
        })?;
        // MLflow runs Python's float() on the token text, which also takes inf/nan words.
        let value = match &raw.value {
            RawValue::Num { text, .. } => parse_number(text),
            RawValue::Bare(word) => match word.to_ascii_lowercase().as_str() {
                "inf" | "infinity" => f64::INFINITY,
                "nan" => f64::NAN,
                _ => return err(raw.value_pos, format!("could not convert string to float: '{word}'")),
            },
            other => {
                return err(
                    raw.value_pos,
                    format!("Expected numeric value type for {shown}. Found {}", other.display()),
                )
            }
        };
        return Ok(Comparison { key, op, value: Value::Number(value) });
    }
    let op = check_op(raw, &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn, Op::RLike], |op| {
        format!("Invalid comparison operator for {shown}: '{op}'. Expected one of {LOGGED_MODEL_STRING_OPS}.")
    })?;
    check_list_op(raw, op)?;
    // The store keeps the token text: quoted strings lose their quotes, numbers and bare
    // words are compared as written (e.g. `params.lr = 0.01`).
    let value = match &raw.value {
        RawValue::Str { inner, .. } => Value::String(inner.clone()),
        RawValue::Num { text, .. } => Value::String(text.clone()),
        RawValue::Bare(word) => Value::String(word.clone()),
        RawValue::List(items) => Value::List(string_list(raw, items)?),
        RawValue::None => Value::None,
    };
    if matches!(op, Op::In | Op::NotIn) && !matches!(value, Value::List(_)) {
        return err(raw.value_pos, format!("Expected a list of quoted strings after {op}"));
    }
    Ok(Comparison { key, op, value })
}

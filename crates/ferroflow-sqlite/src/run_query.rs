//! Run searches in SQL: a validated filter and order_by list become one parameterised
//! query over `runs`. Request values are only ever bound as parameters.
//!
//! The semantics are exactly those of the core search language's evaluator
//! ([`ferroflow_core::search::eval`]), which the property tests hold this code to:
//! every comparison is two-valued (a missing key or NULL attribute is false, wrapped in
//! `COALESCE(…, 0)` so that `NOT` and `OR` behave as plain boolean logic), `LIKE` is
//! case-sensitive (translated to `GLOB`), `ILIKE` folds ASCII only (SQLite's `LIKE`),
//! and a NaN metric satisfies only `!=`.

use ferroflow_core::search::{Comparison, Expr, Filter, KeyKind, Op, OrderBy, Value, RUN_NAME_TAG_KEY};
use ferroflow_core::types::{LifecycleStage, RunStatus};
use rusqlite::types::Value as SqlValue;

/// A SQL fragment and the parameters it binds, in order.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub text: String,
    pub params: Vec<SqlValue>,
}

impl Sql {
    fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    fn bind(&mut self, value: impl Into<SqlValue>) {
        self.text.push('?');
        self.params.push(value.into());
    }
}

/// `status` is stored as its proto number; filters and orders see the name.
fn status_name_sql(column: &str) -> String {
    let mut sql = format!("(CASE {column}");
    for status in RunStatus::ALL {
        sql.push_str(&format!(" WHEN {} THEN '{}'", status.number(), status.as_str()));
    }
    sql.push_str(" END)");
    sql
}

/// The SQL expression for a run attribute, and whether it holds integers.
fn attribute_sql(name: &str) -> Option<(String, bool)> {
    Some(match name {
        "run_id" => ("r.run_uuid".into(), false),
        "run_name" => ("r.name".into(), false),
        "user_id" => ("r.user_id".into(), false),
        "artifact_uri" => ("r.artifact_uri".into(), false),
        "status" => (status_name_sql("r.status"), false),
        "lifecycle_stage" => ("r.lifecycle_stage".into(), false),
        "start_time" => ("r.start_time".into(), true),
        "end_time" => ("r.end_time".into(), true),
        _ => return None,
    })
}

/// SQL `LIKE` pattern → `GLOB` pattern: GLOB is case-sensitive, LIKE in SQLite is not.
pub(crate) fn like_to_glob(pattern: &str) -> String {
    let mut glob = String::with_capacity(pattern.len() + 4);
    for c in pattern.chars() {
        match c {
            '%' => glob.push('*'),
            '_' => glob.push('?'),
            '*' | '?' | '[' => {
                glob.push('[');
                glob.push(c);
                glob.push(']');
            }
            other => glob.push(other),
        }
    }
    glob
}

fn comparison_operator(op: Op) -> Option<&'static str> {
    Some(match op {
        Op::Eq => "=",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        _ => return None,
    })
}

/// A condition on a text column that is known to be present.
fn string_condition(sql: &mut Sql, column: &str, op: Op, value: &Value) {
    match (op, value) {
        (Op::In | Op::NotIn, Value::List(items)) => {
            sql.push(&format!("{column} {} (", if op == Op::In { "IN" } else { "NOT IN" }));
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(item.clone());
            }
            sql.push(")");
        }
        (Op::Like, Value::String(pattern)) => {
            sql.push(&format!("{column} GLOB "));
            sql.bind(like_to_glob(pattern));
        }
        (Op::ILike, Value::String(pattern)) => {
            sql.push(&format!("{column} LIKE "));
            sql.bind(pattern.clone());
        }
        (Op::RLike, Value::Regex(regex)) => {
            sql.push(&format!("ff_regexp({column}, "));
            sql.bind(regex.as_str().to_string());
            sql.push(")");
        }
        (Op::IsNotNull, _) => sql.push("1"),
        (Op::IsNull, _) => sql.push("0"),
        (op, Value::String(text)) => match comparison_operator(op) {
            Some(operator) => {
                sql.push(&format!("{column} {operator} "));
                sql.bind(text.clone());
            }
            None => sql.push("0"),
        },
        _ => sql.push("0"),
    }
}

/// A condition on an integer column; string values must parse as integers.
fn integer_condition(sql: &mut Sql, column: &str, op: Op, value: &Value) {
    let parse = |s: &String| s.trim().parse::<i64>().ok();
    match (op, value) {
        (_, Value::Number(target)) => match comparison_operator(op) {
            Some(operator) => {
                sql.push(&format!("{column} {operator} "));
                sql.bind(*target);
            }
            None => sql.push("0"),
        },
        (_, Value::String(text)) => match (comparison_operator(op), parse(text)) {
            (Some(operator), Some(n)) => {
                sql.push(&format!("{column} {operator} "));
                sql.bind(n);
            }
            _ => sql.push("0"),
        },
        (Op::In | Op::NotIn, Value::List(items)) => {
            let numbers: Vec<i64> = items.iter().filter_map(parse).collect();
            sql.push(&format!("{column} {} (", if op == Op::In { "IN" } else { "NOT IN" }));
            for (i, n) in numbers.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(*n);
            }
            sql.push(")");
        }
        _ => sql.push("0"),
    }
}

/// A param or tag comparison: the key must exist, except for `IS NULL`.
fn key_value_condition(sql: &mut Sql, table: &str, key: &str, op: Op, value: &Value) {
    match op {
        Op::IsNull | Op::IsNotNull => {
            sql.push(if op == Op::IsNull { "NOT EXISTS" } else { "EXISTS" });
            sql.push(&format!(" (SELECT 1 FROM {table} kv WHERE kv.run_pk = r.run_pk AND kv.key = "));
            sql.bind(key.to_string());
            sql.push(")");
        }
        _ => {
            sql.push(&format!("EXISTS (SELECT 1 FROM {table} kv WHERE kv.run_pk = r.run_pk AND kv.key = "));
            sql.bind(key.to_string());
            sql.push(" AND ");
            string_condition(sql, "kv.value", op, value);
            sql.push(")");
        }
    }
}

fn metric_condition(sql: &mut Sql, key: &str, op: Op, value: &Value) {
    let (Value::Number(target), Some(operator)) = (value, comparison_operator(op)) else {
        sql.push("0");
        return;
    };
    sql.push(
        "EXISTS (SELECT 1 FROM latest_metrics lm WHERE lm.run_pk = r.run_pk \
         AND lm.key_id = (SELECT key_id FROM metric_keys WHERE key = ",
    );
    sql.bind(key.to_string());
    // A NaN latest value satisfies only `!=`.
    if op == Op::Ne {
        sql.push(") AND (lm.is_nan = 1 OR lm.value != ");
    } else {
        sql.push(&format!(") AND lm.is_nan = 0 AND (lm.value {operator} "));
    }
    sql.bind(*target);
    sql.push("))");
}

fn dataset_condition(sql: &mut Sql, field: &str, op: Op, value: &Value) {
    let column = match field {
        "name" => "d.name",
        "digest" => "d.digest",
        "context" => "t.value",
        _ => {
            sql.push("0");
            return;
        }
    };
    sql.push(
        "EXISTS (SELECT 1 FROM run_dataset_inputs i JOIN datasets d ON d.dataset_pk = i.dataset_pk \
         LEFT JOIN run_dataset_input_tags t ON t.run_pk = i.run_pk AND t.dataset_pk = i.dataset_pk \
         AND t.key = 'mlflow.data.context' WHERE i.run_pk = r.run_pk AND COALESCE(",
    );
    string_condition(sql, column, op, value);
    sql.push(", 0))");
}

fn comparison(sql: &mut Sql, c: &Comparison) {
    let name = c.key.name.as_str();
    match c.key.kind {
        KeyKind::Metric => metric_condition(sql, name, c.op, &c.value),
        KeyKind::Param => key_value_condition(sql, "params", name, c.op, &c.value),
        KeyKind::Tag => key_value_condition(sql, "tags", name, c.op, &c.value),
        KeyKind::Dataset => dataset_condition(sql, name, c.op, &c.value),
        // Like MLflow, a run-name filter reads the `mlflow.runName` tag.
        KeyKind::Attribute if name == "run_name" => match c.op {
            Op::IsNull | Op::IsNotNull => sql.push("0"),
            op => key_value_condition(sql, "tags", RUN_NAME_TAG_KEY, op, &c.value),
        },
        KeyKind::Attribute => match attribute_sql(name) {
            Some((column, is_integer)) => {
                sql.push("COALESCE(");
                if is_integer {
                    integer_condition(sql, &column, c.op, &c.value);
                } else {
                    string_condition(sql, &column, c.op, &c.value);
                }
                sql.push(", 0)");
            }
            None => sql.push("0"),
        },
    }
}

fn expression(sql: &mut Sql, expr: &Expr) {
    match expr {
        Expr::And(items) | Expr::Or(items) => {
            let joiner = if matches!(expr, Expr::And(_)) { " AND " } else { " OR " };
            sql.push("(");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    sql.push(joiner);
                }
                expression(sql, item);
            }
            sql.push(")");
        }
        Expr::Not(inner) => {
            sql.push("NOT (");
            expression(sql, inner);
            sql.push(")");
        }
        Expr::Compare(c) => {
            sql.push("(");
            comparison(sql, c);
            sql.push(")");
        }
    }
}

/// The ORDER BY list: each clause sorts missing (and NaN) values last in both directions,
/// then by value; then MLflow's tie-breakers (start_time DESC unless ordered by it, run id).
fn order_by(sql: &mut Sql, joins: &mut Sql, orders: &[OrderBy]) {
    let mut clauses: Vec<String> = Vec::new();
    let mut by_start_time = false;
    for (n, order) in orders.iter().enumerate() {
        let direction = if order.ascending { "ASC" } else { "DESC" };
        let name = order.key.name.as_str();
        match order.key.kind {
            KeyKind::Metric => {
                joins.push(&format!(
                    " LEFT JOIN latest_metrics o{n} ON o{n}.run_pk = r.run_pk AND o{n}.key_id = \
                     (SELECT key_id FROM metric_keys WHERE key = "
                ));
                joins.bind(name.to_string());
                joins.push(")");
                clauses.push(format!(
                    "CASE WHEN o{n}.run_pk IS NULL THEN 2 WHEN o{n}.is_nan = 1 THEN 1 ELSE 0 END, o{n}.value {direction}"
                ));
            }
            KeyKind::Param | KeyKind::Tag => {
                let table = if order.key.kind == KeyKind::Param { "params" } else { "tags" };
                joins.push(&format!(" LEFT JOIN {table} o{n} ON o{n}.run_pk = r.run_pk AND o{n}.key = "));
                joins.bind(name.to_string());
                clauses.push(format!("CASE WHEN o{n}.value IS NULL THEN 1 ELSE 0 END, o{n}.value {direction}"));
            }
            KeyKind::Attribute | KeyKind::Dataset => {
                if let Some((column, _)) = attribute_sql(name) {
                    by_start_time |= name == "start_time";
                    clauses.push(format!("CASE WHEN {column} IS NULL THEN 1 ELSE 0 END, {column} {direction}"));
                }
            }
        }
    }
    if !by_start_time {
        clauses.push("r.start_time DESC".into());
    }
    clauses.push("r.run_uuid ASC".into());
    sql.push(" ORDER BY ");
    sql.push(&clauses.join(", "));
}

/// What every run search restricts to: experiments, lifecycle stages and the filter.
pub(crate) struct Scope<'a> {
    pub experiment_pks: &'a [i64],
    pub stages: &'a [LifecycleStage],
    pub filter: Option<&'a Filter>,
}

fn scope_conditions(sql: &mut Sql, scope: &Scope<'_>) {
    sql.push("r.experiment_id IN (");
    for (i, pk) in scope.experiment_pks.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(*pk);
    }
    sql.push(") AND r.lifecycle_stage IN (");
    for (i, stage) in scope.stages.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(stage.as_str().to_string());
    }
    sql.push(")");
    if let Some(filter) = scope.filter {
        sql.push(" AND ");
        expression(sql, &filter.expr);
    }
}

fn append(sql: &mut Sql, part: Sql) {
    sql.text.push_str(&part.text);
    sql.params.extend(part.params);
}

fn limit_offset(sql: &mut Sql, limit: usize, offset: u64) {
    sql.push(" LIMIT ");
    sql.bind(limit as i64);
    sql.push(" OFFSET ");
    sql.bind(offset as i64);
}

/// The query returning `run_pk`s of one page of a run search, `limit` rows from `offset`.
pub(crate) fn search_runs_sql(scope: &Scope<'_>, orders: &[OrderBy], offset: u64, limit: usize) -> Sql {
    let mut joins = Sql::default();
    let mut tail = Sql::default();
    order_by(&mut tail, &mut joins, orders);
    let mut sql = Sql::default();
    sql.push("SELECT r.run_pk FROM runs r");
    append(&mut sql, joins);
    sql.push(" WHERE ");
    scope_conditions(&mut sql, scope);
    append(&mut sql, tail);
    limit_offset(&mut sql, limit, offset);
    sql
}

/// When a search is ordered by a metric first, its answer is three consecutive segments:
/// runs whose latest value is a number (in value order), then NaN, then runs without the
/// metric. Each segment is one query, so the first can walk `latest_metrics_by_key` in
/// the requested direction and stop after a page, instead of probing every run of the
/// experiment and sorting them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetricSegment {
    Numbers,
    NaN,
    Missing,
}

impl MetricSegment {
    pub(crate) const ALL: [MetricSegment; 3] = [MetricSegment::Numbers, MetricSegment::NaN, MetricSegment::Missing];
}

/// The leading metric order of a segmented search: its interned key and direction.
pub(crate) struct LeadingMetric {
    pub key_id: i64,
    pub ascending: bool,
}

/// One segment of a search led by `leading` and then ordered by `rest`: a page of it
/// (`Some((limit, offset))`) or, with `None`, the count of its rows.
pub(crate) fn metric_segment_sql(
    scope: &Scope<'_>,
    leading: &LeadingMetric,
    segment: MetricSegment,
    rest: &[OrderBy],
    page: Option<(usize, u64)>,
) -> Sql {
    let mut joins = Sql::default();
    let mut tail = Sql::default();
    order_by(&mut tail, &mut joins, rest);
    let mut sql = Sql::default();
    match segment {
        // CROSS JOIN keeps latest_metrics as the outer loop, so SQLite walks its index.
        MetricSegment::Numbers | MetricSegment::NaN => {
            sql.push("SELECT r.run_pk FROM latest_metrics lead CROSS JOIN runs r");
            append(&mut sql, joins);
            sql.push(" WHERE lead.key_id = ");
            sql.bind(leading.key_id);
            sql.push(if segment == MetricSegment::Numbers { " AND lead.is_nan = 0" } else { " AND lead.is_nan = 1" });
            sql.push(" AND r.run_pk = lead.run_pk AND ");
        }
        MetricSegment::Missing => {
            sql.push("SELECT r.run_pk FROM runs r");
            append(&mut sql, joins);
            sql.push(
                " WHERE NOT EXISTS (SELECT 1 FROM latest_metrics lead WHERE lead.run_pk = r.run_pk AND lead.key_id = ",
            );
            sql.bind(leading.key_id);
            sql.push(") AND ");
        }
    }
    scope_conditions(&mut sql, scope);
    match page {
        Some((limit, offset)) => {
            if segment == MetricSegment::Numbers {
                // The tail starts with " ORDER BY ": the metric's value goes first.
                let direction = if leading.ascending { "ASC" } else { "DESC" };
                tail.text = tail.text.replacen(" ORDER BY ", &format!(" ORDER BY lead.value {direction}, "), 1);
            }
            append(&mut sql, tail);
            limit_offset(&mut sql, limit, offset);
            sql
        }
        None => {
            // The order's joins are LEFT JOINs on unique keys: they change no count.
            let mut count = Sql::default();
            count.push("SELECT count(*) FROM (");
            append(&mut count, sql);
            count.push(")");
            count
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_become_case_sensitive_globs() {
        assert_eq!(like_to_glob("a%b_c"), "a*b?c");
        assert_eq!(like_to_glob("*?[x]"), "[*][?][[]x]");
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let filter = ferroflow_core::search::parse_run_filter("params.p = 'x''; DROP TABLE runs; --'").unwrap();
        let scope = Scope { experiment_pks: &[1], stages: &[LifecycleStage::Active], filter: filter.as_ref() };
        let sql = search_runs_sql(&scope, &[], 0, 10);
        assert!(!sql.text.contains("DROP"), "{}", sql.text);
        assert!(sql.params.iter().any(|p| matches!(p, SqlValue::Text(t) if t.contains("DROP"))));
    }
}

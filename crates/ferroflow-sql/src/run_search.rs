//! Run searches in SQL: a validated filter and order_by list become one parameterised
//! query over `runs`, for either backend. Request values are only ever bound as
//! parameters.
//!
//! The semantics are exactly those of the core search language's evaluator
//! ([`ferroflow_core::search::eval`]), which the property tests hold both backends to:
//! every comparison is two-valued (a missing key or NULL attribute is false, wrapped in
//! `COALESCE(…, FALSE)` so that `NOT` and `OR` behave as plain boolean logic), `LIKE` is
//! case-sensitive, `ILIKE` folds ASCII only, and a NaN metric satisfies only `!=`.
//!
//! Where the engines differ, [`Dialect`] decides: SQLite stores a NaN as 0 with an
//! `is_nan` flag while PostgreSQL keeps NaN itself; SQLite's `LIKE` folds ASCII case (so
//! `LIKE` becomes `GLOB`) while PostgreSQL's is case-sensitive; and RLIKE is matched by
//! ferroflow's own regex engine on both: SQLite calls it as the `ff_regexp` function,
//! while on PostgreSQL the store first matches the distinct candidate values in Rust and
//! the comparison becomes a list ([`regex_comparisons`], [`resolve_regexes`]), so both
//! engines agree with the evaluator to the byte.

use ferroflow_core::search::{Comparison, Expr, Filter, KeyKind, Op, OrderBy, Value, RUN_NAME_TAG_KEY};
use ferroflow_core::types::{LifecycleStage, RunStatus};

use crate::{Dialect, Param, Sql};

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
pub fn like_to_glob(pattern: &str) -> String {
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

/// PostgreSQL's `lower()` folds every script by the database's locale; the search
/// language folds ASCII only, as SQLite's `LIKE` does.
const ASCII_LOWER: &str = "'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'";

/// A condition on a text column that is known to be present.
fn string_condition(sql: &mut Sql, column: &str, op: Op, value: &Value) {
    match (op, value) {
        (Op::In | Op::NotIn, Value::List(items)) => {
            sql.in_list(column, Param::TextList(items.clone()), op == Op::NotIn)
        }
        (Op::Like, Value::String(pattern)) => match sql.dialect {
            Dialect::Sqlite => {
                sql.push(&format!("{column} GLOB "));
                sql.bind(Param::Text(like_to_glob(pattern)));
            }
            // Case-sensitive already; an empty ESCAPE makes `\` an ordinary character, as
            // it is in SQLite's patterns.
            Dialect::Postgres => {
                sql.push(&format!("{column} LIKE "));
                sql.bind(Param::Text(pattern.clone()));
                sql.push(" ESCAPE ''");
            }
        },
        (Op::ILike, Value::String(pattern)) => match sql.dialect {
            Dialect::Sqlite => {
                sql.push(&format!("{column} LIKE "));
                sql.bind(Param::Text(pattern.clone()));
            }
            Dialect::Postgres => {
                sql.push(&format!("translate({column}, {ASCII_LOWER}) LIKE translate("));
                sql.bind(Param::Text(pattern.clone()));
                sql.push(&format!(", {ASCII_LOWER}) ESCAPE ''"));
            }
        },
        (Op::RLike, Value::Regex(regex)) => match sql.dialect {
            Dialect::Sqlite => {
                sql.push(&format!("ff_regexp({column}, "));
                sql.bind(Param::Text(regex.as_str().to_string()));
                sql.push(")");
            }
            // The store resolves every RLIKE to a list first (resolve_regexes); one left
            // over matches nothing rather than being guessed at by another regex engine.
            Dialect::Postgres => sql.push("FALSE"),
        },
        (Op::IsNotNull, _) => sql.push("TRUE"),
        (Op::IsNull, _) => sql.push("FALSE"),
        (op, Value::String(text)) => match comparison_operator(op) {
            Some(operator) => {
                sql.push(&format!("{column} {operator} "));
                sql.bind(Param::Text(text.clone()));
            }
            None => sql.push("FALSE"),
        },
        _ => sql.push("FALSE"),
    }
}

/// A condition on an integer column; string values must parse as integers.
fn integer_condition(sql: &mut Sql, column: &str, op: Op, value: &Value) {
    let parse = |s: &String| s.trim().parse::<i64>().ok();
    match (op, value) {
        (_, Value::Number(target)) => match comparison_operator(op) {
            Some(operator) => {
                sql.push(&format!("{column} {operator} "));
                sql.bind(Param::Real(*target));
            }
            None => sql.push("FALSE"),
        },
        (_, Value::String(text)) => match (comparison_operator(op), parse(text)) {
            (Some(operator), Some(n)) => {
                sql.push(&format!("{column} {operator} "));
                sql.bind(Param::Int(n));
            }
            _ => sql.push("FALSE"),
        },
        (Op::In | Op::NotIn, Value::List(items)) => {
            let numbers: Vec<i64> = items.iter().filter_map(parse).collect();
            sql.in_list(column, Param::IntList(numbers), op == Op::NotIn);
        }
        _ => sql.push("FALSE"),
    }
}

/// A param or tag comparison: the key must exist, except for `IS NULL`.
fn key_value_condition(sql: &mut Sql, table: &str, key: &str, op: Op, value: &Value) {
    match op {
        Op::IsNull | Op::IsNotNull => {
            sql.push(if op == Op::IsNull { "NOT EXISTS" } else { "EXISTS" });
            sql.push(&format!(" (SELECT 1 FROM {table} kv WHERE kv.run_pk = r.run_pk AND kv.key = "));
            sql.bind(Param::Text(key.to_string()));
            sql.push(")");
        }
        _ => {
            sql.push(&format!("EXISTS (SELECT 1 FROM {table} kv WHERE kv.run_pk = r.run_pk AND kv.key = "));
            sql.bind(Param::Text(key.to_string()));
            sql.push(" AND ");
            string_condition(sql, "kv.value", op, value);
            sql.push(")");
        }
    }
}

/// Whether the latest-metric row aliased `alias` holds NaN (`nan`) or a number.
fn nan_test(dialect: Dialect, alias: &str, nan: bool) -> String {
    match (dialect, nan) {
        (Dialect::Sqlite, true) => format!("{alias}.is_nan = 1"),
        (Dialect::Sqlite, false) => format!("{alias}.is_nan = 0"),
        // PostgreSQL's NaN equals itself and sorts above every number.
        (Dialect::Postgres, true) => format!("{alias}.value = 'NaN'::double precision"),
        (Dialect::Postgres, false) => format!("{alias}.value <> 'NaN'::double precision"),
    }
}

fn metric_condition(sql: &mut Sql, key: &str, op: Op, value: &Value) {
    let (Value::Number(target), Some(operator)) = (value, comparison_operator(op)) else {
        sql.push("FALSE");
        return;
    };
    sql.push(
        "EXISTS (SELECT 1 FROM latest_metrics lm WHERE lm.run_pk = r.run_pk \
         AND lm.key_id = (SELECT key_id FROM metric_keys WHERE key = ",
    );
    sql.bind(Param::Text(key.to_string()));
    // A NaN latest value satisfies only `!=`.
    if op == Op::Ne {
        sql.push(&format!(") AND ({} OR lm.value != ", nan_test(sql.dialect, "lm", true)));
    } else {
        sql.push(&format!(") AND {} AND (lm.value {operator} ", nan_test(sql.dialect, "lm", false)));
    }
    sql.bind(Param::Real(*target));
    sql.push("))");
}

fn dataset_condition(sql: &mut Sql, field: &str, op: Op, value: &Value) {
    let column = match field {
        "name" => "d.name",
        "digest" => "d.digest",
        "context" => "t.value",
        _ => {
            sql.push("FALSE");
            return;
        }
    };
    sql.push(
        "EXISTS (SELECT 1 FROM run_dataset_inputs i JOIN datasets d ON d.dataset_pk = i.dataset_pk \
         LEFT JOIN run_dataset_input_tags t ON t.run_pk = i.run_pk AND t.dataset_pk = i.dataset_pk \
         AND t.key = 'mlflow.data.context' WHERE i.run_pk = r.run_pk AND COALESCE(",
    );
    string_condition(sql, column, op, value);
    sql.push(", FALSE))");
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
            Op::IsNull | Op::IsNotNull => sql.push("FALSE"),
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
                sql.push(", FALSE)");
            }
            None => sql.push("FALSE"),
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
                joins.bind(Param::Text(name.to_string()));
                joins.push(")");
                let nan = nan_test(joins.dialect, &format!("o{n}"), true);
                clauses.push(format!(
                    "CASE WHEN o{n}.run_pk IS NULL THEN 2 WHEN {nan} THEN 1 ELSE 0 END, o{n}.value {direction}"
                ));
            }
            KeyKind::Param | KeyKind::Tag => {
                let table = if order.key.kind == KeyKind::Param { "params" } else { "tags" };
                joins.push(&format!(" LEFT JOIN {table} o{n} ON o{n}.run_pk = r.run_pk AND o{n}.key = "));
                joins.bind(Param::Text(name.to_string()));
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
pub struct Scope<'a> {
    pub experiment_pks: &'a [i64],
    pub stages: &'a [LifecycleStage],
    pub filter: Option<&'a Filter>,
}

fn scope_conditions(sql: &mut Sql, scope: &Scope<'_>) {
    sql.in_list("r.experiment_id", Param::IntList(scope.experiment_pks.to_vec()), false);
    sql.push(" AND ");
    let stages = scope.stages.iter().map(|stage| stage.as_str().to_string()).collect();
    sql.in_list("r.lifecycle_stage", Param::TextList(stages), false);
    if let Some(filter) = scope.filter {
        sql.push(" AND ");
        expression(sql, &filter.expr);
    }
}

fn limit_offset(sql: &mut Sql, limit: usize, offset: u64) {
    sql.push(" LIMIT ");
    sql.bind(Param::Int(limit as i64));
    sql.push(" OFFSET ");
    sql.bind(Param::Int(offset as i64));
}

/// The query returning `run_pk`s of one page of a run search, `limit` rows from `offset`.
pub fn search_runs_sql(dialect: Dialect, scope: &Scope<'_>, orders: &[OrderBy], offset: u64, limit: usize) -> Sql {
    let mut joins = Sql::new(dialect);
    let mut tail = Sql::new(dialect);
    order_by(&mut tail, &mut joins, orders);
    let mut sql = Sql::new(dialect);
    sql.push("SELECT r.run_pk FROM runs r");
    sql.append(joins);
    sql.push(" WHERE ");
    scope_conditions(&mut sql, scope);
    sql.append(tail);
    limit_offset(&mut sql, limit, offset);
    sql
}

/// When a search is ordered by a metric first, its answer is three consecutive segments:
/// runs whose latest value is a number (in value order), then NaN, then runs without the
/// metric. Each segment is one query, so the first can walk `latest_metrics_by_key` in
/// the requested direction and stop after a page, instead of probing every run of the
/// experiment and sorting them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricSegment {
    Numbers,
    NaN,
    Missing,
}

impl MetricSegment {
    pub const ALL: [MetricSegment; 3] = [MetricSegment::Numbers, MetricSegment::NaN, MetricSegment::Missing];
}

/// The leading metric order of a segmented search: its interned key and direction.
pub struct LeadingMetric {
    pub key_id: i64,
    pub ascending: bool,
}

/// One segment of a search led by `leading` and then ordered by `rest`: a page of it
/// (`Some((limit, offset))`) or, with `None`, the count of its rows.
pub fn metric_segment_sql(
    dialect: Dialect,
    scope: &Scope<'_>,
    leading: &LeadingMetric,
    segment: MetricSegment,
    rest: &[OrderBy],
    page: Option<(usize, u64)>,
) -> Sql {
    let mut joins = Sql::new(dialect);
    let mut tail = Sql::new(dialect);
    order_by(&mut tail, &mut joins, rest);
    let mut sql = Sql::new(dialect);
    match segment {
        // CROSS JOIN keeps latest_metrics as the outer loop, so SQLite walks its index.
        MetricSegment::Numbers | MetricSegment::NaN => {
            sql.push("SELECT r.run_pk FROM latest_metrics lead CROSS JOIN runs r");
            sql.append(joins);
            sql.push(" WHERE lead.key_id = ");
            sql.bind(Param::Int(leading.key_id));
            sql.push(&format!(" AND {}", nan_test(dialect, "lead", segment == MetricSegment::NaN)));
            sql.push(" AND r.run_pk = lead.run_pk AND ");
        }
        MetricSegment::Missing => {
            sql.push("SELECT r.run_pk FROM runs r");
            sql.append(joins);
            sql.push(
                " WHERE NOT EXISTS (SELECT 1 FROM latest_metrics lead WHERE lead.run_pk = r.run_pk AND lead.key_id = ",
            );
            sql.bind(Param::Int(leading.key_id));
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
            sql.append(tail);
            limit_offset(&mut sql, limit, offset);
            sql
        }
        None => {
            // The order's joins are LEFT JOINs on unique keys: they change no count.
            let mut count = Sql::new(dialect);
            count.push("SELECT count(*) FROM (");
            count.append(sql);
            count.push(") AS segment");
            count
        }
    }
}

/// The RLIKE comparisons in `filter`, in order of appearance.
pub fn regex_comparisons(filter: &Filter) -> Vec<&Comparison> {
    fn walk<'f>(expr: &'f Expr, found: &mut Vec<&'f Comparison>) {
        match expr {
            Expr::And(items) | Expr::Or(items) => items.iter().for_each(|item| walk(item, found)),
            Expr::Not(inner) => walk(inner, found),
            Expr::Compare(c) if c.op == Op::RLike => found.push(c),
            Expr::Compare(_) => {}
        }
    }
    let mut found = Vec::new();
    walk(&filter.expr, &mut found);
    found
}

/// The query listing the distinct values that `comparison`'s key takes among the runs in
/// `scope` (its filter is ignored): the candidates an RLIKE is matched against. `None`
/// for a key no string value can match.
pub fn candidate_values_sql(dialect: Dialect, scope: &Scope<'_>, comparison: &Comparison) -> Option<Sql> {
    let unfiltered = Scope { filter: None, ..*scope };
    let mut sql = Sql::new(dialect);
    let name = comparison.key.name.as_str();
    let key_value = |sql: &mut Sql, table: &str, key: &str| {
        sql.push(&format!(
            "SELECT DISTINCT kv.value FROM {table} kv JOIN runs r ON r.run_pk = kv.run_pk WHERE kv.key = "
        ));
        sql.bind(Param::Text(key.to_string()));
        sql.push(" AND ");
    };
    match comparison.key.kind {
        KeyKind::Param => key_value(&mut sql, "params", name),
        KeyKind::Tag => key_value(&mut sql, "tags", name),
        KeyKind::Attribute if name == "run_name" => key_value(&mut sql, "tags", RUN_NAME_TAG_KEY),
        KeyKind::Attribute => {
            let (column, false) = attribute_sql(name)? else { return None };
            sql.push(&format!("SELECT DISTINCT {column} FROM runs r WHERE {column} IS NOT NULL AND "));
        }
        KeyKind::Dataset => {
            let column = match name {
                "name" => "d.name",
                "digest" => "d.digest",
                "context" => "t.value",
                _ => return None,
            };
            sql.push(&format!(
                "SELECT DISTINCT {column} FROM run_dataset_inputs i JOIN datasets d ON d.dataset_pk = i.dataset_pk \
                 JOIN runs r ON r.run_pk = i.run_pk LEFT JOIN run_dataset_input_tags t ON t.run_pk = i.run_pk \
                 AND t.dataset_pk = i.dataset_pk AND t.key = 'mlflow.data.context' WHERE {column} IS NOT NULL AND "
            ));
        }
        KeyKind::Metric => return None,
    }
    scope_conditions(&mut sql, &unfiltered);
    Some(sql)
}

/// `filter` with every RLIKE comparison replaced by `IN (the values it matches)`, as
/// `matching` lists them for each comparison (in [`regex_comparisons`] order). Over the
/// same runs, the two filters select the same runs.
pub fn resolve_regexes(filter: &Filter, matching: Vec<Vec<String>>) -> Filter {
    fn rewrite(expr: &Expr, matching: &mut std::vec::IntoIter<Vec<String>>) -> Expr {
        match expr {
            Expr::And(items) => Expr::And(items.iter().map(|item| rewrite(item, matching)).collect()),
            Expr::Or(items) => Expr::Or(items.iter().map(|item| rewrite(item, matching)).collect()),
            Expr::Not(inner) => Expr::Not(Box::new(rewrite(inner, matching))),
            Expr::Compare(c) if c.op == Op::RLike => Expr::Compare(Comparison {
                key: c.key.clone(),
                op: Op::In,
                value: Value::List(matching.next().unwrap_or_default()),
            }),
            Expr::Compare(c) => Expr::Compare(c.clone()),
        }
    }
    let mut matching = matching.into_iter();
    Filter { entity: filter.entity, expr: rewrite(&filter.expr, &mut matching) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope_for(filter: Option<&Filter>) -> Scope<'_> {
        Scope { experiment_pks: &[1], stages: &[LifecycleStage::Active], filter }
    }

    #[test]
    fn like_patterns_become_case_sensitive_globs() {
        assert_eq!(like_to_glob("a%b_c"), "a*b?c");
        assert_eq!(like_to_glob("*?[x]"), "[*][?][[]x]");
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let filter = ferroflow_core::search::parse_run_filter("params.p = 'x''; DROP TABLE runs; --'").unwrap();
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let sql = search_runs_sql(dialect, &scope_for(filter.as_ref()), &[], 0, 10);
            assert!(!sql.text.contains("DROP"), "{}", sql.text);
            assert!(sql.params.iter().any(|p| matches!(p, Param::Text(t) if t.contains("DROP"))));
        }
    }

    #[test]
    fn postgres_placeholders_count_up_across_the_whole_query() {
        let filter = ferroflow_core::search::parse_run_filter("params.a = 'x' AND tags.b LIKE 'y%'").unwrap();
        let orders = ferroflow_core::search::parse_order_by_list(
            ferroflow_core::search::Entity::Run,
            &["params.c DESC".to_string()],
        )
        .unwrap();
        let sql = search_runs_sql(Dialect::Postgres, &scope_for(filter.as_ref()), &orders, 0, 10);
        for n in 1..=sql.params.len() {
            assert_eq!(sql.text.matches(&format!("${n}::")).count(), 1, "${n} in {}", sql.text);
        }
        assert!(!sql.text.contains('?'));
    }

    #[test]
    fn regexes_resolve_to_the_lists_they_match() {
        let filter =
            ferroflow_core::search::parse_run_filter("tags.t RLIKE '^a' OR NOT params.p RLIKE 'b$'").unwrap().unwrap();
        let found = regex_comparisons(&filter);
        assert_eq!(found.len(), 2);
        let candidates = candidate_values_sql(Dialect::Postgres, &scope_for(Some(&filter)), found[0]).unwrap();
        assert!(candidates.text.starts_with("SELECT DISTINCT kv.value FROM tags"), "{}", candidates.text);
        let resolved = resolve_regexes(&filter, vec![vec!["ab".into()], vec![]]);
        assert!(regex_comparisons(&resolved).is_empty());
        let sql = search_runs_sql(Dialect::Postgres, &scope_for(Some(&resolved)), &[], 0, 10);
        // The empty list is spelled as a constant; the other binds one array.
        assert!(sql.text.contains("= ANY ("), "{}", sql.text);
        assert!(sql.params.contains(&Param::TextList(vec!["ab".into()])));
    }
}

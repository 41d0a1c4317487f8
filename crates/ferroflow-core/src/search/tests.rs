//! Tests for the search language: MLflow oracle replay, AST tables, a malformed corpus,
//! extension semantics, and a fuzz property (no input may panic).

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::Value as Json;

use super::*;
use crate::error::ErrorCode;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn cmp(kind: KeyKind, name: &str, op: Op, value: Value) -> Expr {
    Expr::Compare(Comparison { key: Key::new(kind, name), op, value })
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn n(v: f64) -> Value {
    Value::Number(v)
}

fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| s.to_string()).collect())
}

fn expr(entity: Entity, text: &str) -> Expr {
    match parse_filter(entity, text) {
        Ok(Some(filter)) => filter.expr,
        other => panic!("{text:?} should parse, got {other:?}"),
    }
}

fn error(entity: Entity, text: &str) -> String {
    match parse_filter(entity, text) {
        Err(e) => {
            assert_eq!(e.code, ErrorCode::InvalidParameterValue, "{text:?}");
            e.message
        }
        Ok(f) => panic!("{entity:?} filter {text:?} should be rejected, got {f:?}"),
    }
}

fn entity_of(name: &str) -> Entity {
    match name {
        "run" => Entity::Run,
        "experiment" => Entity::Experiment,
        "registered_model" => Entity::RegisteredModel,
        "model_version" => Entity::ModelVersion,
        "logged_model" => Entity::LoggedModel,
        other => panic!("unknown entity {other}"),
    }
}

fn json_f64(v: &Json) -> f64 {
    match v {
        Json::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Json::String(s) => s.parse::<f64>().unwrap_or(f64::NAN),
        other => panic!("not a number: {other}"),
    }
}

fn record_from_json(v: &Json) -> Record {
    let mut record = Record::default();
    let str_map = |v: Option<&Json>| -> BTreeMap<String, String> {
        v.and_then(Json::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
            .unwrap_or_default()
    };
    if let Some(attrs) = v.get("attributes").and_then(Json::as_object) {
        for (k, v) in attrs {
            let value = match v {
                Json::Number(n) => AttrValue::Int(n.as_i64().expect("integer attribute")),
                Json::String(s) => AttrValue::Str(s.clone()),
                other => panic!("attribute {k}: {other}"),
            };
            record.attributes.insert(k.clone(), value);
        }
    }
    if let Some(metrics) = v.get("metrics").and_then(Json::as_object) {
        for (k, values) in metrics {
            let values = values.as_array().expect("metric values").iter().map(json_f64).collect();
            record.metrics.insert(k.clone(), values);
        }
    }
    record.params = str_map(v.get("params"));
    record.tags = str_map(v.get("tags"));
    if let Some(datasets) = v.get("datasets").and_then(Json::as_array) {
        for d in datasets {
            record.datasets.push(DatasetRecord {
                name: d["name"].as_str().unwrap_or_default().to_string(),
                digest: d["digest"].as_str().unwrap_or_default().to_string(),
                context: d["context"].as_str().map(str::to_string),
            });
        }
    }
    record
}

// ---------------------------------------------------------------------------------------
// MLflow oracle: testdata/mlflow_oracle.json was produced by running every filter of
// testdata/corpus.txt through a real MLflow SQL store (see testdata/gen_oracle.py).
// ---------------------------------------------------------------------------------------

#[test]
fn agrees_with_mlflow_sql_store() {
    let failures = check_oracle(include_str!("testdata/mlflow_oracle.json"), 400);
    assert!(failures.is_empty(), "{} disagreements with MLflow:\n{}", failures.len(), failures.join("\n"));
}

/// Replays a larger, generated oracle (e.g. from a fuzzed corpus):
/// `ORACLE_JSON=/tmp/fuzz.json cargo test -p ferroflow-core replay_external -- --ignored`.
#[test]
#[ignore = "needs ORACLE_JSON produced by testdata/gen_oracle.py"]
fn replay_external_oracle() {
    let path = std::env::var("ORACLE_JSON").expect("ORACLE_JSON");
    let text = std::fs::read_to_string(path).expect("readable oracle");
    let failures = check_oracle(&text, 1);
    assert!(failures.is_empty(), "{} disagreements with MLflow:\n{}", failures.len(), failures.join("\n"));
}

fn check_oracle(json: &str, min_cases: usize) -> Vec<String> {
    let oracle: Json = serde_json::from_str(json).expect("oracle json");
    let mut records: BTreeMap<String, Vec<(String, Record)>> = BTreeMap::new();
    for (entity, items) in oracle["records"].as_object().expect("records") {
        let list = items.as_object().expect("records of entity");
        let parsed = list.iter().map(|(label, v)| (label.clone(), record_from_json(v))).collect();
        records.insert(entity.clone(), parsed);
    }
    let mut failures = Vec::new();
    let cases = oracle["cases"].as_array().expect("cases");
    for case in cases {
        let kind = case["kind"].as_str().unwrap_or_default();
        let entity_name = case["entity"].as_str().unwrap_or_default();
        let entity = entity_of(entity_name);
        let text = case["text"].as_str().unwrap_or_default();
        let mlflow_ok = case["ok"].as_bool().unwrap_or(false);
        let label = format!("[{kind}] {entity_name} {text:?}");
        if case["order_by"].as_bool().unwrap_or(false) {
            let ours = parse_order_by(entity, text);
            if ours.is_ok() != mlflow_ok {
                failures.push(format!("{label} order_by: ours {ours:?}, mlflow {}", case["error"]));
            }
            continue;
        }
        let ours = parse_filter(entity, text);
        let matched = |filter: &Option<Filter>| -> Vec<String> {
            records[entity_name]
                .iter()
                .filter(|(_, record)| matches(entity, filter.as_ref(), record))
                .map(|(label, _)| label.clone())
                .collect()
        };
        let labels = |v: &Json| -> Vec<String> {
            let mut labels: Vec<String> =
                v.as_array().expect("labels").iter().map(|m| m.as_str().unwrap_or_default().to_string()).collect();
            labels.sort();
            labels
        };
        match (kind, mlflow_ok, &ours) {
            ("ext", _, Ok(filter)) => {
                if !case["expected"].is_null() {
                    let (actual, expected) = (matched(filter), labels(&case["expected"]));
                    if actual != expected {
                        failures.push(format!("{label}: matched {actual:?}, expected {expected:?}"));
                    }
                }
            }
            ("dev", _, Ok(_)) | ("rej", _, Err(_)) => {}
            ("rej", _, Ok(f)) => failures.push(format!("{label}: should be rejected, got {f:?}")),
            ("ext" | "dev", _, Err(e)) => failures.push(format!("{label}: extension rejected: {}", e.message)),
            (_, false, Err(_)) => {}
            (_, false, Ok(f)) => failures.push(format!("{label}: accepted ({f:?}) but MLflow says {}", case["error"])),
            (_, true, Err(e)) => failures.push(format!("{label}: rejected ({}) but MLflow accepts", e.message)),
            (_, true, Ok(filter)) => {
                let (actual, expected) = (matched(filter), labels(&case["matches"]));
                if actual != expected {
                    failures.push(format!("{label}: matched {actual:?}, MLflow {expected:?}"));
                }
            }
        }
    }
    assert!(cases.len() >= min_cases, "oracle too small");
    failures
}

// ---------------------------------------------------------------------------------------
// Good inputs → expected AST
// ---------------------------------------------------------------------------------------

#[test]
fn parses_to_expected_ast() {
    use Entity::*;
    use KeyKind::*;
    let table: Vec<(Entity, &str, Expr)> = vec![
        (Run, "metrics.rmse < 0.5", cmp(Metric, "rmse", Op::Lt, n(0.5))),
        (Run, "metric.rmse>=-1e-3", cmp(Metric, "rmse", Op::Ge, n(-1e-3))),
        (Run, "metrics.`my metric` = .5", cmp(Metric, "my metric", Op::Eq, n(0.5))),
        (Run, "metrics.\"x y\" != 5.", cmp(Metric, "x y", Op::Ne, n(5.0))),
        (Run, "metrics.a.b <= 2", cmp(Metric, "a.b", Op::Le, n(2.0))),
        (Run, "params.lr = '0.01'", cmp(Param, "lr", Op::Eq, s("0.01"))),
        (Run, "parameters.lr = \"0.01\"", cmp(Param, "lr", Op::Eq, s("0.01"))),
        (Run, "params.p LIKE 'a%'", cmp(Param, "p", Op::Like, s("a%"))),
        (Run, "params.p ilike 'a%'", cmp(Param, "p", Op::ILike, s("a%"))),
        (Run, "params.p IS NULL", cmp(Param, "p", Op::IsNull, Value::None)),
        (Run, "tags.t is not null", cmp(Tag, "t", Op::IsNotNull, Value::None)),
        (Run, "tags.mlflow.runName = 'x'", cmp(Tag, "mlflow.runName", Op::Eq, s("x"))),
        (Run, "tags.`a b` = 'it''s'", cmp(Tag, "a b", Op::Eq, s("it''s"))),
        (Run, "attributes.status = 'FINISHED'", cmp(Attribute, "status", Op::Eq, s("FINISHED"))),
        (Run, "status != 'RUNNING'", cmp(Attribute, "status", Op::Ne, s("RUNNING"))),
        (Run, "run.user_id LIKE 'a%'", cmp(Attribute, "user_id", Op::Like, s("a%"))),
        (Run, "created > 1000", cmp(Attribute, "start_time", Op::Gt, n(1000.0))),
        (Run, "\"run name\" = 'x'", cmp(Attribute, "run_name", Op::Eq, s("x"))),
        (Run, "`Run Name` = 'x'", cmp(Attribute, "run_name", Op::Eq, s("x"))),
        (Run, "run_id IN ('a', \"b\",)", cmp(Attribute, "run_id", Op::In, list(&["a", "b"]))),
        (Run, "run_id NOT IN ('a\\nb' 'c')", cmp(Attribute, "run_id", Op::NotIn, list(&["a\nbc"]))),
        (Run, "datasets.context IN ('train')", cmp(Dataset, "context", Op::In, list(&["train"]))),
        (Run, "dataset.digest = 'abc'", cmp(Dataset, "digest", Op::Eq, s("abc"))),
        (
            Run,
            "metrics.a > 1 and params.b = 'x' AND tags.c != 'y'",
            Expr::And(vec![
                cmp(Metric, "a", Op::Gt, n(1.0)),
                cmp(Param, "b", Op::Eq, s("x")),
                cmp(Tag, "c", Op::Ne, s("y")),
            ]),
        ),
        // MLflow tolerates stray ANDs and even a missing AND.
        (
            Run,
            "AND metrics.a > 1 metrics.b < 2 AND",
            Expr::And(vec![cmp(Metric, "a", Op::Gt, n(1.0)), cmp(Metric, "b", Op::Lt, n(2.0))]),
        ),
        // "or" inside a string is just text.
        (Run, "tags.t = 'this or that'", cmp(Tag, "t", Op::Eq, s("this or that"))),
        (Run, "tags.t = 'a AND b'", cmp(Tag, "t", Op::Eq, s("a AND b"))),
        // Extensions.
        (
            Run,
            "metrics.a > 1 OR metrics.b < 2 AND tags.t = 'x'",
            Expr::Or(vec![
                cmp(Metric, "a", Op::Gt, n(1.0)),
                Expr::And(vec![cmp(Metric, "b", Op::Lt, n(2.0)), cmp(Tag, "t", Op::Eq, s("x"))]),
            ]),
        ),
        (
            Run,
            "(metrics.a > 1 or metrics.b < 2) and not tags.t = 'x'",
            Expr::And(vec![
                Expr::Or(vec![cmp(Metric, "a", Op::Gt, n(1.0)), cmp(Metric, "b", Op::Lt, n(2.0))]),
                Expr::Not(Box::new(cmp(Tag, "t", Op::Eq, s("x")))),
            ]),
        ),
        (Run, "tags.t IN ('a', 'b')", cmp(Tag, "t", Op::In, list(&["a", "b"]))),
        (Run, "params.p NOT IN ('a')", cmp(Param, "p", Op::NotIn, list(&["a"]))),
        (Run, "params.p RLIKE '^a.*b$'", cmp(Param, "p", Op::RLike, Value::Regex(Regex::new("^a.*b$").unwrap()))),
        (Experiment, "name = 'x'", cmp(Attribute, "name", Op::Eq, s("x"))),
        (Experiment, "experiment_id IN ('01', '2')", cmp(Attribute, "experiment_id", Op::In, list(&["1", "2"]))),
        (Experiment, "creation_time >= 5", cmp(Attribute, "creation_time", Op::Ge, n(5.0))),
        (Experiment, "tags.k IS NULL", cmp(Tag, "k", Op::IsNull, Value::None)),
        (RegisteredModel, "name IN ('a')", cmp(Attribute, "name", Op::In, list(&["a"]))),
        (
            RegisteredModel,
            "tag.`mlflow.prompt.is_prompt` != 'true'",
            cmp(Tag, "mlflow.prompt.is_prompt", Op::Ne, s("true")),
        ),
        (ModelVersion, "version_number = '3'", cmp(Attribute, "version_number", Op::Eq, n(3.0))),
        (ModelVersion, "source_path LIKE 's3://%'", cmp(Attribute, "source_path", Op::Like, s("s3://%"))),
        (LoggedModel, "creation_time > 5", cmp(Attribute, "creation_timestamp", Op::Gt, n(5.0))),
        (LoggedModel, "last_updated_time < 5", cmp(Attribute, "last_updated_timestamp", Op::Lt, n(5.0))),
        (LoggedModel, "params.lr = 0.01", cmp(Param, "lr", Op::Eq, s("0.01"))),
        (LoggedModel, "tags.t IN ('a')", cmp(Tag, "t", Op::In, list(&["a"]))),
        (LoggedModel, "metrics.`a b` > 1", cmp(Metric, "a b", Op::Gt, n(1.0))),
    ];
    for (entity, text, expected) in table {
        assert_eq!(expr(entity, text), expected, "{entity:?} {text:?}");
    }
}

#[test]
fn empty_filters_mean_no_filter() {
    for text in ["", "   ", "\n\t", "AND", " and AND "] {
        assert_eq!(parse_run_filter(text).expect("empty is fine"), None, "{text:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Malformed inputs: all rejected, none panic, errors name a position
// ---------------------------------------------------------------------------------------

#[test]
fn malformed_corpus_is_rejected() {
    use Entity::*;
    let corpus: &[(Entity, &str)] = &[
        (Run, "metrics.x = 'a'"),
        (Run, "metrics.x = \"1\""),
        (Run, "metrics.x LIKE 1"),
        (Run, "metrics.x IN (1, 2)"),
        (Run, "metrics.x IS NULL"),
        (Run, "metrics.x == 1"),
        (Run, "metrics.x <> 1"),
        (Run, "metrics.x => 1"),
        (Run, "metrics.x > 1e+5"),
        (Run, "metrics.x > 0x10"),
        (Run, "metrics.x > - 1"),
        (Run, "metrics.x > 1.2.3"),
        (Run, "metrics.x > 1abc"),
        (Run, "metrics.x >"),
        (Run, "metrics.x"),
        (Run, "> 1"),
        (Run, "metrics.x > 1 OR"),
        (Run, "OR metrics.x > 1"),
        (Run, "metrics.x > 1 AND OR metrics.y > 1"),
        (Run, "metrics.x > 1 ; metrics.y > 1"),
        (Run, "metrics.x > 1;"),
        (Run, "metrics.x > 1 -- comment"),
        (Run, "METRICS.x > 1"),
        (Run, "\"metrics\".x > 1"),
        (Run, "metrics . x > 1"),
        (Run, "params.p > '1'"),
        (Run, "params.p = 1"),
        (Run, "params.p = unquoted"),
        (Run, "params.p NOT LIKE 'a'"),
        (Run, "params.p IS NOTNULL"),
        (Run, "params.p IS"),
        (Run, "params.p = ('a')"),
        (Run, "params.p IN ()"),
        (Run, "params.p IN (1)"),
        (Run, "params.p REGEXP 'a'"),
        (Run, "params.p RLIKE '('"),
        (Run, "params.p RLIKE '(?=look-ahead)'"),
        (Run, "params.p RLIKE '(a)\\1'"),
        (Run, "tags.t = 'unterminated"),
        (Run, "tags.t = \"unterminated"),
        (Run, "tags.`unterminated = 'x'"),
        (Run, "tags.t = 'a' 'b'"),
        (Run, "tags.t = "),
        (Run, "tags = 'x'"),
        (Run, "foo.bar = 'x'"),
        (Run, "attribute.foo = 1"),
        (Run, "attributes.lifecycle_stage = 'active'"),
        (Run, "status IN ('A')"),
        (Run, "status = 5"),
        (Run, "status = FINISHED"),
        (Run, "status IS NULL"),
        (Run, "start_time > '5'"),
        (Run, "start_time LIKE 5"),
        (Run, "run_id IN ()"),
        (Run, "run_id IN ('a', 1)"),
        (Run, "run_id IN (,)"),
        (Run, "run_id IN ('a'"),
        (Run, "run_id IN 'a'"),
        (Run, "run_id IN (a)"),
        (Run, "run_id IN (f'a')"),
        (Run, "run_id IN ('\\x4')"),
        (Run, "run_id = ('a')"),
        (Run, "run_id > 'a'"),
        (Run, "datasets.foo = 'x'"),
        (Run, "datasets.name = 1"),
        (Run, "datasets.name > 'a'"),
        (Run, "()"),
        (Run, "(metrics.x > 1"),
        (Run, "metrics.x > 1)"),
        (Run, "NOT"),
        (Run, "NOT NOT"),
        (Run, "metrics.x NOT > 1"),
        (Experiment, "name IN ('a')"),
        (Experiment, "name > 'a'"),
        (Experiment, "name IS NULL"),
        (Experiment, "attributes.name = 'a'"),
        (Experiment, "experiment_id = 1"),
        (Experiment, "experiment_id = 'abc'"),
        (Experiment, "experiment_id LIKE '1%'"),
        (Experiment, "creation_time > 1.5"),
        (Experiment, "creation_time > '1'"),
        (Experiment, "tags.t > 'a'"),
        (Experiment, "params.p = 'a'"),
        (Experiment, "`tags`.t = 'a'"),
        (RegisteredModel, "\"name\" = 'a'"),
        (RegisteredModel, "name = 5"),
        (RegisteredModel, "name > 'a'"),
        (RegisteredModel, "name IS NULL"),
        (RegisteredModel, "tags.t IS NULL"),
        (RegisteredModel, "creation_timestamp > 1"),
        (RegisteredModel, "metrics.m > 1"),
        (ModelVersion, "version_number = 1.5"),
        (ModelVersion, "version_number = 'x'"),
        (ModelVersion, "version_number LIKE '1'"),
        (ModelVersion, "version_number IN ('1')"),
        (ModelVersion, "source_path IN ('a')"),
        (ModelVersion, "name = 5"),
        (ModelVersion, "tags.k IS NULL"),
        (LoggedModel, "metric.m > 1"),
        (LoggedModel, "attribute.name = 'a'"),
        (LoggedModel, "metrics.m > '1'"),
        (LoggedModel, "metrics.m LIKE 1"),
        (LoggedModel, "params.p > 'a'"),
        (LoggedModel, "tags.t IS NULL"),
        (LoggedModel, "foo = 'x'"),
        (LoggedModel, "creation_timestamp > 'x'"),
    ];
    assert!(corpus.len() >= 60);
    for (entity, text) in corpus {
        let message = error(*entity, text);
        assert!(message.contains("position"), "{text:?}: message without a position: {message}");
    }
}

#[test]
fn errors_start_like_mlflow_and_point_at_the_problem() {
    let m = error(Entity::Run, "metrics.x = 'a'");
    assert!(m.starts_with("Expected numeric value type for metric. Found 'a'"), "{m}");
    assert!(m.contains("position 12 near ''a''"), "{m}");

    let m = error(Entity::Run, "attribute.foo = 1");
    assert!(m.starts_with("Invalid attribute key 'foo' specified. Valid keys are"), "{m}");
    assert!(m.contains("position 0"), "{m}");

    let m = error(Entity::Run, "params.p > '1'");
    assert!(m.starts_with("Invalid comparator '>' not one of"), "{m}");
    assert!(m.contains("position 9"), "{m}");

    let m = error(Entity::Run, "metrics.x > 1 AND metrics.y");
    assert!(m.starts_with("Invalid filter 'metrics.x > 1 AND metrics.y': expected a comparison operator"), "{m}");
    assert!(m.contains("at the end of the filter"), "{m}");

    let m = error(Entity::Run, "tags.t = 'abc");
    assert!(m.contains("expected a closing ' for this quoted text at position 9 near ''abc'"), "{m}");

    let m = error(Entity::Run, "foo.x = 'a'");
    assert!(m.starts_with("Invalid entity type 'foo'. Valid values are"), "{m}");

    let m = error(Entity::Run, "run_id IN ()");
    assert!(m.starts_with("While parsing a list in the query, expected a non-empty list"), "{m}");

    // Positions count characters, not bytes.
    let m = error(Entity::Run, "tags.é = 'x' AND metrics.m = 'y'");
    assert!(m.contains("position 29"), "{m}");
}

// ---------------------------------------------------------------------------------------
// order_by
// ---------------------------------------------------------------------------------------

#[test]
fn order_by_parses_and_normalizes() {
    use Entity::*;
    use KeyKind::*;
    let table: &[(Entity, &str, KeyKind, &str, bool)] = &[
        (Run, "metrics.rmse DESC", Metric, "rmse", false),
        (Run, "metrics.`a b` asc", Metric, "a b", true),
        (Run, "metrics.\"a b\"", Metric, "a b", true),
        (Run, "params.lr", Param, "lr", true),
        (Run, "tags.`mlflow.runName` DESC", Tag, "mlflow.runName", false),
        (Run, "created", Attribute, "start_time", true),
        (Run, "attributes.end_time desc", Attribute, "end_time", false),
        (Run, "  run_name  ", Attribute, "run_name", true),
        (Experiment, "creation_time DESC", Attribute, "creation_time", false),
        (Experiment, "attribute.experiment_id", Attribute, "experiment_id", true),
        (RegisteredModel, "timestamp DESC", Attribute, "last_updated_timestamp", false),
        (RegisteredModel, "`name` ASC", Attribute, "name", true),
        (ModelVersion, "version_number DESC", Attribute, "version_number", false),
        (ModelVersion, "tags.name", Attribute, "name", true),
        (LoggedModel, "creation_time", Attribute, "creation_timestamp", true),
        (LoggedModel, "metrics.acc DESC", Metric, "acc", false),
    ];
    for (entity, clause, kind, name, ascending) in table {
        let order = parse_order_by(*entity, clause).unwrap_or_else(|e| panic!("{clause}: {e}"));
        assert_eq!(order, OrderBy { key: Key::new(*kind, *name), ascending: *ascending }, "{clause}");
    }
}

#[test]
fn bad_order_by_is_rejected() {
    use Entity::*;
    let bad: &[(Entity, &str)] = &[
        (Run, ""),
        (Run, "start_time DESCENDING"),
        (Run, "start_time ASC DESC"),
        (Run, "start_time DESC NULLS FIRST"),
        (Run, "datasets.name"),
        (Run, "\"run name\""),
        (Run, "lifecycle_stage"),
        (Run, "METRICS.x"),
        (Run, "foo.bar"),
        (Run, "'start_time'"),
        (Run, "start_time,"),
        (Experiment, "tags.t"),
        (Experiment, "timestamp"),
        (RegisteredModel, "creation_timestamp"),
        (RegisteredModel, "attribute.name"),
        (RegisteredModel, "tags.t"),
        // Without a direction MLflow keeps the quotes, and "`name`" is no registered-model key.
        (RegisteredModel, "`name`"),
        (ModelVersion, "run_id"),
        (ModelVersion, "tags.k"),
        (ModelVersion, "foo.name"),
        (LoggedModel, "params.lr"),
        (LoggedModel, "foo"),
    ];
    for (entity, clause) in bad {
        let err = parse_order_by(*entity, clause).expect_err(clause);
        assert_eq!(err.code, ErrorCode::InvalidParameterValue);
    }
    let msg = parse_order_by(Run, "start_time DESCENDING").unwrap_err().message;
    assert_eq!(msg, "Invalid ordering key in order_by clause 'start_time DESCENDING'.");
}

#[test]
fn order_by_lists_reject_duplicates_like_mlflow() {
    assert!(parse_order_by_list(Entity::Run, &["start_time", "created DESC"]).is_err());
    assert!(parse_order_by_list(Entity::RegisteredModel, &["timestamp", "last_updated_timestamp"]).is_err());
    assert!(parse_order_by_list(Entity::Experiment, &["name", "name DESC"]).is_ok());
    let parsed = parse_order_by_list(Entity::Run, &["metrics.a", "params.a"]).expect("distinct kinds");
    assert_eq!(parsed.len(), 2);
}

#[test]
fn logged_model_order_by_objects() {
    let o = parse_logged_model_order_by("metrics.a b", false).expect("metric");
    assert_eq!(o, OrderBy { key: Key::new(KeyKind::Metric, "a b"), ascending: false });
    assert!(parse_logged_model_order_by("params.x", true).is_err());
    assert!(parse_logged_model_order_by("bogus", true).is_err());
}

// ---------------------------------------------------------------------------------------
// Evaluator: semantics of the extensions and of the MLflow quirks
// ---------------------------------------------------------------------------------------

fn run_matches(text: &str, record: &Record) -> bool {
    let filter = parse_run_filter(text).expect("valid").expect("non-empty");
    filter.matches(record)
}

#[test]
fn extension_semantics_are_boolean_over_two_valued_comparisons() {
    let with_tag = Record::default().with_tag("env", "prod").with_metric("acc", 0.9);
    let without = Record::default().with_metric("acc", 0.1);
    // A missing tag fails `!=` (MLflow's inner join) but satisfies NOT (… = …).
    assert!(!run_matches("tags.env != 'prod'", &without));
    assert!(run_matches("NOT tags.env = 'prod'", &without));
    assert!(!run_matches("NOT tags.env = 'prod'", &with_tag));
    assert!(run_matches("tags.env = 'prod' OR metrics.acc < 0.5", &without));
    assert!(run_matches("tags.env = 'prod' OR metrics.acc < 0.5", &with_tag));
    assert!(!run_matches("(tags.env = 'prod' OR metrics.acc < 0.5) AND metrics.acc > 0.5", &without));
    // IN / NOT IN on tags need the tag, like `!=`.
    assert!(run_matches("tags.env IN ('dev', 'prod')", &with_tag));
    assert!(!run_matches("tags.env NOT IN ('dev')", &without));
    assert!(run_matches("tags.env NOT IN ('dev')", &with_tag));
    // RLIKE is an unanchored, case-sensitive regex search.
    assert!(run_matches("tags.env RLIKE 'ro'", &with_tag));
    assert!(!run_matches("tags.env RLIKE '^RO'", &with_tag));
    assert!(!run_matches("tags.env RLIKE '.*'", &without));
}

#[test]
fn nan_metrics_only_satisfy_not_equal_for_runs() {
    let nan = Record::default().with_metric("m", f64::NAN);
    for (text, expected) in [
        ("metrics.m != 1", true),
        ("metrics.m = 1", false),
        ("metrics.m < 1", false),
        ("metrics.m >= 1", false),
        ("NOT metrics.m = 1", true),
    ] {
        assert_eq!(run_matches(text, &nan), expected, "{text}");
    }
    let filter = parse_logged_model_filter("metrics.m != 1").expect("valid").expect("some");
    assert!(!filter.matches(&nan), "logged models treat NaN as NULL");
    let any = Record::default().with_metric("m", 0.5).with_metric("m", 2.0);
    assert!(filter.matches(&any));
    let gt = parse_logged_model_filter("metrics.m > 1").expect("valid").expect("some");
    assert!(gt.matches(&any), "any stored value may satisfy a logged-model metric filter");
}

#[test]
fn run_name_is_compared_against_the_run_name_tag() {
    let record = Record::default().with_tag(RUN_NAME_TAG_KEY, "alpha").with_attr("run_name", "stale");
    assert!(run_matches("run_name = 'alpha'", &record));
    assert!(run_matches("attributes.`Run name` LIKE 'al%'", &record));
    assert!(!run_matches("run_name != 'zzz'", &Record::default()));
}

#[test]
fn null_attributes_fail_every_comparison() {
    let running = Record::default().with_attr("start_time", 5);
    assert!(!run_matches("end_time != 1", &running));
    assert!(!run_matches("end_time < 1000", &running));
    assert!(run_matches("start_time < 5.5", &running));
    assert!(!run_matches("start_time > 5.5", &running));
}

#[test]
fn prompts_are_hidden_unless_asked_for() {
    let model = Record::default().with_attr("name", "m");
    let prompt = Record::default().with_attr("name", "p").with_tag(PROMPT_TAG_KEY, "true");
    let rm = |text: &str| parse_registered_model_filter(text).expect("valid");
    let hits = |filter: Option<Filter>| -> Vec<bool> {
        [&model, &prompt].iter().map(|r| matches(Entity::RegisteredModel, filter.as_ref(), r)).collect()
    };
    assert_eq!(hits(None), [true, false]);
    assert_eq!(hits(rm("tag.`mlflow.prompt.is_prompt` != 'true'")), [true, false]);
    assert_eq!(hits(rm("tags.`mlflow.prompt.is_prompt` = 'false'")), [true, false]);
    assert_eq!(hits(rm("tags.`mlflow.prompt.is_prompt` = 'true'")), [false, true]);
    assert_eq!(hits(rm("name = 'p'")), [false, false]);
    assert_eq!(hits(rm("name = 'p' AND tags.`mlflow.prompt.is_prompt` = 'TRUE'")), [false, false]);
    // The client appends its prompt filter after user filters, OR ones included.
    assert_eq!(hits(rm("name = 'm' OR name = 'p' AND tag.`mlflow.prompt.is_prompt` != 'true'")), [true, false]);
}

#[test]
fn experiment_ids_compare_as_integers() {
    let exp = Record::default().with_attr("experiment_id", 7);
    let exp_text = Record::default().with_attr("experiment_id", "7");
    for text in ["experiment_id = '07'", "experiment_id IN ('1', '+7')", "experiment_id != '8'"] {
        let filter = parse_experiment_filter(text).expect("valid").expect("some");
        assert!(filter.matches(&exp), "{text}");
        assert!(filter.matches(&exp_text), "{text} (id as text)");
    }
}

#[test]
fn hostile_inputs_are_bounded() {
    let deep = format!("{}metrics.m > 1{}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(parse_run_filter(&deep).is_err());
    let nots = format!("{}metrics.m > 1", "NOT ".repeat(100_000));
    assert!(parse_run_filter(&nots).is_err());
    assert!(Regex::new(&"(".repeat(3000)).is_err());
    let ok = format!("{}metrics.m > 1{}", "(".repeat(60), ")".repeat(60));
    assert!(parse_run_filter(&ok).is_ok());
    // Long but flat filters are fine.
    let ids: Vec<String> = (0..20_000).map(|n| format!("'id{n}'")).collect();
    let long = format!("run_id IN ({})", ids.join(", "));
    assert!(parse_run_filter(&long).is_ok());
    let many = vec!["tags.t = 'it''s'"; 5_000].join(" AND ");
    assert!(parse_run_filter(&many).is_ok());
}

// ---------------------------------------------------------------------------------------
// Fuzzing: nothing panics
// ---------------------------------------------------------------------------------------

const ENTITIES: [Entity; 5] =
    [Entity::Run, Entity::Experiment, Entity::RegisteredModel, Entity::ModelVersion, Entity::LoggedModel];

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("metrics.m".to_string()),
        Just("params.`p q`".to_string()),
        Just("tags.\"t\"".to_string()),
        Just("attributes.status".to_string()),
        Just("datasets.name".to_string()),
        Just("name".to_string()),
        Just("version_number".to_string()),
        Just("start_time".to_string()),
        Just(" AND ".to_string()),
        Just(" OR ".to_string()),
        Just(" NOT ".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just(" = ".to_string()),
        Just(" != ".to_string()),
        Just(" >= ".to_string()),
        Just(" LIKE ".to_string()),
        Just(" RLIKE ".to_string()),
        Just(" IN ".to_string()),
        Just(" NOT IN ".to_string()),
        Just(" IS NULL".to_string()),
        Just("('a', \"b\")".to_string()),
        Just("'x%'".to_string()),
        Just("'(a|b)*[c-'".to_string()),
        Just("-1.5e3".to_string()),
        Just(".5".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("`".to_string()),
        Just("\\".to_string()),
        "[ -~]{0,4}",
        "\\PC{0,3}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_strings_never_panic(text in "\\PC{0,40}") {
        for entity in ENTITIES {
            let _ = parse_filter(entity, &text);
            let _ = parse_order_by(entity, &text);
        }
        let _ = parse_logged_model_order_by(&text, true);
        let _ = Regex::new(&text).map(|re| re.is_match(&text));
    }

    #[test]
    fn filter_shaped_strings_never_panic(parts in proptest::collection::vec(fragment(), 0..12)) {
        let text: String = parts.concat();
        let record = Record::default()
            .with_metric("m", 1.0)
            .with_param("p q", "x")
            .with_tag("t", "y")
            .with_attr("status", "FINISHED")
            .with_attr("name", "n")
            .with_attr("version_number", 1)
            .with_dataset("d", "g", None);
        for entity in ENTITIES {
            if let Ok(Some(filter)) = parse_filter(entity, &text) {
                let _ = filter.matches(&record);
            }
            let _ = parse_order_by(entity, &text);
        }
    }

    #[test]
    fn like_never_panics_and_percent_matches_everything(text in "\\PC{0,20}", pattern in "[%_a-c\\PC]{0,10}") {
        let _ = eval::like(&text, &pattern, true);
        prop_assert!(eval::like(&text, "%", false));
    }
}

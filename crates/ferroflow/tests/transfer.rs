//! `ferroflow export` and `ferroflow import` as a user runs them (the real binary, real
//! stores): a round trip SQLite → export → PostgreSQL → export gives the same files; an
//! import killed with SIGKILL and run again ends complete, with nothing doubled; a second
//! import is a no-op; and the refusals say what is wrong.

use std::path::Path;
use std::process::{Command, Output};

use ferroflow_store::import::{
    AliasRecord, DatasetInputRecord, ExperimentRecord, MetricRecord, ModelVersionRecord, Point, RegisteredModelRecord,
    RunRecord, Tag,
};

fn ferroflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferroflow"))
        .args(args)
        .env("FERROFLOW_LOG", "warn")
        .output()
        .expect("run ferroflow")
}

fn ok(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "ferroflow failed: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    stdout
}

fn failed(output: Output) -> String {
    assert!(!output.status.success(), "ferroflow should have failed: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8_lossy(&output.stderr).to_string()
}

fn write_lines<T: serde::Serialize>(dir: &Path, name: &str, records: &[T]) {
    let text: String = records.iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
    std::fs::write(dir.join(name), text).unwrap();
}

/// An export folder made by hand, as another ferroflow would write it: `runs` runs of
/// `points` points each, with the awkward doubles (NaN, ±infinity, -0.0, subnormals).
fn make_export(dir: &Path, runs: usize, points: usize) {
    std::fs::create_dir_all(dir).unwrap();
    // Experiment 0 as every store has it, as a real export carries it.
    let experiments: Vec<ExperimentRecord> = (0..=3)
        .map(|e| ExperimentRecord {
            experiment_id: (e * 10).to_string(),
            name: if e == 0 { "Default".into() } else { format!("exp {e}") },
            artifact_location: format!("mlflow-artifacts:/{}", e * 10),
            lifecycle_stage: if e == 3 { "deleted" } else { "active" }.into(),
            creation_time: 1_000 + e as i64,
            last_update_time: 2_000 + e as i64,
            tags: vec![Tag::new("team", format!("t{e}"))],
        })
        .collect();
    let run_records: Vec<RunRecord> = (0..runs)
        .map(|r| RunRecord {
            run_id: format!("{r:032x}"),
            experiment_id: ((r % 3 + 1) * 10).to_string(),
            name: format!("run-{r}"),
            user_id: "alice".into(),
            status: "FINISHED".into(),
            start_time: 10_000 + r as i64,
            end_time: Some(20_000 + r as i64),
            lifecycle_stage: if r % 3 == 2 { "deleted" } else { "active" }.into(),
            artifact_uri: format!("mlflow-artifacts:/{}/{r:032x}/artifacts", (r % 3 + 1) * 10),
            deleted_time: (r % 3 == 2).then_some(30_000 + r as i64),
            params: vec![Tag::new("lr", format!("{}", 0.1 * r as f64))],
            tags: vec![Tag::new("mlflow.runName", format!("run-{r}")), Tag::new("k", "v")],
            dataset_inputs: vec![DatasetInputRecord {
                name: "data".into(),
                digest: format!("d{}", r % 2),
                source_type: "s3".into(),
                source: "{\"uri\": \"s3://b/d\"}".into(),
                schema: None,
                profile: Some("{}".into()),
                tags: vec![Tag::new("mlflow.data.context", "training")],
            }],
            model_inputs: vec![],
            model_outputs: vec![],
        })
        .collect();
    let special = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 5e-324, 1.0 / 3.0];
    let metrics: Vec<MetricRecord> = run_records
        .iter()
        .enumerate()
        .flat_map(|(r, run)| {
            ["loss", "acc"].into_iter().map(move |key| MetricRecord {
                run_id: run.run_id.clone(),
                key: key.into(),
                points: (0..points)
                    .map(|i| Point {
                        step: i as i64,
                        timestamp: 100_000 + i as i64,
                        value: if i < special.len() { special[i] } else { (i * r) as f64 / 7.0 },
                    })
                    .collect(),
            })
        })
        .collect();
    let models = vec![RegisteredModelRecord {
        name: "classifier".into(),
        creation_time: 5,
        last_updated_time: 6,
        description: Some("d".into()),
        tags: vec![Tag::new("owner", "bob")],
        aliases: vec![AliasRecord { alias: "champion".into(), version: 2 }],
    }];
    // Version 3 was deleted: hidden, its number kept.
    let versions: Vec<ModelVersionRecord> = (1..=3)
        .map(|v| ModelVersionRecord {
            name: "classifier".into(),
            version: v,
            creation_time: 7 + v,
            last_updated_time: 8 + v,
            description: None,
            user_id: None,
            current_stage: match v {
                2 => "Production",
                3 => "Deleted_Internal",
                _ => "None",
            }
            .into(),
            source: Some(format!("runs:/{:032x}/model", v)),
            storage_location: None,
            run_id: Some(format!("{v:032x}")),
            run_link: None,
            status: "READY".into(),
            status_message: None,
            tags: vec![Tag::new("v", v.to_string())],
        })
        .collect();
    write_lines(dir, "experiments.jsonl", &experiments);
    write_lines(dir, "runs.jsonl", &run_records);
    write_lines(dir, "metrics.jsonl", &metrics);
    write_lines(dir, "registered_models.jsonl", &models);
    write_lines(dir, "model_versions.jsonl", &versions);
    let manifest = serde_json::json!({
        "format": "ferroflow-export", "format_version": 1, "ferroflow_version": "test", "created_at": 0,
        "artifacts": false,
        "counts": {"experiments": 4, "runs": runs, "metric_histories": metrics.len(),
                   "metric_points": metrics.len() * points, "dataset_inputs": runs, "logged_models": 0,
                   "registered_models": 1, "model_versions": 3},
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
}

/// Every file of an export but the manifest's creation time.
fn export_contents(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| {
            let mut text = std::fs::read_to_string(&path).unwrap();
            if path.ends_with("manifest.json") {
                let mut manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
                manifest["created_at"] = 0.into();
                text = manifest.to_string();
            }
            (path.file_name().unwrap().to_string_lossy().to_string(), text)
        })
        .collect();
    files.sort();
    files
}

fn sqlite(dir: &Path, name: &str) -> String {
    format!("sqlite:///{}", dir.join(name).display())
}

fn export_of(store: &str, to: &Path) -> Vec<(String, String)> {
    ok(ferroflow(&["export", "--from", store, "--to", to.to_str().unwrap()]));
    export_contents(to)
}

/// File by file, naming the first line that differs rather than printing megabytes.
fn assert_same_export(actual: &[(String, String)], expected: &[(String, String)]) {
    let names = |files: &[(String, String)]| files.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(actual), names(expected));
    for ((name, a), (_, b)) in actual.iter().zip(expected) {
        assert_eq!(a.lines().count(), b.lines().count(), "{name}: line counts differ");
        for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
            assert!(x == y, "{name} line {}: {:.300}\n  vs {:.300}", i + 1, x, y);
        }
    }
}

#[test]
fn a_killed_import_resumes_to_the_same_store_and_a_second_import_is_a_no_op() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    make_export(&source, 90, 2_000);

    // Uninterrupted, for reference.
    let clean = sqlite(tmp.path(), "clean.db");
    let summary = ok(ferroflow(&["import", "--from", source.to_str().unwrap(), "--to", &clean]));
    assert!(summary.contains("90 runs, 180 metric histories (360000 points)"), "{summary}");
    let reference = export_of(&clean, &tmp.path().join("clean-export"));

    // Doubles survive bit for bit (infinities clamped as MLflow's SQL store does).
    let metrics = &reference.iter().find(|(name, _)| name == "metrics.jsonl").unwrap().1;
    let first: MetricRecord = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    assert!(first.points[0].value.is_nan());
    assert_eq!(first.points[1].value, f64::MAX);
    assert_eq!(first.points[2].value, f64::MIN);
    // SQLite itself stores a whole REAL as an integer, so -0.0 comes back as 0 (as it does
    // from MLflow's own SQLite store); the sign of zero is the one bit not kept.
    assert_eq!(first.points[3].value.to_bits(), 0.0f64.to_bits());
    assert_eq!(first.points[4].value.to_bits(), 5e-324f64.to_bits());
    assert_eq!(first.points[5].value.to_bits(), (1.0f64 / 3.0).to_bits());

    // A second import of the same source: same summary, same store.
    let again = ok(ferroflow(&["import", "--from", source.to_str().unwrap(), "--to", &clean]));
    assert_eq!(
        again.split(" in ").nth(1).map(|s| s.split_once(": ").unwrap().1),
        summary.split(" in ").nth(1).map(|s| s.split_once(": ").unwrap().1)
    );
    assert_same_export(&export_of(&clean, &tmp.path().join("again-export")), &reference);

    // Killed once some metric points are in, then run again: complete, nothing doubled.
    let target_path = tmp.path().join("killed.db");
    let target = sqlite(tmp.path(), "killed.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferroflow"))
        .args(["import", "--from", source.to_str().unwrap(), "--to", &target])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut seen = 0;
    while std::time::Instant::now() < deadline {
        if let Ok(conn) =
            rusqlite::Connection::open_with_flags(&target_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        {
            seen = conn.query_row("SELECT count(*) FROM metrics", [], |r| r.get::<_, i64>(0)).unwrap_or(0);
            if seen > 0 {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(seen > 0 && seen < 360_000, "killed mid-way: {seen} points in");
    ok(ferroflow(&["import", "--from", source.to_str().unwrap(), "--to", &target]));
    assert_same_export(&export_of(&target, &tmp.path().join("killed-export")), &reference);
}

#[test]
fn a_round_trip_through_postgresql_gives_the_same_export() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let postgres = runtime.block_on(ferroflow_postgres::testing::fresh_database());
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    make_export(&source, 12, 300);
    let sqlite_store = sqlite(tmp.path(), "a.db");
    ok(ferroflow(&["import", "--from", source.to_str().unwrap(), "--to", &sqlite_store]));
    let first = tmp.path().join("first");
    let from_sqlite = export_of(&sqlite_store, &first);
    // The deleted version travels as its number, so neither store reuses it.
    let versions = &from_sqlite.iter().find(|(name, _)| name == "model_versions.jsonl").unwrap().1;
    let deleted: ModelVersionRecord = serde_json::from_str(versions.lines().last().unwrap()).unwrap();
    assert_eq!((deleted.version, deleted.current_stage.as_str(), deleted.source), (3, "Deleted_Internal", None));
    // A deleted run's deletion time travels too (gc --older-than counts from it).
    let runs = &from_sqlite.iter().find(|(name, _)| name == "runs.jsonl").unwrap().1;
    let run_two: RunRecord =
        serde_json::from_str(runs.lines().find(|l| l.contains(&format!("{:032x}", 2))).unwrap()).unwrap();
    assert_eq!((run_two.lifecycle_stage.as_str(), run_two.deleted_time), ("deleted", Some(30_002)));
    ok(ferroflow(&["import", "--from", first.to_str().unwrap(), "--to", &postgres]));
    let from_postgres = export_of(&postgres, &tmp.path().join("second"));
    assert_same_export(&from_postgres, &from_sqlite);
    // And back: PostgreSQL's export imports into SQLite as the same store again.
    let back = sqlite(tmp.path(), "b.db");
    ok(ferroflow(&["import", "--from", tmp.path().join("second").to_str().unwrap(), "--to", &back]));
    assert_same_export(&export_of(&back, &tmp.path().join("third")), &from_sqlite);
}

#[test]
fn refusals_say_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    make_export(&source, 3, 5);
    let store = sqlite(tmp.path(), "t.db");

    // Not an export, an unfinished one, a future format.
    let error = failed(ferroflow(&["import", "--from", tmp.path().to_str().unwrap(), "--to", &store]));
    assert!(error.contains("has no manifest.json"), "{error}");
    let future = tmp.path().join("future");
    make_export(&future, 1, 1);
    let manifest = std::fs::read_to_string(future.join("manifest.json")).unwrap();
    std::fs::write(future.join("manifest.json"), manifest.replace("\"format_version\":1", "\"format_version\":9"))
        .unwrap();
    let error = failed(ferroflow(&["import", "--from", future.to_str().unwrap(), "--to", &store]));
    assert!(error.contains("version 9") && error.contains("version 1"), "{error}");
    let error = failed(ferroflow(&["import", "--from", "sqlite:///nowhere/mlflow.db", "--to", &store]));
    assert!(error.contains("no such file"), "{error}");

    // A target holding something else: refused, unless --merge.
    let other = tmp.path().join("other");
    make_export(&other, 1, 1);
    let lines = std::fs::read_to_string(other.join("experiments.jsonl")).unwrap();
    std::fs::write(other.join("experiments.jsonl"), lines.replace("exp 1", "someone else's")).unwrap();
    ok(ferroflow(&["import", "--from", other.to_str().unwrap(), "--to", &store]));
    let error = failed(ferroflow(&["import", "--from", source.to_str().unwrap(), "--to", &store]));
    assert!(error.contains("not empty") && error.contains("someone else's") && error.contains("--merge"), "{error}");
    // With --merge the clash of experiment 10's two names is still refused, by the store.
    let error = failed(ferroflow(&["import", "--from", source.to_str().unwrap(), "--to", &store, "--merge"]));
    assert!(error.contains("experiment id 10 is taken"), "{error}");

    // Export only into an empty folder.
    let error = failed(ferroflow(&["export", "--from", &store, "--to", source.to_str().unwrap()]));
    assert!(error.contains("is not empty"), "{error}");
}

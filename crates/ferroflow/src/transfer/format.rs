//! ferroflow's export format: a directory of JSON Lines files, one per entity kind,
//! each line one `ferroflow_store::import` record, and a `manifest.json` written last
//! (a directory without it is an export that did not finish).
//!
//! ```text
//! manifest.json            {"format": "ferroflow-export", "format_version": 1, "counts": {…}, …}
//! experiments.jsonl        ExperimentRecord (with tags)
//! runs.jsonl               RunRecord (params, tags, dataset inputs, model inputs/outputs)
//! metrics.jsonl            MetricRecord: one run's whole history of one key
//! logged_models.jsonl      LoggedModelRecord (tags, params, metrics)
//! registered_models.jsonl  RegisteredModelRecord (tags, aliases)
//! model_versions.jsonl     ModelVersionRecord (stage, tags)
//! webhooks.jsonl           WebhookRecord, without secrets (not imported)
//! artifacts/               optional: the artifact tree, as under the artifact destination
//! ```
//!
//! Doubles are JSON numbers that parse back to the same bits; NaN and ±infinity, which
//! JSON lacks, are the strings "NaN", "Infinity" and "-Infinity".

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Batch, Counts, Result, Source, TransferError, BATCH_POINTS, BATCH_RECORDS};

pub const FORMAT_NAME: &str = "ferroflow-export";
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";

pub const EXPERIMENTS: &str = "experiments.jsonl";
pub const RUNS: &str = "runs.jsonl";
pub const METRICS: &str = "metrics.jsonl";
pub const LOGGED_MODELS: &str = "logged_models.jsonl";
pub const REGISTERED_MODELS: &str = "registered_models.jsonl";
pub const MODEL_VERSIONS: &str = "model_versions.jsonl";
pub const WEBHOOKS: &str = "webhooks.jsonl";
pub const ARTIFACTS: &str = "artifacts";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub ferroflow_version: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub counts: Counts,
    /// Whether `artifacts/` holds the artifact tree.
    pub artifacts: bool,
}

/// A webhook's settings; its secret never leaves the store it was set on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookRecord {
    pub webhook_id: String,
    pub name: String,
    pub description: Option<String>,
    pub url: String,
    pub status: String,
    pub events: Vec<String>,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
}

/// Appends records to one JSON Lines file.
pub struct LineWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl LineWriter {
    pub fn create(dir: &Path, name: &str) -> Result<Self> {
        let path = dir.join(name);
        let file = File::create(&path).map_err(|e| TransferError::io(path.display(), e))?;
        Ok(LineWriter { path, out: BufWriter::new(file) })
    }

    pub fn write<T: Serialize>(&mut self, record: &T) -> Result<()> {
        let line = serde_json::to_string(record).map_err(|e| TransferError::Format {
            path: self.path.display().to_string(),
            line: 0,
            message: e.to_string(),
        })?;
        writeln!(self.out, "{line}").map_err(|e| TransferError::io(self.path.display(), e))
    }

    pub fn finish(mut self) -> Result<()> {
        self.out.flush().map_err(|e| TransferError::io(self.path.display(), e))?;
        self.out.get_ref().sync_all().map_err(|e| TransferError::io(self.path.display(), e))
    }
}

pub fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<()> {
    let path = dir.join(MANIFEST);
    let text = serde_json::to_string_pretty(manifest).expect("a manifest serializes");
    std::fs::write(&path, text + "\n").map_err(|e| TransferError::io(path.display(), e))
}

pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            TransferError::Source(format!(
                "{} has no {MANIFEST}: not a ferroflow export, or one that did not finish",
                dir.display()
            ))
        } else {
            TransferError::io(path.display(), e)
        }
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| TransferError::Format {
        path: path.display().to_string(),
        line: e.line(),
        message: e.to_string(),
    })?;
    if manifest.format != FORMAT_NAME || manifest.format_version != FORMAT_VERSION {
        return Err(TransferError::Source(format!(
            "{}: format {:?} version {}; this ferroflow reads {FORMAT_NAME:?} version {FORMAT_VERSION}",
            path.display(),
            manifest.format,
            manifest.format_version
        )));
    }
    Ok(manifest)
}

/// Reads one JSON Lines file record by record.
pub struct LineReader<T> {
    path: PathBuf,
    lines: Option<std::io::Lines<BufReader<File>>>,
    line: usize,
    _record: std::marker::PhantomData<T>,
}

impl<T: DeserializeOwned> LineReader<T> {
    /// A missing file reads as empty: an export of a store without that kind.
    pub fn open(dir: &Path, name: &str) -> Result<Self> {
        let path = dir.join(name);
        let lines = match File::open(&path) {
            Ok(file) => Some(BufReader::new(file).lines()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(TransferError::io(path.display(), e)),
        };
        Ok(LineReader { path, lines, line: 0, _record: std::marker::PhantomData })
    }

    pub fn next_record(&mut self) -> Result<Option<T>> {
        let Some(lines) = self.lines.as_mut() else { return Ok(None) };
        loop {
            let Some(line) = lines.next() else { return Ok(None) };
            self.line += 1;
            let line = line.map_err(|e| TransferError::io(self.path.display(), e))?;
            if line.trim().is_empty() {
                continue;
            }
            return serde_json::from_str(&line).map(Some).map_err(|e| TransferError::Format {
                path: self.path.display().to_string(),
                line: self.line,
                message: e.to_string(),
            });
        }
    }

    pub fn read_all(mut self) -> Result<Vec<T>> {
        let mut all = Vec::new();
        while let Some(record) = self.next_record()? {
            all.push(record);
        }
        Ok(all)
    }
}

/// An export directory as an import source.
pub struct ExportDir {
    dir: PathBuf,
    manifest: Manifest,
    stage: usize,
    experiments: LineReader<ferroflow_store::import::ExperimentRecord>,
    runs: LineReader<ferroflow_store::import::RunRecord>,
    metrics: LineReader<ferroflow_store::import::MetricRecord>,
    logged_models: LineReader<ferroflow_store::import::LoggedModelRecord>,
    registered_models: LineReader<ferroflow_store::import::RegisteredModelRecord>,
    model_versions: LineReader<ferroflow_store::import::ModelVersionRecord>,
}

impl ExportDir {
    pub fn open(dir: &Path) -> Result<Self> {
        let manifest = read_manifest(dir)?;
        Ok(ExportDir {
            dir: dir.to_path_buf(),
            manifest,
            stage: 0,
            experiments: LineReader::open(dir, EXPERIMENTS)?,
            runs: LineReader::open(dir, RUNS)?,
            metrics: LineReader::open(dir, METRICS)?,
            logged_models: LineReader::open(dir, LOGGED_MODELS)?,
            registered_models: LineReader::open(dir, REGISTERED_MODELS)?,
            model_versions: LineReader::open(dir, MODEL_VERSIONS)?,
        })
    }
}

fn take<T: DeserializeOwned>(reader: &mut LineReader<T>) -> Result<Vec<T>> {
    let mut batch = Vec::new();
    while batch.len() < BATCH_RECORDS {
        match reader.next_record()? {
            Some(record) => batch.push(record),
            None => break,
        }
    }
    Ok(batch)
}

impl Source for ExportDir {
    fn counts(&mut self) -> Result<Counts> {
        Ok(self.manifest.counts.clone())
    }

    fn identities(&mut self) -> Result<super::Identities> {
        let experiments = LineReader::<ferroflow_store::import::ExperimentRecord>::open(&self.dir, EXPERIMENTS)?
            .read_all()?
            .into_iter()
            .map(|e| (e.experiment_id, e.name))
            .collect();
        let models = LineReader::<ferroflow_store::import::RegisteredModelRecord>::open(&self.dir, REGISTERED_MODELS)?
            .read_all()?
            .into_iter()
            .map(|m| m.name)
            .collect();
        Ok((experiments, models))
    }

    fn next_batch(&mut self) -> Result<Option<Batch>> {
        loop {
            let batch = match self.stage {
                0 => Batch::Experiments(take(&mut self.experiments)?),
                1 => Batch::Runs(take(&mut self.runs)?),
                2 => {
                    let mut batch = Vec::new();
                    let mut points = 0;
                    while batch.len() < BATCH_RECORDS && points < BATCH_POINTS {
                        match self.metrics.next_record()? {
                            Some(record) => {
                                points += record.points.len();
                                batch.push(record);
                            }
                            None => break,
                        }
                    }
                    Batch::Metrics(batch)
                }
                3 => Batch::LoggedModels(take(&mut self.logged_models)?),
                4 => Batch::RegisteredModels(take(&mut self.registered_models)?),
                5 => Batch::ModelVersions(take(&mut self.model_versions)?),
                _ => return Ok(None),
            };
            let empty = match &batch {
                Batch::Experiments(b) => b.is_empty(),
                Batch::Runs(b) => b.is_empty(),
                Batch::Metrics(b) => b.is_empty(),
                Batch::LoggedModels(b) => b.is_empty(),
                Batch::RegisteredModels(b) => b.is_empty(),
                Batch::ModelVersions(b) => b.is_empty(),
            };
            if empty {
                self.stage += 1;
                continue;
            }
            return Ok(Some(batch));
        }
    }

    fn artifacts_root(&self) -> Option<PathBuf> {
        self.manifest.artifacts.then(|| self.dir.join(ARTIFACTS))
    }
}

//! `ferroflow gc`: permanently removes deleted runs, experiments and logged models,
//! together with their artifacts (proxied ones too), and the staging files uploads
//! interrupted by a crash left in a local artifact destination.

use std::time::Duration;

use clap::Args;
use ferroflow_artifacts::ArtifactRepository;
use ferroflow_store::gc::{GcKind, GcRequest, GcTarget};
use ferroflow_store::Store;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::StoreArgs;

#[derive(Debug, Args)]
pub struct GcArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only entities deleted at least this long ago, e.g. `30d`, `1d2h`, `90m`, `45s`.
    #[arg(long, value_parser = parse_duration_ms)]
    pub older_than: Option<i64>,
    /// Comma-separated run ids to delete (they must be in the `deleted` stage).
    #[arg(long, value_delimiter = ',')]
    pub run_ids: Vec<String>,
    /// Comma-separated experiment ids to delete, with all their runs and models.
    #[arg(long, value_delimiter = ',')]
    pub experiment_ids: Vec<String>,
    /// Comma-separated logged model ids to delete.
    #[arg(long, value_delimiter = ',')]
    pub logged_model_ids: Vec<String>,
    /// Staging files of interrupted uploads (`<name>#<n>` in a local artifact
    /// destination) are removed once not written for this long. A running server's
    /// uploads keep theirs fresh; use `0s` only while no server runs.
    #[arg(long, value_parser = parse_duration_ms, default_value = "1h")]
    pub staging_older_than: i64,
}

/// `--staging-older-than`'s default: how long a staging file must be idle before a process
/// that cannot see the uploads in flight (gc, a replica starting beside others) removes it.
pub const SHARED_STAGING_AGE: Duration = Duration::from_secs(3600);

/// Parses `1d2h30m15s`-style durations into milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: i64 = match c {
            'd' => 86_400_000,
            'h' => 3_600_000,
            'm' => 60_000,
            's' => 1000,
            _ => return Err(format!("unknown unit '{c}' in '{text}'; use d, h, m, s")),
        };
        let value: i64 = number.parse().map_err(|_| format!("missing number before '{c}' in '{text}'"))?;
        total = total.saturating_add(value.saturating_mul(unit));
        number.clear();
    }
    if !number.is_empty() || total == 0 && !text.trim().starts_with('0') {
        return Err(format!("invalid duration '{text}'; use e.g. 30d, 1d2h, 90m"));
    }
    Ok(total)
}

/// Removes one target's artifacts: through the proxied destination when the URI lives
/// there, else from the store the URI itself names.
async fn delete_artifacts(destination: Option<&ArtifactRepository>, uri: &str) -> Result<u64, String> {
    if let Some(repo) = destination {
        if let Some(path) = repo.path_of_uri(uri) {
            return repo.delete(&path).await.map_err(|e| e.to_string());
        }
    }
    if uri.starts_with("mlflow-artifacts:") || uri.is_empty() {
        return Ok(0);
    }
    let repo = ArtifactRepository::open(uri).map_err(|e| format!("cannot open {uri}: {e}"))?;
    repo.delete_all().await.map_err(|e| e.to_string())
}

pub async fn run(args: GcArgs, store: &dyn Store, destination: Option<ArtifactRepository>) -> Result<(), String> {
    let staging_older_than = Duration::from_millis(args.staging_older_than.max(0) as u64);
    let request = GcRequest {
        older_than_ms: args.older_than,
        run_ids: args.run_ids,
        experiment_ids: args.experiment_ids,
        logged_model_ids: args.logged_model_ids,
    };
    let targets: Vec<GcTarget> = store.gc_targets(request).await.map_err(|e| e.message)?;
    let progress = ProgressBar::new(targets.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut runs, mut models, mut experiments, mut files) = (0, 0, 0, 0);
    for target in &targets {
        progress.set_message(format!("{:?} {}", target.kind, target.id));
        // Bytes first: if they cannot be removed the metadata stays, so gc can be retried.
        files += delete_artifacts(destination.as_ref(), &target.artifact_uri).await?;
        store.purge(target).await.map_err(|e| e.message)?;
        match target.kind {
            GcKind::Run => runs += 1,
            GcKind::LoggedModel => models += 1,
            GcKind::Experiment => experiments += 1,
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    println!(
        "ferroflow gc: removed {runs} runs, {models} logged models, {experiments} experiments and {files} artifact files"
    );
    if let Some(repo) = &destination {
        let staged = repo.remove_staging_leftovers(staging_older_than).await.map_err(|e| e.to_string())?;
        println!(
            "ferroflow gc: removed {} staging files ({} bytes) of interrupted uploads",
            staged.files, staged.bytes
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("1d2h").unwrap(), 93_600_000);
        assert_eq!(parse_duration_ms("90m").unwrap(), 5_400_000);
        assert_eq!(parse_duration_ms("45s").unwrap(), 45_000);
        assert_eq!(parse_duration_ms("0s").unwrap(), 0);
        for bad in ["", "5", "d", "3w", "1h30"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad:?} accepted");
        }
    }
}

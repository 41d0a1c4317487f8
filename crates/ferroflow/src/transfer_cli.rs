//! The `export` and `import` subcommands: arguments, then `transfer`'s work.

use std::path::PathBuf;

use clap::Args;

use crate::config::{StoreArgs, SyncArg};
use crate::transfer::{self, Source};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The store to export: `sqlite:///path.db` or `postgresql://…`.
    #[arg(long)]
    pub from: String,
    /// A new or empty folder to write the export into.
    #[arg(long)]
    pub to: PathBuf,
    /// The store's local artifact folder (its server's `--artifacts-destination`): copied
    /// into `<to>/artifacts`. Without it, artifacts are not exported.
    #[arg(long)]
    pub artifacts_destination: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An export folder (`ferroflow export`), or an MLflow tracking database
    /// (`sqlite:///path/mlflow.db`, MLflow 2.0 to 3.17).
    #[arg(long)]
    pub from: String,
    /// The store to import into: `sqlite:///path.db` or `postgresql://…`.
    #[arg(long)]
    pub to: String,
    /// Import into a store that already holds other data; records with the same ids
    /// (experiment ids and names, run ids, model names and versions) are overwritten.
    #[arg(long)]
    pub merge: bool,
    /// Also copy the artifact tree into `--artifacts-destination`. Artifact URIs are kept
    /// as they are: `mlflow-artifacts:/…` ones resolve under the new destination.
    #[arg(long, requires = "artifacts_destination")]
    pub copy_artifacts: bool,
    /// Where an MLflow source's artifacts are (its server's `--artifacts-destination`);
    /// an export folder's are its `artifacts/`.
    #[arg(long)]
    pub artifacts_from: Option<PathBuf>,
    /// The target server's local artifact folder, for `--copy-artifacts`.
    #[arg(long)]
    pub artifacts_destination: Option<String>,
}

fn store_args(uri: &str) -> StoreArgs {
    StoreArgs {
        backend_store_uri: Some(uri.to_string()),
        artifacts_destination: None,
        sync: SyncArg::Normal,
        db_pool_size: None,
        db_connect_timeout: 10,
        db_acquire_timeout: 30,
    }
}

fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    let style = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30}] {human_pos}/{human_len} records ({per_sec}, ETA {eta}) {msg}",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}

pub fn export(args: ExportArgs) -> Result<(), String> {
    let artifacts = args.artifacts_destination.as_deref().map(transfer::artifacts::local_folder).transpose();
    let artifacts = artifacts.map_err(|e| e.to_string())?;
    crate::runtime()?.block_on(async move {
        let store =
            crate::open_store(&store_args(&args.from), "mlflow-artifacts:/", ferroflow_sqlite::DEFAULT_QUERY_TIMEOUT)
                .await?;
        let counts = store.store_counts().await.map_err(|e| e.message)?;
        let bar = progress_bar(counts.experiments + counts.runs + counts.logged_models + counts.registered_models);
        bar.set_length(0);
        let started = std::time::Instant::now();
        let exported = transfer::export::export(store.as_ref(), &args.to, artifacts.as_deref(), &bar)
            .await
            .map_err(|e| e.to_string())?;
        bar.finish_and_clear();
        println!("exported to {} in {:.1?}: {exported}", args.to.display(), started.elapsed());
        Ok(())
    })
}

/// An export folder or an MLflow database, told apart by what `from` names.
fn open_source(from: &str) -> Result<Box<dyn Source>, String> {
    if from.starts_with("mysql") {
        return Err(format!(
            "{from}: MLflow databases on SQLite and PostgreSQL can be imported directly; copy a MySQL one into \
             either first, or export it with a ferroflow that serves it"
        ));
    }
    let db = if transfer::mlflow::is_postgres(from) {
        Some(transfer::mlflow::MlflowDb::open_postgres(from))
    } else {
        transfer::mlflow::sqlite_path(from).map(|path| transfer::mlflow::MlflowDb::open(&path))
    };
    if let Some(db) = db {
        let db = db.map_err(|e| e.to_string())?;
        tracing::info!(revision = %db.revision, "MLflow schema");
        return Ok(Box::new(db));
    }
    let path = PathBuf::from(from);
    if path.is_dir() {
        return Ok(Box::new(transfer::format::ExportDir::open(&path).map_err(|e| e.to_string())?));
    }
    Err(format!(
        "{from}: neither an export folder nor an MLflow database URI (sqlite:///path/mlflow.db, postgresql://…)"
    ))
}

pub fn import(args: ImportArgs) -> Result<(), String> {
    let mut source = open_source(&args.from)?;
    let copy_to = match (&args.copy_artifacts, &args.artifacts_destination) {
        (true, Some(destination)) => Some(transfer::artifacts::local_folder(destination).map_err(|e| e.to_string())?),
        _ => None,
    };
    let copy_from = match &copy_to {
        Some(_) => Some(args.artifacts_from.clone().or_else(|| source.artifacts_root()).ok_or_else(|| {
            "--copy-artifacts needs --artifacts-from (the MLflow server's --artifacts-destination folder)".to_string()
        })?),
        None => None,
    };
    crate::runtime()?.block_on(async move {
        let store =
            crate::open_store(&store_args(&args.to), "mlflow-artifacts:/", ferroflow_sqlite::DEFAULT_QUERY_TIMEOUT)
                .await?;
        transfer::pipeline::check_target(store.as_ref(), source.as_mut(), args.merge)
            .await
            .map_err(|e| e.to_string())?;
        let total = source.counts().map_err(|e| e.to_string())?;
        let bar = progress_bar(total.units());
        let started = std::time::Instant::now();
        let imported =
            transfer::pipeline::import(store.as_ref(), source.as_mut(), &bar).await.map_err(|e| e.to_string())?;
        bar.finish_and_clear();
        println!("imported into {} in {:.1?}: {imported}", args.to, started.elapsed());
        if let (Some(from), Some(to)) = (copy_from, copy_to) {
            let copied = transfer::artifacts::copy_tree(&from, &to).map_err(|e| e.to_string())?;
            println!(
                "artifacts: {} files ({} bytes) copied to {}, {} already there",
                copied.files,
                copied.bytes,
                to.display(),
                copied.skipped
            );
        }
        Ok(())
    })
}

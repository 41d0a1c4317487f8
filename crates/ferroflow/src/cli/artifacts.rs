//! `ferroflow artifacts list | download`: a run's artifacts through the server's proxy.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ferroflow_client::DownloadProgress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use super::output::{Format, Report, Table};
use super::{CliError, Connection, Outcome};

#[derive(Args, Debug)]
pub struct ArtifactsArgs {
    #[command(subcommand)]
    pub command: ArtifactsCommand,
    #[command(flatten)]
    pub connection: Connection,
}

#[derive(Subcommand, Debug)]
pub enum ArtifactsCommand {
    /// The files and folders directly under PATH of a run's artifacts.
    #[command(after_help = "Examples:
  ferroflow artifacts list RUN_ID
  ferroflow artifacts list RUN_ID model --format json")]
    List {
        run: String,
        #[arg(default_value = "")]
        path: String,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Download a run's artifacts (everything, a folder or a file), with a progress bar
    /// for large files on a terminal.
    #[command(after_help = "Examples:
  ferroflow artifacts download RUN_ID                 everything, into the current folder
  ferroflow artifacts download RUN_ID model --dst out/
  ferroflow artifacts download RUN_ID model/model.pkl --dst /tmp/m")]
    Download {
        run: String,
        /// A file or folder inside the run's artifacts (default: all of them).
        #[arg(default_value = "")]
        path: String,
        /// Where to write them (their paths below the run's root are kept).
        #[arg(long, default_value = ".")]
        dst: PathBuf,
    },
}

pub async fn run(args: ArtifactsArgs) -> Result<Outcome, CliError> {
    let client = args.connection.client()?;
    match args.command {
        ArtifactsCommand::List { run, path, format } => {
            let run = client.get_run(&run).await?;
            let files = client.list_artifacts(&run.info.artifact_uri, &path).await?;
            let mut table = Table::new(&["path", "kind", "bytes"]);
            for f in &files {
                let size = f.file_size.map(|s| s.to_string()).unwrap_or_default();
                table.row(vec![f.path.clone().into(), if f.is_dir { "dir" } else { "file" }.into(), size.into()]);
            }
            Report::new(vec![table], json!({ "root_uri": run.info.artifact_uri, "files": files })).print(format);
        }
        ArtifactsCommand::Download { run, path, dst } => {
            let run = client.get_run(&run).await?;
            let mut progress = Bars::default();
            let written = client.download_artifacts(&run.info.artifact_uri, &path, &dst, &mut progress).await?;
            if written.is_empty() {
                return Err(CliError::Usage(format!("run {} has no artifacts at '{path}'", run.info.run_id)));
            }
            for file in &written {
                println!("{}", file.display());
            }
            eprintln!("downloaded {} file(s), {} bytes", written.len(), progress.total_bytes);
        }
    }
    Ok(Outcome::Success)
}

/// Files from this size on get a progress bar.
const BAR_FROM_BYTES: u64 = 4 << 20;

/// A progress bar per large file, on stderr (indicatif draws nothing off a terminal).
#[derive(Default)]
struct Bars {
    bar: Option<ProgressBar>,
    total_bytes: u64,
}

impl DownloadProgress for Bars {
    fn start_file(&mut self, path: &str, total: Option<u64>) {
        self.bar = match total {
            Some(size) if size >= BAR_FROM_BYTES => {
                let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
                let style =
                    ProgressStyle::with_template("{wide_msg} [{bar:25}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                        .map(|s| s.progress_chars("=> "))
                        .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                bar.set_message(path.to_string());
                Some(bar)
            }
            _ => None,
        };
    }

    fn advance(&mut self, bytes: u64) {
        self.total_bytes += bytes;
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    fn finish_file(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

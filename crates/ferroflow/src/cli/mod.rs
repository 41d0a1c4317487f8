//! The client subcommands (`runs`, `gate`, `models`, `reproduce`, `artifacts`): the
//! command line over `ferroflow-client`, for any MLflow-compatible server.
//!
//! Exit codes are one contract for all of them: 0 success (the gate passed), 1 the gate
//! failed, 2 a usage or server error — so a CI step can never mistake "the server was
//! down" for a verdict.

mod artifacts;
mod gate;
mod models;
mod output;
mod reproduce;
mod runs;

use std::process::ExitCode;

use clap::Args;
use ferroflow_client::Client;

pub use artifacts::ArtifactsArgs;
pub use gate::GateArgs;
pub use models::ModelsArgs;
pub use reproduce::ReproduceArgs;
pub use runs::RunsArgs;

/// Exit status of a usage or server error (clap's own usage errors exit 2 as well).
const EXIT_ERROR: u8 = 2;

/// Which server to talk to; credentials and retry settings come from MLflow's variables.
#[derive(Args, Debug, Clone)]
pub struct Connection {
    /// The tracking server, `http(s)://host:port`. Credentials come from
    /// MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN, retries
    /// and timeouts from MLFLOW_HTTP_REQUEST_MAX_RETRIES, _BACKOFF_FACTOR, _BACKOFF_JITTER
    /// and _TIMEOUT, as for MLflow's client.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI", global = true)]
    pub tracking_uri: Option<String>,
}

impl Connection {
    fn client(&self) -> Result<Client, CliError> {
        Ok(Client::from_env(self.tracking_uri.as_deref())?)
    }
}

/// Why a client subcommand could not do its job (always exit 2).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Client(#[from] ferroflow_client::Error),
    #[error("{0}")]
    Local(String),
}

/// What a subcommand that ran to the end concluded.
pub enum Outcome {
    Success,
    GateFailed,
}

/// Runs `job` on a small runtime and turns its outcome into the exit code.
pub fn run<F>(job: F) -> ExitCode
where
    F: std::future::Future<Output = Result<Outcome, CliError>>,
{
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ferroflow: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match runtime.block_on(job) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::GateFailed) => ExitCode::from(1),
        Err(error) => {
            eprintln!("ferroflow: error: {error}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

pub async fn runs(args: RunsArgs) -> Result<Outcome, CliError> {
    runs::run(args).await
}

pub async fn gate(args: GateArgs) -> Result<Outcome, CliError> {
    gate::run(args).await
}

pub async fn models(args: ModelsArgs) -> Result<Outcome, CliError> {
    models::run(args).await
}

pub async fn reproduce(args: ReproduceArgs) -> Result<Outcome, CliError> {
    reproduce::run(args).await
}

pub async fn artifacts(args: ArtifactsArgs) -> Result<Outcome, CliError> {
    artifacts::run(args).await
}

/// Splits `KEY=VALUE`.
fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got '{text}'")),
    }
}

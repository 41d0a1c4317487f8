//! `ferroflow models list | show | promote | alias | tag`: the registry from the shell.

use clap::{Args, Subcommand};
use ferroflow_client::{Client, ModelVersion, RegisteredModel};
use serde_json::json;

use super::output::{timestamp, Cell, Format, Report, Table, Tone};
use super::{key_value, CliError, Connection, Outcome};

#[derive(Args, Debug)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: ModelsCommand,
    #[command(flatten)]
    pub connection: Connection,
}

#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// Registered models, with their aliases and newest versions.
    #[command(after_help = "Examples:
  ferroflow models list
  ferroflow models list --filter \"name LIKE 'churn%'\" --format json")]
    List(ListArgs),
    /// One model and all its versions.
    #[command(after_help = "Examples:
  ferroflow models show churn
  ferroflow models show churn --format csv")]
    Show(ShowArgs),
    /// Point aliases at a version and/or move it to a stage.
    #[command(after_help = "Examples:
  ferroflow models promote churn 4 --alias champion
  ferroflow models promote churn 4 --stage Production --archive-existing")]
    Promote(PromoteArgs),
    /// Read, set or delete an alias.
    #[command(after_help = "Examples:
  ferroflow models alias get churn champion
  ferroflow models alias set churn champion 4
  ferroflow models alias delete churn challenger")]
    Alias {
        #[command(subcommand)]
        command: AliasCommand,
    },
    /// Set or delete tags on a model, or on one of its versions.
    #[command(after_help = "Examples:
  ferroflow models tag churn team=ml owner=ana        tags on the model
  ferroflow models tag churn --version 4 validated=yes
  ferroflow models tag churn --version 4 --delete validated")]
    Tag(TagArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// A filter in MLflow's search language, e.g. "name LIKE 'churn%'".
    #[arg(long)]
    pub filter: Option<String>,
    /// An order_by clause, e.g. "name ASC" (repeatable).
    #[arg(long, value_name = "CLAUSE")]
    pub order_by: Vec<String>,
    #[arg(long, default_value_t = 100)]
    pub max_results: usize,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    pub name: String,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("target").required(true).multiple(true).args(["alias", "stage"])))]
pub struct PromoteArgs {
    pub name: String,
    pub version: String,
    /// Point this alias at the version (repeatable).
    #[arg(long)]
    pub alias: Vec<String>,
    /// Move the version to this stage (Staging, Production, Archived, None).
    #[arg(long)]
    pub stage: Option<String>,
    /// With --stage: archive the versions already in that stage.
    #[arg(long, requires = "stage")]
    pub archive_existing: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Subcommand, Debug)]
pub enum AliasCommand {
    /// The version an alias points at.
    Get {
        name: String,
        alias: String,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Point an alias at a version.
    Set { name: String, alias: String, version: String },
    /// Remove an alias.
    Delete { name: String, alias: String },
}

#[derive(Args, Debug)]
pub struct TagArgs {
    pub name: String,
    /// Tag this version instead of the model.
    #[arg(long)]
    pub version: Option<String>,
    /// KEY=VALUE tags to set.
    #[arg(value_name = "KEY=VALUE", value_parser = key_value)]
    pub tags: Vec<(String, String)>,
    /// Tag keys to delete (with --version).
    #[arg(long, value_name = "KEY", requires = "version")]
    pub delete: Vec<String>,
}

pub async fn run(args: ModelsArgs) -> Result<Outcome, CliError> {
    let client = args.connection.client()?;
    match args.command {
        ModelsCommand::List(list) => list_models(&client, list).await?,
        ModelsCommand::Show(show) => show_model(&client, show).await?,
        ModelsCommand::Promote(promote) => promote_version(&client, promote).await?,
        ModelsCommand::Alias { command } => alias(&client, command).await?,
        ModelsCommand::Tag(tag) => tag_model(&client, tag).await?,
    }
    Ok(Outcome::Success)
}

fn aliases_of(model: &RegisteredModel) -> String {
    model.aliases.iter().map(|a| format!("{}→{}", a.alias, a.version)).collect::<Vec<_>>().join(", ")
}

/// Tags as `k=v, …`; long values (the gate's check summary) are cut in tables, whole in JSON.
fn tags_text(tags: &[ferroflow_client::KeyValue]) -> String {
    const SHOWN: usize = 60;
    let cut = |v: &str| {
        if v.chars().count() > SHOWN {
            format!("{}…", v.chars().take(SHOWN).collect::<String>())
        } else {
            v.to_string()
        }
    };
    tags.iter().map(|t| format!("{}={}", t.key, cut(&t.value))).collect::<Vec<_>>().join(", ")
}

async fn list_models(client: &Client, args: ListArgs) -> Result<(), CliError> {
    let models =
        client.search_registered_models_up_to(args.filter.as_deref(), &args.order_by, args.max_results).await?;
    let mut table = Table::new(&["name", "latest versions", "aliases", "tags", "updated"]);
    for m in &models {
        let latest = m
            .latest_versions
            .iter()
            .map(|v| {
                if v.current_stage.is_empty() || v.current_stage == "None" {
                    v.version.clone()
                } else {
                    format!("{} ({})", v.version, v.current_stage)
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        table.row(vec![
            m.name.clone().into(),
            latest.into(),
            aliases_of(m).into(),
            tags_text(&m.tags).into(),
            timestamp(m.last_updated_timestamp).into(),
        ]);
    }
    let mut report = Report::new(vec![table], json!(models));
    report.notes.push(format!("{} model(s)", models.len()));
    report.print(args.format);
    Ok(())
}

fn version_row(v: &ModelVersion) -> Vec<Cell> {
    let stage = match v.current_stage.as_str() {
        "Production" => Cell::toned("Production", Tone::Good),
        "Archived" => Cell::toned("Archived", Tone::Warn),
        other => other.into(),
    };
    vec![
        v.version.clone().into(),
        stage,
        v.aliases.join(", ").into(),
        v.run_id.clone().into(),
        v.status.clone().into(),
        timestamp(v.creation_timestamp).into(),
        tags_text(&v.tags).into(),
    ]
}

const VERSION_HEADERS: [&str; 7] = ["version", "stage", "aliases", "run_id", "status", "created", "tags"];

async fn show_model(client: &Client, args: ShowArgs) -> Result<(), CliError> {
    let model = client.get_registered_model(&args.name).await?;
    let mut versions = client.model_versions(&args.name).await?;
    // Searched versions may come without their aliases (MLflow's search leaves them out).
    for v in &mut versions {
        if v.aliases.is_empty() {
            v.aliases = model.aliases.iter().filter(|a| a.version == v.version).map(|a| a.alias.clone()).collect();
        }
    }
    let mut info = Table::new(&["field", "value"]).titled("Model");
    for (field, value) in [
        ("name", model.name.clone()),
        ("description", model.description.clone()),
        ("aliases", aliases_of(&model)),
        ("tags", tags_text(&model.tags)),
        ("created", timestamp(model.creation_timestamp)),
        ("updated", timestamp(model.last_updated_timestamp)),
    ] {
        info.row(vec![field.into(), value.into()]);
    }
    let mut table = Table::new(&VERSION_HEADERS).titled("Versions");
    for v in &versions {
        table.row(version_row(v));
    }
    let mut report =
        Report::new(vec![info, table.clone()], json!({ "registered_model": model, "model_versions": versions }));
    report.csv = Some(Table { title: None, ..table });
    report.print(args.format);
    Ok(())
}

async fn promote_version(client: &Client, args: PromoteArgs) -> Result<(), CliError> {
    // Fails before any change when the version does not exist.
    client.get_model_version(&args.name, &args.version).await?;
    for alias in &args.alias {
        client.set_alias(&args.name, alias, &args.version).await?;
    }
    if let Some(stage) = &args.stage {
        client.transition_stage(&args.name, &args.version, stage, args.archive_existing).await?;
    }
    let version = client.get_model_version(&args.name, &args.version).await?;
    let mut table = Table::new(&VERSION_HEADERS);
    table.row(version_row(&version));
    let mut report = Report::new(vec![table], json!({ "model_version": version }));
    report.notes.push(format!("promoted {} version {}", args.name, args.version));
    report.print(args.format);
    Ok(())
}

async fn alias(client: &Client, command: AliasCommand) -> Result<(), CliError> {
    match command {
        AliasCommand::Get { name, alias, format } => {
            let version = client.get_model_version_by_alias(&name, &alias).await?;
            let mut table = Table::new(&VERSION_HEADERS);
            table.row(version_row(&version));
            Report::new(vec![table], json!({ "model_version": version })).print(format);
        }
        AliasCommand::Set { name, alias, version } => {
            client.set_alias(&name, &alias, &version).await?;
            println!("{name}@{alias} → version {version}");
        }
        AliasCommand::Delete { name, alias } => {
            client.delete_alias(&name, &alias).await?;
            println!("deleted alias {name}@{alias}");
        }
    }
    Ok(())
}

async fn tag_model(client: &Client, args: TagArgs) -> Result<(), CliError> {
    if args.tags.is_empty() && args.delete.is_empty() {
        return Err(CliError::Usage("give KEY=VALUE tags to set, or --delete KEY".into()));
    }
    match &args.version {
        Some(version) => {
            for (key, value) in &args.tags {
                client.set_model_version_tag(&args.name, version, key, value).await?;
            }
            for key in &args.delete {
                client.delete_model_version_tag(&args.name, version, key).await?;
            }
            println!("tagged {} version {version}", args.name);
        }
        None => {
            for (key, value) in &args.tags {
                client.set_registered_model_tag(&args.name, key, value).await?;
            }
            println!("tagged {}", args.name);
        }
    }
    Ok(())
}

//! `ferroflow users create-admin`: the first admin of `--app-name basic-auth`, made from
//! the shell with a password read from a prompt (no echo) or stdin, never from an argument
//! (which `ps` and shell history would show).

use std::io::{BufRead, IsTerminal};

use clap::{Args, Subcommand};

use crate::config::StoreArgs;

#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    pub command: UsersCommand,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create an admin (or make an existing user one, with a new password).
    ///
    /// Example: `echo "$ADMIN_PASSWORD" | ferroflow users create-admin --username alice`
    CreateAdmin {
        /// The admin's name.
        #[arg(long, default_value = "admin")]
        username: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(args: UsersArgs) -> Result<(), String> {
    match args.command {
        UsersCommand::CreateAdmin { username, store } => create_admin(&username, &store),
    }
}

fn read_password() -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| format!("cannot read the password: {e}"))?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| format!("cannot read the password: {e}"))?;
        if first != again {
            return Err("the two passwords differ".into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

fn create_admin(username: &str, store_args: &StoreArgs) -> Result<(), String> {
    let password = read_password()?;
    ferroflow_server::auth::credentials::validate_new_password(&password).map_err(|e| e.message)?;
    let hash = ferroflow_server::auth::hash_password(&password).map_err(|e| e.message)?;
    let runtime = crate::runtime()?;
    runtime.block_on(async {
        let store =
            crate::open_store(store_args, "mlflow-artifacts:/", ferroflow_sqlite::DEFAULT_QUERY_TIMEOUT).await?;
        let existed = store.get_user(username).await.map_err(|e| e.message)?.is_some();
        if existed {
            store.update_user(username, Some(&hash), Some(true)).await.map_err(|e| e.message)?;
        } else {
            store.create_user(username, &hash, true).await.map_err(|e| e.message)?;
        }
        println!("{username} is an admin{}", if existed { " (existing user; password changed)" } else { "" });
        Ok(())
    })
}

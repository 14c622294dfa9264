//! The command line: serve (the default), and the admin subcommands.

use std::io::Read;

use agentq_store::{NewUser, Role};
use clap::{Parser, Subcommand};

use crate::settings::Settings;

#[derive(Debug, Parser)]
#[command(name = "api-gateway", about = "agentq's HTTP API")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print a token for a user (for scripts).
    Token {
        #[arg(long)]
        email: String,
        /// How long it lasts: 30m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required: passwords never go in argv).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long)]
        admin: bool,
    },
}

/// `90s`, `30m`, `1h`, `7d` (or plain seconds) as seconds.
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "invalid duration unit in {text:?} (use s, m, h or d)"
            ));
        }
    };
    n.checked_mul(factor)
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("invalid duration {text:?}"))
}

/// Runs an admin subcommand to completion.
pub async fn run_admin(command: Command, settings: Settings) -> anyhow::Result<()> {
    let db = agentq_store::connect_and_migrate(settings.database_url.expose()).await?;
    match command {
        Command::Serve => anyhow::bail!("serve is not an admin command"),
        Command::Migrate => {
            println!("database schema is up to date");
        }
        Command::User {
            command: UserCommand::Create { email, admin, .. },
        } => {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            let password = password.trim_end_matches(['\n', '\r']);
            if password.len() < 8 {
                anyhow::bail!("the password must be at least 8 characters");
            }
            let password_hash =
                crate::auth::hash_password(password).map_err(|e| anyhow::anyhow!("{e}"))?;
            let role = if admin { Role::Admin } else { Role::Member };
            let user = agentq_store::create_user(
                &db,
                NewUser {
                    email,
                    password_hash,
                    role,
                },
            )
            .await?;
            println!(
                "created user {} ({}) with id {}",
                user.email, user.role, user.id
            );
        }
        Command::Token { email, ttl } => {
            let user = agentq_store::user_by_email(&db, &email)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user with email {email}"))?;
            let token = crate::auth::Jwt::new(settings.jwt_secret.expose())
                .issue(user.id, ttl)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", token.token);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;

    #[test]
    fn reads_durations() {
        assert_eq!(parse_ttl("90"), Ok(90));
        assert_eq!(parse_ttl("30m"), Ok(1800));
        assert_eq!(parse_ttl("1h"), Ok(3600));
        assert_eq!(parse_ttl("7d"), Ok(604_800));
        assert!(parse_ttl("0").is_err());
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("h").is_err());
    }
}

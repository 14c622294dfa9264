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
    /// Exit 0 when `GET <url>` answers 2xx within 3 s (container health checks: the image
    /// has no curl). Needs no settings.
    Probe { url: String },
}

/// `GET url` (plain `http://host:port/path`) answered 2xx within 3 s.
pub fn probe(url: &str) -> bool {
    use std::io::Write;
    use std::net::ToSocketAddrs;
    use std::time::Duration;
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let timeout = Duration::from_secs(3);
    let Some(addr) = authority.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
        return false;
    };
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && head[9] == b'2'
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
    let db = agentq_store::connect_and_migrate(settings.core.database_url.expose()).await?;
    match command {
        Command::Serve | Command::Probe { .. } => anyhow::bail!("not an admin command"),
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

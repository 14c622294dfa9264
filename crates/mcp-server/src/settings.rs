//! agentq-mcp's settings: where the API and the events are, and, for stdio, whose credentials
//! to use. A bad or missing setting stops it at start with the variable's name.

use agentq_settings::{Env, Secret, SettingsError};
use url::Url;

/// How a stdio session authenticates (over HTTP each caller brings its own bearer token).
#[derive(Debug, Clone)]
pub enum Credentials {
    /// `AGENTQ_TOKEN`: a token from `api-gateway token` or a login.
    Token(Secret<String>),
    /// `AGENTQ_EMAIL` and `AGENTQ_PASSWORD`: logged in at start, and again when the token
    /// expires.
    Login {
        email: String,
        password: Secret<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `AGENTQ_API_URL` (http://127.0.0.1:8080).
    pub api_url: Url,
    /// `AGENTQ_WS_URL` (ws://127.0.0.1:8081/ws): the events-broadcaster, for waiting on jobs.
    pub ws_url: Url,
    /// `None` when neither `AGENTQ_TOKEN` nor `AGENTQ_EMAIL` is set.
    pub credentials: Option<Credentials>,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::read(&Env::process())
    }

    pub fn read(env: &Env<'_>) -> Result<Self, SettingsError> {
        let url = |name: &str, default: &str, schemes: &[&str]| {
            let text = env.text(name, default);
            Url::parse(&text)
                .ok()
                .filter(|u| schemes.contains(&u.scheme()) && u.host().is_some())
                .ok_or_else(|| {
                    SettingsError::new(
                        name,
                        format!("expected a {} URL, got {text:?}", schemes.join(" or ")),
                    )
                })
        };
        let credentials = match (
            env.get("AGENTQ_TOKEN"),
            env.get("AGENTQ_EMAIL"),
            env.get("AGENTQ_PASSWORD"),
        ) {
            (Some(token), None, None) => Some(Credentials::Token(Secret::new(token))),
            (None, Some(email), Some(password)) => Some(Credentials::Login {
                email,
                password: Secret::new(password),
            }),
            (None, None, None) => None,
            (Some(_), _, _) => {
                return Err(SettingsError::new(
                    "AGENTQ_TOKEN",
                    "set AGENTQ_TOKEN, or AGENTQ_EMAIL and AGENTQ_PASSWORD, not both",
                ));
            }
            (None, Some(_), None) => {
                return Err(SettingsError::new(
                    "AGENTQ_PASSWORD",
                    "missing (AGENTQ_EMAIL is set)",
                ));
            }
            (None, None, Some(_)) => {
                return Err(SettingsError::new(
                    "AGENTQ_EMAIL",
                    "missing (AGENTQ_PASSWORD is set)",
                ));
            }
        };
        Ok(Self {
            api_url: url(
                "AGENTQ_API_URL",
                "http://127.0.0.1:8080",
                &["http", "https"],
            )?,
            ws_url: url("AGENTQ_WS_URL", "ws://127.0.0.1:8081/ws", &["ws", "wss"])?,
            credentials,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_or_half_setting_is_named_and_secrets_stay_out_of_debug() {
        let read = |pairs: &[(&str, &str)]| Settings::read(&Env::from_pairs(pairs));
        let name = |pairs: &[(&str, &str)]| read(pairs).map(|_| ()).map_err(|e| e.name);
        assert_eq!(
            name(&[("AGENTQ_API_URL", "ftp://x")]),
            Err("AGENTQ_API_URL".into())
        );
        assert_eq!(
            name(&[("AGENTQ_WS_URL", "http://x/ws")]),
            Err("AGENTQ_WS_URL".into())
        );
        assert_eq!(
            name(&[("AGENTQ_EMAIL", "a@b.c")]),
            Err("AGENTQ_PASSWORD".into())
        );
        assert_eq!(
            name(&[
                ("AGENTQ_TOKEN", "t"),
                ("AGENTQ_EMAIL", "a@b.c"),
                ("AGENTQ_PASSWORD", "p")
            ]),
            Err("AGENTQ_TOKEN".into())
        );
        let settings =
            read(&[("AGENTQ_EMAIL", "a@b.c"), ("AGENTQ_PASSWORD", "hunter22")]).expect("valid");
        assert!(matches!(
            settings.credentials,
            Some(Credentials::Login { .. })
        ));
        assert!(!format!("{settings:?}").contains("hunter22"));
        assert_eq!(
            read(&[]).expect("defaults").api_url.as_str(),
            "http://127.0.0.1:8080/"
        );
    }
}

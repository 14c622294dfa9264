//! Reading variables: each with its default and its rule, each failure naming the variable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

/// A setting that is missing or malformed, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct SettingsError {
    pub name: String,
    pub problem: String,
}

impl SettingsError {
    pub fn new(name: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            problem: problem.into(),
        }
    }
}

/// Where settings come from: the process environment, or a lookup of a test's own. An empty
/// value is the same as an unset one.
pub struct Env<'a> {
    lookup: Box<Lookup<'a>>,
}

/// A variable's value by name.
type Lookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env")
    }
}

impl<'a> Env<'a> {
    pub fn process() -> Self {
        Self::from_fn(|name| std::env::var(name).ok())
    }

    pub fn from_fn(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self {
            lookup: Box::new(lookup),
        }
    }

    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self::from_fn(move |name| map.get(name).cloned())
    }

    /// The value of `name`, if set and not empty.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.is_empty())
    }

    pub fn development(&self) -> bool {
        self.get("AGENTQ_ENV").as_deref() == Some("development")
    }

    pub fn text(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    /// A whole number, `default` when unset.
    pub fn number(&self, name: &str, default: u64) -> Result<u64, SettingsError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                SettingsError::new(name, format!("expected a whole number, got {v:?}"))
            }),
        }
    }

    /// A whole number within `range`, `default` when unset.
    pub fn number_in<T>(
        &self,
        name: &str,
        default: T,
        range: RangeInclusive<T>,
    ) -> Result<T, SettingsError>
    where
        T: TryFrom<u64> + Into<u64> + PartialOrd + Copy + std::fmt::Display,
    {
        let value = self.number(name, default.into())?;
        T::try_from(value)
            .ok()
            .filter(|v| range.contains(v))
            .ok_or_else(|| {
                SettingsError::new(
                    name,
                    format!("expected {} to {}, got {value}", range.start(), range.end()),
                )
            })
    }

    /// Milliseconds, at least `min`, `default` when unset.
    pub fn millis(&self, name: &str, default: u64, min: u64) -> Result<Duration, SettingsError> {
        match self.number(name, default)? {
            ms if ms < min => Err(SettingsError::new(
                name,
                format!("expected at least {min} ms, got {ms}"),
            )),
            ms => Ok(Duration::from_millis(ms)),
        }
    }

    /// `host:port`, `default` when unset; port 0 picks a free port.
    pub fn addr(&self, name: &str, default: &str) -> Result<SocketAddr, SettingsError> {
        let text = self.text(name, default);
        text.parse()
            .map_err(|_| SettingsError::new(name, format!("expected host:port, got {text:?}")))
    }

    /// [`Env::addr`], or `None` for `off`.
    pub fn addr_or_off(
        &self,
        name: &str,
        default: &str,
    ) -> Result<Option<SocketAddr>, SettingsError> {
        match self.get(name).as_deref() {
            Some("off") => Ok(None),
            _ => self.addr(name, default).map(Some),
        }
    }

    /// A comma-separated list, trimmed, empty entries left out.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|list| {
                list.split(',')
                    .map(|item| item.trim().to_owned())
                    .filter(|item| !item.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reader_names_the_variable_it_refuses() {
        let env = Env::from_pairs(&[
            ("N", "12"),
            ("BAD", "twelve"),
            ("ADDR", "127.0.0.1:0"),
            ("OFF", "off"),
            ("LIST", " a, b,, c "),
            ("EMPTY", ""),
        ]);
        assert_eq!(env.number("N", 1), Ok(12));
        assert_eq!(env.number("UNSET", 7), Ok(7));
        assert_eq!(env.number("EMPTY", 7), Ok(7));
        assert_eq!(env.number("BAD", 1).map_err(|e| e.name), Err("BAD".into()));
        assert_eq!(
            env.number_in::<u32>("N", 1, 1..=10).map_err(|e| e.name),
            Err("N".into())
        );
        assert_eq!(env.millis("N", 0, 100).map_err(|e| e.name), Err("N".into()));
        assert_eq!(env.addr("ADDR", "x").map(|a| a.port()), Ok(0));
        assert_eq!(env.addr_or_off("OFF", "127.0.0.1:1"), Ok(None));
        assert_eq!(env.list("LIST"), ["a", "b", "c"]);
    }
}

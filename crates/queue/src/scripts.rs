//! The Lua scripts, compiled into the binary. `Script` sends EVALSHA and reloads the script
//! itself when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH).
//!
//! A script reads its keys by position, so every call names the keys it passes, and in debug
//! builds (every test run, where each script runs) a call whose names differ from the script's
//! header (`-- KEYS[1] wait   KEYS[2] events ...`) fails at once.

use redis::{Script, ScriptInvocation};

/// A script and its source, whose header names its keys.
pub(crate) struct LuaScript {
    script: Script,
    source: &'static str,
}

impl LuaScript {
    fn new(source: &'static str) -> Self {
        Self {
            script: Script::new(source),
            source,
        }
    }

    /// An invocation with `keys`, each named as the script's header names it, in its order.
    pub fn with_keys(&self, keys: &[(&str, String)]) -> ScriptInvocation<'_> {
        debug_assert_eq!(
            keys.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
            header_keys(self.source),
            "keys passed to a script against its header"
        );
        let mut invocation = self.script.prepare_invoke();
        for (_, key) in keys {
            invocation.key(key);
        }
        invocation
    }
}

/// The key names a script's header lists: the first word after each `KEYS[n]`, in order of n.
pub(crate) fn header_keys(source: &str) -> Vec<&str> {
    let mut named: Vec<(usize, &str)> = source
        .lines()
        .take_while(|line| line.starts_with("--"))
        .flat_map(|line| line.split("KEYS[").skip(1))
        .filter_map(|entry| {
            let (number, rest) = entry.split_once(']')?;
            Some((number.parse().ok()?, rest.split_whitespace().next()?))
        })
        .collect();
    named.sort_by_key(|(number, _)| *number);
    named.into_iter().map(|(_, name)| name).collect()
}

pub(crate) struct Scripts {
    pub enqueue: LuaScript,
    pub cycle: LuaScript,
    pub extend: LuaScript,
    pub cancel: LuaScript,
    pub retry: LuaScript,
    pub progress: LuaScript,
    pub log: LuaScript,
    pub trim_events: LuaScript,
    pub lock: LuaScript,
    pub unlock: LuaScript,
    pub heartbeat: LuaScript,
    pub slot: LuaScript,
}

impl Default for Scripts {
    fn default() -> Self {
        Self {
            enqueue: LuaScript::new(include_str!("../lua/enqueue.lua")),
            cycle: LuaScript::new(include_str!("../lua/cycle.lua")),
            extend: LuaScript::new(include_str!("../lua/extend.lua")),
            cancel: LuaScript::new(include_str!("../lua/cancel.lua")),
            retry: LuaScript::new(include_str!("../lua/retry.lua")),
            progress: LuaScript::new(include_str!("../lua/progress.lua")),
            log: LuaScript::new(include_str!("../lua/log.lua")),
            trim_events: LuaScript::new(include_str!("../lua/trim_events.lua")),
            lock: LuaScript::new(include_str!("../lua/lock.lua")),
            unlock: LuaScript::new(include_str!("../lua/unlock.lua")),
            heartbeat: LuaScript::new(include_str!("../lua/heartbeat.lua")),
            slot: LuaScript::new(include_str!("../lua/slot.lua")),
        }
    }
}

impl std::fmt::Debug for Scripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scripts")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCES: [&str; 12] = [
        include_str!("../lua/enqueue.lua"),
        include_str!("../lua/cycle.lua"),
        include_str!("../lua/extend.lua"),
        include_str!("../lua/cancel.lua"),
        include_str!("../lua/retry.lua"),
        include_str!("../lua/progress.lua"),
        include_str!("../lua/log.lua"),
        include_str!("../lua/trim_events.lua"),
        include_str!("../lua/lock.lua"),
        include_str!("../lua/unlock.lua"),
        include_str!("../lua/heartbeat.lua"),
        include_str!("../lua/slot.lua"),
    ];

    #[test]
    fn every_header_names_keys_1_to_n_and_every_key_the_body_reads() {
        for source in SOURCES {
            let title = source.lines().next().unwrap_or_default();
            let numbers: Vec<usize> = source
                .lines()
                .take_while(|line| line.starts_with("--"))
                .flat_map(|line| line.split("KEYS[").skip(1))
                .filter_map(|entry| entry.split_once(']')?.0.parse().ok())
                .collect();
            let n = header_keys(source).len();
            assert!(n > 0, "{title}: no KEYS in the header");
            let mut sorted = numbers.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (1..=n).collect::<Vec<_>>(), "{title}");
            // the body reads no key beyond the header's
            let body: String = source
                .lines()
                .skip_while(|line| line.starts_with("--"))
                .collect();
            for beyond in n + 1..n + 4 {
                assert!(
                    !body.contains(&format!("KEYS[{beyond}]")),
                    "{title}: KEYS[{beyond}]"
                );
            }
        }
    }

    #[test]
    fn header_keys_are_the_first_word_after_each_number() {
        let source =
            "-- x\n-- KEYS[2] events stream   KEYS[1] wait zset\n-- ARGV[1] prefix\nreturn 1";
        assert_eq!(header_keys(source), ["wait", "events"]);
    }
}

//! The Lua scripts, compiled into the binary. `Script` sends EVALSHA and reloads the script
//! itself when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH).
//!
//! A script reads its keys and arguments by position, so every call names the keys it passes,
//! and in debug builds (every test run, where each script runs) a call whose key names differ
//! from the script's header (`-- KEYS[1] wait   KEYS[2] events ...`), or that passes fewer
//! arguments than the header lists (`ARGV[1] ... ARGV[n]`, or other than that many for a
//! script that takes no variable tail), fails at once.

use redis::{FromRedisValue, RedisResult, Script, ScriptInvocation, ToRedisArgs};

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

    /// A script that starts with a library of functions (`library` is the library followed
    /// by `source`, joined by `concat!`): what runs is the whole, its header is `source`'s.
    fn with_library(library: &'static str, source: &'static str) -> Self {
        Self {
            script: Script::new(library),
            source,
        }
    }

    /// A call with `keys`, each named as the script's header names it, in its order; add the
    /// arguments with [`LuaCall::arg`].
    pub fn with_keys(&self, keys: &[(&str, String)]) -> LuaCall<'_> {
        debug_assert_eq!(
            keys.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
            header_keys(self.source),
            "keys passed to a script against its header"
        );
        let mut invocation = self.script.prepare_invoke();
        for (_, key) in keys {
            invocation.key(key);
        }
        LuaCall {
            invocation,
            source: self.source,
            args: 0,
        }
    }
}

/// One call of a script: its keys, then its arguments as they are added.
pub(crate) struct LuaCall<'a> {
    invocation: ScriptInvocation<'a>,
    source: &'static str,
    /// How many ARGV entries the arguments so far make.
    args: usize,
}

impl LuaCall<'_> {
    pub fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        if cfg!(debug_assertions) {
            self.args += arg.num_of_args();
        }
        self.invocation.arg(arg);
        self
    }

    pub async fn invoke_async<T: FromRedisValue>(
        &self,
        conn: &mut impl redis::aio::ConnectionLike,
    ) -> RedisResult<T> {
        if cfg!(debug_assertions) {
            let (fixed, variable) = header_argv(self.source);
            let fits = if variable {
                self.args >= fixed
            } else {
                self.args == fixed
            };
            assert!(
                fits,
                "{} arguments passed to a script whose header lists {fixed}{}: {}",
                self.args,
                if variable { " and a variable tail" } else { "" },
                self.source.lines().next().unwrap_or_default()
            );
        }
        self.invocation.invoke_async(conn).await
    }
}

/// The arguments a script's header lists: how many fixed ones (the highest `ARGV[n]`), and
/// whether a variable tail follows (`ARGV[n..]`, or "then n groups / pairs").
pub(crate) fn header_argv(source: &str) -> (usize, bool) {
    let header: Vec<&str> = source
        .lines()
        .take_while(|line| line.starts_with("--"))
        .collect();
    let mut fixed = 0;
    let mut variable = false;
    for entry in header.iter().flat_map(|line| line.split("ARGV[").skip(1)) {
        let Some((number, _)) = entry.split_once(']') else {
            continue;
        };
        match number.parse::<usize>() {
            Ok(n) => fixed = fixed.max(n),
            Err(_) => variable = true,
        }
    }
    variable |= header.iter().any(|line| line.contains("then n"));
    (fixed, variable)
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
    pub usage: LuaScript,
    pub ask: LuaScript,
    pub decide: LuaScript,
    pub log: LuaScript,
    pub trim_events: LuaScript,
    pub lock: LuaScript,
    pub unlock: LuaScript,
    pub heartbeat: LuaScript,
    pub slot: LuaScript,
    pub peek: LuaScript,
}

impl Default for Scripts {
    fn default() -> Self {
        Self {
            enqueue: LuaScript::new(include_str!("../lua/enqueue.lua")),
            cycle: LuaScript::with_library(
                concat!(
                    include_str!("../lua/dependents.lua"),
                    include_str!("../lua/cycle.lua")
                ),
                include_str!("../lua/cycle.lua"),
            ),
            extend: LuaScript::new(include_str!("../lua/extend.lua")),
            cancel: LuaScript::with_library(
                concat!(
                    include_str!("../lua/dependents.lua"),
                    include_str!("../lua/cancel.lua")
                ),
                include_str!("../lua/cancel.lua"),
            ),
            retry: LuaScript::new(include_str!("../lua/retry.lua")),
            progress: LuaScript::new(include_str!("../lua/progress.lua")),
            usage: LuaScript::new(include_str!("../lua/usage.lua")),
            ask: LuaScript::new(include_str!("../lua/ask.lua")),
            decide: LuaScript::with_library(
                concat!(
                    include_str!("../lua/dependents.lua"),
                    include_str!("../lua/decide.lua")
                ),
                include_str!("../lua/decide.lua"),
            ),
            log: LuaScript::new(include_str!("../lua/log.lua")),
            trim_events: LuaScript::new(include_str!("../lua/trim_events.lua")),
            lock: LuaScript::new(include_str!("../lua/lock.lua")),
            unlock: LuaScript::new(include_str!("../lua/unlock.lua")),
            heartbeat: LuaScript::new(include_str!("../lua/heartbeat.lua")),
            slot: LuaScript::new(include_str!("../lua/slot.lua")),
            peek: LuaScript::new(include_str!("../lua/peek.lua")),
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

    const SOURCES: [&str; 16] = [
        include_str!("../lua/enqueue.lua"),
        include_str!("../lua/cycle.lua"),
        include_str!("../lua/extend.lua"),
        include_str!("../lua/cancel.lua"),
        include_str!("../lua/retry.lua"),
        include_str!("../lua/progress.lua"),
        include_str!("../lua/usage.lua"),
        include_str!("../lua/ask.lua"),
        include_str!("../lua/decide.lua"),
        include_str!("../lua/log.lua"),
        include_str!("../lua/trim_events.lua"),
        include_str!("../lua/lock.lua"),
        include_str!("../lua/unlock.lua"),
        include_str!("../lua/heartbeat.lua"),
        include_str!("../lua/slot.lua"),
        include_str!("../lua/peek.lua"),
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
    fn every_header_lists_its_arguments_and_says_when_a_tail_follows() {
        let argv: Vec<(usize, bool)> = SOURCES.iter().map(|s| header_argv(s)).collect();
        // enqueue, cycle, extend, cancel, retry, progress, usage, ask, decide, log,
        // trim_events, lock, unlock, heartbeat, slot, peek
        assert_eq!(
            argv,
            [
                (2, true),
                (11, true),
                (3, true),
                (3, false),
                (2, false),
                (4, false),
                (6, false),
                (5, false),
                (4, false),
                (4, true),
                (3, false),
                (2, false),
                (1, false),
                (2, true),
                (3, false),
                (0, false),
            ]
        );
    }

    #[test]
    fn header_keys_are_the_first_word_after_each_number() {
        let source =
            "-- x\n-- KEYS[2] events stream   KEYS[1] wait zset\n-- ARGV[1] prefix\nreturn 1";
        assert_eq!(header_keys(source), ["wait", "events"]);
    }
}

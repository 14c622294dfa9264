//! The Lua scripts, compiled into the binary. `Script` sends EVALSHA and reloads the script
//! itself when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH).

use redis::Script;

pub(crate) struct Scripts {
    pub enqueue: Script,
    pub cycle: Script,
    pub extend: Script,
    pub cancel: Script,
    pub retry: Script,
    pub progress: Script,
    pub log: Script,
    pub trim_events: Script,
    pub lock: Script,
    pub unlock: Script,
    pub heartbeat: Script,
    pub slot: Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Self {
            enqueue: Script::new(include_str!("../lua/enqueue.lua")),
            cycle: Script::new(include_str!("../lua/cycle.lua")),
            extend: Script::new(include_str!("../lua/extend.lua")),
            cancel: Script::new(include_str!("../lua/cancel.lua")),
            retry: Script::new(include_str!("../lua/retry.lua")),
            progress: Script::new(include_str!("../lua/progress.lua")),
            log: Script::new(include_str!("../lua/log.lua")),
            trim_events: Script::new(include_str!("../lua/trim_events.lua")),
            lock: Script::new(include_str!("../lua/lock.lua")),
            unlock: Script::new(include_str!("../lua/unlock.lua")),
            heartbeat: Script::new(include_str!("../lua/heartbeat.lua")),
            slot: Script::new(include_str!("../lua/slot.lua")),
        }
    }
}

impl std::fmt::Debug for Scripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scripts")
    }
}

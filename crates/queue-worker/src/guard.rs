//! The agent guard (`queue-worker agent-guard`): a small process between a worker and a
//! command agent, so that an agent never runs on when its worker cannot answer for it.
//!
//! The worker starts the guard in a process group of its own; the guard starts the agent in
//! another (the agent's group holds the agent and everything it starts), hands it the job on
//! stdin, and then listens to the worker on its own stdin:
//! - `lease <ms>`: the job's lease is held for at least `ms` more; with no renewal by then the
//!   guard kills the agent's group, before another worker may lease the job (a frozen worker,
//!   or one cut off from Redis, cannot renew);
//! - `stop`: SIGTERM to the agent's group, SIGKILL after the grace (`--grace-ms`);
//! - `answer <json>`: with `--keep-stdin` (an agent that may ask for approval mid-run), the
//!   line `<json>` goes to the agent's stdin, which stays open after the job's line for it;
//!   without, the agent's stdin ends after the job's line;
//! - end of input: the worker is gone (`kill -9`, a crash): SIGKILL to the group at once.
//!
//! The guard exits with the agent's exit code (128 + the signal when a signal ended it) and
//! kills whatever the agent left running. It uses only the standard library and `kill(1)`, so
//! no unsafe code is needed to watch a parent.

use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The subcommand that runs the guard.
pub const SUBCOMMAND: &str = "agent-guard";
/// The exit code, and the start of the stderr line, of a guard that could not start the agent.
pub const SPAWN_FAILED_CODE: i32 = 127;
pub const SPAWN_FAILED_PREFIX: &str = "agentq-agent-guard: cannot start";

/// What the guard learned last.
#[derive(Debug, Default)]
struct State {
    deadline: Option<Instant>,
    stop_requested: bool,
    worker_gone: bool,
    exited: Option<std::io::Result<ExitStatus>>,
}

/// Runs the guard with its arguments (after the subcommand); returns the exit code.
pub fn main(args: &[String]) -> i32 {
    let Some((options, argv)) = parse(args) else {
        eprintln!(
            "usage: queue-worker {SUBCOMMAND} --lease-ms N --grace-ms N [--keep-stdin] -- PROGRAM [ARGS...]"
        );
        return 2;
    };
    let mut job = String::new();
    if std::io::stdin().lock().read_line(&mut job).is_err() {
        return 2;
    }
    let mut child = match Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .process_group(0)
        .spawn()
    {
        Ok(child) => child,
        Err(err) => {
            eprintln!("{SPAWN_FAILED_PREFIX} {:?}: {err}", argv[0]);
            return SPAWN_FAILED_CODE;
        }
    };
    let group = child.id();
    // where answers go: the agent's stdin, once its job is written, if it stays open
    let answers: Arc<Mutex<Option<ChildStdin>>> = Arc::default();
    if let Some(mut stdin) = child.stdin.take() {
        let answers = answers.clone();
        let keep = options.keep_stdin;
        std::thread::spawn(move || {
            let written = stdin.write_all(job.as_bytes()).is_ok();
            if keep
                && written
                && let Ok(mut answers) = answers.lock()
            {
                *answers = Some(stdin);
            }
            // otherwise the agent reads its job, then sees the end of its input
        });
    }
    let shared = Arc::new((
        Mutex::new(State {
            deadline: Some(Instant::now() + options.lease),
            ..State::default()
        }),
        Condvar::new(),
    ));
    spawn_listener(shared.clone(), answers);
    {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let status = child.wait();
            update(&shared, |state| state.exited = Some(status));
        });
    }
    let code = supervise(&shared, group, options.grace);
    // nothing the agent started outlives it
    signal_group(group, "KILL");
    code
}

struct Options {
    lease: Duration,
    grace: Duration,
    keep_stdin: bool,
}

fn parse(args: &[String]) -> Option<(Options, &[String])> {
    let split = args.iter().position(|a| a == "--")?;
    let (flags, argv) = (&args[..split], &args[split + 1..]);
    if argv.is_empty() {
        return None;
    }
    let millis = |name: &str| {
        let at = flags.iter().position(|f| f == name)?;
        flags
            .get(at + 1)?
            .parse::<u64>()
            .ok()
            .map(Duration::from_millis)
    };
    Some((
        Options {
            lease: millis("--lease-ms")?,
            grace: millis("--grace-ms")?,
            keep_stdin: flags.iter().any(|f| f == "--keep-stdin"),
        },
        argv,
    ))
}

/// Reads the worker's instructions until its end of input.
fn spawn_listener(shared: Arc<(Mutex<State>, Condvar)>, answers: Arc<Mutex<Option<ChildStdin>>>) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if let Some(answer) = line.strip_prefix("answer ") {
                if let Ok(mut answers) = answers.lock()
                    && let Some(stdin) = answers.as_mut()
                {
                    // an agent gone already (a broken pipe) loses its answer; the guard goes on
                    let _ = writeln!(stdin, "{answer}").and_then(|()| stdin.flush());
                }
                continue;
            }
            let mut words = line.split_whitespace();
            match (
                words.next(),
                words.next().and_then(|ms| ms.parse::<u64>().ok()),
            ) {
                (Some("lease"), Some(ms)) => update(&shared, |state| {
                    if !state.stop_requested {
                        state.deadline = Some(Instant::now() + Duration::from_millis(ms));
                    }
                }),
                (Some("stop"), _) => update(&shared, |state| state.stop_requested = true),
                _ => {}
            }
        }
        update(&shared, |state| state.worker_gone = true);
    });
}

fn update(shared: &(Mutex<State>, Condvar), change: impl FnOnce(&mut State)) {
    let (lock, changed) = shared;
    if let Ok(mut state) = lock.lock() {
        change(&mut state);
        changed.notify_all();
    }
}

/// Waits for the agent to exit, stopping it when told to, when the worker is gone or when the
/// lease lapses. Returns the guard's exit code.
fn supervise(shared: &(Mutex<State>, Condvar), group: u32, grace: Duration) -> i32 {
    let (lock, changed) = shared;
    let Ok(mut state) = lock.lock() else {
        return 1;
    };
    let mut terminated = false;
    loop {
        if let Some(exited) = state.exited.take() {
            return exit_code(exited);
        }
        let now = Instant::now();
        let lapsed = state.deadline.is_some_and(|at| at <= now);
        if state.worker_gone || (lapsed && terminated) {
            signal_group(group, "KILL");
            // the waiter reaps the agent; its status is what the guard reports
            state.deadline = None;
            state.worker_gone = false;
        } else if lapsed {
            eprintln!("agentq-agent-guard: the job's lease was not renewed in time; agent killed");
            signal_group(group, "KILL");
            state.deadline = None;
        } else if state.stop_requested && !terminated {
            terminated = true;
            signal_group(group, "TERM");
            state.deadline = Some(now + grace);
        }
        state = match state.deadline {
            Some(at) => match changed.wait_timeout(state, at.saturating_duration_since(now)) {
                Ok((state, _)) => state,
                Err(_) => return 1,
            },
            None => match changed.wait(state) {
                Ok(state) => state,
                Err(_) => return 1,
            },
        };
    }
}

fn exit_code(status: std::io::Result<ExitStatus>) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => code,
            (None, Some(signal)) => {
                eprintln!("agentq-agent-guard: the agent was killed by signal {signal}");
                128 + signal
            }
            (None, None) => 1,
        },
        Err(err) => {
            eprintln!("agentq-agent-guard: waiting for the agent failed: {err}");
            1
        }
    }
}

/// Sends the agent's process group a signal through `kill(1)` (`-<pgid>` names the group),
/// which keeps this crate free of unsafe code.
fn signal_group(group: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([format!("-{signal}"), "--".into(), format!("-{group}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

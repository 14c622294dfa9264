//! Running a `command` agent: its argv (never through a shell) in a process group of its own,
//! the job as JSON on stdin, and its stdout read as the agent protocol:
//! `{"progress": n}`, `{"log": "..."}` and `{"result": ...}` lines are understood; any other
//! stdout or stderr line is output. Exit 0 completes the job; anything else fails it with the
//! exit status and the tail of stderr.

use std::collections::{BTreeMap, VecDeque};
use std::process::Stdio;
use std::time::Duration;

use agentq_domain::JobId;
use agentq_queue::{LeaseToken, Outcome, Queue};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// After SIGTERM, how long the agent's processes get before SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);
/// Output lines are sent in batches at least this far apart (or when this many pile up).
const LOG_FLUSH_EVERY: Duration = Duration::from_millis(200);
const LOG_BATCH_LINES: usize = 100;
/// Stderr lines kept for the error of a failed run.
const STDERR_TAIL_LINES: usize = 20;

/// What to run and with what.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub stdin: Vec<u8>,
    pub timeout: Duration,
}

/// One line the agent wrote.
enum Line {
    Progress(u8),
    Output(String),
    Result(String),
}

fn parse_stdout(line: String) -> Line {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&line) {
        if let Some(p) = map.get("progress").and_then(serde_json::Value::as_f64) {
            return Line::Progress(p.clamp(0.0, 100.0) as u8);
        }
        if let Some(log) = map.get("log").and_then(serde_json::Value::as_str) {
            return Line::Output(log.to_owned());
        }
        if let Some(result) = map.get("result") {
            return Line::Result(result.to_string());
        }
    }
    Line::Output(line)
}

/// Sends the process group a signal through `kill(1)`, which keeps this crate free of
/// unsafe code. `-<pgid>` addresses the whole group.
async fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([format!("-{signal}"), "--".into(), format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

/// Why the run was stopped before the agent exited.
enum Stop {
    TimedOut,
    Asked,
}

pub async fn run(
    queue: &Queue,
    job: JobId,
    token: LeaseToken,
    spec: CommandSpec,
    stop: CancellationToken,
) -> Outcome {
    let Some((program, args)) = spec.argv.split_first() else {
        return Outcome::FailedForGood("the agent has an empty command".into());
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(&spec.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        // a missing program will be missing on the next attempt too
        Err(err) => return Outcome::FailedForGood(format!("cannot start {program:?}: {err}")),
    };
    let pgid = child.id().unwrap_or(0);
    if let Some(mut stdin) = child.stdin.take() {
        let input = spec.stdin.clone();
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
        });
    }
    let (lines_tx, mut lines) = mpsc::channel::<(bool, String)>(256);
    if let Some(stdout) = child.stdout.take() {
        let tx = lines_tx.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send((false, line)).await.is_err() {
                    break;
                }
            }
        });
    }
    if let Some(stderr) = child.stderr.take() {
        let tx = lines_tx.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send((true, line)).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(lines_tx);

    let mut output: Vec<String> = Vec::new();
    let mut all_output: Vec<String> = Vec::new();
    let mut stderr_tail: VecDeque<String> = VecDeque::new();
    let mut result: Option<String> = None;
    let mut progress: Option<u8> = None;
    let mut flush = tokio::time::interval(LOG_FLUSH_EVERY);
    let deadline = tokio::time::sleep(spec.timeout);
    tokio::pin!(deadline);
    let mut stopped: Option<Stop> = None;
    let mut streams_open = true;
    let status = loop {
        tokio::select! {
            line = lines.recv(), if streams_open => match line {
                Some((is_stderr, text)) => {
                    if is_stderr {
                        if stderr_tail.len() == STDERR_TAIL_LINES {
                            stderr_tail.pop_front();
                        }
                        stderr_tail.push_back(text.clone());
                        output.push(text);
                    } else {
                        match parse_stdout(text) {
                            Line::Progress(p) => progress = Some(p),
                            Line::Result(r) => result = Some(r),
                            Line::Output(o) => output.push(o),
                        }
                    }
                    if output.len() >= LOG_BATCH_LINES {
                        send_output(queue, job, token, &mut output, &mut all_output).await;
                    }
                }
                None => streams_open = false,
            },
            _ = flush.tick() => {
                send_output(queue, job, token, &mut output, &mut all_output).await;
                if let Some(p) = progress.take() {
                    let _ = queue.progress(&job, token, p).await;
                }
            }
            status = child.wait(), if !streams_open || stopped.is_some() => break status,
            () = &mut deadline, if stopped.is_none() => {
                stopped = Some(Stop::TimedOut);
                terminate(pgid).await;
            }
            () = stop.cancelled(), if stopped.is_none() => {
                stopped = Some(Stop::Asked);
                terminate(pgid).await;
            }
        }
    };
    // whatever the agent printed last still reaches the log
    send_output(queue, job, token, &mut output, &mut all_output).await;
    if let Some(p) = progress {
        let _ = queue.progress(&job, token, p).await;
    }
    // no process of the group may outlive the job
    signal_group(pgid, "KILL").await;
    match (stopped, status) {
        (Some(Stop::TimedOut), _) => {
            Outcome::Failed(format!("timed out after {} s", spec.timeout.as_secs()))
        }
        (Some(Stop::Asked), _) => Outcome::Cancelled,
        (None, Ok(status)) if status.success() => Outcome::Completed(
            result.unwrap_or_else(|| serde_json::json!(all_output.join("\n")).to_string()),
        ),
        (None, Ok(status)) => {
            let tail: Vec<String> = stderr_tail.into_iter().collect();
            Outcome::Failed(
                format!("{status}\n{}", tail.join("\n"))
                    .trim_end()
                    .to_owned(),
            )
        }
        (None, Err(err)) => Outcome::Failed(format!("waiting for the agent failed: {err}")),
    }
}

/// SIGTERM to the whole group, then SIGKILL after the grace period.
async fn terminate(pgid: u32) {
    if pgid == 0 {
        return;
    }
    signal_group(pgid, "TERM").await;
    tokio::spawn(async move {
        tokio::time::sleep(KILL_GRACE).await;
        signal_group(pgid, "KILL").await;
    });
}

async fn send_output(
    queue: &Queue,
    job: JobId,
    token: LeaseToken,
    pending: &mut Vec<String>,
    all: &mut Vec<String>,
) {
    if pending.is_empty() {
        return;
    }
    if let Err(err) = queue.log(&job, token, pending).await {
        tracing::warn!(%job, error = %err, "could not send output lines");
    }
    all.append(pending);
}

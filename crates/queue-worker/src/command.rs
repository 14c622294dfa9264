//! Running a `command` agent: its argv (never through a shell) under the agent guard
//! ([`crate::guard`]), in the job's private directory with a clean environment, the job as
//! JSON on stdin, and its stdout read as the agent protocol: `{"progress": n}`,
//! `{"log": "..."}`, `{"result": ...}`, `{"usage": {...}}` (what it spent since its last
//! report: a delta) and `{"heartbeat": true}` lines are understood; any other stdout or stderr
//! line is output. Exit 0 completes the job; anything else fails it with the exit status and
//! the tail of stderr. An agent with an idle timeout that writes no line at all for that long
//! is stopped and its attempt fails.
//!
//! An agent marked `asks_approval` may print `{"approval": {"question": "...", "timeoutSecs":
//! n}}`: its question goes to the job's rooms, its run and idle timers pause (its lease is
//! renewed as always), and a member's answer reaches it as one JSON line on stdin,
//! `{"approved": true|false, "comment": "..."}`. No answer in time fails the job for good.
//!
//! Nothing the agent writes is trusted: lines are read with a bound, bytes that are not UTF-8
//! are decoded lossily, the result and the error are bounded before they leave the worker.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use agentq_domain::bounded::{self, MAX_LINE_BYTES};
use agentq_domain::{JobId, Usage};
use agentq_queue::{Decision, LeaseDeadline, LeaseToken, Outcome, Queue};
use tokio::io::{AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, Command};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::guard;
use crate::output::{Tail, read_line};
use crate::settings::AgentSettings;

/// After SIGTERM, how long the agent's processes get before SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);
/// Output lines are sent in batches at least this far apart (or when this many pile up).
const LOG_FLUSH_EVERY: Duration = Duration::from_millis(200);
const LOG_BATCH_LINES: usize = 100;
/// Stderr lines kept for the error of a failed run.
const STDERR_TAIL_LINES: usize = 20;
/// Lines the readers may have handed over and the run loop not yet taken.
const LINES_IN_FLIGHT: usize = 256;

/// What to run and with what.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    pub argv: Vec<String>,
    /// The agent's whole environment: it inherits nothing from the worker.
    pub env: BTreeMap<String, String>,
    /// The job as one line of JSON.
    pub stdin: String,
    pub timeout: Duration,
    /// How long the agent may write nothing (no line on stdout or stderr) before it is
    /// stopped; `None` for no limit.
    pub idle_timeout: Option<Duration>,
    /// It may ask for approval mid-run: its stdin stays open for the answers.
    pub asks_approval: bool,
    /// The job's private working directory.
    pub dir: PathBuf,
}

/// The job the agent runs for, as the worker holds it.
#[derive(Debug)]
pub struct RunningJob<'a> {
    pub queue: &'a Queue,
    pub id: JobId,
    pub token: LeaseToken,
    pub lease: LeaseDeadline,
    pub stop: CancellationToken,
}

/// One line the agent wrote, as the run loop sees it.
enum Line {
    Progress(u8),
    /// What the agent spent since its last report.
    Usage(Usage),
    /// Says only that the agent is alive.
    Heartbeat,
    /// Asks a project member, and waits at most `timeout` for the answer.
    Approval {
        question: String,
        timeout: Duration,
    },
    Output(String),
    Stderr(String),
}

/// Why the run was stopped before the agent exited.
enum Stop {
    TimedOut,
    Idle(Duration),
    /// Nobody answered the agent's question in time.
    Unanswered(Question),
    Asked,
}

/// A question the agent asked and waits to have answered.
struct Question {
    text: String,
    timeout: Duration,
    answer_by: tokio::time::Instant,
    /// What was left of the run's time when it asked: the run timer pauses meanwhile.
    run_left: Duration,
}

/// The longest an agent may wait for an answer; what it waits when it names no time.
const MAX_APPROVAL_WAIT: Duration = Duration::from_secs(7 * 24 * 3600);
const DEFAULT_APPROVAL_WAIT: Duration = Duration::from_secs(3600);
/// A question longer than this is cut (it is shown to people, not parsed).
const MAX_QUESTION_CHARS: usize = 2000;

/// Far enough away to never fire: the idle deadline of an agent without an idle timeout.
/// (A year: longer than any run may last.)
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

pub async fn run(settings: &AgentSettings, job: RunningJob<'_>, spec: CommandSpec) -> Outcome {
    if spec.argv.is_empty() {
        return Outcome::FailedForGood("the agent has an empty command".into());
    }
    let mut child = match Command::new(&settings.guard)
        .arg(guard::SUBCOMMAND)
        .arg("--lease-ms")
        .arg(millis(guard_lease(&job.lease)).to_string())
        .arg("--grace-ms")
        .arg(millis(KILL_GRACE).to_string())
        .args(spec.asks_approval.then_some("--keep-stdin"))
        .arg("--")
        .args(&spec.argv)
        .env_clear()
        .envs(&spec.env)
        .current_dir(&spec.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // not killed when this run is dropped (a task aborted at shutdown): the end of its
        // input, the control pipe dropped with the run, makes the guard kill the agent's group
        // and exit, which a killed guard could not do
        .kill_on_drop(false)
        .spawn()
    {
        Ok(child) => child,
        Err(err) => {
            let guard = settings.guard.display();
            return Outcome::Failed(format!("cannot start the agent guard {guard}: {err}"));
        }
    };
    let Some(mut control) = child.stdin.take() else {
        return Outcome::Failed("the agent guard has no input".into());
    };
    let job_line = format!("{}\n", spec.stdin);
    if let Err(err) = control.write_all(job_line.as_bytes()).await {
        return Outcome::Failed(format!("cannot hand the job to the agent: {err}"));
    }
    let (lines_tx, mut lines) = mpsc::channel::<Line>(LINES_IN_FLIGHT);
    let max_result = settings.max_result_bytes;
    let stdout = child
        .stdout
        .take()
        .map(|out| tokio::spawn(read_stdout(out, max_result, lines_tx.clone())));
    if let Some(err) = child.stderr.take() {
        tokio::spawn(read_stderr(err, lines_tx.clone()));
    }
    drop(lines_tx);

    let mut pending: Vec<String> = Vec::new();
    let mut tail = Tail::new(settings.output_tail_bytes);
    let mut stderr_tail: VecDeque<String> = VecDeque::new();
    let mut progress: Option<u8> = None;
    let mut unsent_usage = Usage::default();
    let mut flush = tokio::time::interval(LOG_FLUSH_EVERY);
    let deadline = tokio::time::sleep(spec.timeout);
    tokio::pin!(deadline);
    let idle_for = spec.idle_timeout.unwrap_or(NEVER);
    let idle = tokio::time::sleep(idle_for);
    tokio::pin!(idle);
    let mut lease = job.lease.watch();
    let mut lease_open = true;
    let mut stopped: Option<Stop> = None;
    let mut streams_open = true;
    let mut question: Option<Question> = None;
    let status = loop {
        tokio::select! {
            line = lines.recv(), if streams_open => match line {
                None => streams_open = false,
                Some(line) => {
                    // any line is a sign of life
                    idle.as_mut().reset(tokio::time::Instant::now() + idle_for);
                    match line {
                        Line::Progress(p) => progress = Some(p),
                        Line::Usage(spent) => unsent_usage.add(spent),
                        Line::Heartbeat => {}
                        Line::Approval { question: text, timeout } => {
                            if spec.asks_approval && question.is_none() {
                                let run_ends = deadline.deadline();
                                question = Some(ask(&job, text, timeout, run_ends).await);
                                // neither the run nor silence counts while a person decides
                                let later = tokio::time::Instant::now() + NEVER;
                                deadline.as_mut().reset(later);
                                idle.as_mut().reset(later);
                            } else {
                                pending.push(format!(
                                    "approval request ignored (the agent is not marked \
                                     asksApproval, or it already waits for an answer): {text}"
                                ));
                            }
                        }
                        Line::Output(text) => pending.push(text),
                        Line::Stderr(text) => {
                            if stderr_tail.len() == STDERR_TAIL_LINES {
                                stderr_tail.pop_front();
                            }
                            stderr_tail.push_back(text.clone());
                            pending.push(text);
                        }
                    }
                }
            },
            _ = flush.tick() => {
                send_output(&job, &mut pending, &mut tail).await;
                if let Some(p) = progress.take() {
                    let _ = job.queue.progress(&job.id, job.token, p).await;
                }
                send_usage(&job, &mut unsent_usage).await;
                if let Some(asked) = question.take() {
                    match look_for_answer(&job, asked).await {
                        Asked::Waiting(asked) => question = Some(asked),
                        Asked::Answered { line, run_left } => {
                            let _ = control.write_all(format!("answer {line}\n").as_bytes()).await;
                            let now = tokio::time::Instant::now();
                            deadline.as_mut().reset(now + run_left);
                            idle.as_mut().reset(now + idle_for);
                        }
                        Asked::Unanswered(asked) => {
                            if stopped.is_none() {
                                stopped = Some(Stop::Unanswered(asked));
                                ask_to_stop(&mut control).await;
                            }
                        }
                    }
                }
            }
            changed = lease.changed(), if lease_open && stopped.is_none() => match changed {
                Ok(()) => {
                    let renewed = format!("lease {}\n", millis(guard_lease(&job.lease)));
                    let _ = control.write_all(renewed.as_bytes()).await;
                }
                Err(_) => lease_open = false,
            },
            status = child.wait(), if !streams_open || stopped.is_some() => break status,
            () = &mut deadline, if stopped.is_none() => {
                stopped = Some(Stop::TimedOut);
                ask_to_stop(&mut control).await;
            }
            () = &mut idle, if stopped.is_none() && streams_open => {
                stopped = Some(Stop::Idle(idle_for));
                ask_to_stop(&mut control).await;
            }
            () = job.stop.cancelled(), if stopped.is_none() => {
                stopped = Some(Stop::Asked);
                ask_to_stop(&mut control).await;
            }
        }
        if pending.len() >= LOG_BATCH_LINES {
            send_output(&job, &mut pending, &mut tail).await;
        }
    };
    // whatever the agent printed last still reaches the log
    send_output(&job, &mut pending, &mut tail).await;
    if let Some(p) = progress {
        let _ = job.queue.progress(&job.id, job.token, p).await;
    }
    // what it spent counts however the run ends
    send_usage(&job, &mut unsent_usage).await;
    // the end of the guard's input: it kills whatever of the agent's group is left
    drop(control);
    let result = match stdout {
        Some(reader) => reader.await.ok().flatten(),
        None => None,
    };
    match (stopped, status) {
        (Some(Stop::TimedOut), _) => {
            Outcome::Failed(format!("timed out after {} s", spec.timeout.as_secs()))
        }
        (Some(Stop::Unanswered(asked)), _) => {
            Outcome::FailedForGood(bounded::error_text(&format!(
                "no answer to the agent's approval request within {} s: {}",
                asked.timeout.as_secs(),
                asked.text
            )))
        }
        (Some(Stop::Idle(quiet)), _) => Outcome::Failed(format!(
            "idle timeout: the agent wrote nothing for {} s",
            quiet.as_secs()
        )),
        (Some(Stop::Asked), _) => Outcome::Cancelled,
        (None, Ok(status)) if status.success() => {
            let result = result.unwrap_or_else(|| serde_json::json!(tail.text()).to_string());
            Outcome::Completed(bounded::result_json(result, max_result))
        }
        (None, Ok(status)) => {
            let last = stderr_tail.back().map(String::as_str).unwrap_or_default();
            if status.code() == Some(guard::SPAWN_FAILED_CODE)
                && last.starts_with(guard::SPAWN_FAILED_PREFIX)
            {
                // a missing program will be missing on the next attempt too
                return Outcome::FailedForGood(bounded::error_text(last));
            }
            let tail: Vec<String> = stderr_tail.into_iter().collect();
            let error = format!("{status}\n{}", tail.join("\n"));
            Outcome::Failed(bounded::error_text(error.trim_end()))
        }
        (None, Err(err)) => Outcome::Failed(format!("waiting for the agent failed: {err}")),
    }
}

/// How long the guard may let the agent run without a renewal: what is left of the lease,
/// less a tenth, so that the agent is stopped before another worker may lease the job.
fn guard_lease(lease: &LeaseDeadline) -> Duration {
    let left = lease
        .until()
        .saturating_duration_since(tokio::time::Instant::now());
    left - left / 10
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

async fn ask_to_stop(control: &mut ChildStdin) {
    // a guard that cannot be told is gone already, and its agent with it
    let _ = control.write_all(b"stop\n").await;
}

/// Reads stdout as the agent protocol until its end; answers the last result line's JSON.
/// A result line may be as long as the largest result; any other line is cut to
/// [`MAX_LINE_BYTES`].
async fn read_stdout(
    out: impl AsyncRead + Unpin,
    max_result: usize,
    lines: mpsc::Sender<Line>,
) -> Option<String> {
    let mut reader = BufReader::new(out);
    let mut result = None;
    // room for `{"result": ` around a result of the largest size
    let bound = max_result.saturating_add(1024);
    while let Ok(Some(raw)) = read_line(&mut reader, bound).await {
        let line = if raw.skipped > 0 {
            if raw.text.trim_start().starts_with("{\"result\"") {
                // a result too large to keep: a marked stand-in takes its place
                let size = raw.text.len() + raw.skipped;
                result = Some(bounded::stand_in(&raw.text, size, max_result));
            }
            Line::Output(raw.bounded(MAX_LINE_BYTES))
        } else {
            match parse_stdout(raw.text) {
                Parsed::Result(value) => {
                    result = Some(value);
                    // not output, but a sign of life all the same
                    Line::Heartbeat
                }
                Parsed::Line(line) => line,
            }
        };
        if lines.send(line).await.is_err() {
            break;
        }
    }
    result
}

async fn read_stderr(err: impl AsyncRead + Unpin, lines: mpsc::Sender<Line>) {
    let mut reader = BufReader::new(err);
    while let Ok(Some(raw)) = read_line(&mut reader, MAX_LINE_BYTES).await {
        if lines
            .send(Line::Stderr(raw.bounded(MAX_LINE_BYTES)))
            .await
            .is_err()
        {
            break;
        }
    }
}

enum Parsed {
    Line(Line),
    Result(String),
}

fn parse_stdout(line: String) -> Parsed {
    if let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str(&line) {
        if let Some(p) = map.get("progress").and_then(serde_json::Value::as_f64) {
            return Parsed::Line(Line::Progress(p.clamp(0.0, 100.0) as u8));
        }
        if let Some(serde_json::Value::String(log)) = map.remove("log") {
            return Parsed::Line(Line::Output(bounded::cut(log, MAX_LINE_BYTES)));
        }
        if let Some(result) = map.get("result") {
            return Parsed::Result(result.to_string());
        }
        if let Some(report) = map.get("usage")
            && let Some(spent) = Usage::from_report(report)
        {
            return Parsed::Line(Line::Usage(spent));
        }
        if map.get("heartbeat") == Some(&serde_json::Value::Bool(true)) {
            return Parsed::Line(Line::Heartbeat);
        }
        if let Some(asked) = map.get("approval")
            && let Some(text) = asked.get("question").and_then(serde_json::Value::as_str)
        {
            let timeout = asked
                .get("timeoutSecs")
                .and_then(serde_json::Value::as_f64)
                .filter(|secs| secs.is_finite() && *secs >= 1.0)
                .map_or(DEFAULT_APPROVAL_WAIT, |secs| {
                    Duration::from_secs_f64(secs.min(MAX_APPROVAL_WAIT.as_secs_f64()))
                });
            let text: String = text.chars().take(MAX_QUESTION_CHARS).collect();
            return Parsed::Line(Line::Approval {
                question: text,
                timeout,
            });
        }
    }
    Parsed::Line(Line::Output(bounded::cut(line, MAX_LINE_BYTES)))
}

/// Announces the agent's question to the job's rooms. A question Redis did not take cannot be
/// answered: it ends as unanswered once its time is up.
async fn ask(
    job: &RunningJob<'_>,
    text: String,
    timeout: Duration,
    run_ends: tokio::time::Instant,
) -> Question {
    if let Err(err) = job
        .queue
        .ask(&job.id, job.token, &text, timeout.as_secs())
        .await
    {
        tracing::warn!(job = %job.id, error = %err, "could not ask for approval");
    }
    let now = tokio::time::Instant::now();
    Question {
        text,
        timeout,
        answer_by: now + timeout,
        run_left: run_ends.saturating_duration_since(now),
    }
}

/// Where an open question stands on this tick.
enum Asked {
    /// Answered: `line` goes to the agent, and its run has `run_left` again.
    Answered {
        line: String,
        run_left: Duration,
    },
    Waiting(Question),
    Unanswered(Question),
}

async fn look_for_answer(job: &RunningJob<'_>, asked: Question) -> Asked {
    match job.queue.answer(&job.id).await {
        Ok(Some(answer)) => Asked::Answered {
            line: serde_json::json!({
                "approved": answer.decision == Decision::Approved,
                "comment": answer.comment,
            })
            .to_string(),
            run_left: asked.run_left,
        },
        _ if tokio::time::Instant::now() >= asked.answer_by => Asked::Unanswered(asked),
        // not yet (or Redis did not answer: looked at again on the next tick)
        _ => Asked::Waiting(asked),
    }
}

/// Adds what the agent spent since the last report to the job's totals.
async fn send_usage(job: &RunningJob<'_>, unsent: &mut Usage) {
    if unsent.is_zero() {
        return;
    }
    match job.queue.usage(&job.id, job.token, *unsent).await {
        Ok(_) => *unsent = Usage::default(),
        Err(err) => {
            tracing::warn!(job = %job.id, error = %err, "could not record usage");
            // kept for the next report only when Redis surely did not add it (refused the
            // connection): a lost reply may have been applied, and a report Redis rejected
            // (a sum past 2^63) always would be, so neither is sent again
            if err.may_have_run() || !err.is_connection_error() {
                *unsent = Usage::default();
            }
        }
    }
}

async fn send_output(job: &RunningJob<'_>, pending: &mut Vec<String>, tail: &mut Tail) {
    if pending.is_empty() {
        return;
    }
    if let Err(err) = job.queue.log(&job.id, job.token, pending).await {
        tracing::warn!(job = %job.id, error = %err, "could not send output lines");
    }
    for line in pending.drain(..) {
        tail.push(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Line {
        match parse_stdout(line.to_owned()) {
            Parsed::Line(line) => line,
            Parsed::Result(result) => panic!("a result: {result}"),
        }
    }

    #[test]
    fn usage_and_heartbeat_lines_are_understood_and_bad_reports_are_output() {
        let report = r#"{"usage": {"inputTokens": 7, "outputTokens": 3, "costUsd": 0.5}}"#;
        assert!(matches!(
            parsed(report),
            Line::Usage(Usage {
                input_tokens: 7,
                output_tokens: 3,
                cost_micro_usd: 500_000
            })
        ));
        assert!(matches!(parsed(r#"{"heartbeat": true}"#), Line::Heartbeat));
        // a report that would lower the spend is not one: it stays visible as output
        let lowering = r#"{"usage": {"costUsd": -1}}"#;
        assert!(matches!(parsed(lowering), Line::Output(text) if text == lowering));
        assert!(matches!(parsed(r#"{"heartbeat": "yes"}"#), Line::Output(_)));
    }

    #[test]
    fn an_approval_request_has_a_bounded_question_and_wait() {
        let asked = parsed(r#"{"approval": {"question": "deploy?", "timeoutSecs": 90}}"#);
        assert!(matches!(
            asked,
            Line::Approval { question, timeout } if question == "deploy?" && timeout.as_secs() == 90
        ));
        let long = format!(
            r#"{{"approval": {{"question": "{}", "timeoutSecs": 1e12}}}}"#,
            "x".repeat(5000)
        );
        assert!(matches!(
            parsed(&long),
            Line::Approval { question, timeout }
                if question.len() == MAX_QUESTION_CHARS && timeout == MAX_APPROVAL_WAIT
        ));
        let unnamed_wait = parsed(r#"{"approval": {"question": "ok?", "timeoutSecs": -5}}"#);
        assert!(matches!(
            unnamed_wait,
            Line::Approval { timeout, .. } if timeout == DEFAULT_APPROVAL_WAIT
        ));
        assert!(matches!(
            parsed(r#"{"approval": {"timeoutSecs": 5}}"#),
            Line::Output(_)
        ));
    }
}

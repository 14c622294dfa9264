//! Each job's private directory (0700): the agent's working directory and `TMPDIR`, and where
//! its MCP config lives. It is removed when the job's run ends, however it ends (the guard
//! below is dropped on completion, failure, cancel, timeout and abort alike), and at start a
//! worker sweeps what workers that died left behind.
//!
//! Layout: `<root>/<worker>-<run>/<job>-<attempt>/`: each run of a worker claims a directory of
//! its own (two workers never share one, whatever their names), with a `pid` file naming its
//! process, so a sweep can tell a dead worker's directories from a live one's.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use agentq_domain::JobId;

/// A job's directory; removed with everything in it when dropped.
#[derive(Debug)]
pub struct JobDir {
    path: PathBuf,
}

impl JobDir {
    /// Makes `<worker_dir>/<job>-<attempt>` (0700), in the directory the worker claimed.
    pub fn create(worker_dir: &Path, job: &JobId, attempt: u32) -> std::io::Result<Self> {
        let path = worker_dir.join(format!("{job}-{attempt}"));
        // a directory left by an earlier run of the same attempt goes first
        let _ = std::fs::remove_dir_all(&path);
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `name` in the directory, readable by the worker's user only.
    pub fn write_private(&self, name: &str, contents: &[u8]) -> std::io::Result<PathBuf> {
        let path = self.path.join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        file.write_all(contents)?;
        Ok(path)
    }
}

impl Drop for JobDir {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_dir_all(&self.path)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.path.display(), error = %err, "cannot remove a job directory");
        }
    }
}

/// A directory name for `worker` under the root; a name cannot escape it.
fn safe_name(worker: &str) -> String {
    let safe: String = worker
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.starts_with('.') {
        format!("_{safe}")
    } else {
        safe
    }
}

/// At a worker's start: claims a directory of this run's own under `root`
/// (`<worker>-<run id>`, with a `pid` file), and removes the directories of workers whose
/// process is gone (their `pid` names no running process). A directory with no `pid` yet may
/// belong to a worker starting right now: it is left alone until it is a minute old. Answers
/// the claimed directory and how many others were removed.
pub fn sweep_and_claim(root: &Path, worker: &str) -> std::io::Result<(PathBuf, usize)> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)?;
    let own = root.join(format!("{}-{}", safe_name(worker), JobId::new()));
    std::fs::DirBuilder::new().mode(0o700).create(&own)?;
    std::fs::write(own.join("pid"), std::process::id().to_string())?;
    let mut removed = 0;
    for entry in std::fs::read_dir(root)?.flatten() {
        let dir = entry.path();
        if dir == own || is_live_or_starting(&dir) {
            continue;
        }
        // another worker may sweep it at the same moment: its failure is no reason to stop
        if std::fs::remove_dir_all(&dir).is_ok() {
            removed += 1;
        }
    }
    Ok((own, removed))
}

fn is_live_or_starting(dir: &Path) -> bool {
    match std::fs::read_to_string(dir.join("pid")) {
        Ok(pid) => pid
            .trim()
            .parse::<u32>()
            .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists()),
        Err(_) => std::fs::metadata(dir)
            .and_then(|meta| meta.modified())
            .is_ok_and(|at| at.elapsed().is_ok_and(|age| age.as_secs() < 60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch() -> PathBuf {
        std::env::temp_dir().join(format!("agentq-workdir-test-{}", JobId::new()))
    }

    #[test]
    fn a_job_dir_is_private_and_gone_when_dropped() {
        let root = scratch();
        let (own, _) = sweep_and_claim(&root, "w1").expect("claim");
        let dir = JobDir::create(&own, &JobId::new(), 1).expect("dir");
        let mode = std::fs::metadata(dir.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let file = dir.write_private("mcp.json", b"{}").expect("file");
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let path = dir.path().to_owned();
        drop(dir);
        assert!(!path.exists());
        std::fs::remove_dir_all(&root).expect("cleanup");
    }

    #[test]
    fn a_sweep_removes_dead_workers_and_keeps_live_ones_even_of_the_same_name() {
        let root = scratch();
        let (first, _) = sweep_and_claim(&root, "w1").expect("claim");
        let kept = JobDir::create(&first, &JobId::new(), 1).expect("live job");
        // a worker that died: its pid file names no process
        let dead = root.join("dead-run");
        std::fs::create_dir_all(dead.join("job-1")).expect("dead");
        std::fs::write(dead.join("pid"), "999999999").expect("pid");
        // a second worker of the same name, in the same process, claims a directory of its own
        let (second, removed) = sweep_and_claim(&root, "w1").expect("sweep");
        assert_ne!(first, second);
        assert_eq!(removed, 1);
        assert!(!dead.exists());
        assert!(kept.path().exists());
        drop(kept);
        std::fs::remove_dir_all(&root).expect("cleanup");
    }

    #[test]
    fn a_worker_name_cannot_escape_the_root() {
        assert_eq!(safe_name("../../etc"), "_.._.._etc");
        assert_eq!(safe_name("a/b"), "a_b");
    }
}

use std::collections::HashMap;
use std::time::Duration;

use agentq_domain::JobState;
use serde_json::Value;

use crate::stack::Stack;

crate::on_sqlite_and_mariadb!(
    kill_9_of_a_worker_mid_run_loses_nothing,
    &[("AGENTQ_LOCK_DURATION_MS", "1000")],
    kill_9_of_a_worker_mid_run_loses_nothing_scenario
);

async fn kill_9_of_a_worker_mid_run_loses_nothing_scenario(mut stack: Stack) {
    let (_, task) = stack.project("Apollo").await;
    let agent = stack.agent(r#"sleep 0.3; echo '{"result": "done"}'"#).await;
    let mut events = stack.events(0, &stack.admin_token).await;
    events.subscribe("notifications", None).await;
    let mut jobs = Vec::new();
    for _ in 0..20 {
        jobs.push(stack.queue(task, agent).await);
    }
    // kill a worker once it has started jobs
    let mut started = 0;
    while started < 4 {
        if events.next().await["event"] == "agent_job_started" {
            started += 1;
        }
    }
    stack.workers[0].1.kill_9();

    let mut completed: HashMap<String, usize> = HashMap::new();
    while completed.len() < jobs.len() {
        let frame: Value = events.next().await;
        if frame["event"] == "agent_job_completed" {
            let job = frame["data"]["jobId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            *completed.entry(job).or_default() += 1;
        }
    }
    // nothing completes twice, even later
    let late = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            let frame = events.next().await;
            if frame["event"] == "agent_job_completed" {
                return frame;
            }
        }
    })
    .await;
    assert!(late.is_err(), "a job completed twice: {late:?}");
    for job in &jobs {
        assert_eq!(completed.get(job), Some(&1), "{job}");
        stack.wait_for_row(job, JobState::Completed).await;
    }
}

crate::on_sqlite_and_mariadb!(
    clients_resuming_after_a_broadcaster_restart_miss_nothing,
    &[],
    clients_resuming_after_a_broadcaster_restart_miss_nothing_scenario
);

async fn clients_resuming_after_a_broadcaster_restart_miss_nothing_scenario(mut stack: Stack) {
    let (project, task) = stack.project("Apollo").await;
    let agent = stack.agent(r#"echo '{"result": 1}'"#).await;
    let room = format!("project:{project}");
    let mut client = stack.events(0, &stack.admin_token).await;
    client.subscribe(&room, None).await;
    let first = stack.queue(task, agent).await;
    let frames = client.until(&first, "agent_job_completed").await;
    let last_id = frames.last().expect("frame")["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let (port, mut broadcaster) = stack.broadcasters.remove(0);
    assert!(
        broadcaster.terminate().success(),
        "{} stopped cleanly",
        broadcaster.name
    );
    drop(client);
    let mut missed = Vec::new();
    for _ in 0..3 {
        let job = stack.queue(task, agent).await;
        stack.wait_for_status(&job, "completed").await;
        missed.push(job);
    }
    let index = stack.start_broadcaster_on(port).await;
    let mut back = stack.events(index, &stack.admin_token).await;
    back.subscribe(&room, Some(&last_id)).await;
    let replayed = back
        .until(missed.last().expect("job"), "agent_job_completed")
        .await;
    let mut per_job: HashMap<&str, Vec<&str>> = HashMap::new();
    for frame in &replayed {
        per_job
            .entry(frame["data"]["jobId"].as_str().unwrap_or_default())
            .or_default()
            .push(frame["event"].as_str().unwrap_or_default());
    }
    assert!(
        !per_job.contains_key(first.as_str()),
        "nothing before lastEventId"
    );
    for job in &missed {
        assert_eq!(
            per_job.get(job.as_str()).map(Vec::as_slice),
            Some(
                &[
                    "agent_job_queued",
                    "agent_job_started",
                    "agent_job_completed"
                ][..]
            ),
            "{job}"
        );
    }
}

/// On a Redis Cluster of its own, the master that holds the queue is killed (`kill -9`) while
/// jobs run; its replica takes over. Every job completes, each agent ran exactly once (the
/// agents write their job ids to a file, so a second run shows even if its events were lost),
/// and SQL holds every outcome.
#[tokio::test(flavor = "multi_thread")]
async fn a_redis_master_killed_mid_run_loses_no_job_and_runs_none_twice() {
    let mut cluster = agentq_test_support::OwnCluster::start();
    let url = cluster.url();
    // leases long enough to outlast the failover (about 2 s here), short enough that one
    // whose cycle failed outright (the master died under it) expires within the test
    let stack = Stack::on_sqlite(&[
        ("REDIS_URL", url.as_str()),
        ("AGENTQ_LOCK_DURATION_MS", "10000"),
    ])
    .await;
    let runs = std::env::temp_dir().join(format!(
        "agentq-failover-{}.runs",
        agentq_domain::JobId::new()
    ));
    let (_, task) = stack.project("Apollo").await;
    let agent = stack
        .agent(&format!(
            r#"head -n 1 | grep -o '"jobId":"[^"]*"' >> {}; sleep 0.2; echo '{{"result": "done"}}'"#,
            runs.display()
        ))
        .await;
    let mut jobs = Vec::new();
    for _ in 0..40 {
        jobs.push(stack.queue(task, agent).await);
    }
    // kill the queue's master once some jobs have run and others still wait
    let ran = |file: &std::path::Path| {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let deadline = tokio::time::Instant::now() + crate::stack::PATIENCE;
    while ran(&runs) < 5 {
        assert!(tokio::time::Instant::now() < deadline, "no job ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let queue = stack.setting("AGENTQ_QUEUE").expect("queue name");
    let master = cluster.master_of(&format!("aq:{{{queue}}}:wait"));
    cluster.kill(master);
    assert!(
        ran(&runs) < jobs.len(),
        "every job ran before the kill: nothing was tested"
    );

    for job in &jobs {
        stack.wait_for_row(job, JobState::Completed).await;
    }
    cluster.wait_until_healthy();
    assert_ne!(
        cluster.master_of(&format!("aq:{{{queue}}}:wait")),
        master,
        "a replica took over"
    );
    let log = std::fs::read_to_string(&runs).expect("runs file");
    let _ = std::fs::remove_file(&runs);
    let mut per_job: HashMap<String, usize> = HashMap::new();
    for line in log.lines() {
        *per_job.entry(line.to_owned()).or_default() += 1;
    }
    for job in &jobs {
        let key = format!(r#""jobId":"{job}""#);
        assert_eq!(
            per_job.get(&key),
            Some(&1),
            "{job} ran {:?} times",
            per_job.get(&key)
        );
    }
}

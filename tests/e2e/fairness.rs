//! Fair share between projects, end to end: a project that queued 1,000 slow jobs does not hold
//! back another project's 10, which take turns with them from where the queue is.

use reqwest::Method;
use serde_json::json;

use crate::stack::Stack;

crate::on_sqlite_and_mariadb!(
    a_projects_backlog_does_not_hold_back_another_projects_jobs,
    &[("AGENTQ_CONCURRENCY", "2")],
    fairness_scenario
);

async fn fairness_scenario(stack: Stack) {
    let (_, busy_task) = stack.project("Backlog").await;
    let (_, small_task) = stack.project("Small").await;
    let slow = stack.agent("sleep 2").await;
    let quick = stack.agent(r#"echo '{"result": "quick"}'"#).await;

    // 1,000 slow jobs, submitted 25 at a time; two workers run 2 each (4 at once)
    let submit = |task: i64, agent: i64| {
        stack.call(
            Method::POST,
            "/api/agent-execution/queue",
            Some(&stack.admin_token),
            Some(json!({"taskId": task, "agentId": agent})),
        )
    };
    for _ in 0..40 {
        let replies =
            futures_util::future::join_all((0..25).map(|_| submit(busy_task, slow))).await;
        for (status, reply) in replies {
            assert!(status.is_success(), "{reply}");
        }
    }
    let mut small = Vec::new();
    for _ in 0..10 {
        small.push(stack.queue(small_task, quick).await);
    }
    // first in, first out would start them after the 1,000 (some 500 s at 4 × 2 s at a time);
    // taking turns, each of them is at most a few leases away
    for job in &small {
        let done = stack.wait_for_status(job, "completed").await;
        assert_eq!(done["result"], "quick");
    }
    let (_, waiting) = stack
        .get(
            "/api/agent-execution/jobs?state=waiting&limit=500",
            &stack.admin_token,
        )
        .await;
    assert!(
        waiting["data"]
            .as_array()
            .is_some_and(|jobs| jobs.len() >= 400),
        "most of the backlog still waits: the small project did not wait for it"
    );
}

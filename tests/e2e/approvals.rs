//! A human in the loop, end to end with real agent processes: a job of an agent that requires
//! approval waits until a project member approves (it runs) or rejects it (cancelled); a
//! running agent asks mid-run and reads the answer on stdin; an unanswered question fails the
//! job. Members of other projects cannot decide.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::stack::Stack;

async fn decide(
    stack: &Stack,
    job: &str,
    what: &str,
    token: &str,
    comment: &str,
) -> (StatusCode, Value) {
    stack
        .call(
            Method::POST,
            &format!("/api/agent-execution/jobs/{job}/{what}"),
            Some(token),
            Some(json!({"comment": comment})),
        )
        .await
}

/// A new member of `project`, signed in: their token.
async fn member_of(stack: &Stack, project: i64) -> String {
    let email = format!(
        "member-{}@e2e.example",
        agentq_domain::JobId::new().as_uuid().simple()
    );
    let user = stack
        .post(
            "/api/users",
            json!({"email": email, "password": "member-password", "role": "member"}),
        )
        .await;
    let user_id = user["data"]["id"].as_i64().expect("id");
    stack
        .post(
            &format!("/api/projects/{project}/members"),
            json!({"userId": user_id}),
        )
        .await;
    stack.login(&email, "member-password").await
}

crate::on_sqlite_and_mariadb!(
    a_held_job_runs_once_approved_and_ends_cancelled_when_rejected,
    &[],
    approval_before_the_run_scenario
);

async fn approval_before_the_run_scenario(stack: Stack) {
    let (project, task) = stack.project("Gated").await;
    let (elsewhere, _) = stack.project("Elsewhere").await;
    let member = member_of(&stack, project).await;
    let outsider = member_of(&stack, elsewhere).await;
    let gated = stack
        .agent_with(
            r#"echo '{"result": "ran"}'"#,
            json!({"requiresApproval": true}),
        )
        .await;
    let mut events = stack.events(0, &stack.admin_token).await;
    events.subscribe("notifications", None).await;

    let approved = stack.queue_held(task, gated).await;
    events.until(&approved, "agent_job_awaiting_approval").await;
    let row = stack
        .wait_for_row(&approved, agentq_domain::JobState::AwaitingApproval)
        .await;
    assert!(row.started_at.is_none(), "held: no worker took it");
    let held = stack.wait_for_status(&approved, "awaiting_approval").await;
    assert_eq!(held["progress"], 0);

    // a member of another project cannot see it, so cannot decide on it
    let (status, _) = decide(&stack, &approved, "approve", &outsider, "me?").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // a member of its project can
    let (status, reply) = decide(&stack, &approved, "approve", &member, "looks safe").await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["data"]["status"], "waiting");
    let frames = events.until(&approved, "agent_job_completed").await;
    let approval = frames
        .iter()
        .find(|f| f["event"] == "agent_job_approved")
        .expect("an approved event");
    assert_eq!(approval["data"]["comment"], "looks safe");
    assert_eq!(approval["data"]["duringRun"], false);
    let done = stack.wait_for_status(&approved, "completed").await;
    assert_eq!(done["result"], "ran");
    // deciding twice is a conflict
    let (status, _) = decide(&stack, &approved, "reject", &stack.admin_token, "late").await;
    assert_eq!(status, StatusCode::CONFLICT);

    let rejected = stack.queue_held(task, gated).await;
    events.until(&rejected, "agent_job_awaiting_approval").await;
    let (status, reply) =
        decide(&stack, &rejected, "reject", &stack.admin_token, "not today").await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["data"]["status"], "cancelled");
    let frames = events.until(&rejected, "agent_job_rejected").await;
    assert_eq!(
        frames.last().expect("rejected")["data"]["status"],
        "cancelled"
    );
    let row = stack
        .wait_for_row(&rejected, agentq_domain::JobState::Cancelled)
        .await;
    assert!(row.started_at.is_none(), "a rejected job never ran");
    let (_, details) = stack
        .get(
            &format!("/api/agent-execution/jobs/{rejected}/details"),
            &stack.admin_token,
        )
        .await;
    assert!(
        details.to_string().contains("not today"),
        "the comment is in the job's activity: {details}"
    );
}

crate::on_sqlite_and_mariadb!(
    a_running_agent_asks_and_reads_the_answer_on_stdin,
    &[],
    approval_during_the_run_scenario
);

async fn approval_during_the_run_scenario(stack: Stack) {
    let (_, task) = stack.project("Asking").await;
    // reads its job, asks, then reads the answer and makes it its result
    let asker = stack
        .agent_with(
            r#"read job
echo '{"approval": {"question": "delete the staging database?", "timeoutSecs": 60}}'
read answer
echo "{\"result\": $answer}""#,
            json!({"asksApproval": true, "idleTimeoutSecs": 1}),
        )
        .await;
    let mut events = stack.events(0, &stack.admin_token).await;
    events.subscribe("notifications", None).await;

    for (verdict, approved) in [("approve", true), ("reject", false)] {
        let job = stack.queue(task, asker).await;
        let frames = events.until(&job, "agent_job_awaiting_approval").await;
        let asked = frames.last().expect("asked");
        assert_eq!(asked["data"]["question"], "delete the staging database?");
        assert_eq!(asked["data"]["timeoutSecs"], 60);
        assert_eq!(asked["data"]["status"], "active");
        // longer than the agent's 1 s idle timeout: waiting for a person does not count
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let (status, reply) = decide(&stack, &job, verdict, &stack.admin_token, "ok by me").await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["data"]["status"], "active");
        let done = stack.wait_for_status(&job, "completed").await;
        assert_eq!(
            done["result"],
            json!({"approved": approved, "comment": "ok by me"}),
            "the agent read the answer on stdin"
        );
    }

    // nobody answers in time: the job fails with the question as its reason
    let impatient = stack.agent_with(
        r#"read job; echo '{"approval": {"question": "may I?", "timeoutSecs": 1}}'; read answer; echo "{\"result\": 1}""#,
        json!({"asksApproval": true}),
    )
    .await;
    let job = stack.queue(task, impatient).await;
    let failed = stack.wait_for_status(&job, "failed").await;
    let error = failed["lastError"].as_str().expect("error");
    assert!(
        error.contains("no answer") && error.contains("may I?"),
        "{error}"
    );
}

use agentq_domain::Priority;
use agentq_queue::NewJob;

use crate::helpers::*;

#[tokio::test]
async fn leases_by_priority_then_in_enqueue_order() {
    let queue = queue();
    let mut expected = Vec::new();
    let plan = [
        Priority::Low,
        Priority::Medium,
        Priority::Critical,
        Priority::Low,
        Priority::High,
        Priority::Critical,
        Priority::Medium,
    ];
    let mut added = Vec::new();
    for (i, priority) in plan.into_iter().enumerate() {
        let id = add(&queue, NewJob::new(format!("{i}")).priority(priority)).await;
        added.push((priority, i, id));
    }
    added.sort_by_key(|(priority, i, _)| (*priority, *i));
    expected.extend(added.iter().map(|(_, _, id)| *id));

    let mut leased = Vec::new();
    // in uneven batches, to show that batching keeps the order
    for n in [2, 1, 3, 5] {
        leased.extend(lease(&queue, "w", n).await.into_iter().map(|j| j.id));
    }
    assert_eq!(leased, expected);
}

#[tokio::test]
async fn a_leased_job_carries_its_payload_and_routing() {
    let queue = queue();
    let mut job = NewJob::new(r#"{"taskId":4}"#).priority(Priority::High);
    job.project = Some(7.try_into().expect("id"));
    job.task = Some(4.try_into().expect("id"));
    job.max_attempts = Some(5);
    let id = add(&queue, job).await;
    let leased = lease(&queue, "w", 10).await;
    assert_eq!(leased.len(), 1);
    let job = &leased[0];
    assert_eq!(job.id, id);
    assert_eq!(job.payload, r#"{"taskId":4}"#);
    assert_eq!(job.priority, Priority::High);
    assert_eq!(job.project.map(|p| p.get()), Some(7));
    assert_eq!(job.task.map(|t| t.get()), Some(4));
    assert_eq!((job.attempts_made, job.max_attempts), (0, 5));
    assert_eq!(job.token.0, 1);
}

#[tokio::test]
async fn concurrent_enqueues_each_get_their_own_answer() {
    let queue = queue();
    let jobs: Vec<NewJob> = (0..300).map(|i| NewJob::new(format!("{i}"))).collect();
    // every job twice, at once: the calls share script calls, each still learns whether its
    // job was new, and exactly one of each pair added it
    let calls: Vec<_> = jobs
        .iter()
        .chain(jobs.iter())
        .map(|job| {
            let (queue, job) = (queue.clone(), job.clone());
            tokio::spawn(async move { (job.id, queue.enqueue(&job).await.expect("enqueue")) })
        })
        .collect();
    let mut added = std::collections::HashMap::new();
    for call in calls {
        let (id, new) = call.await.expect("task");
        *added.entry(id).or_insert(0) += usize::from(new);
    }
    assert_eq!(added.len(), 300);
    assert!(added.values().all(|n| *n == 1), "one add per job");
    assert_eq!(queue.counts().await.expect("counts").waiting, 300);
}

#[tokio::test]
async fn enqueue_is_idempotent_on_the_job_id() {
    let queue = queue();
    let job = NewJob::new("first");
    assert!(queue.enqueue(&job).await.expect("enqueue"));
    let mut again = job.clone();
    again.payload = "second".into();
    assert!(!queue.enqueue(&again).await.expect("enqueue"));
    let batch = queue
        .enqueue_batch(&[job.clone(), NewJob::new("other")])
        .await
        .expect("batch");
    assert_eq!(batch, [false, true]);

    assert_eq!(queue.counts().await.expect("counts").waiting, 2);
    let snapshot = queue.job(&job.id).await.expect("job").expect("exists");
    assert_eq!(snapshot.payload, "first");
    let queued = kinds_of(&queue, &job.id).await;
    assert_eq!(queued.len(), 1, "one queued event, not one per call");
}

fn of_project(project: i64, payload: String) -> NewJob {
    let mut job = NewJob::new(payload);
    job.project = Some(project.try_into().expect("id"));
    job
}

/// Fair share: project A queues 1,000 jobs, then project B queues 10. B's jobs take turns
/// with A's from where the queue is, instead of waiting behind all of A's; each project's
/// jobs keep their order; and a higher priority still goes first.
#[tokio::test]
async fn projects_take_turns_within_a_priority() {
    let queue = queue();
    let backlog: Vec<NewJob> = (0..1_000).map(|i| of_project(1, format!("a{i}"))).collect();
    for chunk in backlog.chunks(250) {
        queue.enqueue_batch(chunk).await.expect("enqueue");
    }
    // a few of A's run before B shows up
    let first: Vec<String> = lease(&queue, "w", 5)
        .await
        .into_iter()
        .map(|j| j.payload)
        .collect();
    assert_eq!(first, ["a0", "a1", "a2", "a3", "a4"]);
    for i in 0..10 {
        add(&queue, of_project(2, format!("b{i}"))).await;
    }
    add(
        &queue,
        of_project(1, "urgent".into()).priority(Priority::Critical),
    )
    .await;

    let mut order: Vec<String> = Vec::new();
    while order.len() < 40 {
        order.extend(lease(&queue, "w", 3).await.into_iter().map(|j| j.payload));
    }
    assert_eq!(order[0], "urgent", "priority first: {order:?}");
    let b_at: Vec<usize> = (0..10)
        .map(|i| {
            order
                .iter()
                .position(|p| *p == format!("b{i}"))
                .expect("b started")
        })
        .collect();
    // B's tenth job starts by the 22nd lease (A and B alternate), not after A's 995 others
    assert!(
        b_at.windows(2).all(|w| w[0] < w[1]),
        "B in order: {order:?}"
    );
    assert!(b_at[9] <= 22, "B's jobs take turns with A's: {order:?}");
    let a_seq: Vec<u32> = order
        .iter()
        .filter_map(|p| p.strip_prefix('a')?.parse().ok())
        .collect();
    assert!(
        a_seq.windows(2).all(|w| w[0] + 1 == w[1]),
        "A in order: {a_seq:?}"
    );
    assert_eq!(a_seq.first(), Some(&5), "A goes on where it was");
}

/// Weighted fair share: with both projects backlogged, one of weight 3 runs three jobs a round
/// where one of weight 1 runs one, each in its own order; a weight lowered later takes effect
/// from the next turn on.
#[tokio::test]
async fn a_project_of_weight_three_runs_three_jobs_a_round() {
    let queue = queue();
    let heavy = |i: usize| {
        let mut job = of_project(1, format!("h{i}"));
        job.weight = 3;
        job
    };
    let jobs: Vec<NewJob> = (0..12)
        .map(heavy)
        .chain((0..4).map(|i| of_project(2, format!("l{i}"))))
        .collect();
    queue.enqueue_batch(&jobs).await.expect("enqueue");
    let mut order: Vec<String> = Vec::new();
    while order.len() < 16 {
        order.extend(lease(&queue, "w", 4).await.into_iter().map(|j| j.payload));
    }
    let rounds: Vec<String> = order
        .chunks(4)
        .map(|round| round.iter().map(|p| &p[..1]).collect())
        .collect();
    assert_eq!(rounds, ["hhhl"; 4], "three of weight 3 to one: {order:?}");
    for prefix in ['h', 'l'] {
        let seq: Vec<u32> = order
            .iter()
            .filter_map(|p| p.strip_prefix(prefix)?.parse().ok())
            .collect();
        assert!(
            seq.windows(2).all(|w| w[0] < w[1]),
            "{prefix} in order: {seq:?}"
        );
    }

    // weight 1 from now on: the two take turns one for one
    let jobs: Vec<NewJob> = (0..4)
        .map(|i| of_project(1, format!("h{i}")))
        .chain((0..4).map(|i| of_project(2, format!("l{i}"))))
        .collect();
    queue.enqueue_batch(&jobs).await.expect("enqueue");
    let mut order: Vec<String> = Vec::new();
    while order.len() < 8 {
        order.extend(lease(&queue, "w", 2).await.into_iter().map(|j| j.payload));
    }
    let kinds: String = order.iter().map(|p| &p[..1]).collect();
    assert_eq!(kinds, "hlhlhlhl", "{order:?}");
}

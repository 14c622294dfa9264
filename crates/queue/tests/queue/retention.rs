use std::time::Duration;

use agentq_queue::{NewJob, Outcome, Retention};

use crate::helpers::*;

async fn complete_all(queue: &agentq_queue::Queue, n: usize) -> Vec<agentq_domain::JobId> {
    let jobs: Vec<NewJob> = (0..n).map(|i| NewJob::new(format!("{i}"))).collect();
    queue.enqueue_batch(&jobs).await.expect("enqueue");
    for job in lease(queue, "w", n).await {
        assert!(finish(queue, &job, Outcome::Completed("ok".into())).await);
    }
    jobs.into_iter().map(|j| j.id).collect()
}

#[tokio::test]
async fn keeps_only_the_newest_finished_jobs_by_count() {
    let mut config = config();
    config.keep_completed = Retention {
        age: Duration::from_secs(3600),
        count: 5,
    };
    let queue = queue_with(config);
    let ids = complete_all(&queue, 12).await;
    // trimming happens on the next call
    lease(&queue, "w", 1).await;
    assert_eq!(queue.counts().await.expect("counts").completed, 5);
    for (i, id) in ids.iter().enumerate() {
        let kept = queue.job(id).await.expect("job").is_some();
        assert_eq!(kept, i >= 7, "job {i}");
    }
}

#[tokio::test]
async fn drops_finished_jobs_older_than_the_age_limit_with_their_logs() {
    let mut config = config();
    config.keep_failed = Retention {
        age: Duration::from_millis(150),
        count: 1_000,
    };
    let queue = queue_with(config);
    let id = add(&queue, NewJob::new("{}")).await;
    let job = lease(&queue, "w", 1).await.remove(0);
    assert!(
        queue
            .log(&id, job.token, &["out".into()])
            .await
            .expect("log")
    );
    assert!(finish(&queue, &job, Outcome::FailedForGood("bad".into())).await);
    lease(&queue, "w", 1).await;
    assert!(queue.job(&id).await.expect("job").is_some(), "young: kept");

    tokio::time::sleep(Duration::from_millis(250)).await;
    lease(&queue, "w", 1).await;
    assert!(queue.job(&id).await.expect("job").is_none(), "old: dropped");
    assert!(queue.logs(&id).await.expect("logs").is_empty());
    assert_eq!(queue.counts().await.expect("counts").failed, 0);
}

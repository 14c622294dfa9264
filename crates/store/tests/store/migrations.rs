use agentq_migrations::SchemaManager;
use agentq_store::{Migrator, MigratorTrait};

use crate::helpers::TestDb;
use crate::on_every_backend;

const TABLES: [&str; 7] = [
    "users",
    "projects",
    "project_members",
    "tasks",
    "agents",
    "agent_jobs",
    "activity_log",
];

async fn tables_present(db: &agentq_store::Db) -> Vec<bool> {
    let manager = SchemaManager::new(db);
    let mut present = Vec::new();
    for table in TABLES {
        present.push(manager.has_table(table).await.expect("has_table"));
    }
    present
}

async fn migrations_go_up_down_and_up_again(test: TestDb) {
    Migrator::up(&test.db, None).await.expect("up");
    assert_eq!(tables_present(&test.db).await, [true; 7]);
    Migrator::down(&test.db, None).await.expect("down");
    assert_eq!(tables_present(&test.db).await, [false; 7]);
    Migrator::up(&test.db, None).await.expect("up again");
    assert_eq!(tables_present(&test.db).await, [true; 7]);
    // and the schema works after the round trip
    let f = crate::helpers::fixture(&test.db).await;
    agentq_store::insert_job(&test.db, crate::helpers::new_job(&f))
        .await
        .expect("insert");
    test.drop().await;
}

on_every_backend!(migrations_go_up_down_and_up_again);

use agentq_store::{AgentChanges, AgentEnv, AgentKind, NewAgent, NewUser, Role, Scope, StoreError};

use crate::helpers::{TestDb, fixture, user};
use crate::on_every_backend;

async fn users_are_unique_by_email_whatever_its_case(test: TestDb) {
    let test = test.migrated().await;
    let db = &test.db;
    let new = |email: &str| NewUser {
        email: email.into(),
        password_hash: "hash".into(),
        role: Role::Member,
    };
    let ann = agentq_store::create_user(db, new("Ann@Example.com"))
        .await
        .expect("user");
    assert_eq!(ann.email, "ann@example.com");
    let dup = agentq_store::create_user(db, new("ann@example.COM")).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let found = agentq_store::user_by_email(db, "ANN@example.com")
        .await
        .expect("find");
    assert_eq!(found.map(|u| u.id), Some(ann.id));
    assert_eq!(
        agentq_store::user_by_id(db, ann.id)
            .await
            .expect("find")
            .map(|u| u.role),
        Some(Role::Member)
    );
    assert!(
        !format!("{ann:?}").contains("hash"),
        "the hash stays out of Debug"
    );
    test.drop().await;
}

async fn members_see_only_their_projects_and_tasks(test: TestDb) {
    let test = test.migrated().await;
    let db = &test.db;
    let f = fixture(db).await;
    let other = agentq_store::create_project(db, "Other")
        .await
        .expect("project");
    let other_task = agentq_store::create_task(db, other.id, "O-1", "other")
        .await
        .expect("task");

    let admin_scope = agentq_store::scope_for(db, &f.admin).await.expect("scope");
    assert_eq!(admin_scope, Scope::All);
    assert_eq!(
        agentq_store::projects(db, &admin_scope)
            .await
            .expect("projects")
            .len(),
        2
    );

    let scope = agentq_store::scope_for(db, &f.member).await.expect("scope");
    let visible: Vec<_> = agentq_store::projects(db, &scope)
        .await
        .expect("projects")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(visible, [f.project.id]);
    assert!(
        agentq_store::project_by_id(db, &scope, other.id)
            .await
            .expect("project")
            .is_none()
    );
    assert!(
        agentq_store::task_by_id(db, &scope, other_task.id)
            .await
            .expect("task")
            .is_none()
    );
    assert_eq!(
        agentq_store::task_by_id(db, &scope, f.task.id)
            .await
            .expect("task")
            .map(|t| t.code),
        Some("DFO-1007".into())
    );
    assert!(
        agentq_store::tasks_of_project(db, &scope, other.id)
            .await
            .expect("tasks")
            .is_empty()
    );
    assert_eq!(
        agentq_store::tasks_of_project(db, &scope, f.project.id)
            .await
            .expect("tasks")
            .len(),
        1
    );

    // membership is idempotent, and removal takes effect at once
    agentq_store::add_member(db, f.project.id, f.member.id)
        .await
        .expect("again");
    assert!(
        agentq_store::remove_member(db, f.project.id, f.member.id)
            .await
            .expect("remove")
    );
    let scope = agentq_store::scope_for(db, &f.member).await.expect("scope");
    assert_eq!(scope, Scope::Projects(vec![]));
    assert!(
        agentq_store::projects(db, &scope)
            .await
            .expect("projects")
            .is_empty()
    );
    let stranger = user(db, Role::Member).await;
    let missing = agentq_store::add_member(
        db,
        agentq_domain::ProjectId::try_from(999_999).expect("id"),
        stranger.id,
    )
    .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    test.drop().await;
}

async fn agents_keep_their_command_and_settings(test: TestDb) {
    let test = test.migrated().await;
    let db = &test.db;
    let new = NewAgent {
        name: "reviewer".into(),
        kind: AgentKind::Command(vec!["python3".into(), "-m".into(), "review".into()]),
        timeout_secs: 60,
        max_concurrency: Some(1),
        idle_timeout_secs: None,
        requires_approval: false,
        asks_approval: false,
        env: AgentEnv::Plain([("MODE".to_owned(), "strict".to_owned())].into()),
    };
    let agent = agentq_store::create_agent(db, new.clone())
        .await
        .expect("agent");
    assert_eq!(agent.kind, new.kind);
    assert_eq!(agent.env, new.env);
    let http = agentq_store::create_agent(
        db,
        NewAgent {
            name: "remote".into(),
            kind: AgentKind::Http("https://agents.example.com/run".into()),
            max_concurrency: None,
            idle_timeout_secs: None,
            requires_approval: false,
            asks_approval: false,
            // the gateway's sealed form is kept as it came, and told apart from a plain one
            env: AgentEnv::Sealed("v1:c2VhbGVk".into()),
            ..new.clone()
        },
    )
    .await
    .expect("http agent");
    assert_eq!(
        agentq_store::agent_by_id(db, http.id).await.expect("find"),
        Some(http.clone())
    );
    assert_eq!(
        agentq_store::list_agents(db).await.expect("list"),
        [agent.clone(), http]
    );
    let dup = agentq_store::create_agent(db, new).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

    // changed in place: what is given changes, the rest stays; `Some(None)` lifts the limit
    let changed = agentq_store::update_agent(
        db,
        agent.id,
        AgentChanges {
            timeout_secs: Some(90),
            max_concurrency: Some(None),
            requires_approval: Some(true),
            env: Some(AgentEnv::Sealed("v1:bmV3".into())),
        },
    )
    .await
    .expect("update")
    .expect("the agent");
    assert_eq!(
        (
            changed.timeout_secs,
            changed.max_concurrency,
            changed.requires_approval
        ),
        (90, None, true)
    );
    assert_eq!(changed.env, AgentEnv::Sealed("v1:bmV3".into()));
    assert_eq!((&changed.name, &changed.kind), (&agent.name, &agent.kind));
    let unchanged = agentq_store::update_agent(db, agent.id, AgentChanges::default())
        .await
        .expect("update")
        .expect("the agent");
    assert_eq!(unchanged, changed);
    let missing =
        agentq_store::update_agent(db, 999_999.try_into().expect("id"), AgentChanges::default())
            .await
            .expect("update");
    assert_eq!(missing, None);
    test.drop().await;
}

on_every_backend!(
    users_are_unique_by_email_whatever_its_case,
    members_see_only_their_projects_and_tasks,
    agents_keep_their_command_and_settings,
);

use agentq_domain::{JobId, Priority};
use agentq_store::{
    Agent, AgentKind, Db, NewAgent, NewJobRecord, NewUser, Project, Role, Task, User,
};
use agentq_test_support::ScratchDatabase;

/// A database of the test's own.
pub struct TestDb {
    pub db: Db,
    /// The server database to drop afterwards.
    server: Option<ScratchDatabase>,
    file: Option<std::path::PathBuf>,
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let file = std::env::temp_dir().join(format!("agentq-store-{}.db", JobId::new()));
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let db = agentq_store::connect(&url).await.expect("sqlite");
        Self {
            db,
            server: None,
            file: Some(file),
        }
    }

    /// A fresh database on the server at the URL in `var`, or `None` when it is unset.
    pub async fn server(var: &str) -> Option<Self> {
        let scratch = ScratchDatabase::create(var, "agentq_t").await?;
        let db = agentq_store::connect(&scratch.url)
            .await
            .expect("test database");
        Some(Self {
            db,
            server: Some(scratch),
            file: None,
        })
    }

    pub async fn migrated(self) -> Self {
        agentq_store::migrate(&self.db).await.expect("migrate");
        self
    }

    pub async fn drop(self) {
        let Self { db, server, file } = self;
        let _ = db.close().await;
        if let Some(scratch) = server {
            scratch.drop().await;
        }
        if let Some(file) = file {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Runs each named `async fn(TestDb)` on SQLite, MariaDB and PostgreSQL, one test each.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::helpers::TestDb;

            #[tokio::test]
            async fn sqlite() {
                super::$name(TestDb::sqlite().await).await;
            }

            #[tokio::test]
            async fn mariadb() {
                if let Some(db) = TestDb::server("AGENTQ_TEST_MYSQL_URL").await {
                    super::$name(db).await;
                }
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(db) = TestDb::server("AGENTQ_TEST_POSTGRES_URL").await {
                    super::$name(db).await;
                }
            }
        }
    )*};
}

/// A project with one task, an agent, an admin and a member of the project.
pub struct Fixture {
    pub project: Project,
    pub task: Task,
    pub agent: Agent,
    pub admin: User,
    pub member: User,
}

pub async fn fixture(db: &Db) -> Fixture {
    let project = agentq_store::create_project(db, "Apollo")
        .await
        .expect("project");
    let task = agentq_store::create_task(db, project.id, "DFO-1007", "Create API endpoints")
        .await
        .expect("task");
    let agent = agentq_store::create_agent(
        db,
        NewAgent {
            name: format!("agent-{}", JobId::new()),
            kind: AgentKind::Command(vec!["/bin/true".into()]),
            timeout_secs: 1800,
            max_concurrency: Some(2),
            idle_timeout_secs: None,
            requires_approval: false,
            asks_approval: false,
            env: Default::default(),
        },
    )
    .await
    .expect("agent");
    let admin = user(db, Role::Admin).await;
    let member = user(db, Role::Member).await;
    agentq_store::add_member(db, project.id, member.id)
        .await
        .expect("member");
    Fixture {
        project,
        task,
        agent,
        admin,
        member,
    }
}

pub async fn user(db: &Db, role: Role) -> User {
    agentq_store::create_user(
        db,
        NewUser {
            email: format!("{}@example.com", JobId::new()),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            role,
        },
    )
    .await
    .expect("user")
}

pub fn new_job(f: &Fixture) -> NewJobRecord {
    NewJobRecord {
        job_id: JobId::new(),
        queue_name: "agent-execution".into(),
        task: f.task.id,
        task_code: f.task.code.clone(),
        agent: f.agent.id,
        project: f.project.id,
        priority: Priority::High,
        max_attempts: 3,
        job_data: serde_json::json!({"taskId": f.task.id.get(), "agentId": f.agent.id.get()}),
        queued_by: Some(f.admin.id),
        held: false,
    }
}

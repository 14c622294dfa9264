use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::*;

fn gateway(db_file: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_api-gateway"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AGENTQ_JWT_SECRET", JWT_SECRET)
        .env("AGENTQ_SECRET_KEY", SECRET_KEY)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", db_file.display()),
        );
    command
}

#[test]
fn migrate_user_create_and_token_work_from_the_command_line() {
    let file = std::env::temp_dir().join(format!("agentq-cli-{}.db", agentq_domain::JobId::new()));
    let out = gateway(&file).arg("migrate").output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut child = gateway(&file)
        .args([
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--password-stdin",
            "--admin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a long password\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ops@example.com (admin)"));

    let out = gateway(&file)
        .args(["token", "--email", "ops@example.com", "--ttl", "5m"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let jwt = agentq_api_gateway::auth::Jwt::new(JWT_SECRET.as_bytes());
    assert!(jwt.verify(&token).is_some(), "the printed token verifies");

    let out = gateway(&file)
        .args(["token", "--email", "nobody@example.com"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let _ = std::fs::remove_file(file);
}

#[test]
fn the_server_refuses_to_start_with_a_weak_secret() {
    let file = std::env::temp_dir().join(format!("agentq-cli-{}.db", agentq_domain::JobId::new()));
    let out = gateway(&file)
        .env("AGENTQ_JWT_SECRET", "short")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("AGENTQ_JWT_SECRET"), "{stderr}");
    assert!(
        !stderr.contains("short"),
        "the secret itself is not printed"
    );
    let out = gateway(&file)
        .env_remove("AGENTQ_JWT_SECRET")
        .output()
        .expect("run");
    assert!(!out.status.success());
}

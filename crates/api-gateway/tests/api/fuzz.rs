//! schemathesis, an OpenAPI fuzzer nobody here wrote, against the real gateway: every route of
//! the served document, with an administrator's token, every check it has. It finds nothing
//! when the document says exactly what the server enforces (lengths, enums, required and
//! nullable fields, unknown properties, methods) and no request makes a 500.
//!
//! Needs the `st` command (`pip install schemathesis`; `.ci/run` installs it).

use std::process::Stdio;
use std::time::Duration;

use crate::helpers::TestApp;

/// Examples per operation and phase: enough to try every rule of every field (about 2,500
/// requests); the whole run takes about fifteen seconds.
const EXAMPLES: &str = "100";

#[tokio::test]
async fn schemathesis_finds_nothing_the_document_does_not_say() {
    let app = TestApp::start().await;
    let run = tokio::process::Command::new("st")
        .args(["--no-color", "run"])
        .arg(app.url("/api/openapi.json"))
        .args([
            "--checks",
            "all",
            "--max-examples",
            EXAMPLES,
            "--workers",
            "2",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--seed", "1", "--generation-database", "none"])
        .args(["--suppress-health-check", "all"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {}", app.admin_token))
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run `st` (pip install schemathesis)");
    let output = tokio::time::timeout(Duration::from_secs(600), run.wait_with_output())
        .await
        .expect("schemathesis finished within 10 minutes")
        .expect("schemathesis ran");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("passed"), "{text}");
    app.stop().await;
}

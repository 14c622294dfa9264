//! The `agentq-mcp` command line: what a user gets wrong is refused with a clear error. Its
//! tools are tested end to end in tests/e2e/mcp.rs, which runs this binary too (an integration
//! test here is what makes `cargo test --workspace` build it).

use std::process::{Command, Output};

fn agentq_mcp(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentq-mcp"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("agentq-mcp runs")
}

fn refused_with(out: &Output, message: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted: {stderr}");
    assert!(stderr.contains(message), "{message:?} not in {stderr}");
}

#[test]
fn stdio_without_credentials_is_refused_naming_what_is_missing() {
    refused_with(&agentq_mcp(&[], &[]), "AGENTQ_TOKEN: missing");
}

#[test]
fn a_bad_command_line_gets_the_usage_or_the_address_it_could_not_read() {
    refused_with(&agentq_mcp(&["--bogus"], &[]), "usage: agentq-mcp");
    refused_with(
        &agentq_mcp(&["--http", "nowhere"], &[]),
        "--http: expected host:port",
    );
}

//! The dashboard and `/docs` in a real browser (headless Chromium over WebDriver) against the
//! whole stack: what a person sees and does, live, with nothing reloaded by hand.

use std::time::Duration;

use agentq_domain::JobState;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::stack::{ADMIN_EMAIL, ADMIN_PASSWORD, PATIENCE, Stack};

/// WebDriver's Enter key.
const ENTER: &str = "\u{E007}";

/// Logs in through the form, by keyboard: type, Tab-free (the field is focused), Enter.
async fn log_in(browser: &Browser, stack: &Stack, email: &str, password: &str) {
    browser.goto(&format!("{}/", stack.api)).await;
    browser.type_into("input[name=email]", email).await;
    browser
        .type_into("input[name=password]", &format!("{password}{ENTER}"))
        .await;
    browser.wait_for_text("#who", email).await;
}

/// A `command` agent running `sh -c script`, at most `max` jobs at once; its id.
async fn agent(stack: &Stack, name: &str, script: &str, max: u32) -> i64 {
    let agent = stack
        .post(
            "/api/agents",
            json!({"name": name, "kind": "command", "command": ["sh", "-c", script],
                   "timeoutSecs": 60, "maxConcurrency": max}),
        )
        .await;
    agent["data"]["id"].as_i64().expect("agent id")
}

#[tokio::test]
async fn an_admin_queues_a_job_from_the_page_and_watches_it_run_live() {
    // one job per worker: two blockers keep both workers busy until the test lets them go, so
    // the page sees its job queued before it runs
    let stack = Stack::for_browser(&[("AGENTQ_CONCURRENCY", "1")]).await;
    let (_, task) = stack.project("Apollo").await;
    let go = std::env::temp_dir().join(format!(
        "agentq-dashboard-go-{}",
        agentq_domain::JobId::new()
    ));
    let blocker = format!("while [ ! -e {} ]; do sleep 0.05; done", go.display());
    let blocker = agent(&stack, "blocker", &blocker, 5).await;
    let blockers = [
        stack.queue(task, blocker).await,
        stack.queue(task, blocker).await,
    ];
    for job in &blockers {
        stack.wait_for_status(job, "active").await;
    }
    let script = r#"sleep 0.5; echo '{"progress": 30}'; echo 'step one'; sleep 0.5;
        echo '{"progress": 70}'; echo 'step two'; sleep 0.5; echo '{"result": {"answer": 42}}'"#;
    let writer = agent(&stack, "writer", script, 5).await;

    let browser = Browser::start(1280, 900).await;
    browser.goto(&format!("{}/", stack.api)).await;
    // a wrong password: a clear error, still on the login form
    browser.type_into("input[name=email]", ADMIN_EMAIL).await;
    browser
        .type_into("input[name=password]", &format!("not the password{ENTER}"))
        .await;
    browser
        .wait_for_text(".login .error", "Wrong email or password")
        .await;
    log_in(&browser, &stack, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.wait_for_text("#live", "live").await;
    // the stylesheet passed the Content-Security-Policy
    assert_eq!(
        browser
            .js("return getComputedStyle(document.querySelector('header.top')).backgroundColor")
            .await,
        "rgb(13, 27, 62)"
    );

    browser.click("nav a[href='#/queue']").await;
    browser.select("select[name=project]", "Apollo").await;
    browser
        .select("select[name=taskId]", "Apollo-1 — task")
        .await;
    browser.select("select[name=agentId]", "writer").await;
    browser.select("select[name=priority]", "high").await;
    browser.click("form button[type=submit]").await;
    browser
        .wait_until(
            "the job's page",
            "return /^#\\/jobs\\/[0-9a-f-]{36}$/.test(location.hash) && !!document.querySelector('#job-state .badge')",
        )
        .await;
    // from here on, what the page shows is recorded as it changes; a reload would lose the
    // marker
    browser
        .js(r#"
            window.reloadMarker = 'still the same page';
            window.seen = {states: [], progress: [], stateAtFirstLine: null};
            const note = () => {
                const state = document.querySelector('#job-state .badge')?.dataset.state;
                const progress = document.getElementById('job-progress')?.value;
                const s = window.seen;
                if (state && s.states[s.states.length - 1] !== state) s.states.push(state);
                if (progress !== undefined && s.progress[s.progress.length - 1] !== progress) s.progress.push(progress);
                if (s.stateAtFirstLine === null && document.getElementById('job-output')?.textContent.includes('step one')) {
                    s.stateAtFirstLine = state;
                }
            };
            note();
            window.noter = setInterval(note, 10);
            return true;
        "#)
        .await;
    let job = browser
        .js("return location.hash.slice('#/jobs/'.length)")
        .await;
    let job = job.as_str().expect("job id").to_owned();
    // the workers are free to take it now
    std::fs::write(&go, "").expect("let the blockers end");
    browser
        .wait_until(
            "the job completed on the page",
            "return document.querySelector('#job-state .badge')?.dataset.state === 'completed'",
        )
        .await;
    browser.wait_for_text("#job-output", "step two").await;
    browser.wait_for_text("#job-result", "42").await;
    let seen = browser
        .js("clearInterval(window.noter); return [window.seen, window.reloadMarker]")
        .await;
    let (seen, marker) = (&seen[0], &seen[1]);
    assert_eq!(marker, "still the same page", "the page was reloaded");
    let states: Vec<&str> = seen["states"]
        .as_array()
        .expect("states")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        states,
        ["waiting", "active", "completed"],
        "the states the page showed, in order"
    );
    let progress: Vec<i64> = seen["progress"]
        .as_array()
        .expect("progress")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    for step in [30, 70, 100] {
        assert!(
            progress.contains(&step),
            "progress {step} shown: {progress:?}"
        );
    }
    assert_eq!(
        seen["stateAtFirstLine"], "active",
        "output lines appear while the job runs"
    );
    // what the page showed is what the API holds
    let held = stack.wait_for_status(&job, "completed").await;
    assert_eq!(held["priority"], "high", "{held}");
    browser
        .wait_for_text("#job-timeline", "Ended completed")
        .await;
    browser.screenshot("dashboard-job.png").await;
    let _ = std::fs::remove_file(&go);

    // the overview counts the three jobs (once the recorder has them in SQL, which the
    // counts read), and draws them in the last hour
    for job in blockers.iter().chain([&job]) {
        stack.wait_for_row(job, JobState::Completed).await;
    }
    browser.click("nav a[href='#/']").await;
    browser
        .wait_until(
            "three completed jobs counted",
            "return document.querySelector('[data-count=completed]')?.textContent === '3'",
        )
        .await;
    browser
        .wait_for_text(".chart", "3 completed, 0 failed")
        .await;
    browser.wait_for_text("#workers", "worker-1").await;
    browser.screenshot("dashboard-overview.png").await;
    // a job queued elsewhere shows up in the counts by itself
    browser
        .js("window.reloadMarker = 'overview'; return true")
        .await;
    stack.queue(task, writer).await;
    browser
        .wait_until(
            "the overview counting the fourth job without a reload",
            "return window.reloadMarker === 'overview' && document.querySelector('[data-count=completed]')?.textContent === '4'",
        )
        .await;

    // a phone's width: nothing wider than the screen (tables scroll inside their card)
    browser.fit_viewport(390, 844).await;
    for page in [
        "#/",
        &format!("#/jobs/{job}"),
        "#/jobs",
        "#/queue",
        "#/admin",
    ] {
        browser
            .js(&format!("location.hash = {page:?}; return true"))
            .await;
        browser
            .wait_until(
                &format!("{page} rendered at 390 px"),
                "return document.querySelectorAll('main h1').length === 1 && document.querySelector('main .muted, main table, main form') !== null",
            )
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let fits = browser
            .js("return document.documentElement.scrollWidth <= window.innerWidth")
            .await;
        assert_eq!(fits, true, "{page} is wider than 390 px");
    }
    browser.close().await;
}

/// A leaked key rotated from the admin page: a malformed line is refused before anything is
/// sent; the new variables are named in the table, their values nowhere on the page, and the
/// next job runs with them. A project's fair-share weight is changed there too.
#[tokio::test]
async fn an_admin_rotates_an_agents_key_and_weights_a_project_on_the_admin_page() {
    let stack = Stack::for_browser(&[]).await;
    let (_, task) = stack.project("Apollo").await;
    let keyed = stack
        .agent_with(
            r#"echo "key=$VENDOR_KEY""#,
            json!({"name": "keyed", "env": {"VENDOR_KEY": "old-browser-key"}}),
        )
        .await;

    let browser = Browser::start(1280, 900).await;
    log_in(&browser, &stack, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.click("nav a[href='#/admin']").await;
    let change = "form[aria-label='Change an agent']";
    browser
        .select(&format!("{change} select[name=agent]"), "keyed")
        .await;
    browser
        .type_into(&format!("{change} textarea[name=env]"), "no equals sign")
        .await;
    browser
        .click(&format!("{change} button[type=submit]"))
        .await;
    browser
        .wait_for_text(&format!("{change} .error"), "NAME=value expected")
        .await;
    browser
        .type_into(
            &format!("{change} textarea[name=env]"),
            "VENDOR_KEY=new-browser-key\nREGION=eu",
        )
        .await;
    browser
        .type_into(&format!("{change} input[name=maxConcurrency]"), "2")
        .await;
    browser
        .click(&format!("{change} button[type=submit]"))
        .await;
    browser
        .wait_until(
            "the agents table naming the new variables",
            "return [...document.querySelectorAll('main td')].some(td => td.textContent === 'REGION, VENDOR_KEY')",
        )
        .await;
    let page = browser
        .js("return document.documentElement.outerHTML")
        .await;
    assert!(!page.to_string().contains("browser-key"), "{page}");

    let weigh = "form[aria-label='Change a weight']";
    browser
        .select(&format!("{weigh} select[name=project]"), "Apollo")
        .await;
    browser
        .type_into(&format!("{weigh} input[name=weight]"), "4")
        .await;
    browser.click(&format!("{weigh} button[type=submit]")).await;
    browser
        .wait_until(
            "the projects table showing weight 4",
            "return [...document.querySelectorAll('main tr')].some(tr => tr.cells[1]?.textContent === 'Apollo' && tr.cells[2]?.textContent === '4')",
        )
        .await;
    browser.close().await;
    let (_, projects) = stack.get("/api/projects", &stack.admin_token).await;
    assert_eq!(projects["data"][0]["weight"], 4, "{projects}");

    let (_, agents) = stack.get("/api/agents", &stack.admin_token).await;
    let agent = agents["data"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["id"] == keyed))
        .cloned()
        .unwrap_or_default();
    assert_eq!(agent["maxConcurrency"], 2, "{agent}");
    let job = stack.queue(task, keyed).await;
    stack.wait_for_status(&job, "completed").await;
    let logs = stack.logs(&job).await;
    assert!(logs.to_string().contains("key=new-browser-key"), "{logs}");
}

#[tokio::test]
async fn cancelling_a_running_job_on_the_page_stops_its_agent() {
    let stack = Stack::for_browser(&[]).await;
    let (_, task) = stack.project("Apollo").await;
    let pid_file = std::env::temp_dir().join(format!(
        "agentq-dashboard-{}.pid",
        agentq_domain::JobId::new()
    ));
    let script = format!(
        "echo $$ > {}; echo 'working on it'; exec sleep 60",
        pid_file.display()
    );
    let agent_id = agent(&stack, "sleeper", &script, 5).await;
    let job = stack.queue(task, agent_id).await;

    let browser = Browser::start(1280, 900).await;
    log_in(&browser, &stack, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser
        .js(&format!("location.hash = '#/jobs/{job}'; return true"))
        .await;
    browser.wait_for_text("#job-output", "working on it").await;
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("the agent's pid")
        .trim()
        .parse()
        .expect("a pid");
    assert!(alive(pid), "the agent runs");
    browser.click("button.danger").await;
    browser
        .wait_until(
            "the job cancelled on the page",
            "return document.querySelector('#job-state .badge')?.dataset.state === 'cancelled'",
        )
        .await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while alive(pid) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent (pid {pid}) still runs after the cancel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stack.wait_for_status(&job, "cancelled").await;
    browser
        .wait_for_text("#job-timeline", "Cancelled by user")
        .await;
    let _ = std::fs::remove_file(&pid_file);
    browser.close().await;
}

/// Whether a process of that pid exists (and is not a zombie).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[tokio::test]
async fn a_member_sees_only_its_project_and_docs_list_the_routes() {
    let stack = Stack::for_browser(&[]).await;
    let (mine, my_task) = stack.project("Apollo").await;
    let (_, their_task) = stack.project("Gemini").await;
    let member = stack
        .post(
            "/api/users",
            json!({"email": "member@e2e.example", "password": "member-password", "role": "member"}),
        )
        .await;
    stack
        .post(
            &format!("/api/projects/{mine}/members"),
            json!({"userId": member["data"]["id"]}),
        )
        .await;
    let agent_id = agent(&stack, "quick", "echo done", 5).await;
    let my_job = stack.queue(my_task, agent_id).await;
    let their_job = stack.queue(their_task, agent_id).await;
    // the overview counts what SQL holds: wait for the recorder, not only for Redis
    stack.wait_for_row(&my_job, JobState::Completed).await;
    stack.wait_for_row(&their_job, JobState::Completed).await;

    let browser = Browser::start(1280, 900).await;
    log_in(&browser, &stack, "member@e2e.example", "member-password").await;
    assert_eq!(
        browser
            .js("return document.querySelector('[data-admin]').hidden")
            .await,
        true,
        "no admin link for a member"
    );
    browser.js("location.hash = '#/jobs'; return true").await;
    browser.find(&format!("tr[data-job='{my_job}']")).await;
    let rows = browser
        .js("return [...document.querySelectorAll('tr[data-job]')].map(r => r.dataset.job)")
        .await;
    assert_eq!(rows, json!([my_job]), "only the member's project's job");
    browser
        .wait_until(
            "one completed job counted on the overview",
            "location.hash = '#/'; return document.querySelector('[data-count=completed]')?.textContent === '1'",
        )
        .await;
    // another project's job is not found, as in the API
    browser
        .js(&format!(
            "location.hash = '#/jobs/{their_job}'; return true"
        ))
        .await;
    browser.wait_for_text("main h1", "Job not found").await;

    // /docs renders the OpenAPI document, offline, and lists the routes
    browser.goto(&format!("{}/docs", stack.api)).await;
    for route in [
        "/api/agent-execution/queue",
        "/api/agent-execution/jobs/{id}/details",
        "/api/agent-execution/stats",
    ] {
        browser.wait_for_text("#swagger-ui", route).await;
    }
    browser.click("button.authorize").await;
    browser.find(".auth-container input").await;
    browser.close().await;

    // served with a strict policy and revalidation
    let page = stack
        .http
        .get(format!("{}/", stack.api))
        .send()
        .await
        .expect("GET /");
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    let policy = headers["content-security-policy"].to_str().expect("policy");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    assert!(
        policy.contains(&format!("ws://127.0.0.1:{}", stack.broadcasters[0].0)),
        "{policy}"
    );
    assert_eq!(headers["cache-control"], "no-cache");
    let etag = headers["etag"].clone();
    let again = stack
        .http
        .get(format!("{}/", stack.api))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("GET / again");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let missing = stack
        .http
        .get(format!("{}/ui/../Cargo.toml", stack.api))
        .send()
        .await
        .expect("GET a file that is not there");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

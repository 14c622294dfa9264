//! A real browser for the dashboard's tests: the distribution's headless Chromium, driven over
//! WebDriver (its `chromedriver`) with fantoccini. Each test has a browser of its own, with an
//! empty profile; dropping it ends chromedriver and Chromium together (one process group).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::stack::{PATIENCE, free_port};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: std::path::PathBuf,
}

impl Browser {
    /// A headless Chromium with a window of `width` × `height` CSS pixels.
    pub async fn start(width: u32, height: u32) -> Self {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(path).exists(),
                "{path} is missing: the dashboard's tests need Debian's chromium and \
                 chromium-driver (`apt-get install chromium chromium-driver`; .ci/run does it)"
            );
        }
        let port = free_port();
        let driver = {
            use std::os::unix::process::CommandExt;
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // its own process group, so that Chromium goes with it
                .process_group(0)
                .spawn()
                .expect("chromedriver")
        };
        let profile = std::env::temp_dir().join(format!("agentq-chromium-{}", free_port()));
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            // this machine's network is closed: no calls home
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(err) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "no WebDriver session: {err}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        let browser = Self {
            client,
            driver,
            profile,
        };
        // the window size asked for is the page's viewport, whatever the browser's frame
        browser.fit_viewport(width, height).await;
        browser
    }

    /// Resizes the window so that the page's viewport is `width` × `height`.
    pub async fn fit_viewport(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("window size");
        let inner = self
            .js("return [window.innerWidth, window.innerHeight]")
            .await;
        let dw = width.saturating_sub(inner[0].as_u64().unwrap_or(0) as u32);
        let dh = height.saturating_sub(inner[1].as_u64().unwrap_or(0) as u32);
        if dw > 0 || dh > 0 {
            self.client
                .set_window_size(width + dw, height + dh)
                .await
                .expect("window size");
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("goto");
    }

    /// Runs `script` (a function body) in the page; what it returns.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.expect("clear");
        input.send_keys(text).await.expect("type");
    }

    pub async fn select(&self, css: &str, label: &str) {
        // the options come from the API: wait for the one wanted
        self.wait_until(
            &format!("option {label:?} in {css}"),
            &format!(
                "return [...document.querySelectorAll({css:?} + ' option')].some(o => o.textContent === {label:?})"
            ),
        )
        .await;
        self.find(css)
            .await
            .select_by_label(label)
            .await
            .expect("select");
    }

    /// Polls `script` until it returns `true`.
    pub async fn wait_until(&self, what: &str, script: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if self.js(script).await == Value::Bool(true) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited in vain for {what}; the page:\n{}",
                self.js("return document.body.innerText").await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the element matching `css` holds `needle`.
    pub async fn wait_for_text(&self, css: &str, needle: &str) {
        self.wait_until(
            &format!("{needle:?} in {css}"),
            &format!(
                "const e = document.querySelector({css:?}); return !!e && e.textContent.includes({needle:?})"
            ),
        )
        .await;
    }

    /// A PNG of the viewport, saved under `docs/` when `AGENTQ_UPDATE_SCREENSHOTS` is set
    /// (the README shows them), else in the temp folder.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = if std::env::var_os("AGENTQ_UPDATE_SCREENSHOTS").is_some() {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs")
        } else {
            std::env::temp_dir()
        };
        std::fs::write(dir.join(name), png).expect("save the screenshot");
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver and the Chromium it started share its process group
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

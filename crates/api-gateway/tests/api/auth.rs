use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn sign(claims: &Value, algorithm: Algorithm, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

fn claims(user: i64) -> Value {
    json!({"sub": user.to_string(), "iss": "agentq", "aud": "agentq-api", "exp": now() + 600, "nbf": now() - 1, "iat": now()})
}

#[tokio::test]
async fn every_protected_route_refuses_a_missing_token() {
    let app = TestApp::start().await;
    for (method, path) in [
        ("POST", "/api/agent-execution/queue"),
        (
            "GET",
            "/api/agent-execution/jobs/0191b3a0-0000-7000-8000-000000000000",
        ),
        (
            "POST",
            "/api/agent-execution/jobs/0191b3a0-0000-7000-8000-000000000000/cancel",
        ),
        (
            "POST",
            "/api/agent-execution/jobs/0191b3a0-0000-7000-8000-000000000000/retry",
        ),
        (
            "GET",
            "/api/agent-execution/jobs/0191b3a0-0000-7000-8000-000000000000/logs",
        ),
        ("GET", "/api/agent-execution/jobs"),
        ("GET", "/api/agent-execution/workers"),
        ("POST", "/api/users"),
        ("GET", "/api/projects"),
        ("POST", "/api/projects"),
        ("GET", "/api/agents"),
        ("POST", "/api/agents"),
    ] {
        let request = match method {
            "GET" => app.client.get(app.url(path)),
            _ => app.client.post(app.url(path)).json(&json!({})),
        };
        let (status, body) = read(request.send().await.expect("send")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(
            body,
            json!({"error": "Access token required"}),
            "{method} {path}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn tokens_that_do_not_verify_are_refused() {
    let app = TestApp::start().await;
    let id = app.admin.id.get();
    let secret = JWT_SECRET.as_bytes();
    let mut expired = claims(id);
    expired["exp"] = json!(now() - 120);
    let mut not_yet = claims(id);
    not_yet["nbf"] = json!(now() + 600);
    let mut wrong_audience = claims(id);
    wrong_audience["aud"] = json!("someone-else");
    let mut wrong_issuer = claims(id);
    wrong_issuer["iss"] = json!("evil");
    let mut unknown_user = claims(id);
    unknown_user["sub"] = json!("999999");
    let without = |name: &str| {
        let mut c = claims(id);
        c.as_object_mut().map(|o| o.remove(name));
        c
    };
    // alg "none": header {"alg":"none"}, no signature
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(id))
    );

    let bad_tokens = [
        (
            "wrong key",
            sign(
                &claims(id),
                Algorithm::HS256,
                b"another-secret-another-secret-another",
            ),
        ),
        (
            "other algorithm",
            sign(&claims(id), Algorithm::HS512, secret),
        ),
        ("expired", sign(&expired, Algorithm::HS256, secret)),
        ("not yet valid", sign(&not_yet, Algorithm::HS256, secret)),
        (
            "wrong audience",
            sign(&wrong_audience, Algorithm::HS256, secret),
        ),
        (
            "wrong issuer",
            sign(&wrong_issuer, Algorithm::HS256, secret),
        ),
        ("no exp", sign(&without("exp"), Algorithm::HS256, secret)),
        ("no aud", sign(&without("aud"), Algorithm::HS256, secret)),
        ("no sub", sign(&without("sub"), Algorithm::HS256, secret)),
        (
            "unknown user",
            sign(&unknown_user, Algorithm::HS256, secret),
        ),
        ("alg none", none),
        ("garbage", "not-a-jwt".into()),
    ];
    for (what, token) in bad_tokens {
        let (status, body) = app.get("/api/projects", &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(body, json!({"error": "Invalid or expired token"}), "{what}");
    }
    let good = sign(&claims(id), Algorithm::HS256, secret);
    assert_eq!(app.get("/api/projects", &good).await.0, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn login_gives_a_token_that_works_and_refuses_wrong_credentials() {
    let app = TestApp::start().await;
    let login = |email: String, password: &str| {
        let body = json!({"email": email, "password": password});
        let request = app.client.post(app.url("/api/auth/login")).json(&body);
        async move { read(request.send().await.expect("send")).await }
    };
    let (status, body) = login(app.member.email.to_uppercase(), PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["tokenType"], "Bearer");
    assert!(
        body["data"]["expiresAt"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
    );
    let token = body["data"]["token"].as_str().expect("token").to_owned();
    assert_eq!(app.get("/api/projects", &token).await.0, StatusCode::OK);

    for (email, password) in [
        (app.member.email.clone(), "wrong password"),
        ("nobody@example.com".to_owned(), PASSWORD),
    ] {
        let (status, body) = login(email, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, json!({"error": "Invalid credentials"}));
    }
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_email_takes_as_long_as_a_wrong_password() {
    let app = TestApp::start().await;
    let time = |email: String| {
        let body = json!({"email": email, "password": "wrong password"});
        let request = app.client.post(app.url("/api/auth/login")).json(&body);
        async move {
            let started = std::time::Instant::now();
            let status = request.send().await.expect("send").status();
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            started.elapsed()
        }
    };
    // both verify an argon2 hash; without the dummy hash an unknown email would answer in
    // well under a millisecond. The fastest of a few interleaved tries each: other tests share
    // the machine, and a pause can only make a try slower, never faster.
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        known.push(time(app.admin.email.clone()).await);
        unknown.push(time("ghost@example.com".into()).await);
    }
    let (known, unknown) = (known.iter().min(), unknown.iter().min());
    let (Some(known), Some(unknown)) = (known, unknown) else {
        panic!("no timings");
    };
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    assert!(ratio > 0.3, "unknown {unknown:?} vs known {known:?}");
    app.stop().await;
}

#[tokio::test]
async fn login_is_rate_limited_per_email() {
    let app = TestApp::start().await;
    let body = json!({"email": app.member.email, "password": "wrong password"});
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let res = app
            .client
            .post(app.url("/api/auth/login"))
            .json(&body)
            .send()
            .await
            .expect("send");
        statuses.push(res.status());
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
    app.stop().await;
}

async fn login_from(app: &TestApp, forwarded_for: &str, email: &str) -> StatusCode {
    app.client
        .post(app.url("/api/auth/login"))
        .header("X-Forwarded-For", forwarded_for)
        .json(&json!({"email": email, "password": "wrong password"}))
        .send()
        .await
        .expect("send")
        .status()
}

/// Logs in with wrong passwords as `next(i)` (forwarded-for, email) gives until the answer is
/// 429; how many were answered 401 before it. The limit is 30 a minute per client with a
/// burst of 30, refilled one every 2 s: on a slow machine (argon2 takes a while in a debug
/// build) a few more than 30 get through, but never a hundred.
async fn attempts_until_limited(app: &TestApp, next: impl Fn(usize) -> (String, String)) -> usize {
    for i in 0..100 {
        let (forwarded_for, email) = next(i);
        match login_from(app, &forwarded_for, &email).await {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => return i,
            other => panic!("try {i}: {other}"),
        }
    }
    panic!("never limited in 100 tries");
}

#[tokio::test]
async fn behind_a_trusted_proxy_login_limits_follow_the_forwarded_client() {
    let app = TestApp::start_with(&[("AGENTQ_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let allowed = attempts_until_limited(&app, |i| {
        ("198.51.100.1".to_owned(), format!("a{i}@example.com"))
    })
    .await;
    assert!(allowed >= 30, "the burst is 30: limited after {allowed}");
    let other = login_from(&app, "198.51.100.2", "late@example.com").await;
    assert_eq!(
        other,
        StatusCode::UNAUTHORIZED,
        "another client has its own limit"
    );
    app.stop().await;
}

#[tokio::test]
async fn without_a_trusted_proxy_a_forwarded_header_cannot_dodge_the_limit() {
    let app = TestApp::start().await;
    // a new forwarded address and email each time: only the real peer's limit can stop them
    let allowed = attempts_until_limited(&app, |i| {
        (format!("203.0.113.{i}"), format!("b{i}@example.com"))
    })
    .await;
    assert!(allowed >= 30, "the burst is 30: limited after {allowed}");
    app.stop().await;
}

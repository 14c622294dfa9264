use agentq_auth::Jwt;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::Harness;

/// The HTTP status the upgrade was refused with, or 101.
async fn status_of(url: String, headers: &[(&'static str, String)]) -> u16 {
    let mut request = url.into_client_request().expect("request");
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, value.parse().expect("header"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn the_upgrade_needs_a_valid_token_and_an_allowed_origin() {
    let h = Harness::new().await;
    let b = h.spawn(&[]).await;
    let token = h.token(&h.member);
    let bearer = ("authorization", format!("Bearer {token}"));

    assert_eq!(status_of(b.ws(), &[]).await, 401, "no token");
    let forged = Jwt::new(b"another-secret-that-is-long-enough-987654321")
        .issue(h.member.id, 60)
        .expect("token")
        .token;
    assert_eq!(
        status_of(b.ws(), &[("authorization", format!("Bearer {forged}"))]).await,
        401,
        "signed with another key"
    );
    assert_eq!(
        status_of(format!("{}?token=garbage", b.ws()), &[]).await,
        401,
        "not a token"
    );
    let foreign = ("origin", "https://evil.example".to_owned());
    assert_eq!(status_of(b.ws(), &[bearer.clone(), foreign]).await, 403);

    // non-browser clients send no Origin; browsers send an allowed one; ?token= works too
    assert_eq!(status_of(b.ws(), std::slice::from_ref(&bearer)).await, 101);
    let allowed = ("origin", "https://dashboard.example".to_owned());
    assert_eq!(status_of(b.ws(), &[bearer, allowed]).await, 101);
    assert_eq!(
        status_of(format!("{}?token={token}", b.ws()), &[]).await,
        101
    );

    let health = reqwest::get(b.http("/healthz")).await.expect("healthz");
    assert_eq!(health.status(), 200);
    let missing = reqwest::get(b.http("/nowhere")).await.expect("404");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_deleted_user_s_token_is_refused() {
    let h = Harness::new().await;
    let b = h.spawn(&[]).await;
    let ghost = Jwt::new(crate::helpers::SECRET.as_bytes())
        .issue(agentq_domain::UserId::try_from(999).expect("id"), 60)
        .expect("token")
        .token;
    assert_eq!(
        status_of(b.ws(), &[("authorization", format!("Bearer {ghost}"))]).await,
        401
    );
}

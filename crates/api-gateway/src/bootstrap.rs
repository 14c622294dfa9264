//! Start-up data: the admin named by `AGENTQ_ADMIN_EMAIL` / `AGENTQ_ADMIN_PASSWORD`, created
//! when absent (an existing user keeps their password).

use agentq_store::{NewUser, Role};

use crate::state::AppState;

pub async fn ensure_admin(state: &AppState) -> anyhow::Result<()> {
    let Some((email, password)) = &state.settings.admin else {
        return Ok(());
    };
    if agentq_store::user_by_email(&state.db, email)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let password_hash =
        crate::auth::hash_password(password.expose()).map_err(|e| anyhow::anyhow!("{e}"))?;
    agentq_store::create_user(
        &state.db,
        NewUser {
            email: email.clone(),
            password_hash,
            role: Role::Admin,
        },
    )
    .await?;
    tracing::info!(%email, "created the admin user");
    Ok(())
}

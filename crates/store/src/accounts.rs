//! Users. Passwords arrive already hashed (argon2, by the gateway); the store keeps the hash.

use std::fmt;

use agentq_domain::UserId;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::entities::users;
use crate::{Result, StoreError, now};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sees and manages everything.
    Admin,
    /// Sees the projects they are a member of.
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // the hash stays out of logs
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl TryFrom<users::Model> for User {
    type Error = StoreError;

    fn try_from(row: users::Model) -> Result<Self> {
        Ok(Self {
            id: UserId::try_from(row.id).map_err(|e| StoreError::InvalidData(e.to_string()))?,
            role: Role::parse(&row.role)
                .ok_or_else(|| StoreError::InvalidData(format!("role {:?}", row.role)))?,
            email: row.email,
            password_hash: row.password_hash,
        })
    }
}

#[derive(Clone)]
pub struct NewUser {
    pub email: String,
    pub password_hash: String,
    pub role: Role,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// Emails compare without case: `Ann@x.io` and `ann@x.io` are one user.
fn normalize(email: &str) -> String {
    email.trim().to_lowercase()
}

pub async fn create_user(db: &impl ConnectionTrait, new: NewUser) -> Result<User> {
    let at = now();
    let row = users::ActiveModel {
        email: Set(normalize(&new.email)),
        password_hash: Set(new.password_hash),
        role: Set(new.role.as_str().to_owned()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| StoreError::from(e).naming("user with this email"))?;
    row.try_into()
}

pub async fn user_by_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<User>> {
    users::Entity::find()
        .filter(users::Column::Email.eq(normalize(email)))
        .one(db)
        .await?
        .map(User::try_from)
        .transpose()
}

pub async fn user_by_id(db: &impl ConnectionTrait, id: UserId) -> Result<Option<User>> {
    users::Entity::find_by_id(id.get())
        .one(db)
        .await?
        .map(User::try_from)
        .transpose()
}

/// The most users one list returns.
pub const MAX_USERS: u64 = 1000;

/// Users by id, at most [`MAX_USERS`].
pub async fn list_users(db: &impl ConnectionTrait) -> Result<Vec<User>> {
    users::Entity::find()
        .order_by_asc(users::Column::Id)
        .limit(MAX_USERS)
        .all(db)
        .await?
        .into_iter()
        .map(User::try_from)
        .collect()
}

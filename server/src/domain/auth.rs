//! Who is calling and what they may do: roles (ordered), the authenticated actor of a service
//! call, and how it authenticated. Role checks happen in services through [`Actor::require`].

use std::fmt;
use std::str::FromStr;

use crate::error::AppError;

/// What a caller may do. Ordered: every role can do what the roles below it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AppError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(AppError::validation(format!(
                "unknown role {other:?} (expected viewer, operator or admin)"
            ))),
        }
    }
}

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    Session,
    ApiKey {
        key_id: i32,
    },
    /// The server itself (CLI commands, start-up tasks).
    System,
}

/// The authenticated caller of a service function.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i32>,
    pub username: String,
    pub role: Role,
    pub method: AuthMethod,
}

impl Actor {
    /// The server acting on its own behalf (CLI, start-up import): full rights.
    pub fn system() -> Self {
        Self {
            user_id: None,
            username: "system".into(),
            role: Role::Admin,
            method: AuthMethod::System,
        }
    }

    /// Fails with `FORBIDDEN` unless the actor has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "this action needs the {} role; you are {}",
                role.as_str().to_uppercase(),
                self.role.as_str().to_uppercase()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role) -> Actor {
        Actor {
            user_id: Some(1),
            username: "u".into(),
            role,
            method: AuthMethod::Session,
        }
    }

    #[test]
    fn require_allows_higher_roles_and_refuses_lower() {
        assert!(actor(Role::Admin).require(Role::Operator).is_ok());
        assert!(actor(Role::Operator).require(Role::Operator).is_ok());
        let err = actor(Role::Viewer)
            .require(Role::Operator)
            .expect_err("viewer");
        assert_eq!(err.code(), "FORBIDDEN");
    }

    #[test]
    fn role_parses_case_insensitively_and_rejects_unknown() {
        assert_eq!("ADMIN".parse::<Role>().expect("admin"), Role::Admin);
        assert!("root".parse::<Role>().is_err());
    }
}

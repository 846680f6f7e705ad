//! GraphQL over HTTP: `POST /graphql` with `application/json`.
//!
//! The session is an HttpOnly cookie set by the server; same-origin `fetch` sends it
//! automatically, so nothing here touches credentials.

use std::fmt;

use gloo_net::http::Request;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The GraphQL endpoint, same origin as the app.
pub const GRAPHQL_URL: &str = "/graphql";

/// An error shown to the user: the server's message and its stable `extensions.code`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub message: String,
    /// `UNAUTHENTICATED`, `FORBIDDEN`, `RATE_LIMITED`, … from the server; `NETWORK`,
    /// `HTTP_<status>` or `BAD_RESPONSE` when the request itself failed.
    pub code: Option<String>,
}

impl ApiError {
    fn new(message: impl Into<String>, code: &str) -> Self {
        Self {
            message: message.into(),
            code: Some(code.to_owned()),
        }
    }

    pub fn is_unauthenticated(&self) -> bool {
        self.code.as_deref() == Some("UNAUTHENTICATED")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} ({code})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

#[derive(Serialize)]
struct GraphQlRequest<'a> {
    query: &'a str,
    variables: Value,
}

#[derive(Deserialize)]
struct GraphQlResponse {
    data: Option<Value>,
    errors: Option<Vec<GraphQlError>>,
}

#[derive(Deserialize)]
struct GraphQlError {
    message: String,
    extensions: Option<ErrorExtensions>,
}

#[derive(Deserialize)]
struct ErrorExtensions {
    code: Option<String>,
}

/// Runs one GraphQL operation and decodes its `data` into `T`.
///
/// The first entry of `errors` wins (its message and `extensions.code`); a response that is
/// not GraphQL JSON becomes an `HTTP_<status>` or `BAD_RESPONSE` error.
pub async fn graphql<T: DeserializeOwned>(query: &str, variables: Value) -> Result<T, ApiError> {
    let body = GraphQlRequest { query, variables };
    let response = Request::post(GRAPHQL_URL)
        .header("Accept", "application/json")
        .json(&body)
        .map_err(|e| ApiError::new(format!("Could not encode the request: {e}"), "BAD_REQUEST"))?
        .send()
        .await
        .map_err(|_| ApiError::new("Cannot reach the server. Is it running?", "NETWORK"))?;

    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|_| ApiError::new("The server closed the connection.", "NETWORK"))?;

    let parsed: GraphQlResponse = match serde_json::from_str(&text) {
        Ok(parsed) => parsed,
        Err(_) if !(200..300).contains(&status) => {
            let reason = response.status_text();
            let message = if reason.is_empty() {
                format!("The server answered with HTTP {status}.")
            } else {
                format!("The server answered with HTTP {status} {reason}.")
            };
            return Err(ApiError::new(message, &format!("HTTP_{status}")));
        }
        Err(_) => return Err(bad_response()),
    };

    if let Some(first) = parsed.errors.and_then(|errors| errors.into_iter().next()) {
        return Err(ApiError {
            message: first.message,
            code: first.extensions.and_then(|x| x.code),
        });
    }
    match parsed.data {
        Some(data) => serde_json::from_value(data).map_err(|_| bad_response()),
        None => Err(ApiError::new(
            "The server sent neither data nor errors.",
            "BAD_RESPONSE",
        )),
    }
}

fn bad_response() -> ApiError {
    ApiError::new(
        "The server sent a response this app does not understand.",
        "BAD_RESPONSE",
    )
}

/// `enum Role { ADMIN OPERATOR VIEWER }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Admin,
    Operator,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Operator => "OPERATOR",
            Role::Viewer => "VIEWER",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The signed-in user (`User { id username role }`); `id` is a GraphQL `ID`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub role: Role,
}

const ME: &str = "query Me { me { id username role } }";
const LOGIN: &str = "mutation Login($u: String!, $p: String!) { \
                     login(username: $u, password: $p) { id username role } }";
const LOGOUT: &str = "mutation Logout { logout }";

#[derive(Deserialize)]
struct MeData {
    me: Option<User>,
}

#[derive(Deserialize)]
struct LoginData {
    login: User,
}

/// The current user, or `None` when not signed in.
pub async fn me() -> Result<Option<User>, ApiError> {
    graphql::<MeData>(ME, json!({})).await.map(|d| d.me)
}

/// Signs in; the server sets the session cookie.
pub async fn login(username: String, password: String) -> Result<User, ApiError> {
    graphql::<LoginData>(LOGIN, json!({ "u": username, "p": password }))
        .await
        .map(|d| d.login)
}

/// Ends the session on the server.
pub async fn logout() -> Result<(), ApiError> {
    graphql::<IgnoredAny>(LOGOUT, json!({})).await.map(|_| ())
}

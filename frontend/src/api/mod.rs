//! GraphQL over HTTP: `POST /graphql` with `application/json`, typed by the operations in
//! `frontend/graphql/*.graphql` (see `ops`), and the shared error type.
//!
//! The session is an HttpOnly cookie set by the server; same-origin `fetch` sends it
//! automatically, so nothing here touches credentials. An `UNAUTHENTICATED` answer calls the
//! hook installed by the app (session expired → back to sign-in).

pub mod de;
pub mod enums;
pub mod ops;
pub mod remote;
pub mod ws;

use std::future::Future;
use std::pin::Pin;

use std::cell::RefCell;
use std::fmt;

use gloo_net::http::Request;
use graphql_client::GraphQLQuery;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The GraphQL endpoint, same origin as the app.
pub const GRAPHQL_URL: &str = "/graphql";

/// An error shown to the user: the server's message and its stable `extensions.code`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub message: String,
    /// `UNAUTHENTICATED`, `FORBIDDEN`, `VALIDATION`, … from the server; `NETWORK`,
    /// `HTTP_<status>` or `BAD_RESPONSE` when the request itself failed.
    pub code: Option<String>,
    /// Where in the submitted YAML a `VALIDATION` error is (1-based), when the server says.
    pub line: Option<u64>,
    pub column: Option<u64>,
}

impl ApiError {
    pub fn new(message: impl Into<String>, code: &str) -> Self {
        Self {
            message: message.into(),
            code: Some(code.to_owned()),
            line: None,
            column: None,
        }
    }

    /// A message found by the app itself (a form left empty), without a code.
    pub fn local(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: None,
            line: None,
            column: None,
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

#[derive(Deserialize)]
struct GraphQlError {
    message: String,
    extensions: Option<ErrorExtensions>,
}

#[derive(Deserialize)]
struct ErrorExtensions {
    code: Option<String>,
    line: Option<u64>,
    column: Option<u64>,
}

impl From<GraphQlError> for ApiError {
    fn from(e: GraphQlError) -> Self {
        let ext = e.extensions;
        ApiError {
            message: e.message,
            code: ext.as_ref().and_then(|x| x.code.clone()),
            line: ext.as_ref().and_then(|x| x.line),
            column: ext.as_ref().and_then(|x| x.column),
        }
    }
}

thread_local! {
    static ON_UNAUTHENTICATED: RefCell<Option<Box<dyn Fn()>>> = const { RefCell::new(None) };
}

/// Installs what happens when the server says the caller is not signed in (any operation).
pub fn on_unauthenticated(hook: impl Fn() + 'static) {
    ON_UNAUTHENTICATED.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
}

fn notify_unauthenticated() {
    ON_UNAUTHENTICATED.with(|h| {
        if let Some(hook) = h.borrow().as_ref() {
            hook();
        }
    });
}

/// Runs one operation of `ops` and decodes its data.
pub async fn call<Q: GraphQLQuery>(variables: Q::Variables) -> Result<Q::ResponseData, ApiError>
where
    Q::ResponseData: DeserializeOwned,
{
    let data = run(body::<Q>(variables)).await?;
    de::from_value(data).map_err(|_| bad_response())
}

/// The request body of operation `Q` (for [`run`]).
pub fn body<Q: GraphQLQuery>(variables: Q::Variables) -> String {
    encode(&Q::build_query(variables))
}

/// Runs one request body and answers its data as JSON, undecoded: pages that read a few
/// fields read them from the value, and add no decoding code per operation. Not generic, and
/// boxed: every operation awaits this one future, so its code exists once in the wasm
/// (measured: inlined into each operation's future it cost ~1 KB per operation).
pub fn run(body: String) -> Pin<Box<dyn Future<Output = Result<Value, ApiError>>>> {
    Box::pin(async move {
        let result = post(body).await;
        if let Err(e) = &result
            && e.is_unauthenticated()
        {
            notify_unauthenticated();
        }
        result
    })
}

/// The request body of an operation (serialising our own variables cannot fail).
fn encode<B: Serialize>(body: &B) -> String {
    serde_json::to_string(body).unwrap_or_default()
}

/// A GraphQL answer: `data` stays a `Value` until the caller's type decodes it (measured:
/// one generic `from_value` per type makes a smaller wasm than decoding the text per type).
#[derive(Deserialize)]
struct GraphQlResponse {
    data: Option<Value>,
    errors: Option<Vec<GraphQlError>>,
}

/// The first entry of `errors` wins; otherwise `data`.
fn decode(text: &str) -> Result<Value, ApiError> {
    let parsed: GraphQlResponse = de::from_str(text).map_err(|_| bad_response())?;
    if let Some(first) = parsed.errors.and_then(|errors| errors.into_iter().next()) {
        return Err(first.into());
    }
    parsed
        .data
        .ok_or_else(|| ApiError::new("The server sent neither data nor errors.", "BAD_RESPONSE"))
}

/// Sends one request body; the answer's `data`, or its first error. Not generic, so the
/// request code exists once in the wasm whatever the number of operations.
async fn post(body: String) -> Result<Value, ApiError> {
    let response = Request::post(GRAPHQL_URL)
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .body(body)
        .map_err(|_| ApiError::new("The browser could not build the request.", "BAD_REQUEST"))?
        .send()
        .await
        .map_err(|_| ApiError::new("Cannot reach the server. Is it running?", "NETWORK"))?;

    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|_| ApiError::new("The server closed the connection.", "NETWORK"))?;

    match decode(&text) {
        Err(e) if e.code.as_deref() == Some("BAD_RESPONSE") && !(200..300).contains(&status) => {
            let reason = response.status_text();
            let message = if reason.is_empty() {
                format!("The server answered with HTTP {status}.")
            } else {
                format!("The server answered with HTTP {status} {reason}.")
            };
            Err(ApiError::new(message, &format!("HTTP_{status}")))
        }
        other => other,
    }
}

/// The error of a plain HTTP answer (`/api/…` routes answer errors in the GraphQL shape).
pub fn error_of_body(status: u16, text: &str) -> ApiError {
    let error = match decode(text) {
        Err(e) if e.code.as_deref() != Some("BAD_RESPONSE") => e,
        _ => ApiError::new(
            format!("The server answered with HTTP {status}."),
            &format!("HTTP_{status}"),
        ),
    };
    if error.is_unauthenticated() {
        notify_unauthenticated();
    }
    error
}

fn bad_response() -> ApiError {
    ApiError::new(
        "The server sent a response this app does not understand.",
        "BAD_RESPONSE",
    )
}

/// `enum Role { ADMIN OPERATOR VIEWER }`, shared by every operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Admin,
    Operator,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Operator => "OPERATOR",
            Role::Viewer => "VIEWER",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// OPERATOR and ADMIN run scans and edit configs.
    pub fn can_operate(self) -> bool {
        matches!(self, Role::Admin | Role::Operator)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `enum ScanStatus`, shared by every operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScanStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
    Interrupted,
}

impl ScanStatus {
    pub const ALL: [ScanStatus; 6] = [
        ScanStatus::Queued,
        ScanStatus::Running,
        ScanStatus::Completed,
        ScanStatus::Failed,
        ScanStatus::Cancelled,
        ScanStatus::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Queued => "QUEUED",
            ScanStatus::Running => "RUNNING",
            ScanStatus::Completed => "COMPLETED",
            ScanStatus::Failed => "FAILED",
            ScanStatus::Cancelled => "CANCELLED",
            ScanStatus::Interrupted => "INTERRUPTED",
        }
    }

    pub fn parse(s: &str) -> Option<ScanStatus> {
        ScanStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No more progress will come.
    pub fn is_terminal(self) -> bool {
        !matches!(self, ScanStatus::Queued | ScanStatus::Running)
    }
}

/// The signed-in user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub role: Role,
}

/// The current user, or `None` when not signed in.
pub async fn me() -> Result<Option<User>, ApiError> {
    // Not `call`: "not signed in" is an answer here, not an expired session.
    let data = post(encode(&ops::Me::build_query(ops::me::Variables))).await?;
    let data: ops::me::ResponseData = de::from_value(data).map_err(|_| bad_response())?;
    Ok(data.me.map(|u| User {
        id: u.id,
        username: u.username,
        role: u.role,
    }))
}

/// Signs in; the server sets the session cookie.
pub async fn login(username: String, password: String) -> Result<User, ApiError> {
    let vars = ops::login::Variables { username, password };
    let data = post(encode(&ops::Login::build_query(vars))).await?;
    let data: ops::login::ResponseData = de::from_value(data).map_err(|_| bad_response())?;
    Ok(User {
        id: data.login.id,
        username: data.login.username,
        role: data.login.role,
    })
}

/// The saved configs a form can pick from (the server's largest page, newest first).
pub async fn config_choices()
-> Result<Vec<ops::scan_configs::ScanConfigsScanConfigsEdgesNode>, ApiError> {
    call::<ops::ScanConfigs>(ops::scan_configs::Variables {
        first: Some(100),
        after: None,
    })
    .await
    .map(|d| d.scan_configs.edges.into_iter().map(|e| e.node).collect())
}

/// Queues a scan of a saved config; its id.
pub async fn start_config_scan(config_id: String) -> Result<String, ApiError> {
    let input = ops::start_scan::StartScanInput {
        config_id: Some(config_id),
        targets: None,
        ports: None,
        title: None,
    };
    call::<ops::StartScan>(ops::start_scan::Variables { input })
        .await
        .map(|d| d.start_scan.id)
}

/// Ends the session on the server.
pub async fn logout() -> Result<(), ApiError> {
    post(encode(&ops::Logout::build_query(ops::logout::Variables)))
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decode_keeps_code_line_and_column_of_the_first_error() {
        let body = json!({"data": null, "errors": [
            {"message": "sites: missing field", "extensions": {"code": "VALIDATION", "line": 3, "column": 5}},
            {"message": "second"}
        ]});
        let e = decode(&body.to_string()).expect_err("error");
        assert_eq!(e.code.as_deref(), Some("VALIDATION"));
        assert_eq!((e.line, e.column), (Some(3), Some(5)));
        assert_eq!(e.message, "sites: missing field");
    }

    #[test]
    fn decode_without_data_or_errors_is_bad_response() {
        let e = decode("{}").expect_err("error");
        assert_eq!(e.code.as_deref(), Some("BAD_RESPONSE"));
    }

    #[test]
    fn scan_status_terminal_and_parse_round_trip() {
        for s in ScanStatus::ALL {
            assert_eq!(ScanStatus::parse(s.as_str()), Some(s));
        }
        assert!(!ScanStatus::Running.is_terminal());
        assert!(!ScanStatus::Queued.is_terminal());
        assert!(ScanStatus::Completed.is_terminal());
        assert!(ScanStatus::Interrupted.is_terminal());
        assert!(Role::Operator.can_operate() && !Role::Viewer.can_operate());
    }
}

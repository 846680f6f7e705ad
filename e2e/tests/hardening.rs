//! Regression tests for the holes an API fuzzer and a hand-made abuse set found: unbounded
//! validation cost, websockets that kept a revoked identity, session fixation, revived
//! sessions, keys acting above their role, unlimited password guesses, uncapped and duplicate
//! subscriptions, NUL bytes and out-of-range integers reaching PostgreSQL, cacheable answers.

use e2e::{Backend, TestApp, both_backends, error_code, session_set_cookie, ws};
use serde_json::{Value, json};

/// `query{...F0} fragment F0 on Query{...F1 ...F1} … fragment Fn on Query{__typename}`.
fn doubling_fragments(n: usize) -> String {
    let mut q = String::from("query{...F0}");
    for i in 0..n {
        q.push_str(&format!(
            " fragment F{i} on Query{{...F{} ...F{}}}",
            i + 1,
            i + 1
        ));
    }
    q.push_str(&format!(" fragment F{n} on Query{{__typename}}"));
    q
}

#[tokio::test]
async fn fragment_bomb_is_refused_before_validation_when_signed_out() {
    let app = TestApp::spawn().await;
    let anonymous = app.client();
    // 2^30 selections once expanded: async-graphql's validation alone took minutes.
    let body = tokio::time::timeout(
        e2e::WAIT,
        app.gql(&anonymous, &doubling_fragments(30), json!({})),
    )
    .await
    .expect("answered in time");
    assert_eq!(error_code(&body), "VALIDATION", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("too many fields")),
        "{body}"
    );
    // 2,000 aliased logouts: refused as a whole, nothing written.
    let logouts: String = (0..2000).map(|i| format!("l{i}: logout ")).collect();
    let body = app
        .gql(&anonymous, &format!("mutation {{ {logouts} }}"), json!({}))
        .await;
    assert_eq!(error_code(&body), "VALIDATION", "{body}");
    let res = reqwest::get(format!("{}/healthz", app.base))
        .await
        .expect("healthz");
    assert!(res.status().is_success());
    app.stop().await;
}

/// An API key of a fresh user with `role`; returns (user id, token).
async fn user_key(app: &TestApp, username: &str, role: &str) -> (String, String) {
    let admin = app.admin().await;
    let body = app
        .gql(
            &admin,
            &format!(
                "mutation($u:String!){{ createUser(input:{{username:$u, password:\"long-enough-pw\", role:{role}}}){{ id }} }}"
            ),
            json!({ "u": username }),
        )
        .await;
    let id = body["data"]["createUser"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let user = app.login(username, "long-enough-pw").await;
    let body = app
        .gql(
            &user,
            "mutation{ createApiKey(input:{name:\"ws\"}){ token apiKey { id } } }",
            json!({}),
        )
        .await;
    let token = body["data"]["createApiKey"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    (id, token)
}

#[tokio::test]
async fn websocket_ends_when_its_key_is_revoked_or_its_user_disabled_or_demoted() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    // Revoked key: the socket closes with 4403 at once.
    let (_, token) = user_key(&app, "keyed", "ADMIN").await;
    let mut socket = ws::with_key(&app, &token).await;
    ws::subscribe_updates(&mut socket, "u1").await;
    let keys = app.gql(&admin, "{ apiKeys { id name } }", json!({})).await;
    let key_id = keys["data"]["apiKeys"]
        .as_array()
        .and_then(|k| k.iter().find(|k| k["name"] == "ws"))
        .map(|k| k["id"].clone())
        .expect("key listed");
    let body = app
        .gql(
            &admin,
            "mutation($id:ID!){ revokeApiKey(id:$id) }",
            json!({ "id": key_id }),
        )
        .await;
    assert_eq!(body["data"]["revokeApiKey"], true, "{body}");
    assert_eq!(ws::close_code(&mut socket).await, Some(4403));

    // Disabled user: its key's socket closes, and nothing more runs on it.
    let (user_id, token) = user_key(&app, "disabled-later", "ADMIN").await;
    let mut socket = ws::with_key(&app, &token).await;
    let body = app
        .gql(
            &admin,
            "mutation($id:ID!){ updateUser(id:$id, input:{disabled:true}){ disabled } }",
            json!({ "id": user_id }),
        )
        .await;
    assert_eq!(body["data"]["updateUser"]["disabled"], true, "{body}");
    ws::send(
        &mut socket,
        json!({ "id": "m1", "type": "subscribe", "payload": {
            "query": "mutation { createUser(input:{username:\"sneaky\", password:\"long-enough-pw\", role:ADMIN}){ id } }"
        }}),
    )
    .await;
    assert_eq!(ws::close_code(&mut socket).await, Some(4403));
    let users = app.gql(&admin, "{ users { username } }", json!({})).await;
    assert!(
        !users.to_string().contains("sneaky"),
        "the mutation ran on a revoked socket: {users}"
    );

    // Demoted user: the socket closes (it reconnects with its new role).
    let (user_id, token) = user_key(&app, "demoted-later", "OPERATOR").await;
    let mut socket = ws::with_key(&app, &token).await;
    app.gql(
        &admin,
        "mutation($id:ID!){ updateUser(id:$id, input:{role:VIEWER}){ role } }",
        json!({ "id": user_id }),
    )
    .await;
    assert_eq!(ws::close_code(&mut socket).await, Some(4403));
    app.stop().await;
}

#[tokio::test]
async fn websocket_of_a_session_ends_when_the_session_signs_out() {
    let app = TestApp::spawn().await;
    let cookie = ws::session_cookie(&app).await;
    let mut socket = ws::connect(
        &app.base,
        "graphql-transport-ws",
        Some(&app.base),
        Some(&cookie),
    )
    .await
    .expect("connect");
    let ack = ws::init(&mut socket, json!({})).await.expect("ack");
    assert_eq!(ack["type"], "connection_ack");
    ws::subscribe_updates(&mut socket, "u1").await;
    let res = reqwest::Client::new()
        .post(format!("{}/graphql", app.base))
        .header("Cookie", &cookie)
        .json(&json!({ "query": "mutation { logout }" }))
        .send()
        .await
        .expect("logout");
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["data"]["logout"], true, "{body}");
    assert_eq!(ws::close_code(&mut socket).await, Some(4403));
    app.stop().await;
}

#[tokio::test]
async fn websocket_caps_subscriptions_and_refuses_duplicate_ids() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.graphql.max_subscriptions_per_socket = 3;
    })
    .await
    .expect("app");
    let mut socket = ws::signed_in(&app).await;
    for id in ["a", "b", "c", "d"] {
        ws::subscribe_updates(&mut socket, id).await;
    }
    let refused = ws::next(&mut socket).await.expect("an answer");
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "d");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    // Completing one frees a place.
    ws::send(&mut socket, json!({ "id": "a", "type": "complete" })).await;
    ws::subscribe_updates(&mut socket, "e").await;
    // The protocol's rule: a second subscription under a live id closes with 4409.
    ws::subscribe_updates(&mut socket, "b").await;
    assert_eq!(ws::close_code(&mut socket).await, Some(4409));
    app.stop().await;
}

#[tokio::test]
async fn sign_in_always_gets_a_new_session_id_and_disable_ends_sessions_for_good() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let first = ws::session_cookie(&app).await;
    // Signing in again while that session is valid: a new id, and the old one is gone.
    let res = reqwest::Client::new()
        .post(format!("{}/graphql", app.base))
        .header("Cookie", &first)
        .json(&json!({
            "query": "mutation($u:String!,$p:String!){ login(username:$u, password:$p){ id } }",
            "variables": { "u": "admin", "p": e2e::ADMIN_PASSWORD }
        }))
        .send()
        .await
        .expect("login");
    let second = session_set_cookie(&res)
        .and_then(|c| c.split(';').next().map(str::to_owned))
        .expect("a new cookie");
    assert_ne!(first, second, "the session id must change at sign-in");
    let me = |cookie: String| {
        let base = app.base.clone();
        async move {
            let res = reqwest::Client::new()
                .post(format!("{base}/graphql"))
                .header("Cookie", cookie)
                .json(&json!({ "query": "{ me { username } }" }))
                .send()
                .await
                .expect("me");
            let body: Value = res.json().await.expect("json");
            body["data"]["me"]["username"].as_str().map(str::to_owned)
        }
    };
    assert_eq!(me(first).await, None, "the pre-login id must not work");
    assert_eq!(me(second.clone()).await.as_deref(), Some("admin"));

    // Disabled then enabled again: the sessions from before stay ended.
    let user = app.user_with_role("back-again", "OPERATOR").await;
    let users = app
        .gql(&admin, "{ users { id username } }", json!({}))
        .await;
    let id = users["data"]["users"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["username"] == "back-again"))
        .map(|u| u["id"].clone())
        .expect("listed");
    for disabled in [true, false] {
        let body = app
            .gql(
                &admin,
                "mutation($id:ID!,$d:Boolean!){ updateUser(id:$id, input:{disabled:$d}){ disabled } }",
                json!({ "id": id, "d": disabled }),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
    }
    let body = app.gql(&user, "{ me { username } }", json!({})).await;
    assert!(body["data"]["me"].is_null(), "revived session: {body}");
    app.stop().await;
}

#[tokio::test]
async fn a_key_acts_within_its_role_and_password_guesses_are_limited() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let create = |role: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            let body = app
                .gql(
                    admin,
                    &format!(
                        "mutation{{ createApiKey(input:{{name:\"{role}\", role:{role}}}){{ token apiKey {{ id }} }} }}"
                    ),
                    json!({}),
                )
                .await;
            let key = &body["data"]["createApiKey"];
            (
                key["apiKey"]["id"].as_str().expect("id").to_owned(),
                key["token"].as_str().expect("token").to_owned(),
            )
        }
    };
    let (admin_key, admin_token) = create("ADMIN").await;
    let (_, viewer_token) = create("VIEWER").await;
    let (status, body) = app
        .gql_bearer(
            &viewer_token,
            "mutation($id:ID!){ revokeApiKey(id:$id) }",
            json!({ "id": admin_key }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let (_, body) = app
        .gql_bearer(&admin_token, "{ me { username } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["me"]["username"], "admin",
        "the admin key still works"
    );

    // Wrong current passwords count like failed sign-ins: the sixth guess is refused unseen.
    let guess = "mutation{ changePassword(currentPassword:\"wrong-guess\", newPassword:\"another-long-one\") }";
    for _ in 0..5 {
        let (_, body) = app.gql_bearer(&viewer_token, guess, json!({})).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    }
    let (_, body) = app.gql_bearer(&viewer_token, guess, json!({})).await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    app.stop().await;
}

async fn edge_values_are_validation_errors(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |_| {}).await else {
        return;
    };
    let admin = app.admin().await;
    let anonymous = app.client();
    let body = app
        .gql(
            &anonymous,
            "mutation($u:String!){ login(username:$u, password:\"x\"){ id } }",
            json!({ "u": "\u{0}" }),
        )
        .await;
    assert_eq!(error_code(&body), "VALIDATION", "{body}");
    let body = app
        .gql(
            &anonymous,
            "mutation{ login(username:\"a\\u0000b\", password:\"x\"){ id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "VALIDATION", "{body}");
    let yaml =
        "title: NUL\nsites:\n  - name: \"bad\u{0}site\"\n    ips:\n      - address: 127.0.0.1\n";
    let body = app
        .gql(
            &admin,
            "mutation($y:String!){ createScanConfig(input:{yaml:$y}){ id } }",
            json!({ "y": yaml }),
        )
        .await;
    assert_eq!(error_code(&body), "VALIDATION", "{body}");

    // 32,766 repeats of one status: one bound value, an answer, not INTERNAL.
    let statuses = vec!["FAILED"; 32_766];
    let body = app
        .gql(
            &admin,
            "query($f:ScanFilter){ scans(filter:$f){ totalCount } }",
            json!({ "f": { "status": statuses } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["scans"]["totalCount"], 0);

    let body = app
        .gql(
            &admin,
            "{ scans { edges { node { hosts(first: -35136613317171) { totalCount } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "VALIDATION", "{body}");
    app.stop().await;
}

both_backends!(edge_values_are_validation_errors);

#[tokio::test]
async fn authenticated_answers_are_not_cached() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let res = admin
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": "{ me { username } }" }))
        .send()
        .await
        .expect("post");
    assert_eq!(
        res.headers().get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    let res = admin
        .get(format!("{}/api/scans/1/report.json", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(
        res.headers().get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    app.stop().await;
}

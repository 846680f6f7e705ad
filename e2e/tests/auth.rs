//! Sign-in, sessions, roles, API keys, rate limiting and the audit log, over real HTTP.

use e2e::{ADMIN_PASSWORD, TestApp, error_code};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

const LOGIN: &str =
    "mutation($u:String!,$p:String!){ login(username:$u, password:$p){ id username role } }";
const ME: &str = "{ me { username role } }";

#[tokio::test]
async fn login_sets_a_strict_httponly_cookie_and_me_returns_the_user() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let anon = app.gql(&client, ME, json!({})).await;
    assert!(anon["data"]["me"].is_null(), "{anon}");

    let res = client
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": LOGIN, "variables": { "u": "admin", "p": ADMIN_PASSWORD } }))
        .send()
        .await
        .expect("login");
    let cookie = e2e::session_set_cookie(&res).expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["data"]["login"]["role"], "ADMIN");

    let me = app.gql(&client, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["username"], "admin");
    app.stop().await;
}

#[tokio::test]
async fn each_login_gets_its_own_session_and_logout_deletes_it() {
    let app = TestApp::spawn().await;
    let first = app.admin().await;
    let second = app.admin().await;
    let db = app.db().await;
    let sessions = entity::session::Entity::find()
        .count(&db)
        .await
        .expect("count");
    assert_eq!(sessions, 2, "each sign-in gets its own session");
    // Two sign-ins never share a session: logging one out leaves the other signed in.
    let out = app.gql(&first, "mutation { logout }", json!({})).await;
    assert_eq!(out["data"]["logout"], true);
    let me_first = app.gql(&first, ME, json!({})).await;
    assert!(me_first["data"]["me"].is_null(), "{me_first}");
    let me_second = app.gql(&second, ME, json!({})).await;
    assert_eq!(me_second["data"]["me"]["username"], "admin");

    // The session row is gone from the database, so replaying the old cookie gives nothing.
    let sessions = entity::session::Entity::find()
        .count(&db)
        .await
        .expect("count");
    assert_eq!(sessions, 1, "only the second session remains");
    app.stop().await;
}

#[tokio::test]
async fn wrong_password_is_unauthenticated_and_audited() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let body = app
        .gql(
            &client,
            LOGIN,
            json!({ "u": "admin", "p": "wrong password" }),
        )
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    assert_eq!(body["errors"][0]["message"], "invalid username or password");
    let unknown = app
        .gql(
            &client,
            LOGIN,
            json!({ "u": "nobody", "p": "wrong password" }),
        )
        .await;
    assert_eq!(
        unknown["errors"][0]["message"],
        "invalid username or password"
    );

    let db = app.db().await;
    let failed = entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq("login.failed"))
        .count(&db)
        .await
        .expect("count");
    assert_eq!(failed, 2);
    app.stop().await;
}

#[tokio::test]
async fn login_is_rate_limited_per_account_after_repeated_failures() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for _ in 0..5 {
        let body = app
            .gql(&client, LOGIN, json!({ "u": "admin", "p": "guess-guess" }))
            .await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }
    // Even the right password is refused while the window lasts.
    let body = app
        .gql(&client, LOGIN, json!({ "u": "admin", "p": ADMIN_PASSWORD }))
        .await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    assert!(app.gql(&client, ME, json!({})).await["data"]["me"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn login_is_rate_limited_per_ip_across_accounts() {
    let app = e2e::TestApp::spawn_with(e2e::Backend::Sqlite, |s| {
        s.auth.login_max_failures_per_ip = 3
    })
    .await
    .expect("app");
    let client = app.client();
    for name in ["a1", "a2", "a3"] {
        let body = app
            .gql(&client, LOGIN, json!({ "u": name, "p": "guess-guess" }))
            .await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }
    let body = app
        .gql(&client, LOGIN, json!({ "u": "admin", "p": ADMIN_PASSWORD }))
        .await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    app.stop().await;
}

#[tokio::test]
async fn viewer_cannot_call_mutations_and_admin_only_queries() {
    let app = TestApp::spawn().await;
    let viewer = app.user_with_role("vera", "VIEWER").await;
    let yaml = "title: t\nsites:\n  - name: a\n    ips: [{address: 127.0.0.1}]\n";
    let body = app
        .gql(
            &viewer,
            "mutation($y:String!){ createScanConfig(input:{yaml:$y}){ id } }",
            json!({ "y": yaml }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let users = app.gql(&viewer, "{ users { username } }", json!({})).await;
    assert_eq!(error_code(&users), "FORBIDDEN");
    // Reading is fine.
    let list = app
        .gql(&viewer, "{ scanConfigs { totalCount } }", json!({}))
        .await;
    assert_eq!(list["data"]["scanConfigs"]["totalCount"], 0);
    // And nothing was created.
    let db = app.db().await;
    assert_eq!(
        entity::scan_config::Entity::find()
            .count(&db)
            .await
            .expect("count"),
        0
    );
    app.stop().await;
}

#[tokio::test]
async fn anonymous_callers_are_unauthenticated() {
    let app = TestApp::spawn().await;
    let body = app
        .gql(&app.client(), "{ scans { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    app.stop().await;
}

#[tokio::test]
async fn duplicate_username_is_a_conflict_and_weak_password_is_invalid() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let create = "mutation($u:String!,$p:String!){ createUser(input:{username:$u, password:$p, role:OPERATOR}){ id } }";
    let ok = app
        .gql(
            &admin,
            create,
            json!({ "u": "olga", "p": "long enough pw" }),
        )
        .await;
    assert!(ok["errors"].is_null(), "{ok}");
    let dup = app
        .gql(
            &admin,
            create,
            json!({ "u": "olga", "p": "long enough pw" }),
        )
        .await;
    assert_eq!(error_code(&dup), "CONFLICT");
    let weak = app
        .gql(&admin, create, json!({ "u": "oscar", "p": "short" }))
        .await;
    assert_eq!(error_code(&weak), "VALIDATION");
    let bad_name = app
        .gql(
            &admin,
            create,
            json!({ "u": "bad name; drop", "p": "long enough pw" }),
        )
        .await;
    assert_eq!(error_code(&bad_name), "VALIDATION");
    app.stop().await;
}

#[tokio::test]
async fn admin_can_disable_a_user_which_ends_their_access() {
    let app = TestApp::spawn().await;
    let olga = app.user_with_role("olga", "OPERATOR").await;
    let admin = app.admin().await;
    let users = app
        .gql(&admin, "{ users { id username } }", json!({}))
        .await;
    let id = users["data"]["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == "olga")
        .expect("olga")["id"]
        .clone();
    let body = app
        .gql(
            &admin,
            "mutation($id:ID!){ updateUser(id:$id, input:{disabled:true}){ disabled } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["updateUser"]["disabled"], true, "{body}");
    assert!(app.gql(&olga, ME, json!({})).await["data"]["me"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn api_key_works_once_shown_and_stops_when_revoked() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let created = app
        .gql(
            &admin,
            "mutation { createApiKey(input:{name:\"ci\", role:VIEWER}){ token apiKey { id role prefix } } }",
            json!({}),
        )
        .await;
    let token = created["data"]["createApiKey"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let id = created["data"]["createApiKey"]["apiKey"]["id"].clone();
    assert!(token.starts_with("ssk_"));
    assert!(
        token.starts_with(
            created["data"]["createApiKey"]["apiKey"]["prefix"]
                .as_str()
                .expect("prefix")
        )
    );

    let (status, me) = app.gql_bearer(&token, ME, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(me["data"]["me"]["username"], "admin");
    // The key is scoped to VIEWER even though its owner is an admin.
    let (_, forbidden) = app.gql_bearer(&token, "{ users { id } }", json!({})).await;
    assert_eq!(error_code(&forbidden), "FORBIDDEN");

    // Stored as a SHA-256 digest only.
    let db = app.db().await;
    let row = entity::api_key::Entity::find()
        .one(&db)
        .await
        .expect("query")
        .expect("row");
    assert_ne!(row.token_hash, token);
    assert_eq!(row.token_hash.len(), 64);

    let revoked = app
        .gql(
            &admin,
            "mutation($id:ID!){ revokeApiKey(id:$id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(revoked["data"]["revokeApiKey"], true);
    let (status, body) = app.gql_bearer(&token, ME, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .expect("msg")
            .contains("revoked")
    );

    let (status, garbage) = app.gql_bearer("ssk_not-a-real-key", ME, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&garbage), "UNAUTHENTICATED");
    app.stop().await;
}

#[tokio::test]
async fn expired_api_key_is_refused_and_past_expiry_cannot_be_created() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let past = app
        .gql(
            &admin,
            "mutation { createApiKey(input:{name:\"old\", expiresAt:\"2020-01-01T00:00:00Z\"}){ token } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&past), "VALIDATION");

    let created = app
        .gql(
            &admin,
            "mutation { createApiKey(input:{name:\"soon\", expiresAt:\"2999-01-01T00:00:00Z\"}){ token } }",
            json!({}),
        )
        .await;
    let token = created["data"]["createApiKey"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(app.gql_bearer(&token, ME, json!({})).await.0, 200);
    // Let the key's expiry pass (in the database, rather than waiting).
    use sea_orm::{ActiveModelTrait, Set};
    let db = app.db().await;
    let row = entity::api_key::Entity::find()
        .one(&db)
        .await
        .expect("query")
        .expect("row");
    let mut active: entity::api_key::ActiveModel = row.into();
    active.expires_at = Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1)));
    active.update(&db).await.expect("update");
    let (status, body) = app.gql_bearer(&token, ME, json!({})).await;
    assert_eq!(status, 401);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .expect("msg")
            .contains("expired")
    );
    app.stop().await;
}

#[tokio::test]
async fn api_key_cannot_have_more_rights_than_its_creator() {
    let app = TestApp::spawn().await;
    let viewer = app.user_with_role("vic", "VIEWER").await;
    let body = app
        .gql(
            &viewer,
            "mutation { createApiKey(input:{name:\"x\", role:ADMIN}){ token } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let own = app
        .gql(
            &viewer,
            "mutation { createApiKey(input:{name:\"x\"}){ apiKey { role } } }",
            json!({}),
        )
        .await;
    assert_eq!(own["data"]["createApiKey"]["apiKey"]["role"], "VIEWER");
    app.stop().await;
}

#[tokio::test]
async fn sign_ins_keys_and_config_changes_are_audited() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.gql(
        &admin,
        "mutation { createApiKey(input:{name:\"k\"}){ token } }",
        json!({}),
    )
    .await;
    let yaml = "title: audited\nsites:\n  - name: a\n    ips: [{address: 127.0.0.1}]\n";
    app.gql(
        &admin,
        "mutation($y:String!){ createScanConfig(input:{yaml:$y}){ id } }",
        json!({ "y": yaml }),
    )
    .await;
    let db = app.db().await;
    let actions: Vec<String> = entity::audit_log::Entity::find()
        .all(&db)
        .await
        .expect("audit")
        .into_iter()
        .map(|r| r.action)
        .collect();
    for expected in ["user.create", "login", "apikey.create", "config.create"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing in {actions:?}"
        );
    }
    app.stop().await;
}

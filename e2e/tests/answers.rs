//! Answers kept in memory (`graphql::answers`): a query that reads only COMPLETED scans is
//! answered again without executing, and never after the scan is gone, never when it read a
//! config (which can change), never for other root fields.

use e2e::{Backend, TestApp, both_backends};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

const PAGE: &str = "query($id:ID!){ scan(id:$id){ title status hosts(first: 5){ totalCount edges { cursor node { address ports { port state service { name } } } } } findings(first: 3) { totalCount edges { node { code } } } } }";
const WITH_CONFIG: &str = "query($id:ID!){ scan(id:$id){ title config { title } } }";
const YAML: &str = "title: Kept lab\nsites:\n  - name: Lab\n    ips:\n      - address: 127.0.0.1\n        expected: { ping: true, tcp_ports: [22] }\n";

/// (hits, misses) of the answer store, from /metrics.
async fn counts(app: &TestApp) -> (u64, u64) {
    (
        app.metric("sneakyscan_answer_cache_hits_total").await,
        app.metric("sneakyscan_answer_cache_misses_total").await,
    )
}

async fn import(app: &TestApp, client: &reqwest::Client, hosts: usize, config: &str) -> String {
    let res = client
        .post(format!("{}/api/imports?configId={config}", app.base))
        .header("Content-Type", "application/xml")
        .body(nmap_parser::synthetic::service_scan(hosts))
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status().as_u16(), 201);
    let body: Value = res.json().await.expect("json");
    body["scan"]["id"].as_str().expect("id").to_owned()
}

async fn kept_answers(backend: Backend) {
    let app = TestApp::spawn_with(backend, |_| {}).await.expect("app");
    let admin = app.admin().await;
    let viewer = app.user_with_role("watcher", "VIEWER").await;
    let config = app.create_config(&admin, YAML).await;
    let first = import(&app, &admin, 12, &config).await;
    let second = import(&app, &admin, 3, &config).await;
    let vars = json!({ "id": first });

    // The same page twice: executed once, then answered from memory, byte for byte the same.
    let (hits, _) = counts(&app).await;
    let executed = app.gql(&admin, PAGE, vars.clone()).await;
    assert!(executed["errors"].is_null(), "{executed}");
    assert_eq!(executed["data"]["scan"]["status"], "COMPLETED");
    assert_eq!(executed["data"]["scan"]["hosts"]["totalCount"], 12);
    let statements = app.statement_count().await;
    let kept = app.gql(&admin, PAGE, vars.clone()).await;
    assert_eq!(kept, executed);
    assert_eq!(counts(&app).await.0, hits + 1, "answered from memory");
    // Who asks (the API key or session: 1 statement) and whether the scan is still there (1).
    assert!(
        app.statement_count().await - statements <= 3,
        "a kept answer costs a constant few statements"
    );
    // With an API key: the key and its owner in one statement, the scan check in another.
    let token = app.create_api_key(&admin, "kept").await;
    let (status, keyed) = app.gql_bearer(&token, PAGE, vars.clone()).await;
    assert_eq!((status, &keyed), (200, &executed));
    let statements = app.statement_count().await;
    let (_, again) = app.gql_bearer(&token, PAGE, vars.clone()).await;
    assert_eq!(again, executed);
    assert_eq!(app.statement_count().await - statements, 2);
    // Another role has its own entry, with the same data.
    let as_viewer = app.gql(&viewer, PAGE, vars.clone()).await;
    assert_eq!(as_viewer, executed);
    assert_eq!(
        counts(&app).await.0,
        hits + 3,
        "the key (an ADMIN key: the admin's entry) was answered from memory twice; the viewer's first is executed"
    );
    // Signed out: no answer from memory, whatever the body.
    let anonymous = app.gql(&app.client(), PAGE, vars.clone()).await;
    assert!(anonymous["data"]["scan"].is_null(), "{anonymous}");
    assert_eq!(e2e::error_code(&anonymous), "UNAUTHENTICATED");

    // A config can change: an answer that shows one is never kept.
    let before = app.gql(&admin, WITH_CONFIG, vars.clone()).await;
    assert_eq!(before["data"]["scan"]["config"]["title"], "Kept lab");
    let (hits, _) = counts(&app).await;
    app.gql(&admin, WITH_CONFIG, vars.clone()).await;
    assert_eq!(counts(&app).await.0, hits, "not kept");
    let renamed = app
        .gql(
            &admin,
            "mutation($id:ID!,$y:String!){ updateScanConfig(id:$id, input:{yaml:$y}){ title } }",
            json!({ "id": config, "y": YAML.replace("Kept lab", "Renamed lab") }),
        )
        .await;
    assert_eq!(renamed["data"]["updateScanConfig"]["title"], "Renamed lab");
    let after = app.gql(&admin, WITH_CONFIG, vars.clone()).await;
    assert_eq!(after["data"]["scan"]["config"]["title"], "Renamed lab");

    // Other root fields beside `scan`: executed every time.
    let mixed = "query($id:ID!){ me { username } scan(id:$id){ title } }";
    app.gql(&admin, mixed, vars.clone()).await;
    let (hits, misses) = counts(&app).await;
    app.gql(&admin, mixed, vars.clone()).await;
    assert_eq!(counts(&app).await, (hits, misses), "not even looked up");

    // A scan that does not exist (yet) is not an answer to keep.
    let missing = json!({ "id": "987654" });
    let none = app.gql(&admin, PAGE, missing.clone()).await;
    assert!(none["data"]["scan"].is_null(), "{none}");
    let (hits, _) = counts(&app).await;
    app.gql(&admin, PAGE, missing).await;
    assert_eq!(counts(&app).await.0, hits);

    // Deleted by another replica (straight in the database, no event here): the kept answer is
    // not used; deleted through the API: the same.
    let db = app.db().await;
    entity::scan::Entity::delete_by_id(first.parse::<i32>().expect("id"))
        .exec(&db)
        .await
        .expect("delete");
    let gone = app.gql(&admin, PAGE, vars.clone()).await;
    assert!(gone["data"]["scan"].is_null(), "stale answer: {gone}");
    let gone = app.gql(&viewer, PAGE, vars).await;
    assert!(gone["data"]["scan"].is_null(), "stale answer: {gone}");

    let vars = json!({ "id": second });
    let kept = app.gql(&admin, PAGE, vars.clone()).await;
    assert_eq!(kept["data"]["scan"]["hosts"]["totalCount"], 3);
    assert_eq!(app.gql(&admin, PAGE, vars.clone()).await, kept);
    let deleted = app
        .gql(
            &admin,
            "mutation($id:ID!){ deleteScan(id:$id) }",
            vars.clone(),
        )
        .await;
    assert_eq!(deleted["data"]["deleteScan"], true, "{deleted}");
    let gone = app.gql(&admin, PAGE, vars).await;
    assert!(gone["data"]["scan"].is_null(), "stale answer: {gone}");
    app.stop().await;
}
both_backends!(kept_answers);

#[tokio::test]
async fn answers_are_not_kept_when_the_store_is_off() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.graphql.answer_cache_mib = 0)
        .await
        .expect("app");
    let admin = app.admin().await;
    let config = app.create_config(&admin, YAML).await;
    let id = import(&app, &admin, 2, &config).await;
    let vars = json!({ "id": id });
    let a = app.gql(&admin, PAGE, vars.clone()).await;
    let statements = app.statement_count().await;
    let b = app.gql(&admin, PAGE, vars).await;
    assert_eq!(a, b);
    assert!(
        app.statement_count().await - statements > 3,
        "executed again"
    );
    assert_eq!(counts(&app).await, (0, 0));
    app.stop().await;
}

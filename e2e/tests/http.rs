//! HTTP hardening: JSON-only POST GraphQL, limits, headers, health, static app, error codes.

use e2e::{TEST_INDEX_HTML, TestApp, error_code};
use serde_json::json;

#[tokio::test]
async fn graphql_refuses_non_json_content_types_and_get() {
    let app = TestApp::spawn().await;
    let url = format!("{}/graphql", app.base);
    let client = reqwest::Client::new();
    let query = r#"{"query":"mutation { logout }"}"#;
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let res = client
            .post(&url)
            .header("content-type", ct)
            .body(query)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 415, "{ct}");
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(error_code(&body), "UNSUPPORTED_MEDIA_TYPE");
    }
    let res = client
        .get(format!("{url}?query=mutation%20%7B%20logout%20%7D"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 405);
    app.stop().await;
}

#[tokio::test]
async fn a_get_carrying_a_mutation_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let url = format!(
        "{}/graphql?query={}",
        app.base,
        "mutation%20%7B%20createApiKey(input%3A%7Bname%3A%22x%22%7D)%7B%20token%20%7D%20%7D"
    );
    let res = admin.get(url).send().await.expect("get");
    assert_eq!(res.status(), 405);
    let keys = app.gql(&admin, "{ apiKeys { id } }", json!({})).await;
    assert_eq!(keys["data"]["apiKeys"].as_array().map(Vec::len), Some(0));
    app.stop().await;
}

#[tokio::test]
async fn batched_and_malformed_requests_are_refused() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let url = format!("{}/graphql", app.base);
    let res = client
        .post(&url)
        .json(&json!([{ "query": "{ me { id } }" }, { "query": "{ me { id } }" }]))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 400);
    let res = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(error_code(&body), "BAD_REQUEST");
    app.stop().await;
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let app = TestApp::spawn_with(e2e::Backend::Sqlite, |s| s.http.max_body_bytes = 4096)
        .await
        .expect("app");
    let big = "x".repeat(10_000);
    let res = reqwest::Client::new()
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": format!("{{ me {{ id }} }} # {big}") }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 413);
    app.stop().await;

    // The default cap is 1 MiB: a 6 MiB variable on `me` is refused before any work.
    let app = TestApp::spawn().await;
    let res = reqwest::Client::new()
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": "{ me { id } }", "variables": { "x": "y".repeat(6 << 20) } }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 413);
    app.stop().await;
}

#[tokio::test]
async fn over_deep_and_over_complex_queries_are_refused_with_a_code() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let mut deep = String::from("{ __schema { types { fields { type ");
    for _ in 0..20 {
        deep.push_str("{ ofType ");
    }
    deep.push_str("{ name }");
    for _ in 0..20 {
        deep.push_str(" }");
    }
    deep.push_str(" } } } }");
    let body = app.gql(&admin, &deep, json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .expect("msg")
            .contains("deep"),
        "{body}"
    );

    // Wide documents are refused before async-graphql validates them (VALIDATION, saying
    // which limit): too many field selections, too many aliases, too much text.
    for (query, says) in [
        (
            format!("{{ me {{ {} }} }}", "id ".repeat(1001)),
            "too many fields",
        ),
        (
            format!(
                "{{ {} }}",
                (0..31)
                    .map(|i| format!("a{i}: me {{ id }} "))
                    .collect::<String>()
            ),
            "too many aliases",
        ),
        (
            format!("{{ me {{ id }} }} # {}", "x".repeat(70_000)),
            "longer than",
        ),
    ] {
        let body = app.gql(&admin, &query, json!({})).await;
        assert_eq!(error_code(&body), "VALIDATION", "{body}");
        let message = body["errors"][0]["message"].as_str().expect("msg");
        assert!(message.contains(says), "{says}: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn every_error_response_carries_a_code() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for query in [
        "{ nosuchfield }",
        "{ scan(id: 1) { nosuch } }",
        "mutation { deleteScan(id: \"999\") }",
        "mutation { createScanConfig(input:{yaml:\"::\"}){ id } }",
        "{ scans(first: 1000) { totalCount } }",
        "{ scans(after: \"garbage\") { totalCount } }",
        "{ scans(first: \"x\") { totalCount } }",
        "query {",
    ] {
        let body = app.gql(&admin, query, json!({})).await;
        let errors = body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{query}: {body}"));
        assert!(!errors.is_empty(), "{query}");
        for e in errors {
            assert!(e["extensions"]["code"].is_string(), "{query}: {e}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn responses_carry_security_headers_and_a_request_id() {
    let app = TestApp::spawn().await;
    let res = reqwest::get(format!("{}/", app.base)).await.expect("get /");
    let h = res.headers().clone();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
    let csp = h["content-security-policy"].to_str().expect("csp");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    // The inline loader script of index.html is allowed by its hash, and nothing else inline.
    let hashes = server::http::spa::inline_script_hashes(TEST_INDEX_HTML);
    assert_eq!(hashes.len(), 1);
    assert!(csp.contains(&hashes[0]), "{csp}");
    assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
    let id = h["x-request-id"].to_str().expect("request id");
    assert_eq!(id.len(), 36, "uuid request id: {id}");
    app.stop().await;
}

#[tokio::test]
async fn health_and_readiness_report_database_and_nmap() {
    let app = TestApp::spawn().await;
    let res = reqwest::get(format!("{}/healthz", app.base))
        .await
        .expect("healthz");
    assert_eq!(res.status(), 200);
    let ready: serde_json::Value = reqwest::get(format!("{}/readyz", app.base))
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"], "ok");
    assert_eq!(ready["migrations"], "ok");
    assert!(
        ready["nmap"].is_string(),
        "nmap is reported, found or missing: {ready}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_web_app_is_served_with_index_fallback_and_graphiql_exists() {
    let app = TestApp::spawn().await;
    for path in ["/", "/scans/12", "/some/client/route"] {
        let res = reqwest::get(format!("{}{path}", app.base))
            .await
            .expect("get");
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.text().await.expect("body"), TEST_INDEX_HTML, "{path}");
    }
    // Without its files (not built) the playground says how to get them.
    let res = reqwest::get(format!("{}/graphiql", app.base))
        .await
        .expect("graphiql");
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("body").contains("make frontend"));
    // Installed: every script and stylesheet from this server, pinned by integrity hash; the
    // policy allows no other origin.
    let dir = app.settings.frontend_dir.join("graphiql");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("graphiql.min.js"), "/* stand-in */").expect("write");
    let res = reqwest::get(format!("{}/graphiql", app.base))
        .await
        .expect("graphiql");
    let csp = res
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(!csp.contains("http"), "no remote origin in {csp}");
    let page = res.text().await.expect("body");
    assert!(
        !page.contains("https://") && !page.contains("unpkg"),
        "{page}"
    );
    let scripts = page.matches("<script src=\"/graphiql/").count();
    assert_eq!(scripts, 4, "{page}");
    assert_eq!(page.matches("integrity=\"sha384-").count(), 4, "{page}");
    app.stop().await;
}

#[tokio::test]
async fn internal_details_are_never_sent() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    // Break the database under the server: queries fail with an internal error.
    let db = app.db().await;
    use sea_orm::ConnectionTrait;
    db.execute_unprepared("DROP TABLE scan_configs")
        .await
        .expect("drop");
    let body = app
        .gql(&admin, "{ scanConfigs { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "INTERNAL", "{body}");
    assert_eq!(body["errors"][0]["message"], "internal error");
    app.stop().await;
}

//! Scans through the API: cursor pagination over 120 scans, status filter, the full result tree
//! with a constant number of SQL statements, delete.

use e2e::{Backend, TestApp, both_backends, error_code, sample_scan};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use server::domain::status::ScanStatus;
use server::service::results;

const PAGE: &str =
    "query($after:String, $filter: ScanFilter){ scans(first: 50, after: $after, filter: $filter) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id title status } } } }";

async fn pagination_over_120_scans(backend: Backend) {
    let app = TestApp::spawn_with(backend, |_| {}).await.expect("app");
    let db = app.db().await;
    for i in 0..120 {
        let mut scan = sample_scan(&format!("scan {i:03}"), 0, 0);
        if i % 4 == 0 {
            scan.status = ScanStatus::Failed;
        }
        results::store(&db, scan).await.expect("seed");
    }
    let admin = app.admin().await;
    let mut after: Option<String> = None;
    let mut titles = Vec::new();
    let mut pages = 0;
    loop {
        let body = app.gql(&admin, PAGE, json!({ "after": after })).await;
        let conn = &body["data"]["scans"];
        assert_eq!(conn["totalCount"], 120, "{body}");
        let edges = conn["edges"].as_array().expect("edges");
        titles.extend(
            edges
                .iter()
                .map(|e| e["node"]["title"].as_str().expect("title").to_owned()),
        );
        pages += 1;
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = Some(
            conn["pageInfo"]["endCursor"]
                .as_str()
                .expect("cursor")
                .to_owned(),
        );
        assert_eq!(
            edges.last().expect("edge")["cursor"],
            conn["pageInfo"]["endCursor"]
        );
    }
    assert_eq!(pages, 3);
    assert_eq!(titles.len(), 120);
    // Newest first, no duplicates, nothing skipped.
    let expected: Vec<String> = (0..120).rev().map(|i| format!("scan {i:03}")).collect();
    assert_eq!(titles, expected);

    let failed = app
        .gql(&admin, PAGE, json!({ "filter": { "status": "FAILED" } }))
        .await;
    assert_eq!(failed["data"]["scans"]["totalCount"], 30, "{failed}");
    let both = app
        .gql(
            &admin,
            PAGE,
            json!({ "filter": { "status": ["FAILED", "COMPLETED"] } }),
        )
        .await;
    assert_eq!(both["data"]["scans"]["totalCount"], 120);
    app.stop().await;
}
both_backends!(pagination_over_120_scans);

const DETAIL: &str = "query($id:ID!){ scan(id:$id){ id title status percent triggeredBy commandLines
  summary { hostsTotal hostsUp openPorts services certificates unexpectedPorts missingPorts }
  sites { name ips { address status pingExpected pingActual ports { port protocol state expected unexpected missing
    service { name product tunnel certificate { subject issuer sans keyBits selfSigned } tlsVersions { version ciphers grade } } } } } } }";

async fn scan_detail_tree(backend: Backend) {
    // Counts what executing the query costs: no answers kept in memory (tests/answers.rs).
    let app = TestApp::spawn_with(backend, |s| s.graphql.answer_cache_mib = 0)
        .await
        .expect("app");
    let db = app.db().await;
    let small = results::store(&db, sample_scan("small", 1, 2))
        .await
        .expect("seed");
    let large = results::store(&db, sample_scan("large", 8, 16))
        .await
        .expect("seed");
    let admin = app.admin().await;

    let body = app
        .gql(&admin, DETAIL, json!({ "id": small.id.to_string() }))
        .await;
    let scan = &body["data"]["scan"];
    assert_eq!(scan["status"], "COMPLETED", "{body}");
    assert_eq!(scan["commandLines"][0][0], "nmap");
    assert_eq!(
        scan["summary"],
        json!({ "hostsTotal": 2, "hostsUp": 2, "openPorts": 4, "services": 4, "certificates": 2,
                "unexpectedPorts": 2, "missingPorts": 2 })
    );
    let ports = &scan["sites"][0]["ips"][0]["ports"];
    assert_eq!(ports[0]["port"], 22);
    assert_eq!(ports[0]["unexpected"], false);
    assert_eq!(ports[1]["port"], 443);
    assert_eq!(ports[1]["unexpected"], true);
    assert_eq!(ports[1]["service"]["certificate"]["subject"], "CN=lab.test");
    assert_eq!(
        ports[1]["service"]["certificate"]["sans"],
        json!(["DNS:lab.test"])
    );
    assert_eq!(ports[1]["service"]["tlsVersions"][1]["version"], "TLSv1.3");
    assert_eq!(ports[2]["port"], 8080);
    assert_eq!(ports[2]["missing"], true);
    assert!(ports[2]["service"].is_null());

    // The same query over 64× more rows costs the same number of SQL statements.
    let before = app.statement_count().await;
    let small_body = app
        .gql(&admin, DETAIL, json!({ "id": small.id.to_string() }))
        .await;
    let small_cost = app.statement_count().await - before;
    let before = app.statement_count().await;
    let large_body = app
        .gql(&admin, DETAIL, json!({ "id": large.id.to_string() }))
        .await;
    let large_cost = app.statement_count().await - before;
    assert!(small_body["errors"].is_null() && large_body["errors"].is_null());
    assert_eq!(large_body["data"]["scan"]["summary"]["hostsTotal"], 128);
    assert_eq!(
        large_body["data"]["scan"]["sites"][7]["ips"][15]["ports"][1]["service"]["tlsVersions"][0]
            ["grade"],
        "A"
    );
    assert_eq!(
        small_cost, large_cost,
        "statements per request must not grow with rows"
    );
    assert!(large_cost <= 16, "{large_cost} statements");

    // Paginated hosts for large scans.
    let hosts = app
        .gql(
            &admin,
            "query($id:ID!){ scan(id:$id){ hosts(first: 100){ totalCount pageInfo { hasNextPage endCursor } edges { node { address } } } } }",
            json!({ "id": large.id.to_string() }),
        )
        .await;
    let h = &hosts["data"]["scan"]["hosts"];
    assert_eq!(h["totalCount"], 128, "{hosts}");
    assert_eq!(h["pageInfo"]["hasNextPage"], true);
    let rest = app
        .gql(
            &admin,
            "query($id:ID!,$a:String){ scan(id:$id){ hosts(first: 100, after:$a){ pageInfo { hasNextPage } edges { node { address } } } } }",
            json!({ "id": large.id.to_string(), "a": h["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        rest["data"]["scan"]["hosts"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(28)
    );
    assert_eq!(
        rest["data"]["scan"]["hosts"]["pageInfo"]["hasNextPage"],
        false
    );

    // A page of hosts with its whole subtree: the same statements for a small and a large
    // scan, each level loaded by the page's own rows.
    const PAGE: &str = "query($id:ID!){ scan(id:$id){ hosts(first: 2){ totalCount edges { node {
      address ports { port service { name certificate { subject } tlsVersions { version } } } } } } } }";
    let mut costs = Vec::new();
    for scan in [&small, &large] {
        let before = app.statement_count().await;
        let body = app
            .gql(&admin, PAGE, json!({ "id": scan.id.to_string() }))
            .await;
        costs.push(app.statement_count().await - before);
        let edges = body["data"]["scan"]["hosts"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"));
        assert_eq!(edges.len(), 2);
        assert_eq!(
            edges[1]["node"]["ports"][1]["service"]["tlsVersions"][0]["version"], "TLSv1.2",
            "{body}"
        );
    }
    assert_eq!(costs[0], costs[1], "a page costs what it holds: {costs:?}");
    assert!(costs[1] <= 10, "{costs:?} statements");
    app.stop().await;
}
both_backends!(scan_detail_tree);

async fn delete_scan(backend: Backend) {
    let app = TestApp::spawn_with(backend, |_| {}).await.expect("app");
    let db = app.db().await;
    let done = results::store(&db, sample_scan("done", 2, 3))
        .await
        .expect("seed");
    let mut running = sample_scan("running", 1, 1);
    running.status = ScanStatus::Running;
    let running = results::store(&db, running).await.expect("seed");
    // A file under the data dir, named by scan id, goes with the scan.
    let report_dir = app
        .data_dir
        .path()
        .join("reports")
        .join(done.id.to_string());
    std::fs::create_dir_all(&report_dir).expect("dir");
    std::fs::write(report_dir.join("report.json"), "{}").expect("file");

    let viewer = app.user_with_role("vera", "VIEWER").await;
    let del = "mutation($id:ID!){ deleteScan(id:$id) }";
    let body = app
        .gql(&viewer, del, json!({ "id": done.id.to_string() }))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");

    let admin = app.admin().await;
    let body = app
        .gql(&admin, del, json!({ "id": running.id.to_string() }))
        .await;
    assert_eq!(error_code(&body), "CONFLICT");

    let body = app
        .gql(&admin, del, json!({ "id": done.id.to_string() }))
        .await;
    assert_eq!(body["data"]["deleteScan"], true, "{body}");
    assert!(!report_dir.exists());
    // Every row of the tree went with it (cascade).
    assert_eq!(
        entity::scan_port::Entity::find()
            .count(&db)
            .await
            .expect("count"),
        3
    );
    assert_eq!(
        entity::scan_ip::Entity::find()
            .count(&db)
            .await
            .expect("count"),
        1
    );
    assert_eq!(
        entity::scan_certificate::Entity::find()
            .count(&db)
            .await
            .expect("count"),
        1
    );

    for id in [done.id.to_string(), "abc".to_owned(), "-1".to_owned()] {
        let body = app.gql(&admin, del, json!({ "id": id })).await;
        assert_eq!(error_code(&body), "NOT_FOUND");
    }
    app.stop().await;
}
both_backends!(delete_scan);

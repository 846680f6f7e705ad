//! What the lists offer beside their rows (issue 15), on SQLite and PostgreSQL:
//! - exports (`/api/export/{hosts,changes}.{csv,json}?filter=…`): the rows the filter selects
//!   (counted independently from the XML), the same auth as the API, CSV injection
//!   neutralised, and a 100,000-host export streamed in constant memory;
//! - saved views: per user, replaced by name, checked for their page;
//! - the charts' figures (`trends`): each bar's count equals its filter's `totalCount`.

use e2e::{Backend, TestApp, error_code};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

async fn get(client: &reqwest::Client, url: &str) -> (u16, String, String) {
    let res = client.get(url).send().await.expect("export request");
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, res.text().await.expect("export body"))
}

fn csv_rows(body: &str) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    reader
        .records()
        .map(|r| r.expect("csv record").iter().map(str::to_owned).collect())
        .collect()
}

async fn exports_follow_the_filter(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |_| {}).await else {
        return;
    };
    let admin = app.admin().await;
    let xml = nmap_parser::synthetic::service_scan(120);
    app.import_xml(&admin, "", &xml).await;
    let run = nmap_parser::parse_str(&xml).expect("parse");
    let open = |h: &nmap_parser::Host, port: u16| h.open_ports().any(|p| p.portid == port);
    let with_8080 = run.hosts.iter().filter(|h| open(h, 8080)).count();
    let opened: usize = run.hosts.iter().map(|h| h.open_ports().count()).sum();
    let base = &app.base;

    // Every host, as CSV: a header and one record per host, its open ports listed.
    let (status, kind, body) = get(&admin, &format!("{base}/api/export/hosts.csv")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(kind, "text/csv; charset=utf-8");
    assert!(body.starts_with("id,site,address,hostname,state,open_ports,services,"));
    let rows = csv_rows(&body);
    assert_eq!(rows.len(), run.hosts.len());
    let first = rows
        .iter()
        .find(|r| r[2] == "127.0.0.1")
        .expect("127.0.0.1 exported");
    assert_eq!(first[5], "tcp/22 tcp/80 tcp/443 tcp/5432");
    assert!(first[6].contains("tcp/22 ssh OpenSSH 9.2p1"), "{first:?}");

    // The filter language selects the same hosts as the XML says.
    let (status, _, body) = get(
        &admin,
        &format!("{base}/api/export/hosts.csv?filter=port%3A8080"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(csv_rows(&body).len(), with_8080);
    let (status, kind, body) = get(
        &admin,
        &format!("{base}/api/export/hosts.json?filter=-port%3A8080%20address%3A127.0.0.0%2F24"),
    )
    .await;
    assert_eq!((status, kind.as_str()), (200, "application/json"), "{body}");
    let hosts: Value = serde_json::from_str(&body).expect("hosts json");
    let expected = run
        .hosts
        .iter()
        .filter(|h| {
            !open(h, 8080)
                && h.ip()
                    .is_some_and(|ip| ip.to_string().starts_with("127.0.0."))
        })
        .count();
    assert_eq!(hosts.as_array().map(Vec::len), Some(expected), "{body}");
    assert_eq!(hosts[0]["openPorts"][0]["service"], "ssh", "{body}");

    // Change events: the import's PORT_OPENED, as JSON and CSV.
    let (status, _, body) = get(
        &admin,
        &format!("{base}/api/export/changes.json?filter=kind%3APORT_OPENED"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let events: Value = serde_json::from_str(&body).expect("changes json");
    assert_eq!(events.as_array().map(Vec::len), Some(opened));
    assert_eq!(events[0]["kind"], "PORT_OPENED");
    let (_, _, body) = get(
        &admin,
        &format!("{base}/api/export/changes.csv?filter=kind%3APORT_OPENED%20port%3A8080"),
    )
    .await;
    assert!(body.starts_with("id,at,kind,severity,site,address,protocol,port,summary,"));
    assert_eq!(csv_rows(&body).len(), with_8080);
    // Nothing matches: an empty array, a lone header.
    let (_, _, body) = get(
        &admin,
        &format!("{base}/api/export/hosts.json?filter=port%3A1"),
    )
    .await;
    assert_eq!(serde_json::from_str::<Value>(&body).ok(), Some(json!([])));
    let (_, _, body) = get(
        &admin,
        &format!("{base}/api/export/hosts.csv?filter=port%3A1"),
    )
    .await;
    assert_eq!(csv_rows(&body).len(), 0);
    assert!(body.starts_with("id,"), "{body}");

    // What a spreadsheet would run is neutralised; what is quoted stays whole.
    app.tag_host(
        &admin,
        "127.0.0.1",
        &["-x"],
        "=HYPERLINK(\"http://x\",\"a, b\")",
    )
    .await;
    let (_, _, body) = get(
        &admin,
        &format!("{base}/api/export/hosts.csv?filter=address%3A127.0.0.1"),
    )
    .await;
    let rows = csv_rows(&body);
    assert_eq!(rows.len(), 1, "{body}");
    assert_eq!(rows[0][7], "'-x");
    assert_eq!(rows[0][8], "'=HYPERLINK(\"http://x\",\"a, b\")");
    // JSON carries the value as it is (nothing runs JSON as a formula).
    let (_, _, body) = get(
        &admin,
        &format!("{base}/api/export/hosts.json?filter=address%3A127.0.0.1"),
    )
    .await;
    let hosts: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        hosts[0]["owner"], "=HYPERLINK(\"http://x\",\"a, b\")",
        "{body}"
    );

    // The same auth as the API: none → 401; an API key works; a bad filter is VALIDATION
    // with its column before any row; an unknown export is 404.
    let (status, _, body) = get(
        &reqwest::Client::new(),
        &format!("{base}/api/export/hosts.csv"),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    let token = app.create_api_key(&admin, "export").await;
    let res = reqwest::Client::new()
        .get(format!("{base}/api/export/changes.csv"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("export with a key");
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("attachment; filename=\"sneakyscan-changes-")),
        "{:?}",
        res.headers()
    );
    let (status, _, body) = get(
        &admin,
        &format!("{base}/api/export/hosts.csv?filter=port%3Ahttp"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let body: Value = serde_json::from_str(&body).expect("error json");
    assert_eq!(error_code(&body), "VALIDATION", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["column"], 6, "{body}");
    let (status, _, _) = get(&admin, &format!("{base}/api/export/scans.csv")).await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn exports_follow_the_filter_sqlite() {
    exports_follow_the_filter(Backend::Sqlite).await;
}

#[tokio::test]
async fn exports_follow_the_filter_postgres() {
    exports_follow_the_filter(Backend::Postgres).await;
}

/// A kB figure of this process from /proc/self/status (`RssAnon`, `VmRSS`).
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("status field")
}

const MANY: u64 = 100_000;

/// 100,000 hosts with an open port and a service each, written by SQL in a few statements.
async fn insert_many_hosts(app: &TestApp, backend: Backend) {
    let db = app.db().await;
    let now = chrono::Utc::now();
    let (series, p) = match backend {
        Backend::Sqlite => (
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {MANY})"
            ),
            "?",
        ),
        Backend::Postgres => (
            format!("WITH n(i) AS (SELECT generate_series(1, {MANY}))"),
            "$1",
        ),
    };
    let address = "'127.' || (i / 65536) || '.' || ((i / 256) % 256) || '.' || (i % 256)";
    let statements = [
        format!(
            "{series} INSERT INTO hosts (site, address, hostname, state, open_ports, \
             first_seen_at, last_seen_at, tags) SELECT 'bulk', {address}, 'host' || i || \
             '.bulk.example', 'up', 1, {p}, {p}, '[\"bulk\"]' FROM n"
        ),
        format!(
            "INSERT INTO host_facts (host_id, fact, key, value, first_seen_at, last_seen_at) \
             SELECT id, 'port', 'tcp/443', 'open', {p}, {p} FROM hosts WHERE site = 'bulk'"
        ),
        format!(
            "INSERT INTO host_facts (host_id, fact, key, value, first_seen_at, last_seen_at) \
             SELECT id, 'service', 'tcp/443', \
             '{{\"name\":\"https\",\"product\":\"nginx\",\"version\":\"1.24.0\"}}', {p}, {p} \
             FROM hosts WHERE site = 'bulk'"
        ),
    ];
    for sql in statements {
        // One value used at each placeholder: PostgreSQL's $1 once, SQLite's ? per use.
        let values: Vec<sea_orm::Value> = match backend {
            Backend::Sqlite => vec![now.into(); sql.matches('?').count()],
            Backend::Postgres => vec![now.into()],
        };
        db.execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await
        .expect("bulk insert");
    }
    // What autovacuum does soon after a bulk write: without statistics PostgreSQL's planner
    // takes a semi-join over every fact for each page (≈ 1 s a page instead of ≈ 40 ms).
    if backend == Backend::Postgres {
        db.execute_unprepared("ANALYZE").await.expect("analyze");
    }
}

/// An export of 100,000 hosts is streamed: the process's memory while it downloads (the
/// server and this client share it) grows by a small part of the body's size, where holding
/// the result would hold all of it and more.
async fn an_export_of_100000_hosts_streams_in_constant_memory(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |_| {}).await else {
        return;
    };
    let admin = app.admin().await;
    insert_many_hosts(&app, backend).await;
    for (file, per_row) in [("hosts.json", b'\n'), ("hosts.csv", b'\n')] {
        // Anonymous memory only: SQLite maps its database file (`mmap_size`), and the pages
        // it reads count in the RSS without being held by anyone. Sampled at every chunk.
        let before = status_kb("RssAnon");
        let mut res = admin
            .get(format!(
                "{}/api/export/{file}?filter=site%3Abulk%20port%3A443%20product%3Anginx",
                app.base
            ))
            .send()
            .await
            .expect("export");
        assert_eq!(res.status().as_u16(), 200);
        let (mut bytes, mut lines, mut last, mut peak) = (0u64, 0u64, 0u8, before);
        while let Some(chunk) = res.chunk().await.expect("chunk") {
            bytes += chunk.len() as u64;
            lines += chunk.iter().filter(|b| **b == per_row).count() as u64;
            last = chunk.last().copied().unwrap_or(last);
            peak = peak.max(status_kb("RssAnon"));
        }
        let grown_kb = peak.saturating_sub(before);
        eprintln!(
            "{file}: {bytes} bytes, {lines} lines; anonymous memory grew {grown_kb} kB at most (from {before} kB)"
        );
        // JSON: `[`, a newline before each row, `]` and a newline; CSV: a header and rows.
        assert_eq!(lines, MANY + 1, "{file}: one line per host");
        assert_eq!(last, b'\n');
        assert!(bytes > 10 << 20, "{file}: {bytes} bytes");
        // Holding the rows (models, JSON values, the body) would take several times the body.
        assert!(
            grown_kb < 16 * 1024,
            "{file}: memory grew {grown_kb} kB for a {bytes}-byte export"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn an_export_of_100000_hosts_streams_in_constant_memory_sqlite() {
    an_export_of_100000_hosts_streams_in_constant_memory(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_export_of_100000_hosts_streams_in_constant_memory_postgres() {
    an_export_of_100000_hosts_streams_in_constant_memory(Backend::Postgres).await;
}

async fn saved_views_belong_to_their_user(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |_| {}).await else {
        return;
    };
    let admin = app.admin().await;
    let viewer = app.user_with_role("watcher", "VIEWER").await;
    let save = "mutation($i:SavedViewInput!){ saveView(input:$i){ id name page filter } }";
    let list = "query($p:ViewPage){ savedViews(page:$p){ id name page filter } }";
    let body = app
        .gql(
            &admin,
            save,
            json!({ "i": { "page": "HOSTS", "name": " Web servers ", "filter": "port:80 OR port:443" } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["saveView"]["name"], "Web servers");
    let web = body["data"]["saveView"]["id"].clone();
    // A viewer keeps views too; the same name on another page is another view.
    for (client, page, filter) in [
        (&viewer, "HOSTS", "tag:prod"),
        (&admin, "CHANGES", "severity>=high"),
        (&admin, "SCANS", "kind:PORT_OPENED"),
    ] {
        let body = app
            .gql(
                client,
                save,
                json!({ "i": { "page": page, "name": "Web servers", "filter": filter } }),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
    }
    // Saving under the same name replaces the filter.
    let body = app
        .gql(
            &admin,
            save,
            json!({ "i": { "page": "HOSTS", "name": "Web servers", "filter": "port:443" } }),
        )
        .await;
    assert_eq!(body["data"]["saveView"]["id"], web, "{body}");
    let mine = app.gql(&admin, list, json!({ "p": "HOSTS" })).await;
    assert_eq!(
        mine["data"]["savedViews"],
        json!([{ "id": web, "name": "Web servers", "page": "HOSTS", "filter": "port:443" }])
    );
    let all = app.gql(&admin, list, json!({})).await;
    assert_eq!(all["data"]["savedViews"].as_array().map(Vec::len), Some(3));
    let theirs = app.gql(&viewer, list, json!({})).await;
    assert_eq!(
        theirs["data"]["savedViews"][0]["filter"], "tag:prod",
        "{theirs}"
    );
    assert_eq!(
        theirs["data"]["savedViews"].as_array().map(Vec::len),
        Some(1)
    );

    // Bad input changes nothing: a filter checked for its page, a name's length.
    for (input, column) in [
        (
            json!({ "page": "CHANGES", "name": "x", "filter": "product:nginx" }),
            Some(1),
        ),
        (
            json!({ "page": "HOSTS", "name": "x", "filter": "port:http" }),
            Some(6),
        ),
        (json!({ "page": "HOSTS", "name": "  ", "filter": "" }), None),
        (
            json!({ "page": "HOSTS", "name": "n".repeat(81), "filter": "" }),
            None,
        ),
    ] {
        let body = app.gql(&admin, save, json!({ "i": input })).await;
        assert_eq!(error_code(&body), "VALIDATION", "{body}");
        if let Some(column) = column {
            assert_eq!(body["errors"][0]["extensions"]["column"], column, "{body}");
        }
    }
    let again = app.gql(&admin, list, json!({})).await;
    assert_eq!(again, all);

    // Another user's view is not there for you.
    let delete = "mutation($id:ID!){ deleteSavedView(id:$id) }";
    let body = app.gql(&viewer, delete, json!({ "id": web })).await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    let body = app.gql(&admin, delete, json!({ "id": web })).await;
    assert_eq!(body["data"]["deleteSavedView"], true, "{body}");
    let mine = app.gql(&admin, list, json!({ "p": "HOSTS" })).await;
    assert_eq!(mine["data"]["savedViews"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn saved_views_belong_to_their_user_sqlite() {
    saved_views_belong_to_their_user(Backend::Sqlite).await;
}

#[tokio::test]
async fn saved_views_belong_to_their_user_postgres() {
    saved_views_belong_to_their_user(Backend::Postgres).await;
}

fn sample(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../nmap-parser/tests/data")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `totalCount` of `list(filter:)`.
async fn total(app: &TestApp, client: &reqwest::Client, list: &str, filter: &str) -> Value {
    let body = app
        .gql(
            client,
            &format!("query($f:String){{ {list}(first: 1, filter:$f){{ totalCount }} }}"),
            json!({ "f": filter }),
        )
        .await;
    assert!(body["errors"].is_null(), "{list} {filter:?}: {body}");
    body["data"][list]["totalCount"].clone()
}

async fn the_charts_count_what_their_filters_list(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |_| {}).await else {
        return;
    };
    let admin = app.admin().await;
    let config = app
        .create_config(
            &admin,
            "title: Charted\nsites:\n  - name: Lab\n    cidrs:\n      - cidr: 127.0.0.0/26\n",
        )
        .await;
    let first = nmap_parser::synthetic::service_scan(40);
    let second = nmap_parser::synthetic::changed_service_scan(&first);
    let mut scans = Vec::new();
    for xml in [&first, &second] {
        scans.push(
            app.import_xml(&admin, &format!("configId={config}"), xml)
                .await,
        );
    }
    for name in ["nmap_ssl_root.xml", "nmap_ssl_weak_tls10_expired.xml"] {
        scans.push(app.import_xml(&admin, "", &sample(name)).await);
    }
    let query = "{ trends { openPorts { configId name points { scanId openPorts hostsUp } } \
                 changesPerScan { scanId kinds { kind count } } \
                 topServices { label count filter } topProducts { label count filter } \
                 tlsVersions { label count filter } certificateExpiry { label count filter } } }";
    let body = app.gql(&admin, query, json!({})).await;
    assert!(body["errors"].is_null(), "{body}");
    let trends = &body["data"]["trends"];

    // Open ports over time: the config's two scans, oldest first, as their XML says.
    let series = trends["openPorts"].as_array().expect("series");
    assert_eq!(series.len(), 1, "{trends}");
    assert_eq!(series[0]["configId"], json!(config));
    assert_eq!(series[0]["name"], "Charted");
    for (i, xml) in [&first, &second].into_iter().enumerate() {
        let run = nmap_parser::parse_str(xml).expect("parse");
        let open: usize = run.hosts.iter().map(|h| h.open_ports().count()).sum();
        let point = &series[0]["points"][i];
        assert_eq!(point["scanId"], json!(scans[i]), "{trends}");
        assert_eq!(point["openPorts"], open, "{trends}");
        assert_eq!(point["hostsUp"], run.hosts.len(), "{trends}");
    }

    // Changes per scan: every completed scan, by kind, as many as the scan's own list.
    let per_scan = trends["changesPerScan"].as_array().expect("per scan");
    assert_eq!(per_scan.len(), scans.len(), "{trends}");
    for (row, id) in per_scan.iter().zip(&scans) {
        assert_eq!(row["scanId"], json!(id));
        let body = app
            .gql(
                &admin,
                "query($id:ID!){ scan(id:$id){ changes(first: 1){ totalCount } } }",
                json!({ "id": id }),
            )
            .await;
        let sum: i64 = row["kinds"]
            .as_array()
            .expect("kinds")
            .iter()
            .map(|k| k["count"].as_i64().unwrap_or_default())
            .sum();
        assert_eq!(
            json!(sum),
            body["data"]["scan"]["changes"]["totalCount"],
            "{row}"
        );
    }
    let first_run = nmap_parser::parse_str(&first).expect("parse");
    let kinds = &per_scan[0]["kinds"];
    assert!(
        kinds.as_array().is_some_and(
            |k| k.contains(&json!({ "kind": "HOST_NEW", "count": first_run.hosts.len() }))
        ),
        "{kinds}"
    );

    // Each bar lists, through its filter, exactly what it counts.
    let mut bars = 0;
    for (chart, list) in [
        ("topServices", "hosts"),
        ("topProducts", "hosts"),
        ("tlsVersions", "hosts"),
        ("certificateExpiry", "certificates"),
    ] {
        let buckets = trends[chart].as_array().expect("buckets");
        assert!(!buckets.is_empty(), "{chart}: {trends}");
        for b in buckets {
            let filter = b["filter"].as_str().expect("a filter");
            assert_eq!(
                total(&app, &admin, list, filter).await,
                b["count"],
                "{chart} {b}"
            );
            bars += 1;
        }
    }
    assert!(bars > 10, "{trends}");
    // ssh is counted on the hosts with port 22 open now.
    let ssh = trends["topServices"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["label"] == "ssh"))
        .expect("ssh");
    assert_eq!(ssh["count"], total(&app, &admin, "hosts", "port:22").await);
    // The expired sample's certificate is in "expired"; every dated certificate is somewhere.
    let expiry = trends["certificateExpiry"].as_array().expect("expiry");
    assert_eq!(expiry[0]["label"], "expired");
    assert!(
        expiry[0]["count"].as_i64().unwrap_or_default() >= 1,
        "{trends}"
    );
    let sum: i64 = expiry
        .iter()
        .map(|b| b["count"].as_i64().unwrap_or_default())
        .sum();
    assert_eq!(json!(sum), total(&app, &admin, "certificates", "").await);
    assert!(
        trends["tlsVersions"]
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b["label"] == "TLSv1.0")),
        "{trends}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_charts_count_what_their_filters_list_sqlite() {
    the_charts_count_what_their_filters_list(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_charts_count_what_their_filters_list_postgres() {
    the_charts_count_what_their_filters_list(Backend::Postgres).await;
}

//! What changed (issue 13) against real nmap and listeners on loopback: a scan, then one
//! listener stopped, another started, a banner upgraded and a certificate swapped, and a
//! second scan records exactly PORT_CLOSED, PORT_OPENED, SERVICE_CHANGED and CERT_CHANGED —
//! and `scanDiff` of the two says the same; the host inventory, port intervals and the
//! certificate inventory follow; events outlive their scan; re-importing a document adds no
//! event. On SQLite and PostgreSQL.

use std::collections::BTreeSet;

use e2e::listeners::{self, Kind};
use e2e::{Backend, TestApp, error_code};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const CHANGES: &str = "query($id:ID!){ scan(id:$id){ status baseline { id }
  changes(first: 100) { totalCount edges { node { kind severity site address protocol port
    before after summary scan { id } baselineScan { id } host { id } } } } } }";

/// (kind, port) of each change.
fn kinds(changes: &[Value]) -> BTreeSet<(String, i64)> {
    changes
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().expect("kind").to_owned(),
                c["port"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}

async fn scan_changes(app: &TestApp, client: &reqwest::Client, id: &str) -> (Value, Vec<Value>) {
    let body = app.gql(client, CHANGES, json!({ "id": id })).await;
    assert!(body["errors"].is_null(), "{body}");
    let scan = body["data"]["scan"].clone();
    let nodes = scan["changes"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    (scan, nodes)
}

async fn a_second_scan_records_exactly_what_changed(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |_| {}).await else {
        eprintln!("SNEAKYSCAN_TEST_POSTGRES_URL not set: PostgreSQL lane skipped");
        return;
    };
    let admin = app.admin().await;
    let ip = listeners::loopback(listeners::loopback_block(), 1);
    let web = listeners::start(ip, Kind::Http).await;
    let ssh = listeners::start(ip, Kind::Banner).await;
    let tls = listeners::start(ip, Kind::Https).await;
    // A port that opens only before the second scan.
    let later = listeners::start(ip, Kind::Http).await;
    let later_addr = later.addr;
    drop(later);
    let ports: Vec<String> = [web.addr, ssh.addr, tls.addr, later_addr]
        .iter()
        .map(|a| a.port().to_string())
        .collect();
    // No expectations: ports get no verdict, so no drift event (the YAML's drift is tested in
    // the service's unit tests).
    let yaml = format!(
        "title: History\nsites:\n  - name: Lab\n    ips:\n      - address: {ip}\nscan:\n  tcp_ports: \"{}\"\n  phases: [ping, tcp, service, http, tls]\n",
        ports.join(",")
    );
    let config_id = app.create_config(&admin, &yaml).await;

    let first = app.start_config_scan(&admin, &config_id).await;
    app.until_completed(&admin, &first).await;
    let (scan, changes) = scan_changes(&app, &admin, &first).await;
    assert!(scan["baseline"].is_null(), "a first scan has no baseline");
    let (w, s, t, l) = (
        i64::from(web.addr.port()),
        i64::from(ssh.addr.port()),
        i64::from(tls.addr.port()),
        i64::from(later_addr.port()),
    );
    assert_eq!(
        kinds(&changes),
        BTreeSet::from([
            ("HOST_NEW".to_owned(), 0),
            ("PORT_OPENED".to_owned(), w),
            ("PORT_OPENED".to_owned(), s),
            ("PORT_OPENED".to_owned(), t),
        ]),
        "{changes:?}"
    );
    let new = changes
        .iter()
        .find(|c| c["kind"] == "HOST_NEW")
        .expect("HOST_NEW");
    assert_eq!(new["severity"], "HIGH");
    assert_eq!(new["site"], "Lab");
    assert_eq!(new["address"], ip.to_string());
    assert_eq!(new["scan"]["id"], first.as_str());
    assert!(new["baselineScan"].is_null());

    // Stop one, start another, upgrade a banner, swap a certificate.
    drop(web);
    let later = listeners::start_on(later_addr, Kind::Http).await;
    let ssh_addr = ssh.addr;
    drop(ssh);
    let ssh = listeners::start_on(ssh_addr, Kind::NewerBanner).await;
    let tls_addr = tls.addr;
    let old_cert = tls.cert_der.clone().expect("certificate");
    drop(tls);
    let tls = listeners::start_on(tls_addr, Kind::Https).await;
    let new_cert = tls.cert_der.clone().expect("certificate");
    let sha = |der: &[u8]| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(der));

    let second = app.start_config_scan(&admin, &config_id).await;
    app.until_completed(&admin, &second).await;
    let (scan, changes) = scan_changes(&app, &admin, &second).await;
    assert_eq!(scan["baseline"]["id"], first.as_str());
    assert_eq!(
        kinds(&changes),
        BTreeSet::from([
            ("PORT_CLOSED".to_owned(), w),
            ("PORT_OPENED".to_owned(), l),
            ("SERVICE_CHANGED".to_owned(), s),
            ("CERT_CHANGED".to_owned(), t),
        ]),
        "exactly these and nothing else: {changes:?}"
    );
    assert_eq!(changes.len(), 4, "{changes:?}");
    let by_kind = |k: &str| changes.iter().find(|c| c["kind"] == k).expect(k).clone();
    let service = by_kind("SERVICE_CHANGED");
    assert_eq!(service["before"]["product"], "OpenSSH");
    assert!(
        service["before"]["version"]
            .as_str()
            .unwrap_or_default()
            .starts_with("9.2"),
        "{service}"
    );
    assert!(
        service["after"]["version"]
            .as_str()
            .unwrap_or_default()
            .starts_with("9.6"),
        "{service}"
    );
    let cert = by_kind("CERT_CHANGED");
    let fingerprint = |v: &Value| {
        v.as_str()
            .unwrap_or_default()
            .replace(':', "")
            .to_lowercase()
    };
    assert_eq!(fingerprint(&cert["before"]), sha(&old_cert));
    assert_eq!(fingerprint(&cert["after"]), sha(&new_cert));
    assert_eq!(cert["baselineScan"]["id"], first.as_str());
    assert!(
        by_kind("PORT_CLOSED")["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("closed")
    );

    // The reports (schema version 2) carry the same changes and the baseline.
    let res = admin
        .get(format!("{}/api/scans/{second}/report.json", app.base))
        .send()
        .await
        .expect("report");
    assert_eq!(res.status().as_u16(), 200);
    let report: Value = res.json().await.expect("json");
    assert_eq!(report["schema_version"], 2);
    assert_eq!(report["baseline"]["id"].to_string(), first);
    let reported: BTreeSet<(String, i64)> = report["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().expect("kind").to_owned(),
                c["port"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(reported, kinds(&changes));
    let html = admin
        .get(format!("{}/api/scans/{second}/report.html", app.base))
        .send()
        .await
        .expect("report")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains(&format!("Changes since #{first} History")),
        "html report"
    );
    assert!(html.contains("CERT_CHANGED"));

    // scanDiff of the two scans says the same.
    let body = app
        .gql(
            &admin,
            "query($b:ID!,$h:ID!){ scanDiff(baseId:$b, headId:$h){ base { id } head { id }
              counts { total portsOpened portsClosed changed }
              entries(first: 100) { totalCount edges { node { kind site address protocol port before after summary } } } } }",
            json!({ "b": first, "h": second }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let diff = &body["data"]["scanDiff"];
    let entries: Vec<Value> = diff["entries"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert_eq!(kinds(&entries), kinds(&changes));
    assert_eq!(diff["counts"]["total"], 4);
    assert_eq!(diff["counts"]["portsOpened"], 1);
    assert_eq!(diff["counts"]["portsClosed"], 1);
    assert_eq!(diff["counts"]["changed"], 2);
    // And backwards: what opened closed, what closed opened.
    let body = app
        .gql(
            &admin,
            "query($b:ID!,$h:ID!){ scanDiff(baseId:$b, headId:$h){ entries { edges { node { kind port } } } } }",
            json!({ "b": second, "h": first }),
        )
        .await;
    let back: Vec<Value> = body["data"]["scanDiff"]["entries"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert_eq!(
        kinds(&back),
        BTreeSet::from([
            ("PORT_CLOSED".to_owned(), l),
            ("PORT_OPENED".to_owned(), w),
            ("SERVICE_CHANGED".to_owned(), s),
            ("CERT_CHANGED".to_owned(), t),
        ])
    );

    // The inventory: one host, its open ports as last known, its ports' intervals.
    let body = app
        .gql(
            &admin,
            "{ hosts(filter: \"lab\") { totalCount edges { node { id site address state openPortCount
                lastScan { id } tags owner
                openPorts { protocol port name product version }
                portIntervals { port state endedAt }
                changes(first: 50) { totalCount } } } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let hosts = &body["data"]["hosts"];
    assert_eq!(hosts["totalCount"], 1, "{body}");
    let host = &hosts["edges"][0]["node"];
    assert_eq!(host["address"], ip.to_string());
    assert_eq!(host["state"], "UP");
    assert_eq!(host["openPortCount"], 3);
    assert_eq!(host["lastScan"]["id"], second.as_str());
    assert_eq!(host["changes"]["totalCount"], 8);
    let open: BTreeSet<i64> = host["openPorts"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| p["port"].as_i64().expect("port"))
        .collect();
    assert_eq!(open, BTreeSet::from([s, t, l]));
    let web_intervals: Vec<&Value> = host["portIntervals"]
        .as_array()
        .expect("intervals")
        .iter()
        .filter(|i| i["port"] == w)
        .collect();
    assert!(
        web_intervals
            .iter()
            .any(|i| i["state"] == "open" && !i["endedAt"].is_null()),
        "the closed port's open interval ended: {web_intervals:?}"
    );
    let host_id = host["id"].as_str().expect("id").to_owned();

    // The certificate inventory: both certificates, the new one served where the old was.
    let body = app
        .gql(
            &admin,
            "{ certificates { totalCount edges { node { sha256Fingerprint subject daysLeft selfSigned
                endpoints { port current host { address } } } } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let certs = body["data"]["certificates"]["edges"]
        .as_array()
        .expect("edges");
    assert_eq!(certs.len(), 2, "{body}");
    for c in certs {
        let node = &c["node"];
        let current = node["endpoints"][0]["current"].as_bool().expect("current");
        let fp = fingerprint(&node["sha256Fingerprint"]);
        assert_eq!(current, fp == sha(&new_cert), "{node}");
        assert_eq!(node["endpoints"][0]["port"], t);
        assert!(node["daysLeft"].as_i64().expect("days") > 3000);
    }
    // The filter language over certificates: where served now, days left, words.
    let current_fp = certs
        .iter()
        .map(|c| &c["node"])
        .find(|n| n["endpoints"][0]["current"] == true)
        .and_then(|n| n["sha256Fingerprint"].as_str())
        .expect("current certificate")
        .to_owned();
    let address = host["address"].as_str().expect("address").to_owned();
    for (filter, expected) in [
        (format!("port:{t}"), 1),
        (format!("address:{address}"), 1),
        (format!("address:{address} port:{t}"), 1),
        (format!("port:{}", t + 1), 0),
        ("cert.expires<30d".to_owned(), 0),
        ("cert.expires>3000d".to_owned(), 2),
        (current_fp[..12].to_lowercase(), 1),
        (format!("-{}", &current_fp[..12]), 1),
    ] {
        let body = app
            .gql(
                &admin,
                "query($f:String){ certificates(filter:$f){ totalCount } }",
                json!({ "f": filter }),
            )
            .await;
        assert_eq!(
            body["data"]["certificates"]["totalCount"], expected,
            "certificates {filter:?}: {body}"
        );
    }
    let body = app
        .gql(
            &admin,
            "{ certificates(filter: \"product:x\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "VALIDATION", "{body}");

    // What an operator says of a host: tags, owner; a bad tag changes nothing.
    let update =
        "mutation($id:ID!,$i:UpdateHostInput!){ updateHost(id:$id, input:$i){ tags owner notes } }";
    let body = app
        .gql(
            &admin,
            update,
            json!({ "id": host_id, "i": { "tags": ["prod", "dmz", "prod"], "owner": "netops" } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["updateHost"]["tags"], json!(["dmz", "prod"]));
    assert_eq!(body["data"]["updateHost"]["owner"], "netops");
    let body = app
        .gql(
            &admin,
            update,
            json!({ "id": host_id, "i": { "tags": ["no spaces"], "owner": null } }),
        )
        .await;
    assert_eq!(error_code(&body), "VALIDATION", "{body}");
    let viewer = app.user_with_role("watcher", "VIEWER").await;
    let body = app
        .gql(
            &viewer,
            update,
            json!({ "id": host_id, "i": { "owner": "me" } }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let body = app
        .gql(
            &admin,
            "{ hosts(filter: \"prod netops\") { totalCount edges { node { tags owner } } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["hosts"]["totalCount"], 1, "{body}");
    assert_eq!(body["data"]["hosts"]["edges"][0]["node"]["owner"], "netops");

    // Deleting a scan keeps the history it contributed: its events stay, unlinked.
    let body = app
        .gql(
            &admin,
            "mutation($id:ID!){ deleteScan(id:$id) }",
            json!({ "id": first }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let body = app
        .gql(
            &admin,
            "{ changes(first: 100, kinds: [HOST_NEW]) { totalCount edges { node { kind scan { id } address } } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["changes"]["totalCount"], 1, "{body}");
    let node = &body["data"]["changes"]["edges"][0]["node"];
    assert!(node["scan"].is_null(), "{node}");
    assert_eq!(node["address"], ip.to_string());
    let (scan, changes) = scan_changes(&app, &admin, &second).await;
    assert!(scan["baseline"].is_null(), "its baseline was deleted");
    assert_eq!(changes.len(), 4);

    drop((later, ssh, tls));
    app.stop().await;
}

#[tokio::test]
async fn a_second_scan_records_exactly_what_changed_sqlite() {
    a_second_scan_records_exactly_what_changed(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_second_scan_records_exactly_what_changed_postgres() {
    a_second_scan_records_exactly_what_changed(Backend::Postgres).await;
}

#[tokio::test]
async fn re_importing_a_document_adds_no_event() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let xml = nmap_parser::synthetic::service_scan(50);
    let first = app.import_xml(&admin, "", &xml).await;
    let body = app
        .gql(
            &admin,
            "{ hosts { totalCount } changes { totalCount } new: changes(kinds: [HOST_NEW]) { totalCount } }",
            json!({}),
        )
        .await;
    let hosts = body["data"]["hosts"]["totalCount"].as_i64().expect("hosts");
    assert!(hosts > 0, "{body}");
    assert_eq!(
        body["data"]["new"]["totalCount"], hosts,
        "one HOST_NEW per host up"
    );
    let events = body["data"]["changes"]["totalCount"].clone();

    let again = app.import_xml(&admin, "", &xml).await;
    let (scan, changes) = scan_changes(&app, &admin, &again).await;
    assert_eq!(scan["status"], "COMPLETED");
    assert_eq!(scan["baseline"]["id"], first.as_str());
    assert!(
        changes.is_empty(),
        "the same document again changes nothing: {changes:?}"
    );
    let body = app
        .gql(
            &admin,
            "{ hosts { totalCount } changes { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["hosts"]["totalCount"], hosts);
    assert_eq!(body["data"]["changes"]["totalCount"], events);
    app.stop().await;
}

#[tokio::test]
async fn retention_deletes_old_scans_and_keeps_their_history() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let config = app
        .create_config(
            &admin,
            "title: Retained\nsites:\n  - name: Lab\n    cidrs:\n      - cidr: 127.0.0.0/26\n",
        )
        .await;
    let first = nmap_parser::synthetic::service_scan(40);
    let second = nmap_parser::synthetic::changed_service_scan(&first);
    let mut ids = Vec::new();
    for xml in [&first, &second, &first] {
        ids.push(
            app.import_xml(&admin, &format!("configId={config}"), xml)
                .await,
        );
    }
    let counts = "{ scans { totalCount } hosts { totalCount } changes { totalCount } }";
    let before = app.gql(&admin, counts, json!({})).await;
    assert_eq!(before["data"]["scans"]["totalCount"], 3, "{before}");

    // Bad values change nothing.
    let set = "mutation($i:UpdateSettingsInput!){ updateSettings(input:$i){ keepScansPerConfig keepDays } }";
    let body = app
        .gql(&admin, set, json!({ "i": { "keepDays": -1 } }))
        .await;
    assert_eq!(error_code(&body), "VALIDATION", "{body}");
    let viewer = app.user_with_role("watcher", "VIEWER").await;
    let body = app
        .gql(&viewer, "mutation { applyRetention }", json!({}))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");

    // Keep the last scan of each config: the two older go, the history stays.
    let body = app
        .gql(&admin, set, json!({ "i": { "keepScansPerConfig": 1 } }))
        .await;
    assert_eq!(
        body["data"]["updateSettings"]["keepScansPerConfig"], 1,
        "{body}"
    );
    let body = app
        .gql(&admin, "mutation { applyRetention }", json!({}))
        .await;
    assert_eq!(body["data"]["applyRetention"], 2, "{body}");
    let after = app.gql(&admin, counts, json!({})).await;
    assert_eq!(after["data"]["scans"]["totalCount"], 1, "{after}");
    assert_eq!(after["data"]["hosts"], before["data"]["hosts"]);
    assert_eq!(after["data"]["changes"], before["data"]["changes"]);
    let body = app
        .gql(
            &admin,
            "{ changes(first: 1, kinds: [HOST_NEW]) { edges { node { scan { id } } } } }",
            json!({}),
        )
        .await;
    assert!(
        body["data"]["changes"]["edges"][0]["node"]["scan"].is_null(),
        "{body}"
    );
    let body = app
        .gql(
            &admin,
            "query($id:ID!){ scan(id:$id){ id } }",
            json!({ "id": ids[2] }),
        )
        .await;
    assert_eq!(
        body["data"]["scan"]["id"],
        ids[2].as_str(),
        "the newest stays"
    );

    // Days: a scan finished long ago goes.
    let db = app.db().await;
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};
    let mut row: entity::scan::ActiveModel =
        entity::scan::Entity::find_by_id(ids[2].parse::<i32>().expect("id"))
            .one(&db)
            .await
            .expect("read")
            .expect("row")
            .into();
    row.completed_at = Set(Some(chrono::Utc::now() - chrono::Duration::days(40)));
    row.update(&db).await.expect("age it");
    let body = app
        .gql(
            &admin,
            set,
            json!({ "i": { "keepScansPerConfig": 0, "keepDays": 30 } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let body = app
        .gql(&admin, "mutation { applyRetention }", json!({}))
        .await;
    assert_eq!(body["data"]["applyRetention"], 1, "{body}");
    let after = app.gql(&admin, counts, json!({})).await;
    assert_eq!(after["data"]["scans"]["totalCount"], 0);
    assert_eq!(after["data"]["changes"], before["data"]["changes"]);
    app.stop().await;
}

/// A diff reads only the head's hosts whose digest differs from the base's: its entries equal
/// those of reading every host (the digests dropped), on both databases.
async fn a_diff_through_digests_equals_the_whole_read(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |_| {}).await else {
        return;
    };
    let admin = app.admin().await;
    let first = nmap_parser::synthetic::service_scan(60);
    let base = app.import_xml(&admin, "", &first).await;
    let head = app
        .import_xml(
            &admin,
            "",
            &nmap_parser::synthetic::changed_service_scan(&first),
        )
        .await;
    let query = "query($b:ID!,$h:ID!){ scanDiff(baseId:$b, headId:$h){ counts { total changed } \
                 entries(first: 100) { totalCount edges { node { kind site address protocol port before after } } } } }";
    let through = app
        .gql(&admin, query, json!({ "b": base, "h": head }))
        .await;
    assert!(through["errors"].is_null(), "{through}");
    let total = through["data"]["scanDiff"]["counts"]["total"]
        .as_u64()
        .unwrap_or_default();
    assert!(total > 10, "the changed copy differs: {through}");
    let db = app.db().await;
    let digests = db
        .execute_unprepared(&format!(
            "DELETE FROM scan_digests WHERE scan_id IN ({base}, {head})"
        ))
        .await
        .expect("drop digests")
        .rows_affected();
    assert_eq!(digests, 2, "both scans had digests");
    let whole = app
        .gql(&admin, query, json!({ "b": base, "h": head }))
        .await;
    assert_eq!(through, whole);
    app.stop().await;
}

#[tokio::test]
async fn a_diff_through_digests_equals_the_whole_read_sqlite() {
    a_diff_through_digests_equals_the_whole_read(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_diff_through_digests_equals_the_whole_read_postgres() {
    a_diff_through_digests_equals_the_whole_read(Backend::Postgres).await;
}

/// `hosts(filter:)` in the filter language over an imported corpus: each count equals the one
/// computed from the XML itself (nmap_parser), on both databases; a bad filter is VALIDATION
/// with its column and changes nothing.
/// Asserts `list(filter:)`'s `totalCount` for each (filter, count).
async fn expect_totals(app: &TestApp, client: &reqwest::Client, list: &str, cases: &[(&str, u64)]) {
    for (filter, expected) in cases {
        let body = app
            .gql(
                client,
                &format!("query($f:String){{ {list}(first: 1, filter:$f){{ totalCount }} }}"),
                json!({ "f": filter }),
            )
            .await;
        assert_eq!(
            body["data"][list]["totalCount"], *expected,
            "{list} {filter:?}: {body}"
        );
    }
}

async fn the_filter_language_selects_hosts(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |_| {}).await else {
        return;
    };
    let admin = app.admin().await;
    // 600 hosts over 127.0.0.0/22 (127.0.0.1 … 127.0.2.100).
    let xml = nmap_parser::synthetic::service_scan(600);
    app.import_xml(&admin, "", &xml).await;
    let run = nmap_parser::parse_str(&xml).expect("parse");
    let count = |keep: &dyn Fn(&nmap_parser::Host) -> bool| {
        run.hosts.iter().filter(|h| keep(h)).count() as u64
    };
    let open = |h: &nmap_parser::Host, port: u16| h.open_ports().any(|p| p.portid == port);
    let product = |h: &nmap_parser::Host, name: &str| {
        h.open_ports().any(|p| {
            p.service
                .as_ref()
                .and_then(|s| s.product.as_deref())
                .is_some_and(|s| s.eq_ignore_ascii_case(name))
        })
    };
    let in_net = |h: &nmap_parser::Host, net: &str| {
        let net: ipnet::IpNet = net.parse().expect("net");
        h.ip().is_some_and(|ip| net.contains(&ip))
    };
    let cases: Vec<(&str, u64)> = vec![
        ("", count(&|_| true)),
        ("port:8080", count(&|h| open(h, 8080))),
        ("-port:8080", count(&|h| !open(h, 8080))),
        (
            "port:8080 OR port:22",
            count(&|h| open(h, 8080) || open(h, 22)),
        ),
        ("port>5000", count(&|h| open(h, 5432) || open(h, 8080))),
        (
            "product:simplehttpserver",
            count(&|h| product(h, "SimpleHTTPServer")),
        ),
        (
            "product:Simple*",
            count(&|h| product(h, "SimpleHTTPServer")),
        ),
        (
            "service:postgresql port:8080",
            count(&|h| open(h, 5432) && open(h, 8080)),
        ),
        (
            "address:127.0.1.0/24",
            count(&|h| in_net(h, "127.0.1.0/24")),
        ),
        (
            "address:127.0.0.0/23 -port:8080",
            count(&|h| in_net(h, "127.0.0.0/23") && !open(h, 8080)),
        ),
        ("address:127.0.2.7", count(&|h| in_net(h, "127.0.2.7/32"))),
        (
            "hostname:host1*",
            count(&|h| h.hostname().is_some_and(|n| n.starts_with("host1"))),
        ),
        (
            "(port:8080 address:127.0.0.0/24) OR hostname:host599.probe.local",
            count(&|h| {
                (open(h, 8080) && in_net(h, "127.0.0.0/24"))
                    || h.hostname() == Some("host599.probe.local")
            }),
        ),
        ("protocol:udp", 0),
        // The document is from 2026-11-21: its hosts were seen (and new) then.
        ("seen<1h", 0),
        ("seen>7d", count(&|_| true)),
        ("changed>7d kind:HOST_NEW", count(&|_| true)),
        ("changed<1d", 0),
        ("severity>=high", count(&|_| true)),
        ("probe.local", count(&|_| true)),
    ];
    expect_totals(&app, &admin, "hosts", &cases).await;
    // The same language over change events (the import's HOST_NEW and PORT_OPENED).
    let opened: u64 = run
        .hosts
        .iter()
        .map(|h| h.open_ports().count() as u64)
        .sum();
    let changes = [
        ("kind:PORT_OPENED", opened),
        ("kind:port_opened port:8080", count(&|h| open(h, 8080))),
        (
            "kind:HOST_NEW address:127.0.1.0/24",
            count(&|h| in_net(h, "127.0.1.0/24")),
        ),
        (
            "kind:HOST_NEW hostname:host1*",
            count(&|h| h.hostname().is_some_and(|n| n.starts_with("host1"))),
        ),
        ("port>=5432 -port:8080", count(&|h| open(h, 5432))),
        ("changed>7d kind:PORT_OPENED protocol:tcp", opened),
        ("changed<1d", 0),
    ];
    expect_totals(&app, &admin, "changes", &changes).await;
    let body = app
        .gql(
            &admin,
            "{ changes(filter: \"product:nginx\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "VALIDATION", "{body}");

    // What an operator says of a host: tags and owner.
    app.tag_host(&admin, "127.0.0.1", &["prod", "web"], "netops")
        .await;
    let tagged = [
        ("tag:prod", 1),
        ("tag:WEB owner:netops", 1),
        ("-tag:prod", run.hosts.len() as u64 - 1),
        ("tag:pro*", 1),
        ("owner:other", 0),
        ("netops", 1),
    ];
    expect_totals(&app, &admin, "hosts", &tagged).await;

    // `scans(filter: { query })`: a scan matches what it found. A second, smaller import
    // (three of the same hosts, changed: a version, a port gone, CUPS on 631).
    let second =
        nmap_parser::synthetic::changed_service_scan(&nmap_parser::synthetic::service_scan(3));
    app.import_xml(&admin, "", &second).await;
    let docs = [run, nmap_parser::parse_str(&second).expect("parse")];
    let scans_with = |keep: &dyn Fn(&nmap_parser::Host) -> bool| {
        docs.iter().filter(|d| d.hosts.iter().any(keep)).count() as u64
    };
    let version = |h: &nmap_parser::Host, v: &str| {
        h.open_ports().any(|p| {
            p.service
                .as_ref()
                .and_then(|s| s.version.as_deref())
                .is_some_and(|s| s == v)
        })
    };
    let scan_cases: Vec<(&str, u64)> = vec![
        ("", 2),
        ("port:631", scans_with(&|h| open(h, 631))),
        ("port:8080", scans_with(&|h| open(h, 8080))),
        ("-port:631", 2 - scans_with(&|h| open(h, 631))),
        ("product:cups", scans_with(&|h| product(h, "CUPS"))),
        ("version:1.26.2", scans_with(&|h| version(h, "1.26.2"))),
        (
            "address:127.0.2.7",
            scans_with(&|h| in_net(h, "127.0.2.7/32")),
        ),
        (
            "address:127.0.0.0/30",
            scans_with(&|h| in_net(h, "127.0.0.0/30")),
        ),
        (
            "hostname:host599.probe.local",
            scans_with(&|h| h.hostname() == Some("host599.probe.local")),
        ),
        ("state:up", 2),
        // The first import found every host new; the second closed 22 on one of them.
        ("kind:HOST_NEW", 1),
        ("kind:PORT_CLOSED", 1),
        ("kind:PORT_OPENED port:631", 1),
        ("seen<1h", 2),
        ("seen>1d", 0),
        // 127.0.0.1, tagged above, is in both.
        ("tag:prod owner:netops", 2),
        ("completed", 2),
    ];
    for (filter, expected) in &scan_cases {
        let body = app
            .gql(
                &admin,
                "query($f:String){ scans(first: 1, filter:{query:$f}){ totalCount } }",
                json!({ "f": filter }),
            )
            .await;
        assert_eq!(
            body["data"]["scans"]["totalCount"], *expected,
            "scans {filter:?}: {body}"
        );
    }
    // With the status filter: both apply.
    for (status, expected) in [("COMPLETED", 1), ("FAILED", 0)] {
        let body = app
            .gql(
                &admin,
                &format!(
                    "{{ scans(filter:{{status:[{status}], query:\"port:631\"}}){{ totalCount }} }}"
                ),
                json!({}),
            )
            .await;
        assert_eq!(body["data"]["scans"]["totalCount"], expected, "{body}");
    }
    let body = app
        .gql(
            &admin,
            "{ scans(filter:{query:\"port:http\"}){ totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "VALIDATION", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["column"], 6, "{body}");
    let body = app
        .gql(
            &admin,
            "{ hosts(filter: \"site:lab port:http\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "VALIDATION", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["column"], 15, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("expected a port number")),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_filter_language_selects_hosts_sqlite() {
    the_filter_language_selects_hosts(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_filter_language_selects_hosts_postgres() {
    the_filter_language_selects_hosts(Backend::Postgres).await;
}

/// (port, protocol, service, product, version) of an open port.
type OpenPort = (i64, String, String, Option<String>, Option<String>);

/// A host of an imported document, for the in-memory matcher.
struct Seen {
    site: String,
    address: String,
    ip: std::net::IpAddr,
    hostname: Option<String>,
    ports: Vec<OpenPort>,
}

impl filter::Record for Seen {
    fn facts(&self, field: filter::Field) -> Vec<filter::Fact<'_>> {
        use filter::{Fact, Field};
        match field {
            Field::Site => vec![Fact::Text(&self.site)],
            Field::Address => vec![Fact::Address(self.ip)],
            Field::Hostname => self
                .hostname
                .as_deref()
                .map(Fact::Text)
                .into_iter()
                .collect(),
            Field::State => vec![Fact::Text("up")],
            Field::Port => self.ports.iter().map(|p| Fact::Number(p.0)).collect(),
            Field::Protocol => self.ports.iter().map(|p| Fact::Text(&p.1)).collect(),
            Field::Service => self.ports.iter().map(|p| Fact::Text(&p.2)).collect(),
            Field::Product => self
                .ports
                .iter()
                .filter_map(|p| p.3.as_deref().map(Fact::Text))
                .collect(),
            Field::Version => self
                .ports
                .iter()
                .filter_map(|p| p.4.as_deref().map(Fact::Text))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// What `hosts(filter:)` looks for a bare word in.
    fn words(&self) -> Vec<String> {
        let mut words = vec![self.site.clone(), self.address.clone(), "[]".to_owned()];
        words.extend(self.hostname.clone());
        words
    }
}

/// Random filters (a fixed seed): the SQL the server compiles and the in-memory matcher agree
/// on every one, over the hosts of an imported document, on both databases.
async fn sql_and_matcher_agree(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |_| {}).await else {
        return;
    };
    let admin = app.admin().await;
    let xml =
        nmap_parser::synthetic::changed_service_scan(&nmap_parser::synthetic::service_scan(500));
    app.import_xml(&admin, "", &xml).await;
    let body = app
        .gql(
            &admin,
            "{ hosts(first: 1) { edges { node { site } } } }",
            json!({}),
        )
        .await;
    let site = body["data"]["hosts"]["edges"][0]["node"]["site"]
        .as_str()
        .expect("site")
        .to_owned();
    let run = nmap_parser::parse_str(&xml).expect("parse");
    let hosts: Vec<Seen> = run
        .hosts
        .iter()
        .filter_map(|h| {
            Some(Seen {
                site: site.clone(),
                address: h.ip()?.to_string(),
                ip: h.ip()?,
                hostname: h.hostname().map(str::to_owned),
                ports: h
                    .open_ports()
                    .map(|p| {
                        let s = p.service.as_ref();
                        (
                            i64::from(p.portid),
                            p.protocol.to_string().to_lowercase(),
                            s.map(|s| s.name.clone()).unwrap_or_default(),
                            s.and_then(|s| s.product.clone()),
                            s.and_then(|s| s.version.clone()),
                        )
                    })
                    .collect(),
            })
        })
        .collect();

    let atoms = [
        "port:22",
        "port:631",
        "port>1000",
        "port<=80",
        "port>=8080",
        "protocol:tcp",
        "service:http",
        "service:ipp",
        "service:*sql*",
        "product:nginx",
        "product:\"PostgreSQL DB\"",
        "product:cups",
        "version:1.26.2",
        "version:1.24*",
        "address:127.0.0.0/8",
        "address:127.0.1.0/24",
        "address:127.0.0.128/25",
        "address:127.0.1.7",
        "hostname:host1*",
        "hostname:host42.probe.local",
        "state:up",
        "probe",
        "host3",
        "127.0.1.",
        "site:nowhere",
    ];
    let mut seed: u64 = 0x5eed_f11e;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n
    };
    fn build(next: &mut impl FnMut(usize) -> usize, atoms: &[&str], depth: usize) -> String {
        if depth == 0 || next(3) == 0 {
            let atom = atoms[next(atoms.len())];
            return if next(4) == 0 {
                format!("-{atom}")
            } else {
                atom.to_owned()
            };
        }
        let (a, b) = (build(next, atoms, depth - 1), build(next, atoms, depth - 1));
        match next(4) {
            0 => format!("{a} {b}"),
            1 => format!("({a} OR {b})"),
            2 => format!("NOT ({a} {b})"),
            _ => format!("{a} AND ({b})"),
        }
    }
    for _ in 0..60 {
        let text = build(&mut next, &atoms, 3);
        let expr = filter::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let expected = hosts.iter().filter(|h| expr.matches(*h)).count() as u64;
        let body = app
            .gql(
                &admin,
                "query($f:String){ hosts(first: 1, filter:$f){ totalCount } }",
                json!({ "f": text }),
            )
            .await;
        assert_eq!(
            body["data"]["hosts"]["totalCount"], expected,
            "{text:?}: {body}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn sql_and_matcher_agree_sqlite() {
    sql_and_matcher_agree(Backend::Sqlite).await;
}

#[tokio::test]
async fn sql_and_matcher_agree_postgres() {
    sql_and_matcher_agree(Backend::Postgres).await;
}

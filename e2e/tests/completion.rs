//! The completion pipeline: a scan is COMPLETED only after its results, findings and reports
//! are stored, so a client acting on the first COMPLETED event never races a writer; imports
//! are all or nothing although they commit in batches.

use e2e::listeners::{self, Kind};
use e2e::{TestApp, error_code, ws};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use serde_json::json;

#[tokio::test]
async fn deleting_a_scan_at_its_first_completed_event_leaves_no_file() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let ip = listeners::loopback(listeners::loopback_block(), 1);
    let http = listeners::start(ip, Kind::Http).await;
    let port = http.addr.port();
    let yaml = format!(
        "title: Race\nsites:\n  - name: Lab\n    ips:\n      - address: {ip}\n        expected: {{ ping: true, tcp_ports: [{port}] }}\nscan:\n  tcp_ports: \"{port}\"\n  phases: [tcp, service, http]\n"
    );
    let config_id = app.create_config(&admin, &yaml).await;
    let mut socket = ws::signed_in(&app).await;
    app.subscribe_updates(&mut socket, "u").await;
    let id = app.start_config_scan(&admin, &config_id).await;

    // While it runs, its reports are not there to download (and no download writes them).
    let running = ws::events_until(&mut socket, &id, |e| e["status"] == "RUNNING").await;
    assert!(!running.is_empty());
    let res = admin
        .get(format!("{}/api/scans/{id}/report.json", app.base))
        .send()
        .await
        .expect("download");
    let early = res.status().as_u16();
    assert!(
        early == 409,
        "a running scan's report must be refused, got {early}"
    );

    let events = ws::events_until(&mut socket, &id, ws::is_terminal).await;
    assert_eq!(
        events.last().map(|e| e["status"].clone()),
        Some(json!("COMPLETED"))
    );
    // At the first COMPLETED event the reports are whole already; delete at once.
    let reports = app.data_dir.path().join("reports").join(&id);
    assert!(
        reports.join("report.zip").is_file(),
        "reports written before COMPLETED"
    );
    let body = app
        .gql(
            &admin,
            "mutation($id:ID!){ deleteScan(id:$id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["deleteScan"], true, "{body}");
    for dir in ["reports", "scans", "screenshots"] {
        let path = app.data_dir.path().join(dir).join(&id);
        assert!(!path.exists(), "{} left behind", path.display());
    }
    app.stop().await;
}

/// `POST /api/imports` with the document as the raw body.
async fn upload(app: &TestApp, client: &reqwest::Client, xml: String) -> (u16, serde_json::Value) {
    let res = client
        .post(format!("{}/api/imports", app.base))
        .header("Content-Type", "application/xml")
        .body(xml)
        .send()
        .await
        .expect("upload");
    let status = res.status().as_u16();
    (status, res.json().await.expect("json answer"))
}

#[tokio::test]
async fn import_completes_through_the_pipeline_and_a_bad_file_leaves_nothing() {
    let mut app = TestApp::spawn().await;
    let admin = app.admin().await;
    let xml = nmap_parser::synthetic::service_scan(1_200);
    let (status, body) = upload(&app, &admin, xml.clone()).await;
    assert_eq!(status, 201, "{body}");
    let id = body["scan"]["id"].as_str().expect("id").to_owned();
    let body = app
        .gql(
            &admin,
            "query($id:ID!){ scan(id:$id){ status phase } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["scan"]["status"], "COMPLETED", "{body}");
    assert_eq!(body["data"]["scan"]["phase"], "DONE");
    let reports = app.data_dir.path().join("reports").join(&id);
    assert!(reports.join("report.html").is_file());
    let db = app.db().await;
    let row = entity::scan::Entity::find_by_id(id.parse::<i32>().expect("int"))
        .one(&db)
        .await
        .expect("read")
        .expect("row");
    assert!(row.findings_at.is_some(), "findings stored at completion");
    // What the document's scan probed (its scaninfo) is recorded.
    assert_eq!(
        row.coverage.as_deref(),
        Some(r#"{"tcp":"1-1000","udp":null}"#)
    );
    // The document is kept as the scan's raw XML, byte for byte.
    let files = app
        .gql(
            &admin,
            "query($id:ID!){ scan(id:$id){ nmapXml { phase url storedBytes } } }",
            json!({ "id": id }),
        )
        .await;
    let file = &files["data"]["scan"]["nmapXml"][0];
    assert_eq!(file["phase"], "import", "{files}");
    let stored = file["storedBytes"].as_i64().expect("size");
    assert!(
        stored > 0 && stored < xml.len() as i64 / 4,
        "compressed: {files}"
    );
    let kept = admin
        .get(format!(
            "{}{}",
            app.base,
            file["url"].as_str().expect("url")
        ))
        .send()
        .await
        .expect("download")
        .text()
        .await
        .expect("text");
    assert!(
        kept == xml,
        "the imported document comes back as uploaded: {} of {} bytes, ends {:?}",
        kept.len(),
        xml.len(),
        &kept[kept.len().saturating_sub(40)..]
    );

    // Cut after the third batch of 500 hosts was committed: nothing of it may stay.
    let cut = xml
        .match_indices("<host ")
        .nth(1_100)
        .map(|(at, _)| at)
        .expect("long enough");
    let (status, body) = upload(&app, &admin, xml[..cut].to_owned()).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "VALIDATION", "{body}");
    assert_eq!(
        entity::scan::Entity::find()
            .count(&db)
            .await
            .expect("count"),
        1
    );
    let ips = entity::scan_ip::Entity::find()
        .count(&db)
        .await
        .expect("count");
    assert_eq!(ips, 1_200, "only the first import's addresses");

    // A process that died mid-import leaves a staged scan: the next start removes it.
    let mut staged: entity::scan::ActiveModel =
        server::service::results::store(&db, e2e::sample_scan("cut short", 1, 3))
            .await
            .expect("seed")
            .into();
    staged.status = Set("RUNNING".into());
    staged.phase = Set(server::domain::status::ScanPhase::Importing.as_str().into());
    let staged = staged.update(&db).await.expect("mark staged");
    app.restart().await;
    assert!(
        entity::scan::Entity::find_by_id(staged.id)
            .one(&db)
            .await
            .expect("read")
            .is_none(),
        "an abandoned import is deleted at start"
    );
    app.stop().await;
}

#[tokio::test]
async fn uploads_stream_into_the_importer_with_the_apis_rules() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    // Far over the 1 MiB cap of /graphql: an upload is streamed, not held to it.
    let xml = nmap_parser::synthetic::service_scan(3_000);
    assert!(xml.len() > 4 << 20, "{} bytes", xml.len());

    // A form (curl -F title=… -F file=@scan.xml), options before the file.
    let boundary = "sneakyscan-boundary-7d9a";
    let mut form = Vec::new();
    form.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nFrom a form\r\n"
        )
        .as_bytes(),
    );
    form.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"scan.xml\"\r\nContent-Type: application/xml\r\n\r\n").as_bytes(),
    );
    form.extend_from_slice(xml.as_bytes());
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let res = admin
        .post(format!("{}/api/imports", app.base))
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status().as_u16(), 201);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["scan"]["title"], "From a form", "{body}");
    assert_eq!(body["scan"]["status"], "COMPLETED");
    assert_eq!(body["scan"]["hostsTotal"], 3_000);

    // Raw body with options in the query; judged against a config.
    let config_id = app
        .create_config(
            &admin,
            "title: Judge\nsites:\n  - name: Lab\n    ips:\n      - address: 127.0.0.1\n        expected: { ping: true, tcp_ports: [1] }\n",
        )
        .await;
    let res = admin
        .post(format!(
            "{}/api/imports?title=Raw&configId={config_id}",
            app.base
        ))
        .header("Content-Type", "text/xml")
        .body(include_str!(
            "../../nmap-parser/tests/data/nmap_sV_root.xml"
        ))
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status().as_u16(), 201);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["scan"]["title"], "Raw");

    // The API's rules: signed out 401, VIEWER 403, another site's page 403, not XML 415,
    // not nmap 400.
    let small = "<?xml version=\"1.0\"?><nmaprun scanner=\"nmap\"></nmaprun>";
    let anonymous = app.client();
    let viewer = app.user_with_role("watcher", "VIEWER").await;
    for (client, origin, content_type, body, want) in [
        (&anonymous, None, "application/xml", small, 401),
        (&viewer, None, "application/xml", small, 403),
        (
            &admin,
            Some("http://evil.example"),
            "application/xml",
            small,
            403,
        ),
        (&admin, None, "application/json", "{}", 415),
        (&admin, None, "application/xml", "<html></html>", 400),
    ] {
        let mut req = client
            .post(format!("{}/api/imports", app.base))
            .header("Content-Type", content_type)
            .body(body);
        if let Some(origin) = origin {
            req = req.header("Origin", origin);
        }
        let res = req.send().await.expect("upload");
        assert_eq!(res.status().as_u16(), want, "{origin:?} {content_type}");
        let body: serde_json::Value = res.json().await.expect("json");
        assert!(
            body["errors"][0]["extensions"]["code"].is_string(),
            "{body}"
        );
    }
    let body = app.gql(&admin, "{ scans { totalCount } }", json!({})).await;
    assert_eq!(
        body["data"]["scans"]["totalCount"], 2,
        "refused uploads store nothing"
    );
    app.stop().await;
}

/// Reports are written a batch of addresses at a time: a scan of several sites (one empty)
/// and more addresses than a batch comes out whole, in order, valid against the schema.
#[tokio::test]
async fn reports_of_a_scan_larger_than_a_batch_are_whole_and_valid() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let db = app.db().await;
    let mut new = e2e::sample_scan("batched", 3, 300);
    new.sites.insert(
        1,
        server::service::results::NewSite {
            name: "Empty site".into(),
            ips: Vec::new(),
        },
    );
    let row = server::service::results::store(&db, new)
        .await
        .expect("seed");
    let id = row.id.to_string();
    let body = app
        .gql(
            &admin,
            "mutation($id:ID!){ generateReports(id:$id){ id } }",
            json!({ "id": id }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let report: serde_json::Value = admin
        .get(format!("{}/api/scans/{id}/report.json", app.base))
        .send()
        .await
        .expect("download")
        .json()
        .await
        .expect("the streamed JSON parses");
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/report.schema.json")).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let sites = report["sites"].as_array().expect("sites");
    let counts: Vec<(String, usize)> = sites
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_owned(),
                s["ips"].as_array().map(Vec::len).unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(counts.len(), 4, "{counts:?}");
    assert_eq!(counts[1], ("Empty site".to_owned(), 0), "{counts:?}");
    assert!(
        counts.iter().filter(|(_, n)| *n == 300).count() == 3,
        "{counts:?}"
    );
    // Every address once: 900 distinct addresses in the JSON and in the page.
    let addresses: std::collections::HashSet<&str> = sites
        .iter()
        .flat_map(|s| s["ips"].as_array().into_iter().flatten())
        .filter_map(|ip| ip["address"].as_str())
        .collect();
    assert_eq!(addresses.len(), 900);
    // Three findings per address (unexpected 443, its self-signed certificate, missing
    // 8080), as the API lists them.
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(2_700));
    // Walked page by page (keyset by id), the API lists the same findings in the same order.
    let mut listed = Vec::new();
    let mut after = serde_json::Value::Null;
    loop {
        let page = app
            .gql(
                &admin,
                "query($id:ID!,$a:String){ scan(id:$id){ findings(first: 100, after: $a){ totalCount pageInfo { hasNextPage endCursor } edges { node { code address } } } } }",
                json!({ "id": id, "a": after }),
            )
            .await;
        let findings = &page["data"]["scan"]["findings"];
        assert_eq!(findings["totalCount"], 2_700, "{page}");
        for edge in findings["edges"].as_array().expect("edges") {
            listed.push((
                edge["node"]["code"].clone(),
                edge["node"]["address"].clone(),
            ));
        }
        if findings["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = findings["pageInfo"]["endCursor"].clone();
    }
    let reported: Vec<_> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| (f["code"].clone(), f["address"].clone()))
        .collect();
    assert_eq!(listed.len(), 2_700);
    assert_eq!(listed, reported);
    let html = admin
        .get(format!("{}/api/scans/{id}/report.html", app.base))
        .send()
        .await
        .expect("download")
        .text()
        .await
        .expect("html");
    assert!(
        html.trim_end().ends_with("</main></body></html>"),
        "the page is whole"
    );
    assert!(addresses.iter().all(|a| html.contains(a)));
    assert!(html.contains("Empty site") && html.contains("No addresses."));
    app.stop().await;
}

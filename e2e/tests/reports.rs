//! Service analysis and reports against real nmap and listeners on 127.x: the HTTP probe, the
//! certificate of a known self-signed HTTPS server field by field, every finding of a weak TLS
//! server, screenshots (where Chromium is installed), JSON/HTML/ZIP downloads, traversal
//! attempts on the download routes, and deletion.

use std::io::Read;

use e2e::TestApp;
use e2e::listeners::{
    self, CERT_CN, CERT_NOT_AFTER, CERT_NOT_BEFORE, CERT_SERIAL, HTTP_SERVER, HTTP_TITLE, Kind,
    WEAK_CN,
};
use e2e::ws;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const TREE: &str = "query($id:ID!){ scan(id:$id){
  id status message reports { json html zip } nmapXml { phase url storedBytes }
  findings(first: 100) { totalCount edges { node { code severity address port protocol message } } }
  sites { name ips { address ports { port state
    service { id name tunnel screenshotUrl http { status title server location responseMs }
      certificate { subject issuer sans notBefore notAfter serial sha256Fingerprint keyType keyBits signatureAlgorithm selfSigned }
      tlsVersions { version grade } }
  } } }
} }";

fn port<'a>(scan: &'a Value, address: &str, port: u16) -> &'a Value {
    scan["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .flat_map(|s| s["ips"].as_array().expect("ips"))
        .filter(|ip| ip["address"] == address)
        .flat_map(|ip| ip["ports"].as_array().expect("ports"))
        .find(|p| p["port"] == port)
        .unwrap_or_else(|| panic!("{address}:{port} not in {scan:#}"))
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, Vec<u8>) {
    let res = client.get(url).send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn web_services_are_probed_analysed_and_reported() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let block = listeners::loopback_block();
    let (a, b) = (listeners::loopback(block, 1), listeners::loopback(block, 2));
    let http = listeners::start(a, Kind::Http).await;
    let https = listeners::start(a, Kind::Https).await;
    let weak = listeners::start(b, Kind::WeakTls).await;
    let (p_http, p_https, p_weak) = (http.addr.port(), https.addr.port(), weak.addr.port());
    let yaml = format!(
        "title: Web lab
sites:
  - name: Web
    ips:
      - address: {a}
        expected: {{ ping: true, tcp_ports: [{p_http}, {p_https}] }}
      - address: {b}
        expected: {{ ping: true, tcp_ports: [{p_weak}] }}
scan:
  tcp_ports: \"{p_http},{p_https},{p_weak}\"
  phases: [ping, tcp, service, http, tls, screenshot]
"
    );
    let config_id = app.create_config(&admin, &yaml).await;
    let mut socket = ws::signed_in(&app).await;
    app.subscribe_updates(&mut socket, "u").await;
    let id = app.start_config_scan(&admin, &config_id).await;
    let events = ws::events_until(&mut socket, &id, ws::is_terminal).await;
    let phases: Vec<&str> = events.iter().filter_map(|e| e["phase"].as_str()).collect();
    assert!(phases.contains(&"HTTP"), "{phases:?}");

    let scan = app.gql(&admin, TREE, json!({ "id": id })).await["data"]["scan"].clone();
    assert_eq!(scan["status"], "COMPLETED", "{scan:#}");

    // The HTTP probe.
    let web = &port(&scan, &a.to_string(), p_http)["service"];
    assert_eq!(web["http"]["status"], 200, "{web:#}");
    assert_eq!(web["http"]["title"], HTTP_TITLE);
    assert_eq!(web["http"]["server"], HTTP_SERVER);
    assert!(web["http"]["responseMs"].as_i64().is_some());

    // The known certificate, field by field.
    let tls = &port(&scan, &a.to_string(), p_https)["service"];
    assert_eq!(tls["http"]["status"], 200, "{tls:#}");
    let der = https.cert_der.as_ref().expect("listener certificate");
    assert_eq!(
        tls["certificate"],
        json!({
            "subject": format!("CN={CERT_CN}"),
            "issuer": format!("CN={CERT_CN}"),
            "sans": [format!("DNS:{CERT_CN}"), format!("IP:{a}")],
            "notBefore": CERT_NOT_BEFORE,
            "notAfter": CERT_NOT_AFTER,
            "serial": CERT_SERIAL,
            "sha256Fingerprint": hex::encode(Sha256::digest(der)),
            "keyType": "ec",
            "keyBits": 256,
            "signatureAlgorithm": "ecdsa-with-SHA256",
            "selfSigned": true,
        }),
        "{tls:#}"
    );

    // The weak server: every finding raised.
    let weak_svc = &port(&scan, &b.to_string(), p_weak)["service"];
    assert_eq!(
        weak_svc["certificate"]["subject"],
        format!("CN={WEAK_CN}"),
        "{weak_svc:#}"
    );
    assert_eq!(weak_svc["certificate"]["keyBits"], 1024);
    let versions: Vec<&str> = weak_svc["tlsVersions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert!(versions.contains(&"TLSv1.0"), "{versions:?}");
    let findings: Vec<&Value> = scan["findings"]["edges"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|e| &e["node"])
        .collect();
    assert_eq!(scan["findings"]["totalCount"], findings.len());
    let codes_at = |addr: String, port: u16| -> Vec<&str> {
        findings
            .iter()
            .filter(|f| f["address"] == addr && f["port"] == port)
            .filter_map(|f| f["code"].as_str())
            .collect()
    };
    let weak_codes = codes_at(b.to_string(), p_weak);
    for code in [
        "CERT_EXPIRED",
        "CERT_WEAK_KEY",
        "CERT_SELF_SIGNED",
        "TLS_OLD_VERSION",
    ] {
        assert!(weak_codes.contains(&code), "{code} missing: {weak_codes:?}");
    }
    let good_codes = codes_at(a.to_string(), p_https);
    assert_eq!(good_codes, ["CERT_SELF_SIGNED"], "{findings:#?}");

    // Screenshots, where Chromium is installed.
    let chromium = server::scanner::screenshot::find_chromium("").is_some();
    if chromium {
        let url = web["screenshotUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("no screenshot: {scan:#}"));
        let (status, png) = get(&admin, &format!("{}{url}", app.base)).await;
        assert_eq!(status, 200);
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    } else {
        assert!(
            scan["message"]
                .as_str()
                .unwrap_or_default()
                .contains("Chromium"),
            "{scan:#}"
        );
    }

    // The run's files moved into the database: nothing is left on disk, the raw XML of each
    // phase that ran is listed and served as nmap wrote it.
    for dir in ["scans", "screenshots"] {
        assert!(
            !app.data_dir.path().join(dir).join(&id).exists(),
            "{dir}/{id} is gone from disk"
        );
    }
    let phases: Vec<&str> = scan["nmapXml"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["phase"].as_str())
        .collect();
    assert_eq!(phases, ["ping", "tcp", "service"], "{scan:#}");
    let (status, xml) = get(
        &admin,
        &format!("{}/api/scans/{id}/nmap/service.xml", app.base),
    )
    .await;
    assert_eq!(status, 200);
    let xml = String::from_utf8(xml).expect("utf-8");
    assert!(
        xml.contains("<nmaprun") && xml.contains(&format!("portid=\"{p_https}\"")),
        "{xml}"
    );
    for phase in ["udp", "http", "..%2Fservice", "tcp.json"] {
        let (status, _) = get(
            &admin,
            &format!("{}/api/scans/{id}/nmap/{phase}.xml", app.base),
        )
        .await;
        assert_eq!(status, 404, "{phase}");
    }

    // Reports: JSON against its schema, HTML with every host and port, ZIP entries. The report
    // cache of this process is dropped first: the reports are written from the database alone
    // (as another replica would).
    std::fs::remove_dir_all(app.data_dir.path().join("reports").join(&id)).expect("cache");
    let reports = &scan["reports"];
    let (status, json_bytes) = get(
        &admin,
        &format!("{}{}", app.base, reports["json"].as_str().expect("url")),
    )
    .await;
    assert_eq!(status, 200);
    let report: Value = serde_json::from_slice(&json_bytes).expect("report json");
    let schema: Value =
        serde_json::from_str(include_str!("../../docs/report.schema.json")).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let mut declared = vec![p_http, p_https];
    declared.sort_unstable();
    assert_eq!(
        report["sites"][0]["ips"][0]["expected"]["tcp_ports"],
        json!(declared)
    );
    let (status, html) = get(
        &admin,
        &format!("{}{}", app.base, reports["html"].as_str().expect("url")),
    )
    .await;
    assert_eq!(status, 200);
    let html = String::from_utf8(html).expect("utf-8");
    for needle in [
        a.to_string(),
        b.to_string(),
        p_http.to_string(),
        p_https.to_string(),
        p_weak.to_string(),
        HTTP_TITLE.to_owned(),
    ] {
        assert!(html.contains(&needle), "{needle} not in the HTML report");
    }
    assert!(!html.contains("<script"), "self-contained, no scripts");
    let (status, zip_bytes) = get(
        &admin,
        &format!("{}{}", app.base, reports["zip"].as_str().expect("url")),
    )
    .await;
    assert_eq!(status, 200);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).expect("zip");
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    assert!(
        names.contains(&"report.json".to_owned()) && names.contains(&"report.html".to_owned()),
        "{names:?}"
    );
    if chromium {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("screenshots/") && n.ends_with(".png")),
            "{names:?}"
        );
        assert!(
            html.contains("data:image/png;base64,"),
            "screenshot in the HTML report"
        );
    }
    for phase in ["ping", "tcp", "service"] {
        assert!(names.contains(&format!("nmap/{phase}.xml")), "{names:?}");
    }
    let mut inner = String::new();
    zip.by_name("report.json")
        .expect("entry")
        .read_to_string(&mut inner)
        .expect("read");
    let inner: Value = serde_json::from_str(&inner).expect("the zipped JSON parses");
    assert_eq!(inner["scan"]["id"].to_string(), id.to_string());

    // Who may download: nobody anonymous; a viewer may.
    let (status, _) = get(
        &reqwest::Client::new(),
        &format!("{}/api/scans/{id}/report.json", app.base),
    )
    .await;
    assert_eq!(status, 401);
    let viewer = app.user_with_role("vera", "VIEWER").await;
    let (status, _) = get(&viewer, &format!("{}/api/scans/{id}/report.html", app.base)).await;
    assert_eq!(status, 200);

    // Foreign, unknown and malformed ids, traversal: 404, nothing outside the data dir read.
    for path in [
        format!("/api/scans/{id}/..%2F..%2F..%2Fetc%2Fpasswd"),
        format!("/api/scans/{id}/report.exe"),
        format!("/api/scans/{id}/report.json%00"),
        "/api/scans/999999/report.json".to_owned(),
        "/api/scans/abc/report.json".to_owned(),
        "/api/scans/%2e%2e/report.json".to_owned(),
        "/api/scans/..%2F..%2Fetc/passwd".to_owned(),
        format!("/api/scans/{id}/services/999999/screenshot.png"),
        format!("/api/scans/{id}/services/..%2F..%2Fetc%2Fpasswd/screenshot.png"),
        "/api/nothing/here".to_owned(),
    ] {
        let (status, body) = get(&admin, &format!("{}{path}", app.base)).await;
        assert_eq!(status, 404, "{path}");
        assert!(!String::from_utf8_lossy(&body).contains("root:"), "{path}");
    }

    // Deleting the scan removes its reports and screenshots.
    let reports_dir = app.data_dir.path().join("reports").join(&id);
    assert!(reports_dir.join("report.zip").is_file());
    let deleted = app
        .gql(
            &admin,
            "mutation($id:ID!){ deleteScan(id:$id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted["data"]["deleteScan"], true, "{deleted}");
    assert!(!reports_dir.exists());
    assert!(!app.data_dir.path().join("screenshots").join(&id).exists());
    let (status, _) = get(&admin, &format!("{}/api/scans/{id}/report.json", app.base)).await;
    assert_eq!(status, 404);
    app.stop().await;
}

/// Services that are not what they seem: silent, or answering garbage. The probe reports an
/// error for each and never hangs past its limit.
#[tokio::test]
async fn the_http_probe_survives_silent_and_garbage_services() {
    use server::scanner::http_probe::{Limits, Target, probe_all};
    let block = listeners::loopback_block();
    let ip = listeners::loopback(block, 1);
    let silent = listeners::start(ip, Kind::Silent).await;
    let garbage = listeners::start(ip, Kind::Banner).await;
    let https_as_http = listeners::start(ip, Kind::Https).await;
    let targets: Vec<Target> = [
        (silent.addr, true),
        (silent.addr, false),
        (garbage.addr, false),
        (garbage.addr, true),
        (https_as_http.addr, false),
    ]
    .into_iter()
    .map(|(addr, tls)| Target {
        ip: addr.ip(),
        port: addr.port(),
        tls,
    })
    .collect();
    let answers = probe_all(
        &targets,
        Limits {
            timeout: std::time::Duration::from_secs(2),
            concurrency: 8,
        },
    )
    .await;
    assert_eq!(answers.len(), targets.len());
    for (t, a) in targets.iter().zip(&answers) {
        assert!(a.error.is_some() || a.status.is_some(), "{t:?}: {a:?}");
        assert!(a.title.as_deref().is_none_or(|t| t.chars().count() <= 201));
    }
    assert!(
        answers[0].error.is_some() && answers[1].error.is_some(),
        "silent: {answers:?}"
    );
    assert!(
        answers[3].error.is_some(),
        "a banner is no TLS handshake: {:?}",
        answers[3]
    );
}

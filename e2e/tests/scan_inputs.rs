//! Bad input to the scan engine gets a clear error and creates nothing; scope settings;
//! imports of nmap XML (good and bad).

use e2e::{TestApp, error_code};
use serde_json::{Value, json};

const START: &str = "mutation($i:StartScanInput!){ startScan(input:$i){ id status } }";
const IMPORT: &str = "mutation($i:ImportNmapXmlInput!){ importNmapXml(input:$i){
  id title status summary { hostsTotal hostsUp openPorts services certificates unexpectedPorts missingPorts }
  sites { name ips { address ports { port state unexpected service { name product } } } }
} }";
const SETTINGS: &str =
    "{ settings { allowedCidrs deniedCidrs maxAddressesPerScan maxConcurrentScans } }";
const UPDATE: &str = "mutation($i:UpdateSettingsInput!){ updateSettings(input:$i){ allowedCidrs deniedCidrs maxAddressesPerScan maxConcurrentScans } }";

async fn scan_count(app: &TestApp, client: &reqwest::Client) -> i64 {
    let body = app.gql(client, "{ scans { totalCount } }", json!({})).await;
    body["data"]["scans"]["totalCount"].as_i64().expect("count")
}

fn scans_dir_is_empty(app: &TestApp) -> bool {
    std::fs::read_dir(app.data_dir.path().join("scans"))
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

#[tokio::test]
async fn bad_targets_and_ports_are_refused_and_create_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "targets": ["-oN /tmp/x"] }), "VALIDATION"),
        (json!({ "targets": ["127.0.0.1 --script=x"] }), "VALIDATION"),
        (json!({ "targets": ["$(id)"] }), "VALIDATION"),
        (json!({ "targets": [";ls"] }), "VALIDATION"),
        (json!({ "targets": ["127.0.0.1/0"] }), "VALIDATION"),
        (json!({ "targets": ["0.0.0.0/0"] }), "VALIDATION"),
        (json!({ "targets": ["my host.example"] }), "VALIDATION"),
        (json!({ "targets": [] }), "VALIDATION"),
        (
            json!({ "targets": ["127.0.0.1"], "ports": "0" }),
            "VALIDATION",
        ),
        (
            json!({ "targets": ["127.0.0.1"], "ports": "65536" }),
            "VALIDATION",
        ),
        (
            json!({ "targets": ["127.0.0.1"], "ports": "1-" }),
            "VALIDATION",
        ),
        (
            json!({ "targets": ["127.0.0.1"], "ports": "22;ls" }),
            "VALIDATION",
        ),
        (json!({}), "VALIDATION"),
        (
            json!({ "targets": ["127.0.0.1"], "configId": "1" }),
            "VALIDATION",
        ),
        (json!({ "configId": "999" }), "NOT_FOUND"),
        // Outside the scope (narrowed below to 127.0.0.0/16; targets stay on loopback):
        // refused before anything exists.
        (json!({ "targets": ["127.1.0.1"] }), "SCOPE"),
        (json!({ "targets": ["127.0.0.1", "127.2.0.0/24"] }), "SCOPE"),
    ];
    let narrowed = app
        .gql(
            &admin,
            UPDATE,
            json!({ "i": { "allowedCidrs": ["127.0.0.0/16"] } }),
        )
        .await;
    assert!(narrowed["errors"].is_null(), "{narrowed}");
    for (input, code) in cases {
        let body = app.gql(&admin, START, json!({ "i": input })).await;
        assert_eq!(error_code(&body), code, "{input}: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    assert_eq!(scan_count(&app, &admin).await, 0);
    assert!(scans_dir_is_empty(&app), "nothing written");

    // A viewer may not start scans at all.
    let viewer = app.user_with_role("vera", "VIEWER").await;
    let body = app
        .gql(&viewer, START, json!({ "i": { "targets": ["127.0.0.1"] } }))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    app.stop().await;
}

#[tokio::test]
async fn scope_settings_are_admin_only_validated_and_enforced() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let body = app.gql(&admin, SETTINGS, json!({})).await;
    assert_eq!(
        body["data"]["settings"],
        json!({ "allowedCidrs": ["127.0.0.0/8", "::1/128"], "deniedCidrs": [],
                "maxAddressesPerScan": 65536, "maxConcurrentScans": 3 })
    );
    let operator = app.user_with_role("otto", "OPERATOR").await;
    for (q, v) in [
        (SETTINGS, json!({})),
        (UPDATE, json!({ "i": { "maxConcurrentScans": 9 } })),
    ] {
        assert_eq!(error_code(&app.gql(&operator, q, v).await), "FORBIDDEN");
    }
    for bad in [
        json!({ "deniedCidrs": ["127.0.5.1/24"] }),
        json!({ "allowedCidrs": ["not-a-net"] }),
        json!({ "maxConcurrentScans": 0 }),
        json!({ "maxAddressesPerScan": -1 }),
    ] {
        let body = app.gql(&admin, UPDATE, json!({ "i": bad })).await;
        assert_eq!(error_code(&body), "VALIDATION", "{bad}: {body}");
    }
    // Unchanged by the refused updates.
    assert_eq!(
        app.gql(&admin, SETTINGS, json!({})).await["data"]["settings"]["maxConcurrentScans"],
        3
    );

    let body = app
        .gql(
            &admin,
            UPDATE,
            json!({ "i": { "deniedCidrs": ["127.0.5.0/24"], "maxAddressesPerScan": 16 } }),
        )
        .await;
    assert_eq!(
        body["data"]["updateSettings"]["deniedCidrs"],
        json!(["127.0.5.0/24"]),
        "{body}"
    );
    for (targets, code) in [
        (json!(["127.0.5.7"]), "SCOPE"),
        (json!(["127.0.0.0/16"]), "SCOPE"), // holds the denied range
        (json!(["127.0.6.0/27"]), "SCOPE"), // 32 addresses > 16
    ] {
        let body = app
            .gql(&operator, START, json!({ "i": { "targets": targets } }))
            .await;
        assert_eq!(error_code(&body), code, "{targets}: {body}");
    }
    assert_eq!(scan_count(&app, &admin).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn import_stores_a_completed_scan_judged_against_a_config() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let xml = include_str!("../../nmap-parser/tests/data/nmap_sV_root.xml");
    let body = app
        .gql(
            &admin,
            IMPORT,
            json!({ "i": { "xml": xml, "title": "Imported lab" } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let scan = &body["data"]["importNmapXml"];
    assert_eq!(scan["status"], "COMPLETED");
    assert_eq!(scan["title"], "Imported lab");
    assert_eq!(scan["sites"][0]["name"], "Imported");
    let open = scan["summary"]["openPorts"].as_i64().expect("open ports");
    assert!(open > 0, "{scan:#}");
    assert_eq!(
        scan["summary"]["unexpectedPorts"], 0,
        "no config: no verdicts"
    );

    // The same file judged against a config that declares nothing open on its first host.
    let run = nmap_parser::parse_str(xml).expect("sample");
    let host = run
        .hosts
        .iter()
        .find(|h| h.open_ports().next().is_some())
        .expect("a host");
    let ip = host.ip().expect("ip");
    let yaml = format!(
        "title: Judge\nsites:\n  - name: Lab\n    ips:\n      - address: {ip}\n        expected: {{ ping: true, tcp_ports: [1] }}\n"
    );
    let config_id = app.create_config(&admin, &yaml).await;
    let body = app
        .gql(
            &admin,
            IMPORT,
            json!({ "i": { "xml": xml, "configId": config_id } }),
        )
        .await;
    let scan = &body["data"]["importNmapXml"];
    assert_eq!(scan["sites"][0]["name"], "Lab", "{body}");
    let host_open = i64::try_from(host.open_ports().count()).expect("present");
    assert_eq!(scan["summary"]["unexpectedPorts"], host_open, "{scan:#}");
    assert_eq!(scan["summary"]["missingPorts"], 1);
    app.stop().await;
}

/// masscan writes one host element per open port; an address's elements can be far apart,
/// in different import batches. Each address is stored once, with all its ports.
#[tokio::test]
async fn masscan_import_merges_addresses_across_batches() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let host = |i: usize, port: u16| {
        format!(
            "<host endtime=\"1795226001\"><address addr=\"127.40.{}.{}\" addrtype=\"ipv4\"/><ports><port protocol=\"tcp\" portid=\"{port}\"><state state=\"open\" reason=\"syn-ack\" reason_ttl=\"64\"/></port></ports></host>\n",
            i / 250,
            i % 250 + 1
        )
    };
    let mut xml = String::from(
        "<?xml version=\"1.0\"?>\n<nmaprun scanner=\"masscan\" start=\"1795226000\" version=\"1.0-BETA\" xmloutputversion=\"1.03\">\n<scaninfo type=\"syn\" protocol=\"tcp\" />\n",
    );
    for port in [80, 443] {
        for i in 0..700 {
            xml.push_str(&host(i, port));
        }
    }
    xml.push_str(&host(3, 80)); // the very same finding again
    xml.push_str("<runstats><finished time=\"1795226015\" elapsed=\"15\" /><hosts up=\"700\" down=\"0\" total=\"700\" /></runstats>\n</nmaprun>\n");
    let body = app
        .gql(
            &admin,
            "mutation($i:ImportNmapXmlInput!){ importNmapXml(input:$i){ id title summary { hostsTotal hostsUp openPorts } } }",
            json!({ "i": { "xml": xml } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let scan = &body["data"]["importNmapXml"];
    assert_eq!(scan["title"], "Imported masscan scan");
    assert_eq!(
        scan["summary"],
        json!({ "hostsTotal": 700, "hostsUp": 700, "openPorts": 1400 })
    );
    let detail = app
        .gql(
            &admin,
            "query($id:ID!){ scan(id:$id){ sites { ips { address ports { port } } } } }",
            json!({ "id": scan["id"] }),
        )
        .await;
    let ips = detail["data"]["scan"]["sites"][0]["ips"]
        .as_array()
        .expect("ips");
    assert_eq!(ips.len(), 700, "one row per address");
    assert!(
        ips.iter()
            .all(|ip| ip["ports"].as_array().is_some_and(|p| p.len() == 2)),
        "every address has both ports"
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_xml_is_refused_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let good = include_str!("../../nmap-parser/tests/data/nmap_sV_root.xml");
    let cases = [
        String::new(),
        "<?xml version=\"1.0\"?><html><body>not nmap</body></html>".to_owned(),
        "<?xml version=\"1.0\"?>\n<!DOCTYPE nmaprun [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<nmaprun scanner=\"nmap\">&xxe;</nmaprun>".to_owned(),
        "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">]>\n<nmaprun>&lol2;</nmaprun>".to_owned(),
        // Cut short: complete hosts would be readable, but an import is all or nothing.
        good[..good.len() / 2].to_owned(),
    ];
    for xml in cases {
        let body = app
            .gql(&admin, IMPORT, json!({ "i": { "xml": xml } }))
            .await;
        assert_eq!(
            error_code(&body),
            "VALIDATION",
            "{}: {body}",
            &xml.chars().take(60).collect::<String>()
        );
    }
    assert_eq!(scan_count(&app, &admin).await, 0);
    let viewer = app.user_with_role("vic", "VIEWER").await;
    let body = app
        .gql(&viewer, IMPORT, json!({ "i": { "xml": good } }))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    app.stop().await;
}

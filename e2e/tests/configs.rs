//! Scan configs through the API: validation with line/column, CRUD, nothing changed on error.

use e2e::{Backend, TestApp, both_backends, error_code};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

const GOOD: &str = "title: Loopback lab
sites:
  - name: Lab services
    ips:
      - address: 127.0.0.1
        expected: { ping: true, tcp_ports: [22, 8080], udp_ports: [] }
    cidrs:
      - cidr: 127.0.10.0/28
        expected: { ping: true, tcp_ports: [80] }
scan:
  tcp_ports: \"1-1024,8080,8443\"
";
const CREATE: &str =
    "mutation($y:String!){ createScanConfig(input:{yaml:$y}){ id title siteNames addressCount } }";

async fn config_count(app: &TestApp) -> u64 {
    entity::scan_config::Entity::find()
        .count(&app.db().await)
        .await
        .expect("count")
}

async fn config_crud(backend: Backend) {
    let app = TestApp::spawn_with(backend, |_| {}).await.expect("app");
    let admin = app.admin().await;
    let created = app.gql(&admin, CREATE, json!({ "y": GOOD })).await;
    let c = &created["data"]["createScanConfig"];
    assert_eq!(c["title"], "Loopback lab", "{created}");
    assert_eq!(c["siteNames"], json!(["Lab services"]));
    assert_eq!(c["addressCount"], 17);
    let id = c["id"].clone();

    let updated = app
        .gql(
            &admin,
            "mutation($id:ID!,$y:String!){ updateScanConfig(id:$id, input:{yaml:$y}){ title yaml } }",
            json!({ "id": id, "y": GOOD.replace("Loopback lab", "Renamed lab") }),
        )
        .await;
    assert_eq!(
        updated["data"]["updateScanConfig"]["title"], "Renamed lab",
        "{updated}"
    );

    let list = app
        .gql(
            &admin,
            "{ scanConfigs(first: 10) { totalCount edges { node { id title } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["data"]["scanConfigs"]["totalCount"], 1);
    assert_eq!(
        list["data"]["scanConfigs"]["edges"][0]["node"]["title"],
        "Renamed lab"
    );

    let one = app
        .gql(
            &admin,
            "query($id:ID!){ scanConfig(id:$id){ yaml } }",
            json!({ "id": id }),
        )
        .await;
    assert!(
        one["data"]["scanConfig"]["yaml"]
            .as_str()
            .expect("yaml")
            .contains("Renamed lab")
    );

    let deleted = app
        .gql(
            &admin,
            "mutation($id:ID!){ deleteScanConfig(id:$id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted["data"]["deleteScanConfig"], true);
    let gone = app
        .gql(
            &admin,
            "query($id:ID!){ scanConfig(id:$id){ id } }",
            json!({ "id": id }),
        )
        .await;
    assert!(gone["data"]["scanConfig"].is_null());
    let again = app
        .gql(
            &admin,
            "mutation($id:ID!){ deleteScanConfig(id:$id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&again), "NOT_FOUND");
    app.stop().await;
}
both_backends!(config_crud);

#[tokio::test]
async fn invalid_configs_are_refused_with_line_and_column_and_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let created = app.gql(&admin, CREATE, json!({ "y": GOOD })).await;
    let id = created["data"]["createScanConfig"]["id"].clone();
    let cases = [
        ("title: [unclosed\nsites: x\n".to_owned(), None),
        (GOOD.replace("127.0.10.0/28", "127.0.10.0/33"), Some(8)),
        (GOOD.replace("127.0.10.0/28", "not-a-cidr"), Some(8)),
        (GOOD.replace("[22, 8080]", "[22, 0]"), Some(6)),
        (GOOD.replace("[22, 8080]", "[22, 70000]"), Some(6)),
        (GOOD.replace("1-1024,8080,8443", "1-"), Some(11)),
        (format!("{GOOD}  phases: [ping, nse]\n"), Some(12)),
        (
            "title: t\nsites:\n  - name: a\n    ips: [{address: 127.0.0.1}]\n  - name: a\n    ips: [{address: 127.0.0.2}]\n".to_owned(),
            Some(5),
        ),
        ("".to_owned(), None),
    ];
    for (yaml, line) in &cases {
        let body = app.gql(&admin, CREATE, json!({ "y": yaml })).await;
        assert_eq!(error_code(&body), "VALIDATION", "{yaml}: {body}");
        if let Some(line) = line {
            assert_eq!(
                body["errors"][0]["extensions"]["line"], *line,
                "{yaml}: {body}"
            );
            assert!(
                body["errors"][0]["extensions"]["column"].is_number(),
                "{body}"
            );
        }
        // An update with the same bad YAML leaves the stored config as it was.
        let upd = app
            .gql(
                &admin,
                "mutation($id:ID!,$y:String!){ updateScanConfig(id:$id, input:{yaml:$y}){ id } }",
                json!({ "id": id, "y": yaml }),
            )
            .await;
        assert_eq!(error_code(&upd), "VALIDATION");
    }
    assert_eq!(config_count(&app).await, 1);
    let stored = app
        .gql(
            &admin,
            "query($id:ID!){ scanConfig(id:$id){ yaml } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(stored["data"]["scanConfig"]["yaml"], GOOD);
    app.stop().await;
}

#[tokio::test]
async fn example_configs_are_valid_and_target_loopback_only() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let files = server::service::configs::yaml_files(&dir).expect("configs dir");
    assert!(!files.is_empty(), "example configs exist");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        let config = server::domain::config::parse(&text)
            .unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
        for target in config.sites.iter().flat_map(|s| &s.targets) {
            let loopback = match &target.target {
                server::domain::config::Target::Ip(ip) => ip.is_loopback(),
                server::domain::config::Target::Cidr(net) => net.addr().is_loopback(),
            };
            assert!(
                loopback,
                "{}: {} is not loopback",
                file.display(),
                target.target
            );
        }
    }
}

#[tokio::test]
async fn configs_dir_is_imported_at_start_when_enabled() {
    let configs = tempfile::tempdir().expect("dir");
    std::fs::write(configs.path().join("lab.yaml"), GOOD).expect("write");
    let dir = configs.path().to_path_buf();
    let app = TestApp::spawn_with(Backend::Sqlite, move |s| {
        s.configs_dir = dir;
        s.import_configs_at_start = true;
    })
    .await
    .expect("app");
    assert_eq!(config_count(&app).await, 1);
    app.stop().await;
}

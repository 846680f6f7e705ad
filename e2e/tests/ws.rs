//! Subscriptions over real websockets: graphql-transport-ws and legacy graphql-ws, cookie and
//! API-key authentication, Origin checks, init timeout, identical `scanUpdates` subscriptions
//! sharing one execution.

use e2e::listeners::{self, Kind};
use e2e::{TestApp, sample_scan, ws};
use serde_json::{Value, json};

const PROGRESS: &str = "subscription($id:ID!){ scanProgress(scanId:$id){ scanId status phase percent hostsUp openPorts } }";

#[tokio::test]
async fn scan_progress_over_graphql_transport_ws_with_the_session_cookie() {
    let app = TestApp::spawn().await;
    let scan = server::service::results::store(&app.db().await, sample_scan("done", 1, 3))
        .await
        .expect("seed");
    let mut socket = ws::signed_in(&app).await;
    ws::send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": PROGRESS, "variables": { "id": scan.id.to_string() } } }),
    )
    .await;
    // First event: the current state. The scan is finished, so the stream then completes.
    let first = ws::next(&mut socket).await.expect("next");
    assert_eq!(first["type"], "next", "{first}");
    let p = &first["payload"]["data"]["scanProgress"];
    assert_eq!(p["status"], "COMPLETED");
    assert_eq!(p["percent"], 100.0);
    assert_eq!(p["hostsUp"], 3);
    assert_eq!(p["openPorts"], 6);
    let done = ws::next(&mut socket).await.expect("complete");
    assert_eq!(done["type"], "complete", "{done}");
    app.stop().await;
}

#[tokio::test]
async fn api_key_in_connection_init_authenticates_and_legacy_protocol_works() {
    let app = TestApp::spawn().await;
    let scan = server::service::results::store(&app.db().await, sample_scan("done", 1, 1))
        .await
        .expect("seed");
    let admin = app.admin().await;
    let token = app.create_api_key(&admin, "ws").await;

    // graphql-transport-ws, no cookie, no Origin (a script).
    let _script = ws::with_key(&app, &token).await;

    // Legacy graphql-ws (subscriptions-transport-ws).
    let mut legacy = ws::connect(&app.base, "graphql-ws", None, None)
        .await
        .expect("connect");
    let ack = ws::init(&mut legacy, json!({ "apiKey": token }))
        .await
        .expect("ack");
    assert_eq!(ack["type"], "connection_ack");
    ws::send(
        &mut legacy,
        json!({ "id": "1", "type": "start", "payload": { "query": PROGRESS, "variables": { "id": scan.id.to_string() } } }),
    )
    .await;
    let data = ws::next(&mut legacy).await.expect("data");
    assert_eq!(data["type"], "data", "{data}");
    assert_eq!(
        data["payload"]["data"]["scanProgress"]["status"],
        "COMPLETED"
    );
    app.stop().await;
}

#[tokio::test]
async fn websocket_without_credentials_or_with_a_bad_key_is_refused() {
    let app = TestApp::spawn().await;
    for payload in [json!({}), json!({ "authorization": "Bearer ssk_wrong" })] {
        let mut socket = ws::connect(&app.base, "graphql-transport-ws", None, None)
            .await
            .expect("connect");
        let answer = ws::init(&mut socket, payload.clone()).await;
        assert!(
            answer
                .as_ref()
                .is_none_or(|a| a["type"] != "connection_ack"),
            "{payload}: {answer:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn websocket_from_a_foreign_origin_is_refused_before_upgrade() {
    let app = TestApp::spawn().await;
    let cookie = ws::session_cookie(&app).await;
    let err = ws::connect(
        &app.base,
        "graphql-transport-ws",
        Some("http://evil.example"),
        Some(&cookie),
    )
    .await
    .expect_err("foreign origin");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(res) => assert_eq!(res.status(), 403),
        other => panic!("expected HTTP 403, got {other:?}"),
    }
    app.stop().await;
}

#[tokio::test]
async fn websocket_that_never_sends_init_is_closed() {
    let app = TestApp::spawn_with(e2e::Backend::Sqlite, |s| s.http.ws_init_timeout_secs = 1)
        .await
        .expect("app");
    let mut socket = ws::connect(&app.base, "graphql-transport-ws", None, None)
        .await
        .expect("connect");
    // Send nothing: the server hangs up after the init timeout (bounded by the harness WAIT).
    assert!(ws::next(&mut socket).await.is_none());
    app.stop().await;
}

#[tokio::test]
async fn subscription_to_an_unknown_scan_answers_not_found() {
    let app = TestApp::spawn().await;
    let mut socket = ws::signed_in(&app).await;
    ws::send(
        &mut socket,
        json!({ "id": "9", "type": "subscribe", "payload": { "query": PROGRESS, "variables": { "id": "424242" } } }),
    )
    .await;
    let err = ws::next(&mut socket).await.expect("error");
    assert_eq!(err["type"], "next", "{err}");
    assert_eq!(
        err["payload"]["errors"][0]["extensions"]["code"],
        "NOT_FOUND"
    );
    app.stop().await;
}

/// What a socket saw of a scan, as (status, phase, percent).
fn seen(events: &[Value]) -> Vec<(String, String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["status"].to_string(),
                e["phase"].to_string(),
                e["percent"].to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn identical_scan_updates_share_one_execution_per_role_and_every_socket_sees_every_event() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let executions = "sneakyscan_shared_subscription_executions";
    let listeners_metric = "sneakyscan_scan_event_listeners";
    assert_eq!(app.metric(executions).await, 0);

    // Two admin sockets, a VIEWER's, and a legacy-protocol admin socket: one document.
    let mut first = ws::signed_in(&app).await;
    let mut second = ws::signed_in(&app).await;
    app.subscribe_updates(&mut first, "u").await;
    app.subscribe_updates(&mut second, "u").await;
    let viewer = app.user_with_role("vic", "VIEWER").await;
    let viewer_key = app.create_api_key(&viewer, "ws").await;
    let mut as_viewer = ws::with_key(&app, &viewer_key).await;
    app.subscribe_updates(&mut as_viewer, "v").await;
    let admin_key = app.create_api_key(&admin, "legacy").await;
    let mut legacy = ws::connect(&app.base, "graphql-ws", None, None)
        .await
        .expect("connect");
    let ack = ws::init(&mut legacy, json!({ "apiKey": admin_key }))
        .await
        .expect("ack");
    assert_eq!(ack["type"], "connection_ack");
    let before = app.metric(listeners_metric).await;
    ws::send(
        &mut legacy,
        json!({ "id": "l", "type": "start", "payload": {
            "query": "subscription { scanUpdates { scanId status phase percent message hostsUp openPorts } }"
        }}),
    )
    .await;
    while app.metric(listeners_metric).await <= before {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(app.metric(listeners_metric).await, 4);
    // One execution per role: the admins' and the viewer's.
    assert_eq!(app.metric(executions).await, 2);

    // A scan: every socket sees the same events, in the same order, to the end.
    let block = listeners::loopback_block();
    let banner = listeners::start(listeners::loopback(block, 1), Kind::Banner).await;
    let started = app
        .gql(
            &admin,
            "mutation($t:[String!]!,$p:String){ startScan(input:{targets:$t, ports:$p}){ id } }",
            json!({ "t": [banner.addr.ip().to_string()], "p": banner.addr.port().to_string() }),
        )
        .await;
    let id = started["data"]["startScan"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_owned();
    let a = ws::events_until(&mut first, &id, ws::is_terminal).await;
    let b = ws::events_until(&mut second, &id, ws::is_terminal).await;
    let v = ws::events_until(&mut as_viewer, &id, ws::is_terminal).await;
    assert_eq!(a.last().expect("events")["status"], "COMPLETED", "{a:?}");
    assert!(a.iter().any(|e| e["status"] == "RUNNING"), "{a:?}");
    assert_eq!(seen(&a), seen(&b));
    assert_eq!(seen(&a), seen(&v));
    let mut old = Vec::new();
    loop {
        let msg = ws::next(&mut legacy).await.expect("data");
        assert_eq!(msg["type"], "data", "{msg}");
        assert_eq!(msg["id"], "l", "{msg}");
        let event = msg["payload"]["data"]["scanUpdates"].clone();
        if event["scanId"] == id.as_str() {
            let end = ws::is_terminal(&event);
            old.push(event);
            if end {
                break;
            }
        }
    }
    assert_eq!(seen(&a), seen(&old));

    // Completing one subscription answers `complete` and leaves the others running.
    ws::send(&mut second, json!({ "id": "u", "type": "complete" })).await;
    let done = ws::next(&mut second).await.expect("complete");
    assert_eq!(done, json!({ "type": "complete", "id": "u" }));
    assert_eq!(app.metric(listeners_metric).await, 3);
    // The same id may be used again on that socket.
    app.subscribe_updates(&mut second, "u").await;
    assert_eq!(app.metric(executions).await, 2);
    app.stop().await;
}

/// Identical subscriptions on one socket share its one receiver of the execution: each event
/// comes once per subscription, in the order they were made; completing one leaves the other.
#[tokio::test]
async fn identical_subscriptions_on_one_socket_each_get_every_event() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let listeners_metric = "sneakyscan_scan_event_listeners";
    let mut socket = ws::signed_in(&app).await;
    app.subscribe_updates(&mut socket, "x").await;
    app.subscribe_updates(&mut socket, "y").await;
    while app.metric(listeners_metric).await < 2 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        app.metric("sneakyscan_shared_subscription_executions")
            .await,
        1
    );

    let block = listeners::loopback_block();
    let banner = listeners::start(listeners::loopback(block, 1), Kind::Banner).await;
    async fn scan(app: &TestApp, admin: &reqwest::Client, target: std::net::SocketAddr) -> String {
        let started = app
            .gql(
                admin,
                "mutation($t:[String!]!,$p:String){ startScan(input:{targets:$t, ports:$p}){ id } }",
                json!({ "t": [target.ip().to_string()], "p": target.port().to_string() }),
            )
            .await;
        started["data"]["startScan"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{started}"))
            .to_owned()
    }
    // Reads the socket until the scan's terminal event came for every id in `ids`; returns
    // the (id, status) pairs of that scan, in order.
    async fn until_both_ended(
        socket: &mut ws::Socket,
        scan: &str,
        ids: &[&str],
    ) -> Vec<(String, String)> {
        let mut seen = Vec::new();
        let mut ended = 0;
        while ended < ids.len() {
            let msg = ws::next(socket).await.expect("message");
            assert_eq!(msg["type"], "next", "{msg}");
            let event = &msg["payload"]["data"]["scanUpdates"];
            if event["scanId"] != scan {
                continue;
            }
            let id = msg["id"].as_str().expect("id").to_owned();
            assert!(ids.contains(&id.as_str()), "{msg}");
            if ws::is_terminal(event) {
                ended += 1;
            }
            seen.push((id, event["status"].as_str().unwrap_or_default().to_owned()));
        }
        seen
    }
    let first = scan(&app, &admin, banner.addr).await;
    let seen = until_both_ended(&mut socket, &first, &["x", "y"]).await;
    // Every event twice, x then y.
    assert_eq!(seen.len() % 2, 0, "{seen:?}");
    for pair in seen.chunks(2) {
        assert_eq!(
            (pair[0].0.as_str(), pair[1].0.as_str()),
            ("x", "y"),
            "{seen:?}"
        );
        assert_eq!(pair[0].1, pair[1].1, "{seen:?}");
    }
    assert_eq!(seen.last().map(|s| s.1.as_str()), Some("COMPLETED"));

    ws::send(&mut socket, json!({ "id": "x", "type": "complete" })).await;
    let done = ws::next(&mut socket).await.expect("complete");
    assert_eq!(done, json!({ "type": "complete", "id": "x" }));
    assert_eq!(app.metric(listeners_metric).await, 1);
    let second = scan(&app, &admin, banner.addr).await;
    let seen = until_both_ended(&mut socket, &second, &["y"]).await;
    assert!(seen.iter().all(|(id, _)| id == "y"), "{seen:?}");
    app.stop().await;
}

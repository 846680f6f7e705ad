//! Alerts (issue 16) against real nmap scans of loopback listeners, with a webhook receiver,
//! a Slack-format receiver and an SMTP sink on loopback: a new open port → one alert and one
//! delivery per channel (the webhook's signature and body checked independently); the same
//! state again → nothing new; confirm-after-2 opens on the second scan only; a receiver
//! answering 500 → retries, then SENT once it recovers, across a server restart;
//! `alertUpdates` tells live; acknowledge, and resolve when the port closes (a resolve notice);
//! the cooldown holds; SSRF refusal; secrets never in an answer; roles. On SQLite and
//! PostgreSQL.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use e2e::listeners::{self, Kind};
use e2e::receivers::{HttpReceiver, SmtpSink, signature_holds};
use e2e::{Backend, TestApp, error_code, ws};
use serde_json::{Value, json};

const ALERTS: &str = "query($f:String){ alerts(first: 50, filter: $f) { totalCount edges { node {
  id status kind severity subject port summary eventCount acknowledgedBy note resolvedBy
  rule { name } events { kind port scan { id } } deliveries { id kind status attempts statusCode lastError channel { name } } } } } }";

async fn scan(app: &TestApp, client: &reqwest::Client, config: &str) -> String {
    let id = app.start_config_scan(client, config).await;
    app.until_completed(client, &id).await;
    id
}

async fn alerts(app: &TestApp, client: &reqwest::Client, filter: Option<&str>) -> Vec<Value> {
    let body = app.gql(client, ALERTS, json!({ "f": filter })).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["alerts"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn of_rule<'a>(all: &'a [Value], rule: &str) -> Vec<&'a Value> {
    all.iter().filter(|a| a["rule"]["name"] == rule).collect()
}

/// Waits until `what` holds, re-reading with `read`.
async fn until<T>(what: &str, mut read: impl AsyncFnMut() -> T, done: impl Fn(&T) -> bool) -> T
where
    T: std::fmt::Debug,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let v = read().await;
        if done(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

fn mutation_ok<'a>(body: &'a Value, field: &str) -> &'a Value {
    assert!(body["errors"].is_null(), "{field}: {body}");
    &body["data"][field]
}

const RULE: &str = "mutation($i:AlertRuleInput!){ createAlertRule(input:$i){ id name events minSeverity confirmAfterScans channels { name } } }";
const CHANNEL: &str =
    "mutation($i:ChannelInput!){ createChannel(input:$i){ id name kind target hasSecret } }";

async fn alerts_end_to_end(backend: Backend) {
    let ip = listeners::loopback(listeners::loopback_block(), 1);
    let hook = HttpReceiver::start(ip).await;
    let slack = HttpReceiver::start(ip).await;
    let smtp = SmtpSink::start(ip).await;
    let smtp_addr = smtp.addr;
    let Some(mut app) = TestApp::spawn_with(backend, |s| {
        s.alerts.retry_base_ms = 200;
        s.alerts.retry_max_secs = 1;
        s.alerts.timeout_secs = 5;
        s.alerts.smtp.host = smtp_addr.ip().to_string();
        s.alerts.smtp.port = smtp_addr.port();
        s.alerts.smtp.security = "none".into();
        s.alerts.smtp.from = "Scanner <scanner@example.test>".into();
    })
    .await
    else {
        eprintln!("SNEAKYSCAN_TEST_POSTGRES_URL not set: PostgreSQL lane skipped");
        return;
    };
    let admin = app.admin().await;
    let viewer = app.user_with_role("vera", "VIEWER").await;

    // The shipped rules are there, disabled.
    let body = app
        .gql(
            &admin,
            "{ alertRules { name enabled events scope } }",
            json!({}),
        )
        .await;
    let shipped: Vec<&str> = body["data"]["alertRules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        shipped,
        [
            "Certificate expiring in 14 days",
            "Scan failed",
            "Unexpected port"
        ],
        "{body}"
    );
    assert!(
        body["data"]["alertRules"]
            .as_array()
            .expect("rules")
            .iter()
            .all(|r| r["enabled"] == false)
    );

    let secret = app
        .gql(&admin, "{ generateWebhookSecret }", json!({}))
        .await["data"]["generateWebhookSecret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert!(secret.starts_with("whsec_"));
    let webhook = json!({ "name": "hook", "kind": "WEBHOOK", "url": hook.url("/in/s3cr3t-path"), "secret": secret });

    // SSRF: loopback is refused until an admin allows it; nothing is created.
    let refused = app.gql(&admin, CHANNEL, json!({ "i": webhook })).await;
    assert_eq!(error_code(&refused), "VALIDATION", "{refused}");
    assert!(
        refused.to_string().contains("internal address"),
        "{refused}"
    );
    let body = app.gql(&admin, "mutation{ updateSettings(input:{ notifyAllowedCidrs: [\"127.0.0.0/8\"] }){ notifyAllowedCidrs } }", json!({})).await;
    assert_eq!(
        mutation_ok(&body, "updateSettings")["notifyAllowedCidrs"],
        json!(["127.0.0.0/8"])
    );
    let empty = app.gql(&admin, "{ channels { id } }", json!({})).await;
    assert_eq!(empty["data"]["channels"], json!([]));

    // Channels: ADMIN only; bad input changes nothing.
    let denied = app.gql(&viewer, CHANNEL, json!({ "i": webhook })).await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
    for (bad, why) in [
        (
            json!({ "name": "x", "kind": "WEBHOOK", "url": hook.url("/a") }),
            "secret",
        ),
        (
            json!({ "name": "x", "kind": "WEBHOOK", "url": hook.url("/a"), "secret": "whsec_short" }),
            "secret",
        ),
        (
            json!({ "name": "x", "kind": "SLACK", "url": "ftp://example.test/" }),
            "url",
        ),
        (
            json!({ "name": "x", "kind": "EMAIL", "emailTo": "not an address" }),
            "emailTo",
        ),
        (
            json!({ "name": "", "kind": "EMAIL", "emailTo": "a@example.test" }),
            "name",
        ),
    ] {
        let body = app.gql(&admin, CHANNEL, json!({ "i": bad })).await;
        assert_eq!(error_code(&body), "VALIDATION", "{bad}: {body}");
        assert!(body.to_string().contains(why), "{why}: {body}");
    }
    let hook_id = mutation_ok(
        &app.gql(&admin, CHANNEL, json!({ "i": webhook })).await,
        "createChannel",
    )["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let slack_id = mutation_ok(&app.gql(&admin, CHANNEL, json!({ "i": { "name": "chat", "kind": "SLACK", "url": slack.url("/services/T0/B0/token") } })).await, "createChannel")["id"].as_str().expect("id").to_owned();
    let mail_id = mutation_ok(&app.gql(&admin, CHANNEL, json!({ "i": { "name": "mail", "kind": "EMAIL", "emailTo": "ops@example.test, Sec <sec@example.test>" } })).await, "createChannel")["id"].as_str().expect("id").to_owned();
    let dup = app
        .gql(
            &admin,
            CHANNEL,
            json!({ "i": { "name": "mail", "kind": "EMAIL", "emailTo": "a@example.test" } }),
        )
        .await;
    assert_eq!(error_code(&dup), "CONFLICT", "{dup}");

    // Secrets and URL paths never come back, to anyone.
    for client in [&admin, &viewer] {
        let body = app
            .gql(
                client,
                "{ channels { id name kind target hasSecret enabled deliveries { id } } }",
                json!({}),
            )
            .await;
        let text = body.to_string();
        assert!(
            !text.contains(&secret) && !text.contains("whsec_"),
            "{text}"
        );
        assert!(
            !text.contains("s3cr3t") && !text.contains("token"),
            "{text}"
        );
        assert!(text.contains(&format!("http://{}/…", hook.addr)), "{text}");
    }

    // A test message goes out at once.
    let test = app
        .gql(
            &admin,
            "mutation($id:ID!){ testChannel(id:$id){ status attempts statusCode } }",
            json!({ "id": hook_id }),
        )
        .await;
    assert_eq!(
        mutation_ok(&test, "testChannel")["status"],
        "SENT",
        "{test}"
    );
    let got = hook.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["type"], "test");
    assert!(signature_holds(&secret, &got[0]), "{:?}", got[0]);

    // Rules: OPERATOR; bad input is VALIDATION naming the field.
    let all_channels = json!([hook_id, slack_id, mail_id]);
    let denied = app
        .gql(
            &viewer,
            RULE,
            json!({ "i": { "name": "x", "events": ["PORT_OPENED"] } }),
        )
        .await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
    for (bad, why) in [
        (json!({ "name": "x", "events": [] }), "events"),
        (
            json!({ "name": "x", "events": ["PORT_OPENED"], "scope": "port:" }),
            "scope",
        ),
        (
            json!({ "name": "x", "events": ["PORT_OPENED"], "scope": "product:nginx" }),
            "does not apply",
        ),
        (
            json!({ "name": "x", "events": ["PORT_OPENED"], "confirmAfterScans": 0 }),
            "confirmAfterScans",
        ),
        (
            json!({ "name": "x", "events": ["PORT_OPENED"], "cooldownMinutes": -1 }),
            "cooldownMinutes",
        ),
        (
            json!({ "name": "x", "events": ["PORT_OPENED"], "channelIds": ["999"] }),
            "channelIds",
        ),
    ] {
        let body = app.gql(&admin, RULE, json!({ "i": bad })).await;
        assert_eq!(error_code(&body), "VALIDATION", "{bad}: {body}");
        assert!(body.to_string().contains(why), "{why}: {body}");
    }
    let rule = app.gql(&admin, RULE, json!({ "i": { "name": "New port", "events": ["PORT_OPENED"], "minSeverity": "MEDIUM", "scope": format!("address:{ip}"), "channelIds": all_channels } })).await;
    let rule_id = mutation_ok(&rule, "createAlertRule")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    mutation_ok(&app.gql(&admin, RULE, json!({ "i": { "name": "Confirmed", "events": ["PORT_OPENED"], "confirmAfterScans": 2 } })).await, "createAlertRule");
    mutation_ok(&app.gql(&admin, RULE, json!({ "i": { "name": "Elsewhere", "events": ["PORT_OPENED"], "scope": "site:nowhere" } })).await, "createAlertRule");

    // Two listeners; the second is closed at first.
    let one = listeners::start(ip, Kind::Http).await;
    let two = listeners::start(ip, Kind::Http).await;
    let (one_addr, two_addr): (SocketAddr, SocketAddr) = (one.addr, two.addr);
    drop(two);
    let yaml = format!(
        "title: Alerts\nsites:\n  - name: Lab\n    ips:\n      - address: {ip}\nscan:\n  tcp_ports: \"{},{}\"\n  phases: [ping, tcp]\n",
        one_addr.port(),
        two_addr.port()
    );
    let config = app.create_config(&admin, &yaml).await;

    // Scan 1: port one opens → one alert, one delivery per channel.
    let first = scan(&app, &admin, &config).await;
    let all = alerts(&app, &admin, None).await;
    let new_port = of_rule(&all, "New port");
    assert_eq!(new_port.len(), 1, "{all:?}");
    let a = new_port[0];
    assert_eq!(a["status"], "OPEN");
    assert_eq!(a["kind"], "PORT_OPENED");
    assert_eq!(a["port"], one_addr.port());
    assert_eq!(a["subject"], format!("Lab/{ip}/tcp/{}", one_addr.port()));
    assert_eq!(a["events"][0]["scan"]["id"], first.as_str());
    assert_eq!(
        a["deliveries"].as_array().expect("deliveries").len(),
        3,
        "{a}"
    );
    assert!(
        of_rule(&all, "Confirmed").is_empty(),
        "confirm-after-2 waits: {all:?}"
    );
    assert!(
        of_rule(&all, "Elsewhere").is_empty(),
        "out of scope: {all:?}"
    );
    let one_alert = a["id"].as_str().expect("id").to_owned();

    let opened = until(
        "the webhook's notice",
        async || hook.received(),
        |r| r.len() == 2,
    )
    .await;
    let notice = &opened[1];
    assert!(signature_holds(&secret, notice), "{notice:?}");
    assert_eq!(notice.path, "/in/s3cr3t-path");
    assert_eq!(notice.header("content-type"), Some("application/json"));
    let body = notice.json();
    assert_eq!(body["type"], "alert.opened");
    assert_eq!(body["alert"]["id"], one_alert.as_str());
    assert_eq!(body["alert"]["rule"]["name"], "New port");
    assert_eq!(body["alert"]["severity"], "HIGH");
    assert_eq!(
        body["events"].as_array().expect("events").len(),
        1,
        "only the change: {body}"
    );
    let event = &body["events"][0];
    assert_eq!(event["kind"], "PORT_OPENED");
    assert_eq!(event["site"], "Lab");
    assert_eq!(event["address"], ip.to_string());
    assert_eq!(event["protocol"], "tcp");
    assert_eq!(event["port"], one_addr.port());
    assert_eq!(event["scanId"], first.as_str());
    assert!(event["summary"].as_str().is_some_and(|s| !s.is_empty()));
    let chat = until(
        "the Slack message",
        async || slack.received(),
        |r| !r.is_empty(),
    )
    .await;
    let text = chat[0].json()["text"].as_str().expect("text").to_owned();
    assert!(
        text.contains("New port") && text.contains("PORT_OPENED"),
        "{text}"
    );
    assert!(chat[0].header("webhook-signature").is_none());
    let mail = until("the email", async || smtp.received(), |m| !m.is_empty()).await;
    assert_eq!(mail[0].to.len(), 2, "{mail:?}");
    assert!(
        mail[0].data.contains("Subject: [HIGH] New port"),
        "{}",
        mail[0].data
    );
    assert!(mail[0].from.contains("scanner@example.test"));
    let all = alerts(&app, &admin, None).await;
    let a = of_rule(&all, "New port")[0];
    assert!(
        a["deliveries"]
            .as_array()
            .expect("d")
            .iter()
            .all(|d| d["status"] == "SENT" && d["attempts"] == 1),
        "{a}"
    );

    // Scan 2, the same state: nothing new for "New port"; "Confirmed" opens now.
    scan(&app, &admin, &config).await;
    let all = alerts(&app, &admin, None).await;
    assert_eq!(of_rule(&all, "New port").len(), 1, "{all:?}");
    assert_eq!(of_rule(&all, "New port")[0]["eventCount"], 1);
    let confirmed = of_rule(&all, "Confirmed");
    assert_eq!(confirmed.len(), 1, "{all:?}");
    assert_eq!(
        confirmed[0]["events"][0]["scan"]["id"],
        first.as_str(),
        "the event that started it"
    );
    assert!(confirmed[0]["deliveries"].as_array().expect("d").is_empty());
    assert_eq!(hook.received().len(), 2, "no new notice");

    // alertUpdates tells live; the receiver fails: retries, a restart, then SENT.
    let mut socket = ws::signed_in(&app).await;
    ws::send(&mut socket, json!({ "id": "a", "type": "subscribe", "payload": { "query": "subscription { alertUpdates { id status port rule { name } } }" } })).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    hook.answer(500);
    let _two = listeners::start_on(two_addr, Kind::Http).await;
    scan(&app, &admin, &config).await;
    let live = loop {
        let msg = ws::next(&mut socket).await.expect("subscription open");
        assert_eq!(msg["type"], "next", "{msg}");
        let a = msg["payload"]["data"]["alertUpdates"].clone();
        if a["port"] == two_addr.port() && a["rule"]["name"] == "New port" {
            break a;
        }
    };
    assert_eq!(live["status"], "OPEN");
    let filter = format!("port:{}", two_addr.port());
    let failing = until(
        "retries",
        async || alerts(&app, &admin, Some(&filter)).await,
        |all| {
            all.iter().any(|a| {
                a["deliveries"].as_array().is_some_and(|d| {
                    d.iter().any(|d| {
                        d["channel"]["name"] == "hook" && d["attempts"].as_i64() >= Some(2)
                    })
                })
            })
        },
    )
    .await;
    let d = failing
        .iter()
        .flat_map(|a| a["deliveries"].as_array().expect("d"))
        .find(|d| d["channel"]["name"] == "hook")
        .expect("hook delivery")
        .clone();
    assert_eq!(d["status"], "PENDING", "{d}");
    assert_eq!(d["statusCode"], 500);
    assert!(
        d["lastError"].as_str().is_some_and(|e| e.contains("500")),
        "{d}"
    );
    app.restart().await;
    let admin = app.admin().await;
    hook.answer(200);
    let sent = until(
        "the delivery after the restart",
        async || alerts(&app, &admin, Some(&filter)).await,
        |all| {
            all.iter()
                .flat_map(|a| a["deliveries"].as_array().cloned().unwrap_or_default())
                .any(|d| d["channel"]["name"] == "hook" && d["status"] == "SENT")
        },
    )
    .await;
    assert!(
        sent.iter().all(|a| a["port"] == two_addr.port()),
        "the filter: {sent:?}"
    );
    let opened_two: Vec<_> = hook
        .received()
        .into_iter()
        .filter(|r| {
            r.json()["type"] == "alert.opened" && r.json()["alert"]["port"] == two_addr.port()
        })
        .collect();
    assert!(opened_two.len() >= 2, "{opened_two:?}");
    assert!(
        opened_two
            .iter()
            .all(|r| r.header("webhook-id") == opened_two[0].header("webhook-id")),
        "one message id across retries"
    );
    assert!(opened_two.iter().any(|r| r.answered == 200));

    // Acknowledge (OPERATOR; a VIEWER may not).
    let ack = "mutation($id:ID!,$n:String){ acknowledgeAlert(id:$id, note:$n){ status acknowledgedBy note } }";
    let viewer = app.login("vera", "vera-password").await;
    assert_eq!(
        error_code(
            &app.gql(&viewer, ack, json!({ "id": one_alert, "n": "mine" }))
                .await
        ),
        "FORBIDDEN"
    );
    let body = app
        .gql(
            &admin,
            ack,
            json!({ "id": one_alert, "n": "looking at it" }),
        )
        .await;
    let acked = mutation_ok(&body, "acknowledgeAlert");
    assert_eq!(acked["status"], "ACKNOWLEDGED");
    assert_eq!(acked["acknowledgedBy"], "admin");
    assert_eq!(acked["note"], "looking at it");

    // Port one closes: its alert resolves, with a resolve notice.
    drop(one);
    scan(&app, &admin, &config).await;
    let all = alerts(&app, &admin, Some(&format!("port:{}", one_addr.port()))).await;
    let resolved: Vec<_> = all
        .iter()
        .filter(|a| a["id"] == one_alert.as_str())
        .collect();
    assert_eq!(resolved[0]["status"], "RESOLVED", "{all:?}");
    assert_eq!(resolved[0]["resolvedBy"], "system");
    until(
        "the resolve notice",
        async || hook.received(),
        |r| {
            r.iter().any(|r| {
                r.json()["type"] == "alert.resolved"
                    && r.json()["alert"]["id"] == one_alert.as_str()
            })
        },
    )
    .await;

    // Cooldown: with 60 minutes, the port opening again opens an alert without a notice.
    let update = "mutation($id:ID!,$i:AlertRuleInput!){ updateAlertRule(id:$id, input:$i){ cooldownMinutes } }";
    let body = app.gql(&admin, update, json!({ "id": rule_id, "i": { "name": "New port", "events": ["PORT_OPENED"], "minSeverity": "MEDIUM", "scope": format!("address:{ip}"), "cooldownMinutes": 60, "channelIds": all_channels } })).await;
    assert_eq!(mutation_ok(&body, "updateAlertRule")["cooldownMinutes"], 60);
    let _one = listeners::start_on(one_addr, Kind::Http).await;
    let before = hook.received().len();
    scan(&app, &admin, &config).await;
    let all = alerts(&app, &admin, Some(&format!("port:{}", one_addr.port()))).await;
    let again: Vec<_> = of_rule(&all, "New port")
        .into_iter()
        .filter(|a| a["status"] == "OPEN")
        .collect();
    assert_eq!(again.len(), 1, "{all:?}");
    assert!(
        again[0]["deliveries"].as_array().expect("d").is_empty(),
        "within the cooldown: {}",
        again[0]
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        hook.received().len(),
        before,
        "no notice within the cooldown"
    );

    // The filter language over alerts; a bad one is VALIDATION with its column.
    assert!(alerts(&app, &admin, Some("severity<high")).await.is_empty());
    let bad = app.gql(&admin, ALERTS, json!({ "f": "port:(" })).await;
    assert_eq!(error_code(&bad), "VALIDATION", "{bad}");

    // Deleting a rule takes its alerts; a channel's deletion leaves the rule.
    let body = app
        .gql(
            &admin,
            "mutation($id:ID!){ deleteChannel(id:$id) }",
            json!({ "id": mail_id }),
        )
        .await;
    assert_eq!(mutation_ok(&body, "deleteChannel"), true);
    let rules = app
        .gql(
            &admin,
            "{ alertRules { name channels { name } } }",
            json!({}),
        )
        .await;
    let names: Vec<&str> = rules["data"]["alertRules"]
        .as_array()
        .expect("r")
        .iter()
        .find(|r| r["name"] == "New port")
        .expect("rule")["channels"]
        .as_array()
        .expect("c")
        .iter()
        .map(|c| c["name"].as_str().expect("n"))
        .collect();
    assert_eq!(names, ["chat", "hook"]);
    let body = app
        .gql(
            &admin,
            "mutation($id:ID!){ deleteAlertRule(id:$id) }",
            json!({ "id": rule_id }),
        )
        .await;
    assert_eq!(mutation_ok(&body, "deleteAlertRule"), true);
    assert!(of_rule(&alerts(&app, &admin, None).await, "New port").is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alerts_on_sqlite() {
    alerts_end_to_end(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alerts_on_postgres() {
    alerts_end_to_end(Backend::Postgres).await;
}

//! A small graphql-transport-ws (and legacy graphql-ws) client over tokio-tungstenite.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{TestApp, WAIT};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `/graphql/ws` with the given subprotocol, optional Origin and optional Cookie header.
pub async fn connect(
    base: &str,
    protocol: &str,
    origin: Option<&str>,
    cookie: Option<&str>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let url = format!("{}/graphql/ws", base.replacen("http://", "ws://", 1));
    let mut req = url.into_client_request()?;
    let h = req.headers_mut();
    h.insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_str(protocol).expect("protocol header"),
    );
    if let Some(o) = origin {
        h.insert("Origin", HeaderValue::from_str(o).expect("origin header"));
    }
    if let Some(c) = cookie {
        h.insert("Cookie", HeaderValue::from_str(c).expect("cookie header"));
    }
    let (socket, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("websocket connect in time")?;
    Ok(socket)
}

pub async fn send(socket: &mut Socket, msg: Value) {
    socket
        .send(Message::Text(msg.to_string().into()))
        .await
        .expect("websocket send");
}

/// The next JSON message, or `None` when the server closed the connection. Keep-alive pings
/// are answered and skipped.
pub async fn next(socket: &mut Socket) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("websocket message in time")?;
        match msg {
            Ok(Message::Text(t)) => {
                let v: Value = serde_json::from_str(&t).expect("json message");
                if v["type"] == "ping" {
                    // The server closes sockets whose keep-alive pings go unanswered.
                    send(socket, json!({ "type": "pong" })).await;
                    continue;
                }
                if v["type"] == "ka" {
                    continue;
                }
                return Some(v);
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Sends `connection_init` with `payload` and returns the server's answer.
pub async fn init(socket: &mut Socket, payload: Value) -> Option<Value> {
    send(
        socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    next(socket).await
}

/// The admin's `name=value` session cookie.
pub async fn session_cookie(app: &TestApp) -> String {
    let res = reqwest::Client::new()
        .post(format!("{}/graphql", app.base))
        .json(&json!({
            "query": "mutation($u:String!,$p:String!){ login(username:$u, password:$p){ id } }",
            "variables": { "u": "admin", "p": crate::ADMIN_PASSWORD }
        }))
        .send()
        .await
        .expect("login");
    let set = crate::session_set_cookie(&res).expect("cookie");
    set.split(';').next().expect("pair").to_owned()
}

/// A graphql-transport-ws socket signed in with the admin's session cookie, initialised.
pub async fn signed_in(app: &TestApp) -> Socket {
    let cookie = session_cookie(app).await;
    let mut socket = connect(
        &app.base,
        "graphql-transport-ws",
        Some(&app.base),
        Some(&cookie),
    )
    .await
    .expect("connect");
    let ack = init(&mut socket, json!({})).await.expect("ack");
    assert_eq!(ack["type"], "connection_ack");
    socket
}

/// A graphql-transport-ws socket of a script (no cookie, no Origin) signed in with an API
/// key in `connection_init`, initialised.
pub async fn with_key(app: &TestApp, token: &str) -> Socket {
    let mut socket = connect(&app.base, "graphql-transport-ws", None, None)
        .await
        .expect("connect");
    let ack = init(
        &mut socket,
        json!({ "authorization": format!("Bearer {token}") }),
    )
    .await
    .expect("ack");
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    socket
}

/// The close code the server ends a socket with (other messages skipped); `None` when the
/// connection ends without a close frame.
pub async fn close_code(socket: &mut Socket) -> Option<u16> {
    loop {
        let msg = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("socket closed in time");
        match msg {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

/// Subscribes to `scanUpdates` (every scan's progress) under operation id `id`.
pub async fn subscribe_updates(socket: &mut Socket, id: &str) {
    send(
        socket,
        json!({ "id": id, "type": "subscribe", "payload": {
            "query": "subscription { scanUpdates { scanId status phase percent message hostsUp openPorts } }"
        }}),
    )
    .await;
}

/// Reads `scanUpdates` events of scan `scan_id` until `done` says so; returns them all.
/// Every wait has a timeout (a scan that stops reporting fails the test).
pub async fn events_until(
    socket: &mut Socket,
    scan_id: &str,
    mut done: impl FnMut(&Value) -> bool,
) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let msg = next(socket).await.expect("subscription still open");
        assert_eq!(msg["type"], "next", "unexpected message: {msg}");
        let event = msg["payload"]["data"]["scanUpdates"].clone();
        if event["scanId"] != scan_id {
            continue;
        }
        let stop = done(&event);
        seen.push(event);
        if stop {
            return seen;
        }
    }
}

/// Whether a status is terminal.
pub fn is_terminal(event: &Value) -> bool {
    !matches!(event["status"].as_str(), Some("QUEUED" | "RUNNING"))
}

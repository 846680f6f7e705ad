//! A small graphql-transport-ws (and legacy graphql-ws) client over tokio-tungstenite.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::WAIT;

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

/// The next JSON message, or `None` when the server closed the connection. Pings are skipped.
pub async fn next(socket: &mut Socket) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("websocket message in time")?;
        match msg {
            Ok(Message::Text(t)) => {
                let v: Value = serde_json::from_str(&t).expect("json message");
                if v["type"] == "ping" || v["type"] == "ka" {
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

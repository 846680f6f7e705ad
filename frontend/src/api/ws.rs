//! Subscriptions over one websocket (`/graphql/ws`, graphql-transport-ws).
//!
//! One connection serves every subscription of the page. When it drops, the client reconnects
//! with a growing delay (1 s … 15 s) and subscribes again to everything still wanted; the
//! server answers each with the current state first, so nothing shown goes stale. A `ping`
//! every 30 s keeps the socket inside the server's idle timeout. The session cookie
//! authenticates the upgrade (same origin).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use graphql_client::GraphQLQuery;
use leptos::prelude::*;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

const PROTOCOL: &str = "graphql-transport-ws";
const PING_EVERY: Duration = Duration::from_secs(30);

/// What the live connection is doing, for the header's indicator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    Live,
    Reconnecting,
}

/// Delay before reconnect attempt `attempt` (0-based): 1, 2, 4, 8, then 15 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs((1u64 << attempt.min(4)).min(15))
}

/// One server→client frame of graphql-transport-ws.
#[derive(Debug, PartialEq)]
pub enum Frame {
    ConnectionAck,
    Ping,
    Pong,
    Next { id: String, payload: Value },
    Error { id: String, payload: Value },
    Complete { id: String },
}

/// A frame as sent; read as a plain struct (an internally tagged enum would pull serde's
/// buffering machinery into the wasm).
#[derive(Deserialize)]
struct RawFrame {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    payload: Option<Value>,
}

impl Frame {
    /// `None` for text that is not a frame this client knows.
    pub fn parse(text: &str) -> Option<Frame> {
        let raw: RawFrame = super::de::from_str(text).ok()?;
        let payload = raw.payload.unwrap_or(Value::Null);
        Some(match (raw.kind.as_str(), raw.id) {
            ("connection_ack", _) => Frame::ConnectionAck,
            ("ping", _) => Frame::Ping,
            ("pong", _) => Frame::Pong,
            ("next", Some(id)) => Frame::Next { id, payload },
            ("error", Some(id)) => Frame::Error { id, payload },
            ("complete", Some(id)) => Frame::Complete { id },
            _ => return None,
        })
    }
}

/// What a subscription hears.
enum Event {
    Data(Value),
    Failed(String),
    /// Subscribed again after the connection dropped: events of the gap are lost.
    Resumed,
}

type Handler = Rc<dyn Fn(Event)>;

struct Sub {
    /// The `subscribe` payload (JSON text): query, variables, operationName.
    payload: String,
    on_event: Handler,
    /// Was subscribed on a connection that has since dropped.
    was_live: bool,
}

struct Client {
    socket: Option<WebSocket>,
    acked: bool,
    attempt: u32,
    next_id: u64,
    subs: HashMap<String, Sub>,
    /// Reference-counted, not owned by whichever component first touched the client: a
    /// signal owned by a page would be disposed with it.
    state: ArcRwSignal<LinkState>,
    /// Keeps the socket's JS callbacks alive as long as the socket.
    _callbacks: Vec<Box<dyn std::any::Any>>,
}

thread_local! {
    static CLIENT: RefCell<Option<Client>> = const { RefCell::new(None) };
}

fn with_client<R>(f: impl FnOnce(&mut Client) -> R) -> R {
    CLIENT.with(|c| {
        let mut c = c.borrow_mut();
        let client = c.get_or_insert_with(|| {
            set_interval(send_ping, PING_EVERY);
            Client {
                socket: None,
                acked: false,
                attempt: 0,
                next_id: 0,
                subs: HashMap::new(),
                state: ArcRwSignal::new(LinkState::Connecting),
                _callbacks: Vec::new(),
            }
        });
        f(client)
    })
}

/// The connection's state, as a signal.
pub fn link_state() -> ArcRwSignal<LinkState> {
    with_client(|c| c.state.clone())
}

fn send(socket: &WebSocket, frame: &str) {
    let _ = socket.send_with_str(frame);
}

/// `{"id":…,"type":"subscribe","payload":…}` (ids are our own decimal counters).
fn subscribe_frame(id: &str, payload: &str) -> String {
    format!(r#"{{"id":"{id}","type":"subscribe","payload":{payload}}}"#)
}

fn send_ping() {
    with_client(|c| {
        if let (Some(socket), true) = (&c.socket, c.acked) {
            send(socket, r#"{"type":"ping"}"#);
        }
    });
}

fn url() -> Option<String> {
    let location = window().location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!("{scheme}://{}/graphql/ws", location.host().ok()?))
}

fn connect() {
    let Some(url) = url() else { return };
    let Ok(socket) = WebSocket::new_with_str(&url, PROTOCOL) else {
        schedule_reconnect();
        return;
    };
    let on_open = Closure::<dyn Fn()>::new(move || {
        with_client(|c| {
            if let Some(s) = &c.socket {
                send(s, r#"{"type":"connection_init","payload":{}}"#);
            }
        });
    });
    let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
        if let Some(text) = ev.data().as_string()
            && let Some(frame) = Frame::parse(&text)
        {
            on_frame(frame);
        }
    });
    let on_close = Closure::<dyn Fn(CloseEvent)>::new(move |_ev: CloseEvent| {
        let wanted = with_client(|c| {
            c.socket = None;
            c.acked = false;
            !c.subs.is_empty()
        });
        if wanted {
            schedule_reconnect();
        }
    });
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    with_client(|c| {
        c.socket = Some(socket);
        c._callbacks = vec![Box::new(on_open), Box::new(on_message), Box::new(on_close)];
    });
}

fn schedule_reconnect() {
    let delay = with_client(|c| {
        c.state.set(LinkState::Reconnecting);
        let d = backoff(c.attempt);
        c.attempt = c.attempt.saturating_add(1);
        d
    });
    set_timeout(
        || {
            if with_client(|c| c.socket.is_none() && !c.subs.is_empty()) {
                connect();
            }
        },
        delay,
    );
}

fn on_frame(frame: Frame) {
    match frame {
        Frame::ConnectionAck => {
            let resumed: Vec<Handler> = with_client(|c| {
                c.acked = true;
                c.attempt = 0;
                c.state.set(LinkState::Live);
                let mut resumed = Vec::new();
                if let Some(socket) = &c.socket {
                    for (id, sub) in c.subs.iter_mut() {
                        send(socket, &subscribe_frame(id, &sub.payload));
                        if sub.was_live {
                            resumed.push(sub.on_event.clone());
                        }
                        sub.was_live = true;
                    }
                }
                resumed
            });
            for handler in resumed {
                handler(Event::Resumed);
            }
        }
        Frame::Ping => with_client(|c| {
            if let Some(socket) = &c.socket {
                send(socket, r#"{"type":"pong"}"#);
            }
        }),
        Frame::Pong => {}
        Frame::Next { id, payload } => {
            let handler = with_client(|c| c.subs.get(&id).map(|s| s.on_event.clone()));
            if let Some(handler) = handler {
                let data = payload.get("data").cloned().unwrap_or(Value::Null);
                handler(Event::Data(data));
            }
        }
        Frame::Error { id, payload } => {
            let handler = with_client(|c| c.subs.remove(&id).map(|s| s.on_event));
            if let Some(handler) = handler {
                let message = payload
                    .get(0)
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("subscription failed")
                    .to_owned();
                handler(Event::Failed(message));
            }
        }
        // The server finished the stream (a scan reached a terminal status): not resubscribed.
        Frame::Complete { id } => with_client(|c| {
            c.subs.remove(&id);
        }),
    }
}

/// Closes the connection and forgets every subscription (sign-out, another user signing in):
/// the next subscription opens a new socket authenticated by the new session.
pub fn disconnect() {
    let socket = with_client(|c| {
        c.subs.clear();
        c.acked = false;
        c.socket.take()
    });
    if let Some(socket) = socket {
        // Detach first: the old socket's callbacks are dropped with the next connection.
        socket.set_onopen(None);
        socket.set_onmessage(None);
        socket.set_onclose(None);
        let _ = socket.close();
    }
}

/// A live subscription; `close` (or the owning component's cleanup) ends it.
#[derive(Clone, Debug)]
pub struct Subscription {
    id: String,
}

impl Subscription {
    pub fn close(&self) {
        with_client(|c| {
            if c.subs.remove(&self.id).is_some()
                && let (Some(socket), true) = (&c.socket, c.acked)
            {
                send(
                    socket,
                    &format!(r#"{{"id":"{}","type":"complete"}}"#, self.id),
                );
            }
        });
    }
}

/// Subscribes to operation `Q`; `on_data` gets every event's data, `on_error` the server's
/// refusal, `on_resume` runs when the subscription is back after a dropped connection (what
/// happened meanwhile was not heard: reload). Ends when the current reactive owner (the page)
/// is cleaned up.
pub fn subscribe<Q: GraphQLQuery>(
    variables: Q::Variables,
    on_data: impl Fn(Q::ResponseData) + 'static,
    on_error: impl Fn(String) + 'static,
    on_resume: impl Fn() + 'static,
) -> Subscription
where
    Q::ResponseData: DeserializeOwned,
{
    let payload = serde_json::to_string(&Q::build_query(variables)).unwrap_or_default();
    let on_event: Handler = Rc::new(move |event| match event {
        Event::Data(data) => {
            if let Ok(data) = super::de::from_value::<Q::ResponseData>(data) {
                on_data(data);
            }
        }
        Event::Failed(message) => on_error(message),
        Event::Resumed => on_resume(),
    });
    let (subscription, needs_connect) = with_client(|c| {
        c.next_id += 1;
        let id = c.next_id.to_string();
        let was_live = matches!((&c.socket, c.acked), (Some(_), true));
        if let (Some(socket), true) = (&c.socket, c.acked) {
            send(socket, &subscribe_frame(&id, &payload));
        }
        c.subs.insert(
            id.clone(),
            Sub {
                payload,
                on_event,
                was_live,
            },
        );
        (Subscription { id }, c.socket.is_none())
    });
    if needs_connect {
        connect();
    }
    let handle = subscription.clone();
    on_cleanup(move || handle.close());
    subscription
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backoff_grows_then_caps_at_fifteen_seconds() {
        let secs: Vec<u64> = (0..7).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 15, 15, 15]);
    }

    #[test]
    fn subscribe_frame_is_graphql_transport_ws_json() {
        let frame: Value =
            serde_json::from_str(&subscribe_frame("7", r#"{"query":"subscription { x }"}"#))
                .expect("json");
        assert_eq!(
            frame,
            json!({"id": "7", "type": "subscribe", "payload": {"query": "subscription { x }"}})
        );
    }

    #[test]
    fn frames_decode_by_type() {
        let next =
            Frame::parse(r#"{"type":"next","id":"3","payload":{"data":{"x":1}}}"#).expect("next");
        assert_eq!(
            next,
            Frame::Next {
                id: "3".into(),
                payload: json!({"data": {"x": 1}})
            }
        );
        let done = Frame::parse(r#"{"type":"complete","id":"3"}"#).expect("complete");
        assert_eq!(done, Frame::Complete { id: "3".into() });
        let ack = Frame::parse(r#"{"type":"connection_ack"}"#).expect("ack");
        assert_eq!(ack, Frame::ConnectionAck);
        assert_eq!(Frame::parse(r#"{"type":"next"}"#), None, "next needs an id");
        assert_eq!(Frame::parse("not json"), None);
    }
}

//! Fan-out between processes on PostgreSQL: every message published on this process' bus is
//! also sent with `NOTIFY`, and every notification of another process is delivered to this
//! process' subscribers. On SQLite there is one process and no relay.
//!
//! Publishing never waits: messages go through an unbounded queue to one sender task (which
//! keeps their order). A notification lost while a connection is down is only a missed event:
//! subscribers re-read the scan row, which holds the truth.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sqlx::postgres::{PgListener, PgPool};
use sea_orm::{DatabaseConnection, DbBackend};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{AuthChange, EventBus, ScanEvent};
use crate::domain::status::{ScanPhase, ScanStatus};

/// The NOTIFY channel of every process of one database.
pub const CHANNEL: &str = "sneakyscan_events";
/// NOTIFY payloads must stay under 8,000 bytes: long messages are cut.
const MAX_MESSAGE_CHARS: usize = 1000;

/// What the bus carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Scan(ScanEvent),
    Auth(AuthChange),
    JobPushed,
}

/// The relay's end of a bus: where this process' messages go out.
#[derive(Debug)]
pub struct Outbox {
    origin: Uuid,
    tx: mpsc::UnboundedSender<String>,
}

impl Outbox {
    pub fn send(&self, message: Message) {
        if let Ok(payload) = serde_json::to_string(&Wire::of(self.origin, message)) {
            let _ = self.tx.send(payload);
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    /// The process that published it (its own notifications come back to it: skipped).
    o: Uuid,
    #[serde(flatten)]
    body: WireBody,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
enum WireBody {
    Scan {
        scan_id: i32,
        status: String,
        phase: String,
        percent: f64,
        message: Option<String>,
        hosts_up: i32,
        open_ports: i32,
        at: DateTime<Utc>,
    },
    Auth {
        user_id: i32,
    },
    Job,
}

impl Wire {
    fn of(origin: Uuid, message: Message) -> Self {
        let body = match message {
            Message::Scan(e) => WireBody::Scan {
                scan_id: e.scan_id,
                status: e.status.as_str().to_owned(),
                phase: e.phase.as_str().to_owned(),
                percent: e.percent,
                message: e
                    .message
                    .map(|m| m.chars().take(MAX_MESSAGE_CHARS).collect()),
                hosts_up: e.hosts_up,
                open_ports: e.open_ports,
                at: e.at,
            },
            Message::Auth(a) => WireBody::Auth { user_id: a.user_id },
            Message::JobPushed => WireBody::Job,
        };
        Self { o: origin, body }
    }

    fn message(self) -> Option<Message> {
        Some(match self.body {
            WireBody::Scan {
                scan_id,
                status,
                phase,
                percent,
                message,
                hosts_up,
                open_ports,
                at,
            } => Message::Scan(ScanEvent {
                scan_id,
                status: ScanStatus::parse(&status)?,
                phase: ScanPhase::parse(&phase)?,
                percent,
                message,
                hosts_up,
                open_ports,
                at,
            }),
            WireBody::Auth { user_id } => Message::Auth(AuthChange { user_id }),
            WireBody::Job => Message::JobPushed,
        })
    }
}

/// The relay's tasks; they stop when this is dropped or [`Relay::stop`]ped.
pub struct Relay {
    tasks: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Stops the tasks and waits until they have given their connections back (the pool
    /// closes only when every connection is back: call this before closing it).
    pub async fn stop(mut self) {
        for task in std::mem::take(&mut self.tasks) {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Attaches a relay to `bus` when the database is PostgreSQL (`None` on SQLite). Returns once
/// this process listens, so nothing published after it is missed here.
pub async fn attach(db: &DatabaseConnection, bus: &EventBus) -> anyhow::Result<Option<Relay>> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    let pool = db.get_postgres_connection_pool().clone();
    let origin = Uuid::new_v4();
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    if bus.relay.set(Outbox { origin, tx }).is_err() {
        anyhow::bail!("this event bus already has a relay");
    }
    let receiving = {
        let bus = bus.clone();
        tokio::spawn(async move { receive(listener, origin, bus).await })
    };
    let sending = tokio::spawn(send(pool, rx));
    Ok(Some(Relay {
        tasks: vec![receiving, sending],
    }))
}

async fn send(pool: PgPool, mut rx: mpsc::UnboundedReceiver<String>) {
    while let Some(payload) = rx.recv().await {
        let sent = sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&payload)
            .execute(&pool)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "relaying an event to the other processes failed");
        }
    }
}

async fn receive(mut listener: PgListener, origin: Uuid, bus: EventBus) {
    loop {
        match listener.recv().await {
            Ok(notification) => {
                let Ok(wire) = serde_json::from_str::<Wire>(notification.payload()) else {
                    tracing::warn!("ignored a malformed event notification");
                    continue;
                };
                if wire.o == origin {
                    continue;
                }
                if let Some(message) = wire.message() {
                    bus.deliver(message);
                }
            }
            Err(e) => {
                // The listener reconnects at the next `recv`.
                tracing::warn!(error = %e, "event notifications: connection lost; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trips_every_message_and_cuts_long_text() {
        let origin = Uuid::new_v4();
        let event = ScanEvent {
            scan_id: 7,
            status: ScanStatus::Running,
            phase: ScanPhase::Service,
            percent: 42.5,
            message: Some("x".repeat(5000)),
            hosts_up: 3,
            open_ports: 9,
            at: Utc::now(),
        };
        for message in [
            Message::Scan(event.clone()),
            Message::Auth(AuthChange { user_id: 4 }),
            Message::JobPushed,
        ] {
            let text = serde_json::to_string(&Wire::of(origin, message.clone())).expect("json");
            assert!(text.len() < 8000, "{}", text.len());
            let back: Wire = serde_json::from_str(&text).expect("parse");
            assert_eq!(back.o, origin);
            let back = back.message().expect("known");
            match (&message, &back) {
                (Message::Scan(a), Message::Scan(b)) => {
                    assert_eq!(b.message.as_ref().map(String::len), Some(MAX_MESSAGE_CHARS));
                    assert_eq!(
                        (a.scan_id, a.status, a.phase),
                        (b.scan_id, b.status, b.phase)
                    );
                }
                _ => assert_eq!(message, back),
            }
        }
    }
}

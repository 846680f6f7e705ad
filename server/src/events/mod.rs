//! The progress bus. Publishers never wait: a slow or vanished subscriber only misses events
//! (and then re-reads the scan row, which always holds the truth). In one process it is a
//! broadcast channel; on PostgreSQL a [`relay`] carries every event to the other processes
//! (API replicas, workers) through LISTEN/NOTIFY.

pub mod relay;

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, broadcast};

use crate::domain::status::{ScanPhase, ScanStatus};

/// One progress update of one scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanEvent {
    pub scan_id: i32,
    pub status: ScanStatus,
    pub phase: ScanPhase,
    pub percent: f64,
    pub message: Option<String>,
    pub hosts_up: i32,
    pub open_ports: i32,
    pub at: DateTime<Utc>,
}

impl ScanEvent {
    /// The event that describes a scan row's current state.
    pub fn from_row(row: &entity::scan::Model) -> Self {
        Self {
            scan_id: row.id,
            status: ScanStatus::parse(&row.status).unwrap_or(ScanStatus::Failed),
            phase: ScanPhase::parse(&row.phase).unwrap_or(ScanPhase::Starting),
            percent: row.percent,
            message: row.message.clone(),
            hosts_up: row.hosts_up,
            open_ports: row.open_ports,
            at: Utc::now(),
        }
    }
}

/// A user's rights may have changed (signed out, disabled, role or password changed, a key
/// revoked): open websockets of that user check their principal again at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthChange {
    pub user_id: i32,
}

/// Owned by the app state (no global broker).
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<ScanEvent>,
    auth: broadcast::Sender<AuthChange>,
    /// An alert changed (id): read from the database by each process (`jobs::alerts`).
    alerts: broadcast::Sender<i32>,
    /// A scan job was pushed (here, or in another process when relayed): workers look now.
    jobs: Arc<Notify>,
    relay: Arc<OnceLock<relay::Outbox>>,
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity);
        let (auth, _) = broadcast::channel(capacity);
        let (alerts, _) = broadcast::channel(capacity);
        Self {
            tx,
            auth,
            alerts,
            jobs: Arc::new(Notify::new()),
            relay: Arc::new(OnceLock::new()),
        }
    }

    /// Tells open sockets that `user_id`'s rights may have changed.
    pub fn auth_changed(&self, user_id: i32) {
        let change = AuthChange { user_id };
        self.deliver(relay::Message::Auth(change));
        self.relay(relay::Message::Auth(change));
    }

    pub fn auth_changes(&self) -> broadcast::Receiver<AuthChange> {
        self.auth.subscribe()
    }

    /// Tells this process' `alertUpdates` subscribers that alert `id` changed.
    pub fn alert_changed(&self, id: i32) {
        let _ = self.alerts.send(id);
    }

    pub fn alert_changes(&self) -> broadcast::Receiver<i32> {
        self.alerts.subscribe()
    }

    /// Publishes without waiting; having no subscribers is fine.
    pub fn publish(&self, event: ScanEvent) {
        if let Some(outbox) = self.relay.get() {
            outbox.send(relay::Message::Scan(event.clone()));
        }
        self.deliver(relay::Message::Scan(event));
    }

    /// A scan job was pushed: wakes the worker of this process and, relayed, the others.
    pub fn job_pushed(&self) {
        self.deliver(relay::Message::JobPushed);
        self.relay(relay::Message::JobPushed);
    }

    /// Resolves at the next [`EventBus::job_pushed`] (one wake-up is kept when nobody waits).
    pub async fn job_wakeup(&self) {
        self.jobs.notified().await;
    }

    /// Hands a message to this process' subscribers only.
    fn deliver(&self, message: relay::Message) {
        match message {
            relay::Message::Scan(event) => {
                let _ = self.tx.send(event);
            }
            relay::Message::Auth(change) => {
                let _ = self.auth.send(change);
            }
            relay::Message::JobPushed => self.jobs.notify_one(),
        }
    }

    /// Hands a message to the other processes, when a relay is attached.
    fn relay(&self, message: relay::Message) {
        if let Some(outbox) = self.relay.get() {
            outbox.send(message);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ScanEvent> {
        self.tx.subscribe()
    }

    /// Subscribers of scan events in this process (one per live `scanUpdates` or
    /// `scanProgress` subscription).
    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i32) -> ScanEvent {
        ScanEvent {
            scan_id: id,
            status: ScanStatus::Running,
            phase: ScanPhase::Tcp,
            percent: 10.0,
            message: None,
            hosts_up: 0,
            open_ports: 0,
            at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn publish_reaches_subscribers_and_never_blocks_without_them() {
        let bus = EventBus::new(4);
        bus.publish(event(1));
        let mut rx = bus.subscribe();
        bus.publish(event(2));
        assert_eq!(rx.recv().await.expect("event").scan_id, 2);
        // A lagging subscriber does not stop the publisher.
        for i in 0..100 {
            bus.publish(event(i));
        }
        assert!(matches!(
            rx.recv().await,
            Err(broadcast::error::RecvError::Lagged(_))
        ));
    }
}

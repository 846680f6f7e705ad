//! One execution for many identical subscriptions. The dashboard's `scanUpdates` is the same
//! document on every open page: instead of one async-graphql stream per subscription (its
//! state, and every event resolved and serialised once per subscriber), sockets that ask for
//! the same document with the same variables and role share one execution, and each event is
//! serialised once and handed to every one of them as text. A socket holds one receiver per
//! execution however many of its subscriptions share it (each event is received once per
//! socket and framed for each of them). A shared execution ends when its last subscriber has
//! gone (at the next event) and is started again by the next one.
//!
//! Only subscriptions whose root fields are all `scanUpdates` are shared: what they return
//! depends on the role alone. Everything else runs per socket, as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{OperationType, Selection};
use async_graphql::{Data, Request};
use futures::StreamExt;
use tokio::sync::broadcast;

use crate::domain::auth::Role;
use crate::graphql::AppSchema;

/// Events a slow subscriber may fall behind before it skips (as the event bus does).
const BACKLOG: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    role: Role,
    query: String,
    operation: Option<String>,
    variables: String,
}

/// A running shared execution: where its responses go, which one it is, and how many
/// subscriptions it serves.
struct Execution {
    tx: broadcast::Sender<Arc<str>>,
    id: u64,
    members: Arc<AtomicUsize>,
}

type Senders = Mutex<HashMap<Key, Execution>>;

/// A subscription's place in a shared execution, counted while it is held.
pub struct Membership(Arc<AtomicUsize>);

impl Drop for Membership {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A subscription joined to a shared execution: the execution's id (unique in the process),
/// the subscription's membership, and a receiver of the execution's responses (a socket that
/// already has one for this execution drops it).
pub struct Joined {
    pub execution: u64,
    pub member: Membership,
    pub rx: broadcast::Receiver<Arc<str>>,
}

/// The shared executions of one process.
pub struct Fanout {
    schema: AppSchema,
    shared: Arc<Senders>,
    next_id: AtomicU64,
}

impl Fanout {
    pub fn new(schema: AppSchema) -> Self {
        Self {
            schema,
            shared: Arc::default(),
            next_id: AtomicU64::new(1),
        }
    }

    /// Whether a request is a subscription that can be shared: one operation (or the one
    /// named), a subscription, whose root selections are all the field `scanUpdates`.
    pub fn shareable(request: &Request) -> bool {
        let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
            return false;
        };
        let operation = match (&request.operation_name, doc.operations.iter().count()) {
            (Some(name), _) => doc
                .operations
                .iter()
                .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
                .map(|(_, op)| op),
            (None, 1) => doc.operations.iter().next().map(|(_, op)| op),
            (None, _) => None,
        };
        let Some(operation) = operation else {
            return false;
        };
        let op = &operation.node;
        op.ty == OperationType::Subscription
            && op.directives.is_empty()
            && !op.selection_set.node.items.is_empty()
            && op.selection_set.node.items.iter().all(|item| {
                matches!(&item.node, Selection::Field(f)
                    if f.node.name.node == "scanUpdates" && f.node.directives.is_empty())
            })
    }

    /// Text responses of `request` for a subscriber of `role`: the running shared execution
    /// of the same request, or a new one run with `data` (the subscriber's socket data).
    pub fn subscribe(&self, role: Role, request: Request, data: impl FnOnce() -> Data) -> Joined {
        let key = Key {
            role,
            query: request.query.clone(),
            operation: request.operation_name.clone(),
            variables: serde_json::to_string(&request.variables).unwrap_or_default(),
        };
        let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(running) = shared.get(&key) {
            running.members.fetch_add(1, Ordering::Relaxed);
            return Joined {
                execution: running.id,
                member: Membership(running.members.clone()),
                rx: running.tx.subscribe(),
            };
        }
        let (tx, rx) = broadcast::channel(BACKLOG);
        let execution = self.next_id.fetch_add(1, Ordering::Relaxed);
        let members = Arc::new(AtomicUsize::new(1));
        shared.insert(
            key.clone(),
            Execution {
                tx: tx.clone(),
                id: execution,
                members: members.clone(),
            },
        );
        drop(shared);
        let mut stream = self
            .schema
            .execute_stream_with_session_data(request, Arc::new(data()));
        let senders = self.shared.clone();
        tokio::spawn(async move {
            while let Some(response) = stream.next().await {
                let text: Arc<str> = match serde_json::to_string(&response) {
                    Ok(t) => t.into(),
                    Err(e) => {
                        tracing::error!(error = %e, "a subscription response did not serialise");
                        continue;
                    }
                };
                if tx.send(text).is_err() && remove_if_idle(&senders, &key) {
                    return;
                }
            }
            // The execution ended: its subscribers see their streams close.
            senders
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
        });
        Joined {
            execution,
            member: Membership(members),
            rx,
        }
    }

    /// Shared executions running now.
    pub fn executions(&self) -> usize {
        self.shared.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Subscribers beyond the first of each shared execution: each execution listens to the
    /// event bus once for all of them (metrics count them as listeners).
    pub fn extra_subscribers(&self) -> usize {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|e| e.members.load(Ordering::Relaxed).saturating_sub(1))
            .sum()
    }
}

/// Removes an execution nobody listens to (checked under the lock a new subscriber takes).
fn remove_if_idle(senders: &Senders, key: &Key) -> bool {
    let mut shared = senders.lock().unwrap_or_else(|p| p.into_inner());
    match shared.get(key) {
        Some(running) if running.tx.receiver_count() == 0 => {
            shared.remove(key);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable(query: &str) -> bool {
        Fanout::shareable(&Request::new(query))
    }

    #[test]
    fn only_scan_updates_subscriptions_are_shared() {
        assert!(shareable(
            "subscription { scanUpdates { scanId status percent } }"
        ));
        assert!(shareable(
            "subscription Live { a: scanUpdates { scanId } b: scanUpdates { percent } }"
        ));
        assert!(!shareable(
            "subscription { scanProgress(scanId: \"1\") { percent } }"
        ));
        assert!(!shareable(
            "subscription { scanUpdates { scanId } scanProgress(scanId: \"1\") { percent } }"
        ));
        assert!(!shareable("query { scanUpdates { scanId } }"));
        assert!(!shareable(
            "subscription { ...F } fragment F on Subscription { scanUpdates { scanId } }"
        ));
        assert!(!shareable(
            "subscription { scanUpdates @skip(if: true) { scanId } }"
        ));
        assert!(!shareable(
            "subscription A { scanUpdates { scanId } } subscription B { scanUpdates { percent } }"
        ));
        assert!(Fanout::shareable(
            &Request::new("subscription A { scanUpdates { scanId } } query B { me { id } }")
                .operation_name("A")
        ));
        assert!(!shareable("subscription {"));
    }
}

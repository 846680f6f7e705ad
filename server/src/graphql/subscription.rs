//! Live progress: `scanProgress(scanId)` and `scanUpdates`, fed by the event bus.

use crate::error::GqlError;
use async_graphql::{Context, ID, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::Stream;
use futures::StreamExt;
use tokio::sync::broadcast;

use crate::events::{EventBus, ScanEvent};
use crate::graphql::context::{ContextExt, parse_id};
use crate::graphql::enums::ScanPhase;
use crate::graphql::scans::ScanStatus;
use crate::service::scans;

#[derive(SimpleObject, Clone)]
pub struct ScanProgress {
    pub scan_id: ID,
    pub status: ScanStatus,
    pub phase: ScanPhase,
    pub percent: f64,
    pub message: Option<String>,
    pub hosts_up: i32,
    pub open_ports: i32,
    pub at: DateTime<Utc>,
}

impl From<ScanEvent> for ScanProgress {
    fn from(e: ScanEvent) -> Self {
        Self {
            scan_id: ID(e.scan_id.to_string()),
            status: e.status.into(),
            phase: e.phase.into(),
            percent: e.percent,
            message: e.message,
            hosts_up: e.hosts_up,
            open_ports: e.open_ports,
            at: e.at,
        }
    }
}

/// Bus events as a stream; a lagging subscriber skips what it missed instead of failing.
pub(crate) fn bus_stream<T: Clone + Send + 'static>(
    rx: broadcast::Receiver<T>,
) -> impl Stream<Item = T> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(item) => return Some((item, rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

/// How often `scanProgress` reads its scan's row, in case the end of the scan was missed.
const PROGRESS_RECHECK: std::time::Duration = std::time::Duration::from_secs(15);

#[derive(Default)]
pub struct ScanSubscription;

#[Subscription]
impl ScanSubscription {
    /// Progress of one scan. The first event is its current state; the stream completes after
    /// a terminal status (COMPLETED, FAILED, CANCELLED, INTERRUPTED).
    async fn scan_progress(
        &self,
        ctx: &Context<'_>,
        scan_id: ID,
    ) -> Result<impl Stream<Item = ScanProgress> + use<>, GqlError> {
        let actor = ctx.actor()?;
        let id = parse_id(&scan_id, "scan")?;
        // Subscribe before reading the row, so no event falls between the two.
        let rx = ctx.data_unchecked::<EventBus>().subscribe();
        let row = scans::get(ctx.db(), actor, id).await?;
        let first = ScanEvent::from_row(&row);
        let live = bus_stream(rx).filter(move |e| futures::future::ready(e.scan_id == id));
        // A safety net under the bus: an end missed (a notification lost between processes)
        // is found in the row, which always holds the truth.
        let (db, actor) = (ctx.db().clone(), actor.clone());
        let ends = futures::stream::unfold((db, actor), move |(db, actor)| async move {
            tokio::time::sleep(PROGRESS_RECHECK).await;
            let row = scans::get(&db, &actor, id).await.ok();
            Some((row, (db, actor)))
        })
        .filter_map(|row| {
            futures::future::ready(
                row.map(|r| ScanEvent::from_row(&r))
                    .filter(|e| e.status.is_terminal()),
            )
        });
        let events = futures::stream::once(futures::future::ready(first))
            .chain(futures::stream::select(live, ends))
            .boxed();
        // Everything up to and including the first terminal event.
        let stream = futures::stream::unfold((events, false), |(mut events, ended)| async move {
            if ended {
                return None;
            }
            let event = events.next().await?;
            let terminal = event.status.is_terminal();
            Some((event, (events, terminal)))
        });
        Ok(stream.map(ScanProgress::from))
    }

    /// Progress of every scan (the dashboard's live view).
    async fn scan_updates(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = ScanProgress> + use<>, GqlError> {
        ctx.actor()?.require(crate::domain::auth::Role::Viewer)?;
        let rx = ctx.data_unchecked::<EventBus>().subscribe();
        Ok(bus_stream(rx).map(ScanProgress::from))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::StreamExt;

    use super::*;
    use crate::domain::auth::Actor;
    use crate::domain::status::ScanStatus as Status;
    use crate::graphql::context::RequestAuth;

    fn test_schema(db: sea_orm::DatabaseConnection, events: EventBus) -> crate::graphql::AppSchema {
        let settings = Arc::new(crate::config::Settings::default());
        crate::graphql::build(
            db.clone(),
            settings.clone(),
            events.clone(),
            Arc::new(crate::auth::rate_limit::LoginLimiter::new(
                db.clone(),
                std::time::Duration::from_secs(60),
                5,
                5,
            )),
            crate::jobs::runner::Runner::new(
                db.clone(),
                events,
                settings.clone(),
                crate::jobs::queue::JobQueue::new(&db, &settings.jobs, crate::jobs::queue::QUEUE),
            ),
        )
        .http
    }

    #[tokio::test]
    async fn scan_updates_streams_bus_events_to_a_signed_in_caller() {
        let db = crate::db::connect("sqlite::memory:", Default::default())
            .await
            .expect("db");
        let events = EventBus::default();
        let schema = test_schema(db, events.clone());
        let request = async_graphql::Request::new(
            "subscription { scanUpdates { scanId status phase percent openPorts } }",
        )
        .data(RequestAuth {
            actor: Some(Actor::system()),
            session: None,
            client_ip: String::new(),
        });
        let mut stream = schema.execute_stream(request);
        let publisher = tokio::spawn(async move {
            // Publish until the subscriber has attached (a broadcast drops events sent before).
            for i in 0..200 {
                events.publish(ScanEvent {
                    scan_id: 7,
                    status: Status::Running,
                    phase: crate::domain::status::ScanPhase::Tcp,
                    percent: 42.5,
                    message: None,
                    hosts_up: 1,
                    open_ports: i,
                    at: Utc::now(),
                });
                tokio::task::yield_now().await;
            }
        });
        let first = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .expect("event in time")
            .expect("event");
        assert!(first.errors.is_empty(), "{:?}", first.errors);
        let data = first.data.into_json().expect("json");
        assert_eq!(data["scanUpdates"]["scanId"], "7");
        assert_eq!(data["scanUpdates"]["status"], "RUNNING");
        assert_eq!(data["scanUpdates"]["percent"], 42.5);
        publisher.abort();
    }

    #[tokio::test]
    async fn scan_updates_refuses_anonymous_callers() {
        let db = crate::db::connect("sqlite::memory:", Default::default())
            .await
            .expect("db");
        let schema = test_schema(db, EventBus::default());
        let mut stream = schema.execute_stream("subscription { scanUpdates { scanId } }");
        let first = stream.next().await.expect("response");
        assert_eq!(
            first.errors[0]
                .extensions
                .as_ref()
                .and_then(|e| e.get("code"))
                .cloned(),
            Some(async_graphql::Value::from("UNAUTHENTICATED"))
        );
    }
}

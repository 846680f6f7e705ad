//! Live progress: `scanProgress(scanId)` and `scanUpdates`, fed by the event bus.

use async_graphql::{Context, ID, SimpleObject, Subscription};
use crate::error::GqlError;
use chrono::{DateTime, Utc};
use futures::Stream;
use futures::StreamExt;
use tokio_stream_lite::BroadcastStream;

use crate::events::{EventBus, ScanEvent};
use crate::graphql::context::{ContextExt, parse_id};
use crate::graphql::scans::ScanStatus;
use crate::service::scans;

#[derive(SimpleObject, Clone)]
pub struct ScanProgress {
    pub scan_id: ID,
    pub status: ScanStatus,
    pub phase: String,
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
            phase: e.phase,
            percent: e.percent,
            message: e.message,
            hosts_up: e.hosts_up,
            open_ports: e.open_ports,
            at: e.at,
        }
    }
}

/// Bus events as a stream; a lagging subscriber skips what it missed instead of failing.
mod tokio_stream_lite {
    use futures::Stream;
    use tokio::sync::broadcast;

    pub struct BroadcastStream;

    impl BroadcastStream {
        pub fn new<T: Clone + Send + 'static>(
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
    }
}

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
        let live = BroadcastStream::new(rx).filter(move |e| futures::future::ready(e.scan_id == id));
        let events = futures::stream::once(futures::future::ready(first))
            .chain(live)
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
        ctx.actor()?.require(crate::auth::Role::Viewer)?;
        let rx = ctx.data_unchecked::<EventBus>().subscribe();
        Ok(BroadcastStream::new(rx).map(ScanProgress::from))
    }
}

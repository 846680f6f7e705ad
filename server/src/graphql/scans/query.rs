//! Scan queries: the list (newest first, filtered by status) and one scan.

use async_graphql::{Context, ID, InputObject, Object};

use super::types::{Scan, ScanConnection, ScanStatus};
use crate::domain::status::ScanStatus as DomainStatus;
use crate::error::{AppError, GqlResult};
use crate::graphql::answers;
use crate::graphql::context::{ContextExt, parse_id};
use crate::service::pagination::PageRequest;
use crate::service::scans;

#[derive(InputObject, Default)]
pub struct ScanFilter {
    /// Only scans in these statuses (a single value is accepted too).
    pub status: Option<Vec<ScanStatus>>,
    /// The filter language, on what each scan found (`port:443 product:nginx`,
    /// `kind:PORT_OPENED`, `seen<7d`); see the README. A bad filter is VALIDATION with its
    /// column.
    pub query: Option<String>,
}

#[derive(Default)]
pub struct ScanQuery;

#[Object]
impl ScanQuery {
    /// Scans, newest first.
    async fn scans(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ScanFilter>,
    ) -> GqlResult<ScanConnection> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let ScanFilter { status, query } = filter.unwrap_or_default();
        let statuses: Vec<DomainStatus> = status
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect();
        let page = scans::list(ctx.db(), ctx.actor()?, page, &statuses, query.as_deref()).await?;
        Ok(ScanConnection::from_page(page, |s| s.id, Scan))
    }

    async fn scan(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Scan>> {
        let actor = ctx.actor()?;
        let scope = answers::scope(ctx);
        let Ok(id) = parse_id(&id, "scan") else {
            return Ok(None);
        };
        match scans::get(ctx.db(), actor, id).await {
            Ok(s) => {
                if let Some(scope) = scope {
                    scope.read_scan(s.id, s.created_at, DomainStatus::parse(&s.status));
                }
                Ok(Some(Scan(s)))
            }
            Err(AppError::NotFound(_)) => {
                // Not there yet is not an answer to keep.
                if let Some(scope) = scope {
                    scope.read_mutable();
                }
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }
}

//! Scan mutations: start, cancel, import, regenerate reports, delete (OPERATOR).

use async_graphql::{Context, ID, InputObject, Object};

use super::types::{Scan, settings};
use crate::error::GqlResult;
use crate::graphql::context::{ContextExt, parse_id};
use crate::jobs::runner::Runner;
use crate::service::reports;
use crate::service::{imports, scans};

/// What to scan: a saved config (`configId`), or ad-hoc `targets` (IP addresses or CIDRs)
/// with optional `ports` (e.g. `22,80,8000-8100`; default nmap's top 1000).
#[derive(InputObject)]
pub struct StartScanInput {
    pub config_id: Option<ID>,
    pub targets: Option<Vec<String>>,
    pub ports: Option<String>,
    pub title: Option<String>,
}

/// An nmap (or masscan) XML document to store as a completed scan, optionally judged against
/// a saved config's expectations.
#[derive(InputObject)]
pub struct ImportNmapXmlInput {
    pub xml: String,
    pub title: Option<String>,
    pub config_id: Option<ID>,
}

fn runner<'a>(ctx: &'a Context<'_>) -> &'a Runner {
    ctx.data_unchecked::<Runner>()
}

#[derive(Default)]
pub struct ScanMutation;

#[Object]
impl ScanMutation {
    /// Queues a scan and returns it at once (QUEUED); follow it with `scanProgress` (OPERATOR).
    /// Targets outside the scope are refused with `SCOPE` before anything is created.
    async fn start_scan(&self, ctx: &Context<'_>, input: StartScanInput) -> GqlResult<Scan> {
        let config_id = input
            .config_id
            .as_ref()
            .map(|id| parse_id(id, "scan config"))
            .transpose()?;
        let req = scans::StartRequest {
            config_id,
            targets: input.targets,
            ports: input.ports,
            title: input.title,
            run_here: false,
        };
        let started = scans::start(ctx.db(), ctx.actor()?, req).await?;
        runner(ctx).enqueue(&started).await;
        Ok(Scan(started.scan))
    }

    /// Cancels a queued or running scan; a running one has stopped when this returns
    /// (OPERATOR). Cancelling a finished scan is `CONFLICT`.
    async fn cancel_scan(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Scan> {
        let id = parse_id(&id, "scan")?;
        Ok(Scan(
            crate::jobs::runner::cancel(runner(ctx), ctx.actor()?, id).await?,
        ))
    }

    /// Stores an nmap XML document as a COMPLETED scan (OPERATOR). A document that is not
    /// nmap XML, is cut short or uses entities is `VALIDATION` and stores nothing.
    async fn import_nmap_xml(
        &self,
        ctx: &Context<'_>,
        input: ImportNmapXmlInput,
    ) -> GqlResult<Scan> {
        let config_id = input
            .config_id
            .as_ref()
            .map(|id| parse_id(id, "scan config"))
            .transpose()?;
        let req = imports::ImportRequest {
            title: input.title,
            config_id,
        };
        let xml = std::io::Cursor::new(input.xml.into_bytes());
        let settings = settings(ctx);
        let row = imports::import_xml(
            ctx.db(),
            ctx.actor()?,
            xml,
            req,
            &settings.data_dir,
            settings.scanner.web.cert_expiry_warning_days,
        )
        .await?;
        runner(ctx).publish(&row);
        Ok(Scan(row))
    }

    /// Writes a scan's JSON, HTML and ZIP reports again, from its stored results (OPERATOR).
    async fn generate_reports(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Scan> {
        let settings = settings(ctx);
        Ok(Scan(
            reports::regenerate(
                ctx.db(),
                ctx.actor()?,
                &settings.data_dir,
                settings.scanner.web.cert_expiry_warning_days,
                parse_id(&id, "scan")?,
            )
            .await?,
        ))
    }

    /// Deletes a finished scan: its rows and its files, reports and screenshots (OPERATOR).
    async fn delete_scan(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let data_dir = &settings(ctx).data_dir;
        scans::delete(ctx.db(), ctx.actor()?, data_dir, parse_id(&id, "scan")?).await?;
        Ok(true)
    }
}

//! GraphQL for schedules (issue 14, DESIGN §13): `schedules`, `schedule`, `previewSchedule`,
//! `describeSchedule`, create/update/delete, `pauseSchedule`/`resumeSchedule`,
//! `runScheduleNow`, and `Scan.schedule`. Thin over `service::schedules`.

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use entity::{schedule, schedule_run};

use crate::domain::schedule as rules;
use crate::error::{AppError, GqlResult};
use crate::graphql::configs::ScanConfig;
use crate::graphql::connection::connection;
use crate::graphql::context::{ContextExt, or_none, parse_id};
use crate::graphql::scans::{Scan, config_or_none, scan_or_none};
use crate::jobs::runner::Runner;
use crate::service::pagination::PageRequest;
use crate::service::schedules::{self, ScheduleInput as Input};

/// While a schedule's previous scan still runs, what a firing does.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "rules::OverlapPolicy")]
pub enum OverlapPolicy {
    /// Record SKIPPED_OVERLAP and start nothing (default).
    Forbid,
    /// Start another scan beside it.
    Allow,
    /// Cancel the running scan and start a new one.
    Replace,
}

/// What happens to firings missed while no server ran.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "rules::MisfirePolicy")]
pub enum MisfirePolicy {
    /// Record them MISSED (default).
    Skip,
    /// Run the latest one once, if within the starting deadline.
    RunOnce,
}

/// What a firing did.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "rules::RunOutcome")]
pub enum ScheduleRunOutcome {
    Started,
    SkippedOverlap,
    Missed,
}

pub struct Schedule(pub schedule::Model);

#[Object]
impl Schedule {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The config it scans (null once that config was deleted: the schedule is then disabled).
    async fn config(&self, ctx: &Context<'_>) -> GqlResult<Option<ScanConfig>> {
        config_or_none(ctx, self.0.config_id).await
    }
    async fn cron(&self) -> &str {
        &self.0.cron
    }
    /// IANA timezone the cron expression is read in.
    async fn timezone(&self) -> &str {
        &self.0.timezone
    }
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// Why the server disabled it (its config was deleted), if it did.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }
    async fn overlap_policy(&self) -> OverlapPolicy {
        rules::OverlapPolicy::parse(&self.0.overlap_policy)
            .unwrap_or(rules::OverlapPolicy::Forbid)
            .into()
    }
    async fn misfire_policy(&self) -> MisfirePolicy {
        rules::MisfirePolicy::parse(&self.0.misfire_policy)
            .unwrap_or(rules::MisfirePolicy::Skip)
            .into()
    }
    /// A missed firing later than this is not caught up (RUN_ONCE).
    async fn starting_deadline_seconds(&self) -> i32 {
        self.0.starting_deadline_seconds
    }
    /// In words: "At 02:30, Europe/Berlin".
    async fn description(&self) -> String {
        schedules::spec(&self.0)
            .map(|s| s.describe())
            .unwrap_or_else(|e| e.to_string())
    }
    /// The next firing to happen (null while disabled).
    async fn next_run_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_run_at
    }
    /// The next `count` firings (default 5, at most 50); none while disabled.
    async fn next_runs(&self, count: Option<i32>) -> Vec<DateTime<Utc>> {
        let (Some(next), Ok(spec)) = (self.0.next_run_at, schedules::spec(&self.0)) else {
            return Vec::new();
        };
        let count = usize::try_from(count.unwrap_or(5)).unwrap_or(0).max(1);
        let mut runs = vec![next];
        runs.extend(spec.upcoming(next, count - 1));
        runs.truncate(count.min(rules::MAX_PREVIEW));
        runs
    }
    /// The scheduled time of the last firing.
    async fn last_run_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_run_at
    }
    async fn last_outcome(&self) -> Option<ScheduleRunOutcome> {
        self.0
            .last_outcome
            .as_deref()
            .and_then(rules::RunOutcome::parse)
            .map(Into::into)
    }
    async fn created_by(&self) -> &str {
        &self.0.created_by
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Its firings, newest first.
    async fn runs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<ScheduleRunConnection> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let page = schedules::runs(ctx.db(), ctx.actor()?, self.0.id, page).await?;
        Ok(ScheduleRunConnection::from_page(
            page,
            |r| r.id,
            ScheduleRun,
        ))
    }
}

connection!(ScheduleConnection, ScheduleEdge, Schedule);

pub struct ScheduleRun(pub schedule_run::Model);

#[Object]
impl ScheduleRun {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn scheduled_for(&self) -> DateTime<Utc> {
        self.0.scheduled_for
    }
    async fn fired_at(&self) -> DateTime<Utc> {
        self.0.fired_at
    }
    async fn outcome(&self) -> ScheduleRunOutcome {
        rules::RunOutcome::parse(&self.0.outcome)
            .unwrap_or(rules::RunOutcome::Missed)
            .into()
    }
    /// The scan it started (null if none, or once that scan was deleted).
    async fn scan(&self, ctx: &Context<'_>) -> GqlResult<Option<Scan>> {
        scan_or_none(ctx, self.0.scan_id).await
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
}

connection!(ScheduleRunConnection, ScheduleRunEdge, ScheduleRun);

/// A schedule's settings (create and update take them whole).
#[derive(InputObject)]
pub struct ScheduleInput {
    /// Unique, 1-100 characters.
    pub name: String,
    pub config_id: ID,
    /// Five fields (minute hour day-of-month month day-of-week), or a nickname (`@daily`).
    pub cron: String,
    /// IANA timezone name, e.g. `Europe/Berlin` (default `UTC`).
    pub timezone: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Default FORBID.
    pub overlap_policy: Option<OverlapPolicy>,
    /// Default SKIP.
    pub misfire_policy: Option<MisfirePolicy>,
    /// 60 to 604,800 (default 3,600).
    pub starting_deadline_seconds: Option<i32>,
}

impl ScheduleInput {
    fn into_service(self) -> GqlResult<Input> {
        Ok(Input {
            name: self.name,
            config_id: parse_id(&self.config_id, "config")
                .map_err(|_| AppError::validation("configId: not a config id"))?,
            cron: self.cron,
            timezone: self.timezone.unwrap_or_else(|| "UTC".into()),
            enabled: self.enabled.unwrap_or(true),
            overlap: self.overlap_policy.unwrap_or(OverlapPolicy::Forbid).into(),
            misfire: self.misfire_policy.unwrap_or(MisfirePolicy::Skip).into(),
            starting_deadline_seconds: self.starting_deadline_seconds,
        })
    }
}

#[derive(Default)]
pub struct ScheduleQuery;

#[Object]
impl ScheduleQuery {
    /// Schedules, newest first (VIEWER).
    async fn schedules(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<ScheduleConnection> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let page = schedules::list(ctx.db(), ctx.actor()?, page).await?;
        Ok(ScheduleConnection::from_page(page, |s| s.id, Schedule))
    }

    async fn schedule(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Schedule>> {
        schedule_or_none(ctx, parse_id(&id, "schedule")?).await
    }

    /// The next `count` firings (default 5, at most 50) of a cron expression in a timezone,
    /// for the editor; a bad expression or timezone is VALIDATION naming the field.
    async fn preview_schedule(
        &self,
        ctx: &Context<'_>,
        cron: String,
        timezone: String,
        count: Option<i32>,
    ) -> GqlResult<Vec<DateTime<Utc>>> {
        ctx.actor()?;
        let count = usize::try_from(count.unwrap_or(5)).unwrap_or(0);
        Ok(schedules::preview(&cron, &timezone, count)?.0)
    }

    /// A cron expression in a timezone in words ("At 02:30, Europe/Berlin").
    async fn describe_schedule(
        &self,
        ctx: &Context<'_>,
        cron: String,
        timezone: String,
    ) -> GqlResult<String> {
        ctx.actor()?;
        Ok(schedules::preview(&cron, &timezone, 0)?.1)
    }
}

#[derive(Default)]
pub struct ScheduleMutation;

#[Object]
impl ScheduleMutation {
    /// Creates a schedule (OPERATOR). Bad input is VALIDATION naming the field; nothing is
    /// created.
    async fn create_schedule(
        &self,
        ctx: &Context<'_>,
        input: ScheduleInput,
    ) -> GqlResult<Schedule> {
        let input = input.into_service()?;
        Ok(Schedule(
            schedules::create(ctx.db(), ctx.actor()?, input).await?,
        ))
    }

    /// Replaces a schedule's settings (OPERATOR).
    async fn update_schedule(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ScheduleInput,
    ) -> GqlResult<Schedule> {
        let input = input.into_service()?;
        let id = parse_id(&id, "schedule")?;
        Ok(Schedule(
            schedules::update(ctx.db(), ctx.actor()?, id, input).await?,
        ))
    }

    /// Stops a schedule firing until it is resumed (OPERATOR).
    async fn pause_schedule(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Schedule> {
        let id = parse_id(&id, "schedule")?;
        Ok(Schedule(
            schedules::set_enabled(ctx.db(), ctx.actor()?, id, false).await?,
        ))
    }

    /// Lets a paused schedule fire again from its next time (OPERATOR).
    async fn resume_schedule(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Schedule> {
        let id = parse_id(&id, "schedule")?;
        Ok(Schedule(
            schedules::set_enabled(ctx.db(), ctx.actor()?, id, true).await?,
        ))
    }

    /// Deletes a schedule and its run history; its scans stay (OPERATOR).
    async fn delete_schedule(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        schedules::delete(ctx.db(), ctx.actor()?, parse_id(&id, "schedule")?).await?;
        Ok(true)
    }

    /// Starts the schedule's scan now, whatever its time (OPERATOR); the run is recorded.
    async fn run_schedule_now(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Scan> {
        let started =
            schedules::run_now(ctx.db(), ctx.actor()?, parse_id(&id, "schedule")?).await?;
        ctx.data_unchecked::<Runner>().enqueue(&started).await;
        Ok(Scan(started.scan))
    }
}

/// `Scan.schedule`: the schedule that started it.
pub async fn scan_schedule(ctx: &Context<'_>, id: Option<i32>) -> GqlResult<Option<Schedule>> {
    crate::graphql::answers::read_mutable(ctx);
    match id {
        Some(id) => schedule_or_none(ctx, id).await,
        None => Ok(None),
    }
}

/// The schedule `id`, or none where it does not exist.
async fn schedule_or_none(ctx: &Context<'_>, id: i32) -> GqlResult<Option<Schedule>> {
    or_none(schedules::get(ctx.db(), ctx.actor()?, id).await, Schedule)
}

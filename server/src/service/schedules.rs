//! Schedules (issue 14, DESIGN §12): CRUD (OPERATOR manages, VIEWER reads, all audited), the
//! preview for the editor, run history, "run now", and [`fire_due`] — what every replica's
//! scheduler calls each second. A firing is handled in one write transaction that moves the
//! schedule's cursor (`next_run_at`), writes its run row (unique per (schedule, time)) and
//! stores its scan, so each scheduled time fires exactly once whatever the number of replicas
//! and restarts; the caller pushes the scan's job after the commit (a job lost to a crash is
//! pushed by the workers' sweep of queued scans without one).

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use entity::{change_event, scan, scan_config, schedule, schedule_run};

use crate::db;
use crate::domain::auth::{Actor, AuthMethod, Role};
use crate::domain::changes::ChangeKind;
use crate::domain::schedule::{
    self as rules, MisfirePolicy, OnOverlap, OverlapPolicy, RunOutcome, Spec,
};
use crate::domain::status::ScanStatus;
use crate::error::{AppError, AppResult};
use crate::service::audit;
use crate::service::pagination::{Page, PageRequest};
use crate::service::scans::{self, StartRequest, Started};

/// The advisory-lock class of a schedule's firing (PostgreSQL; SQLite writers are serial).
const LOCK_CLASS: i64 = 0x5C4E_0014;

/// Starting deadlines allowed: a minute to a week (default an hour).
pub const DEADLINE_RANGE: std::ops::RangeInclusive<i32> = 60..=7 * 24 * 3600;
pub const DEFAULT_DEADLINE: i32 = 3600;

/// What a schedule is made of (create: all given; update: the same, whole).
#[derive(Debug, Clone)]
pub struct ScheduleInput {
    pub name: String,
    pub config_id: i32,
    pub cron: String,
    pub timezone: String,
    pub enabled: bool,
    pub overlap: OverlapPolicy,
    pub misfire: MisfirePolicy,
    pub starting_deadline_seconds: Option<i32>,
}

/// The actor a schedule starts its scans as: `schedule:<name>`, operator rights.
pub fn actor_of(row: &schedule::Model) -> Actor {
    Actor {
        user_id: None,
        username: format!("schedule:{}", row.name),
        role: Role::Operator,
        method: AuthMethod::System,
    }
}

pub fn spec(row: &schedule::Model) -> AppResult<Spec> {
    Spec::parse(&row.cron, &row.timezone)
}

pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    page: PageRequest,
) -> AppResult<Page<schedule::Model>> {
    actor.require(Role::Viewer)?;
    let total_count = schedule::Entity::find().count(db).await?;
    let mut q = schedule::Entity::find().order_by_desc(schedule::Column::Id);
    if let Some(after) = page.after_id {
        q = q.filter(schedule::Column::Id.lt(after));
    }
    let rows = q.limit(page.first + 1).all(db).await?;
    Ok(Page::from_rows(rows, page.first, total_count))
}

pub async fn get(db: &DatabaseConnection, actor: &Actor, id: i32) -> AppResult<schedule::Model> {
    actor.require(Role::Viewer)?;
    schedule::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("schedule"))
}

/// The next `count` firings of a cron expression in a timezone from now, for the editor.
pub fn preview(
    cron: &str,
    timezone: &str,
    count: usize,
) -> AppResult<(Vec<DateTime<Utc>>, String)> {
    let spec = Spec::parse(cron, timezone)?;
    Ok((spec.upcoming(Utc::now(), count), spec.describe()))
}

/// Validates an input: the name, the cron expression and timezone, the config, the deadline.
/// Errors are VALIDATION naming the field.
async fn validate(db: &DatabaseConnection, input: &ScheduleInput) -> AppResult<Spec> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::validation(
            "name: 1-100 characters, no control characters",
        ));
    }
    let spec = Spec::parse(&input.cron, &input.timezone)?;
    if let Some(d) = input.starting_deadline_seconds
        && !DEADLINE_RANGE.contains(&d)
    {
        return Err(AppError::validation(format!(
            "startingDeadlineSeconds: between {} and {} (a minute to a week)",
            DEADLINE_RANGE.start(),
            DEADLINE_RANGE.end()
        )));
    }
    if scan_config::Entity::find_by_id(input.config_id)
        .one(db)
        .await?
        .is_none()
    {
        return Err(AppError::validation(format!(
            "configId: there is no config {}",
            input.config_id
        )));
    }
    Ok(spec)
}

async fn name_taken(db: &DatabaseConnection, name: &str, except: Option<i32>) -> AppResult<()> {
    let mut q = schedule::Entity::find().filter(schedule::Column::Name.eq(name));
    if let Some(id) = except {
        q = q.filter(schedule::Column::Id.ne(id));
    }
    if q.count(db).await? > 0 {
        return Err(AppError::validation(format!(
            "name: a schedule named {name:?} exists already"
        )));
    }
    Ok(())
}

fn next_run(spec: &Spec, enabled: bool, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    enabled.then(|| spec.next_after(now)).flatten()
}

pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    input: ScheduleInput,
) -> AppResult<schedule::Model> {
    actor.require(Role::Operator)?;
    let spec = validate(db, &input).await?;
    let name = input.name.trim().to_owned();
    name_taken(db, &name, None).await?;
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let row = schedule::ActiveModel {
        name: Set(name),
        config_id: Set(Some(input.config_id)),
        cron: Set(input.cron.trim().to_owned()),
        timezone: Set(spec.timezone().name().to_owned()),
        enabled: Set(input.enabled),
        overlap_policy: Set(input.overlap.as_str().to_owned()),
        misfire_policy: Set(input.misfire.as_str().to_owned()),
        starting_deadline_seconds: Set(input.starting_deadline_seconds.unwrap_or(DEFAULT_DEADLINE)),
        disabled_reason: Set(None),
        next_run_at: Set(next_run(&spec, input.enabled, now)),
        last_run_at: Set(None),
        last_outcome: Set(None),
        created_by: Set(actor.username.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        "schedule.create",
        Some(format!("schedule:{}", row.id)),
        Some(describe_row(&row)),
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

fn describe_row(row: &schedule::Model) -> serde_json::Value {
    serde_json::json!({
        "name": row.name,
        "config_id": row.config_id,
        "cron": row.cron,
        "timezone": row.timezone,
        "enabled": row.enabled,
        "overlap_policy": row.overlap_policy,
        "misfire_policy": row.misfire_policy,
        "starting_deadline_seconds": row.starting_deadline_seconds,
    })
}

/// Replaces a schedule's settings (OPERATOR). A changed time or a schedule enabled again
/// fires next at its next time from now (what was missed while paused is not caught up).
pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i32,
    input: ScheduleInput,
) -> AppResult<schedule::Model> {
    actor.require(Role::Operator)?;
    let existing = get(db, actor, id).await?;
    let spec = validate(db, &input).await?;
    let name = input.name.trim().to_owned();
    name_taken(db, &name, Some(id)).await?;
    let now = Utc::now();
    let cron = input.cron.trim().to_owned();
    let timezone = spec.timezone().name().to_owned();
    let retimed = cron != existing.cron
        || timezone != existing.timezone
        || input.enabled != existing.enabled
        || existing.next_run_at.is_none();
    let txn = db::begin_write(db).await?;
    db::advisory_lock(&txn, &[LOCK_CLASS, i64::from(id)]).await?;
    let mut row: schedule::ActiveModel = existing.clone().into();
    row.name = Set(name);
    row.config_id = Set(Some(input.config_id));
    row.cron = Set(cron);
    row.timezone = Set(timezone);
    row.enabled = Set(input.enabled);
    row.overlap_policy = Set(input.overlap.as_str().to_owned());
    row.misfire_policy = Set(input.misfire.as_str().to_owned());
    if let Some(d) = input.starting_deadline_seconds {
        row.starting_deadline_seconds = Set(d);
    }
    if input.enabled {
        row.disabled_reason = Set(None);
    }
    if retimed {
        row.next_run_at = Set(next_run(&spec, input.enabled, now));
    }
    row.updated_at = Set(now);
    let row = row.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        "schedule.update",
        Some(format!("schedule:{id}")),
        Some(describe_row(&row)),
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// Pauses or resumes a schedule (OPERATOR): [`update`] with only `enabled` changed.
pub async fn set_enabled(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i32,
    enabled: bool,
) -> AppResult<schedule::Model> {
    let row = get(db, actor, id).await?;
    let Some(config_id) = row.config_id else {
        return Err(AppError::validation(
            "configId: the schedule's config was deleted; choose another config to resume it",
        ));
    };
    let input = ScheduleInput {
        name: row.name.clone(),
        config_id,
        cron: row.cron.clone(),
        timezone: row.timezone.clone(),
        enabled,
        overlap: OverlapPolicy::parse(&row.overlap_policy).unwrap_or(OverlapPolicy::Forbid),
        misfire: MisfirePolicy::parse(&row.misfire_policy).unwrap_or(MisfirePolicy::Skip),
        starting_deadline_seconds: Some(row.starting_deadline_seconds),
    };
    update(db, actor, id, input).await
}

pub async fn delete(db: &DatabaseConnection, actor: &Actor, id: i32) -> AppResult<()> {
    actor.require(Role::Operator)?;
    let existing = get(db, actor, id).await?;
    let txn = db::begin_write(db).await?;
    db::advisory_lock(&txn, &[LOCK_CLASS, i64::from(id)]).await?;
    // Its scans stay; they no longer link to it.
    scan::Entity::update_many()
        .col_expr(
            scan::Column::ScheduleId,
            sea_orm::sea_query::Expr::value(Option::<i32>::None),
        )
        .filter(scan::Column::ScheduleId.eq(id))
        .exec(&txn)
        .await?;
    schedule::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        actor,
        "schedule.delete",
        Some(format!("schedule:{id}")),
        Some(serde_json::json!({ "name": existing.name })),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// A schedule's firings, newest first.
pub async fn runs(
    db: &DatabaseConnection,
    actor: &Actor,
    schedule_id: i32,
    page: PageRequest,
) -> AppResult<Page<schedule_run::Model>> {
    actor.require(Role::Viewer)?;
    let base =
        schedule_run::Entity::find().filter(schedule_run::Column::ScheduleId.eq(schedule_id));
    let total_count = base.clone().count(db).await?;
    let mut q = base
        .order_by_desc(schedule_run::Column::ScheduledFor)
        .order_by_desc(schedule_run::Column::Id);
    if let Some(after) = page.after_id {
        // Keyset on (scheduled_for, id): the time of the row the cursor names.
        if let Some(last) = schedule_run::Entity::find_by_id(after).one(db).await? {
            q = q.filter(
                sea_orm::Condition::any()
                    .add(schedule_run::Column::ScheduledFor.lt(last.scheduled_for))
                    .add(
                        sea_orm::Condition::all()
                            .add(schedule_run::Column::ScheduledFor.eq(last.scheduled_for))
                            .add(schedule_run::Column::Id.lt(after)),
                    ),
            );
        }
    }
    let rows = q.limit(page.first + 1).all(db).await?;
    Ok(Page::from_rows(rows, page.first, total_count))
}

/// Disables schedules of a config about to be deleted (in the caller's transaction): they stay,
/// with the reason, instead of failing at every firing.
pub async fn disable_for_config<C: sea_orm::ConnectionTrait>(
    conn: &C,
    config_id: i32,
    title: &str,
) -> AppResult<u64> {
    Ok(schedule::Entity::update_many()
        .col_expr(
            schedule::Column::Enabled,
            sea_orm::sea_query::Expr::value(false),
        )
        .col_expr(
            schedule::Column::NextRunAt,
            sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            schedule::Column::DisabledReason,
            sea_orm::sea_query::Expr::value(format!("its config {title:?} was deleted")),
        )
        .filter(schedule::Column::ConfigId.eq(config_id))
        .exec(conn)
        .await?
        .rows_affected)
}

/// A firing's result for the caller: a scan to hand to the job runner, and a scan to cancel
/// (overlap policy REPLACE).
#[derive(Debug, Default)]
pub struct Fired {
    pub started: Option<Started>,
    pub replaced: Option<i32>,
}

/// Starts a schedule's scan now (OPERATOR), whatever its time and overlap policy: a STARTED
/// run at the current time, "run now by <user>".
pub async fn run_now(db: &DatabaseConnection, actor: &Actor, id: i32) -> AppResult<Started> {
    actor.require(Role::Operator)?;
    let row = get(db, actor, id).await?;
    let Some(config_id) = row.config_id else {
        return Err(AppError::validation(
            "configId: the schedule's config was deleted",
        ));
    };
    let as_schedule = actor_of(&row);
    let prepared = scans::prepare(
        db,
        &as_schedule,
        StartRequest {
            config_id: Some(config_id),
            ..StartRequest::default()
        },
    )
    .await?;
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    db::advisory_lock(&txn, &[LOCK_CLASS, i64::from(id)]).await?;
    let started = scans::insert(&txn, &as_schedule, prepared, Some(id)).await?;
    run_row(
        now,
        id,
        now,
        RunOutcome::Started,
        Some(started.scan.id),
        Some(format!("run now by {}", actor.username)),
    )
    .insert(&txn)
    .await?;
    let mut update: schedule::ActiveModel = row.into();
    update.last_run_at = Set(Some(now));
    update.last_outcome = Set(Some(RunOutcome::Started.as_str().to_owned()));
    update.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        "schedule.run_now",
        Some(format!("schedule:{id}")),
        Some(serde_json::json!({ "scan_id": started.scan.id })),
    )
    .await?;
    txn.commit().await?;
    Ok(started)
}

fn run_row(
    fired_at: DateTime<Utc>,
    schedule_id: i32,
    scheduled_for: DateTime<Utc>,
    outcome: RunOutcome,
    scan_id: Option<i32>,
    reason: Option<String>,
) -> schedule_run::ActiveModel {
    schedule_run::ActiveModel {
        schedule_id: Set(schedule_id),
        scheduled_for: Set(scheduled_for),
        fired_at: Set(fired_at),
        outcome: Set(outcome.as_str().to_owned()),
        scan_id: Set(scan_id),
        reason: Set(reason),
        ..Default::default()
    }
}

/// Fires every enabled schedule whose time has come at `now`; returns what to push and cancel.
/// A schedule that fails is logged and retried at the next call (its cursor did not move).
pub async fn fire_due(db: &DatabaseConnection, now: DateTime<Utc>) -> AppResult<Vec<Fired>> {
    let due = schedule::Entity::find()
        .filter(schedule::Column::Enabled.eq(true))
        .filter(schedule::Column::NextRunAt.lte(now))
        .order_by_asc(schedule::Column::NextRunAt)
        .all(db)
        .await?;
    let mut out = Vec::new();
    for row in due {
        match fire(db, &row, now).await {
            Ok(Some(fired)) => out.push(fired),
            Ok(None) => {}
            Err(e) => tracing::warn!(schedule_id = row.id, error = %e, "firing a schedule failed"),
        }
    }
    Ok(out)
}

/// Handles the due firings of one schedule (see [`rules::due`]); `None` when another replica
/// handled them first.
async fn fire(
    db: &DatabaseConnection,
    row: &schedule::Model,
    now: DateTime<Utc>,
) -> AppResult<Option<Fired>> {
    let Some(cursor) = row.next_run_at else {
        return Ok(None);
    };
    let spec = match spec(row) {
        Ok(s) => s,
        Err(e) => {
            disable(db, row, &format!("its time is no longer valid: {e}")).await?;
            return Ok(None);
        }
    };
    let misfire = MisfirePolicy::parse(&row.misfire_policy).unwrap_or(MisfirePolicy::Skip);
    let overlap = OverlapPolicy::parse(&row.overlap_policy).unwrap_or(OverlapPolicy::Forbid);
    let due = rules::due(
        &spec,
        cursor,
        now,
        misfire,
        Duration::seconds(i64::from(row.starting_deadline_seconds)),
    );
    let as_schedule = actor_of(row);
    // The scan is checked before the transaction (its reads); a config that cannot start
    // makes the firing MISSED with the reason, and a deleted one disables the schedule.
    let mut cannot_start: Option<String> = None;
    let mut config_gone = false;
    let mut prepared = None;
    if due.firings.iter().any(|f| f.start) {
        match row.config_id {
            None => {
                config_gone = true;
                cannot_start = Some("its config was deleted".into());
            }
            Some(config_id) => match scans::prepare(
                db,
                &as_schedule,
                StartRequest {
                    config_id: Some(config_id),
                    ..StartRequest::default()
                },
            )
            .await
            {
                Ok(p) => prepared = Some(p),
                Err(AppError::NotFound(_)) => {
                    config_gone = true;
                    cannot_start = Some("its config was deleted".into());
                }
                Err(e) => cannot_start = Some(format!("the scan could not start: {e}")),
            },
        }
    }

    let txn = db::begin_write(db).await?;
    db::advisory_lock(&txn, &[LOCK_CLASS, i64::from(row.id)]).await?;
    let Some(current) = schedule::Entity::find_by_id(row.id).one(&txn).await? else {
        return Ok(None);
    };
    if !current.enabled || current.next_run_at != Some(cursor) {
        return Ok(None); // another replica (or an edit) was first
    }
    let times: Vec<DateTime<Utc>> = due.firings.iter().map(|f| f.scheduled_for).collect();
    let recorded: Vec<DateTime<Utc>> = schedule_run::Entity::find()
        .select_only()
        .column(schedule_run::Column::ScheduledFor)
        .filter(schedule_run::Column::ScheduleId.eq(row.id))
        .filter(schedule_run::Column::ScheduledFor.is_in(times))
        .into_tuple()
        .all(&txn)
        .await?;

    let mut fired = Fired::default();
    let mut runs = Vec::new();
    let mut missed = Vec::new();
    let mut last_outcome = None;
    for firing in &due.firings {
        if recorded.contains(&firing.scheduled_for) {
            continue;
        }
        let (outcome, scan_id, reason) = if !firing.start {
            (RunOutcome::Missed, None, firing.reason.clone())
        } else if let Some(why) = &cannot_start {
            (RunOutcome::Missed, None, Some(why.clone()))
        } else if let Some(p) = prepared.take() {
            let running = if overlap == OverlapPolicy::Allow {
                None
            } else {
                active_scan(&txn, row.id).await?
            };
            match rules::on_overlap(overlap, running) {
                OnOverlap::Skip(reason) => (RunOutcome::SkippedOverlap, None, Some(reason)),
                decision => {
                    let started = scans::insert(&txn, &as_schedule, p, Some(row.id)).await?;
                    let id = started.scan.id;
                    let mut reason = firing.reason.clone();
                    if let OnOverlap::Replace(old) = decision {
                        fired.replaced = Some(old);
                        reason = Some(format!(
                            "{}replaces scan #{old} (overlap policy REPLACE)",
                            reason.map(|r| format!("{r}; ")).unwrap_or_default()
                        ));
                    }
                    fired.started = Some(started);
                    (RunOutcome::Started, Some(id), reason)
                }
            }
        } else {
            (RunOutcome::Missed, None, firing.reason.clone())
        };
        if outcome == RunOutcome::Missed {
            missed.push((firing.scheduled_for, reason.clone().unwrap_or_default()));
        }
        last_outcome = Some(outcome);
        runs.push(run_row(
            now,
            row.id,
            firing.scheduled_for,
            outcome,
            scan_id,
            reason,
        ));
    }
    if !runs.is_empty() {
        schedule_run::Entity::insert_many(runs).exec(&txn).await?;
    }
    if !missed.is_empty() {
        let event = missed_event(row, &missed, now).insert(&txn).await?;
        crate::service::alerts::schedule_missed(&txn, row.id, event).await?;
    }
    let mut update: schedule::ActiveModel = current.into();
    update.next_run_at = Set(due.next_run_at);
    if let Some(newest) = due.firings.last() {
        update.last_run_at = Set(Some(newest.scheduled_for));
    }
    if let Some(outcome) = last_outcome {
        update.last_outcome = Set(Some(outcome.as_str().to_owned()));
    }
    if config_gone {
        disabled(&mut update, "its config was deleted");
    }
    update.update(&txn).await?;
    txn.commit().await?;
    Ok(Some(fired))
}

/// The newest scan of the schedule still queued or running.
async fn active_scan<C: sea_orm::ConnectionTrait>(
    conn: &C,
    schedule_id: i32,
) -> AppResult<Option<i32>> {
    Ok(scan::Entity::find()
        .select_only()
        .column(scan::Column::Id)
        .filter(scan::Column::ScheduleId.eq(schedule_id))
        .filter(scan::Column::ParentId.is_null())
        .filter(
            scan::Column::Status.is_in([ScanStatus::Queued.as_str(), ScanStatus::Running.as_str()]),
        )
        .order_by_desc(scan::Column::Id)
        .into_tuple::<i32>()
        .one(conn)
        .await?)
}

/// One SCHEDULE_MISSED change event for the firings a pass recorded MISSED.
fn missed_event(
    row: &schedule::Model,
    missed: &[(DateTime<Utc>, String)],
    now: DateTime<Utc>,
) -> change_event::ActiveModel {
    let kind = ChangeKind::ScheduleMissed;
    let (first, reason) = &missed[0];
    let summary = if missed.len() == 1 {
        format!(
            "Schedule {:?} missed its run of {}: {reason}",
            row.name,
            first.to_rfc3339()
        )
    } else {
        format!(
            "Schedule {:?} missed {} runs from {} to {}: {}",
            row.name,
            missed.len(),
            first.to_rfc3339(),
            missed[missed.len() - 1].0.to_rfc3339(),
            missed[missed.len() - 1].1
        )
    };
    change_event::ActiveModel {
        kind: Set(kind.as_str().to_owned()),
        severity: Set(kind.severity().as_str().to_owned()),
        at: Set(now),
        summary: Set(summary),
        after: Set(Some(
            serde_json::json!({
                "schedule_id": row.id,
                "schedule": row.name,
                "missed": missed.iter().map(|(t, _)| t.to_rfc3339()).collect::<Vec<_>>(),
                "reason": missed[missed.len() - 1].1,
            })
            .to_string(),
        )),
        ..Default::default()
    }
}

/// Disables a schedule with a reason (its firing could never succeed).
async fn disable(db: &DatabaseConnection, row: &schedule::Model, reason: &str) -> AppResult<()> {
    let mut update: schedule::ActiveModel = row.clone().into();
    disabled(&mut update, reason);
    update.update(db).await?;
    Ok(())
}

/// A schedule's row, disabled with the reason and no next run.
fn disabled(update: &mut schedule::ActiveModel, reason: &str) {
    update.enabled = Set(false);
    update.next_run_at = Set(None);
    update.disabled_reason = Set(Some(reason.to_owned()));
}

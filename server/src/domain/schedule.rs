//! Schedules (DESIGN §12): a cron expression (croner, five fields: at most once a minute) in an
//! IANA timezone (chrono-tz), and the pure rules of a firing — which scheduled times are due at
//! a given clock, which of them run and which are recorded MISSED. The clock is always passed
//! in, so every rule is tested with an injected one.
//!
//! Daylight saving time follows croner: a fixed-time job (`30 2 * * *`) whose time falls in a
//! spring-forward gap runs at the first instant after the gap, and once in a fall-back overlap
//! (its first pass); interval jobs (`*/15 * * * *`) skip the gap and run in both passes.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

use crate::error::AppError;

/// While a schedule's previous scan still runs, what a firing does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlapPolicy {
    /// Records SKIPPED_OVERLAP and starts nothing (the default).
    Forbid,
    /// Starts another scan beside it.
    Allow,
    /// Cancels the running scan and starts a new one.
    Replace,
}

/// What happens to firings the server could not make on time (it was not running).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MisfirePolicy {
    /// Every missed firing is recorded MISSED; the schedule goes on with the next one.
    Skip,
    /// The latest missed firing runs once (if within the starting deadline); older ones are
    /// MISSED.
    RunOnce,
}

/// What a firing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    Started,
    SkippedOverlap,
    Missed,
}

macro_rules! names {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($name => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

names!(OverlapPolicy { Forbid => "FORBID", Allow => "ALLOW", Replace => "REPLACE" });
names!(MisfirePolicy { Skip => "SKIP", RunOnce => "RUN_ONCE" });
names!(RunOutcome { Started => "STARTED", SkippedOverlap => "SKIPPED_OVERLAP", Missed => "MISSED" });

/// A firing later than this after its time was missed (no scheduler was running then); one
/// within it is on time. Every scheduler looks each second, so this only has to cover a slow
/// database or a busy machine.
pub const ON_TIME: Duration = Duration::seconds(15);

/// At most this many missed firings are recorded one by one after a downtime; older ones are
/// summed up in the oldest row kept.
pub const MAX_MISSED_ROWS: usize = 500;

/// The most runs `nextRuns` / `previewSchedule` list.
pub const MAX_PREVIEW: usize = 50;

/// A parsed, valid schedule time: cron expression and timezone.
#[derive(Debug, Clone)]
pub struct Spec {
    cron: Cron,
    tz: Tz,
}

impl Spec {
    /// Parses a five-field cron expression and an IANA timezone name. Errors are VALIDATION
    /// naming the field (`cron: …`, `timezone: …`).
    pub fn parse(cron: &str, timezone: &str) -> Result<Self, AppError> {
        let text = cron.trim();
        if text.is_empty() {
            return Err(AppError::validation("cron: give a cron expression"));
        }
        if text.len() > 200 {
            return Err(AppError::validation("cron: at most 200 characters"));
        }
        if !text.starts_with('@') && text.split_whitespace().count() != 5 {
            return Err(AppError::validation(format!(
                "cron: {text:?} must have five fields (minute hour day-of-month month \
                 day-of-week); a schedule fires at most once a minute, so there is no seconds \
                 field"
            )));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .build()
            .parse(text)
            .map_err(|e| AppError::validation(format!("cron: {text:?} is not valid: {e}")))?;
        let tz: Tz = timezone.trim().parse().map_err(|_| {
            AppError::validation(format!(
                "timezone: {timezone:?} is not an IANA timezone (e.g. Europe/Berlin, UTC)"
            ))
        })?;
        let spec = Self { cron, tz };
        // A pattern that never matches (`0 0 30 2 *`) is an error now, not a silent schedule.
        if spec.next_after(Utc::now()).is_none() {
            return Err(AppError::validation(format!("cron: {text:?} never fires")));
        }
        Ok(spec)
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first firing strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.tz), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The next `count` firings strictly after `t` (at most [`MAX_PREVIEW`]).
    pub fn upcoming(&self, t: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut at = t.with_timezone(&self.tz);
        while out.len() < count.min(MAX_PREVIEW) {
            // The exact previous value is passed on: in a fall-back overlap croner knows which
            // pass it is in.
            match self.cron.find_next_occurrence(&at, false) {
                Ok(next) => {
                    out.push(next.with_timezone(&Utc));
                    at = next;
                }
                Err(_) => break,
            }
        }
        out
    }

    /// In words, with the timezone: "At 02:30, Europe/Berlin".
    pub fn describe(&self) -> String {
        let words = self.cron.describe();
        format!("{}, {}", words.trim_end_matches('.'), self.tz.name())
    }
}

/// What a firing that may start does, given the schedule's scan still queued or running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnOverlap {
    /// Start a scan (nothing runs, or ALLOW).
    Start,
    /// Record SKIPPED_OVERLAP with the reason (FORBID).
    Skip(String),
    /// Start a scan and cancel the running one (REPLACE).
    Replace(i32),
}

/// The overlap policy applied to the schedule's running scan, if any.
pub fn on_overlap(policy: OverlapPolicy, running: Option<i32>) -> OnOverlap {
    match (policy, running) {
        (_, None) | (OverlapPolicy::Allow, _) => OnOverlap::Start,
        (OverlapPolicy::Forbid, Some(id)) => OnOverlap::Skip(format!(
            "scan #{id} of this schedule is still running (overlap policy FORBID)"
        )),
        (OverlapPolicy::Replace, Some(id)) => OnOverlap::Replace(id),
    }
}

/// One scheduled time that is due, and whether it starts a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    pub scheduled_for: DateTime<Utc>,
    /// Starts a scan (then subject to the overlap policy); otherwise MISSED with `reason`.
    pub start: bool,
    pub reason: Option<String>,
}

/// The firings due at `now` from the cursor `next_run_at`, and the new cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub firings: Vec<Firing>,
    pub next_run_at: Option<DateTime<Utc>>,
}

/// Which firings are due at `now`: every scheduled time from `cursor` (itself one) up to `now`.
/// The newest runs if it is on time ([`ON_TIME`]); a late one (the server was down) is a
/// misfire — RUN_ONCE runs it when it is at most `deadline` late, SKIP records it MISSED.
/// Older due times are always MISSED (at most one catch-up run). Nothing is due before
/// `cursor`.
pub fn due(
    spec: &Spec,
    cursor: DateTime<Utc>,
    now: DateTime<Utc>,
    misfire: MisfirePolicy,
    deadline: Duration,
) -> Due {
    if cursor > now {
        return Due {
            firings: Vec::new(),
            next_run_at: Some(cursor),
        };
    }
    let mut times = vec![cursor];
    let mut dropped = 0usize;
    let mut first_dropped = None;
    while let Some(next) = spec.next_after(*times.last().unwrap_or(&cursor)) {
        if next > now {
            break;
        }
        times.push(next);
        if times.len() > MAX_MISSED_ROWS + 1 {
            let old = times.remove(0);
            first_dropped.get_or_insert(old);
            dropped += 1;
        }
    }
    let newest = times.len() - 1;
    let firings = times
        .iter()
        .enumerate()
        .map(|(i, &at)| {
            let late = now - at;
            if i < newest {
                let mut reason = format!(
                    "not fired at its time (the scheduler was not running); {}",
                    if misfire == MisfirePolicy::RunOnce {
                        "at most one catch-up run, for the latest missed time"
                    } else {
                        "misfire policy SKIP"
                    }
                );
                if i == 0
                    && let Some(from) = first_dropped
                {
                    reason = format!(
                        "{reason}; {dropped} earlier firings since {} were missed too",
                        from.to_rfc3339()
                    );
                }
                return Firing {
                    scheduled_for: at,
                    start: false,
                    reason: Some(reason),
                };
            }
            if late <= ON_TIME {
                Firing {
                    scheduled_for: at,
                    start: true,
                    reason: None,
                }
            } else if misfire == MisfirePolicy::RunOnce && late <= deadline {
                Firing {
                    scheduled_for: at,
                    start: true,
                    reason: Some(format!(
                        "catch-up run, {} late (misfire policy RUN_ONCE)",
                        human(late)
                    )),
                }
            } else {
                Firing {
                    scheduled_for: at,
                    start: false,
                    reason: Some(if misfire == MisfirePolicy::RunOnce {
                        format!(
                            "{} late: past its starting deadline of {}",
                            human(late),
                            human(deadline)
                        )
                    } else {
                        format!(
                            "not fired at its time (the scheduler was not running); {} late, \
                             misfire policy SKIP",
                            human(late)
                        )
                    }),
                }
            }
        })
        .collect();
    Due {
        firings,
        next_run_at: spec.next_after(now.max(times[newest])),
    }
}

/// "3 h 5 min", "42 s".
fn human(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        _ if s % 3600 / 60 == 0 => format!("{} h", s / 3600),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn spec(cron: &str, tz: &str) -> Spec {
        match Spec::parse(cron, tz) {
            Ok(s) => s,
            Err(e) => panic!("{cron} {tz}: {e}"),
        }
    }

    fn at(tz: &str, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        let tz: Tz = tz.parse().expect("tz");
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .earliest()
            .expect("a local time")
            .with_timezone(&Utc)
    }

    fn local(t: DateTime<Utc>, tz: &str) -> String {
        let tz: Tz = tz.parse().expect("tz");
        t.with_timezone(&tz)
            .format("%Y-%m-%d %H:%M %:z")
            .to_string()
    }

    fn runs(cron: &str, tz: &str, from: DateTime<Utc>, n: usize) -> Vec<String> {
        spec(cron, tz)
            .upcoming(from, n)
            .into_iter()
            .map(|t| local(t, tz))
            .collect()
    }

    #[test]
    fn bad_input_names_the_field() {
        for (cron, tz, field) in [
            ("", "UTC", "cron:"),
            ("not a cron", "UTC", "cron:"),
            ("61 * * * *", "UTC", "cron:"),
            ("*/10 * * * * *", "UTC", "cron:"),
            ("0 0 30 2 *", "UTC", "cron:"),
            ("* * * * *", "Mars/Olympus", "timezone:"),
            ("* * * * *", "", "timezone:"),
            ("* * * * *", "europe/berlin", "timezone:"),
        ] {
            match Spec::parse(cron, tz) {
                Err(AppError::Validation { message, .. }) => {
                    assert!(message.starts_with(field), "{cron:?} {tz:?}: {message}")
                }
                other => panic!("{cron:?} {tz:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn describes_in_words_with_the_timezone() {
        assert_eq!(
            spec("30 2 * * *", "Europe/Berlin").describe(),
            "At 02:30, Europe/Berlin"
        );
        assert!(
            spec("*/15 * * * 1-5", "UTC")
                .describe()
                .contains("every 15 minutes")
        );
    }

    #[test]
    fn spring_forward_gap_in_berlin_runs_a_fixed_time_job_after_the_gap() {
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST.
        let from = at("Europe/Berlin", 2026, 3, 28, 12, 0);
        assert_eq!(
            runs("30 2 * * *", "Europe/Berlin", from, 3),
            [
                "2026-03-29 03:00 +02:00",
                "2026-03-30 02:30 +02:00",
                "2026-03-31 02:30 +02:00"
            ]
        );
        // An interval job skips the hour that does not exist.
        let from = at("Europe/Berlin", 2026, 3, 29, 1, 30);
        assert_eq!(
            runs("*/15 * * * *", "Europe/Berlin", from, 2),
            ["2026-03-29 01:45 +01:00", "2026-03-29 03:00 +02:00"]
        );
    }

    #[test]
    fn fall_back_overlap_in_berlin_runs_a_fixed_time_job_once() {
        // 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
        let from = at("Europe/Berlin", 2026, 10, 24, 12, 0);
        assert_eq!(
            runs("30 2 * * *", "Europe/Berlin", from, 2),
            ["2026-10-25 02:30 +02:00", "2026-10-26 02:30 +01:00"]
        );
        // An hourly interval job runs in both passes of the repeated hour.
        let from = at("Europe/Berlin", 2026, 10, 25, 1, 30);
        assert_eq!(
            runs("0 * * * *", "Europe/Berlin", from, 3),
            [
                "2026-10-25 02:00 +02:00",
                "2026-10-25 02:00 +01:00",
                "2026-10-25 03:00 +01:00"
            ]
        );
    }

    #[test]
    fn new_york_gap_and_overlap() {
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT; 2026-11-01: 02:00 EDT back to 01:00 EST.
        let from = at("America/New_York", 2026, 3, 7, 12, 0);
        assert_eq!(
            runs("30 2 * * *", "America/New_York", from, 2),
            ["2026-03-08 03:00 -04:00", "2026-03-09 02:30 -04:00"]
        );
        let from = at("America/New_York", 2026, 10, 31, 12, 0);
        assert_eq!(
            runs("30 1 * * *", "America/New_York", from, 2),
            ["2026-11-01 01:30 -04:00", "2026-11-02 01:30 -05:00"]
        );
        // In UTC the days are 24 h, 23 h and 25 h apart around the changes.
        let s = spec("0 9 * * *", "America/New_York");
        let t = s.upcoming(at("America/New_York", 2026, 3, 6, 12, 0), 3);
        assert_eq!((t[1] - t[0]).num_hours(), 23);
        assert_eq!((t[2] - t[1]).num_hours(), 24);
    }

    #[test]
    fn end_of_month_and_leap_days() {
        let from = at("UTC", 2027, 1, 1, 0, 0);
        assert_eq!(
            runs("0 12 31 * *", "UTC", from, 3),
            [
                "2027-01-31 12:00 +00:00",
                "2027-03-31 12:00 +00:00",
                "2027-05-31 12:00 +00:00"
            ]
        );
        // The last day of the month ('L').
        assert_eq!(
            runs("0 0 L * *", "UTC", from, 2),
            ["2027-01-31 00:00 +00:00", "2027-02-28 00:00 +00:00"]
        );
        // Leap days: only in leap years.
        assert_eq!(
            runs("0 6 29 2 *", "UTC", from, 2),
            ["2028-02-29 06:00 +00:00", "2032-02-29 06:00 +00:00"]
        );
    }

    fn minute(m: u32) -> DateTime<Utc> {
        at("UTC", 2026, 12, 5, 10, m)
    }

    #[test]
    fn on_time_firing_runs_and_the_cursor_moves_on() {
        let s = spec("* * * * *", "UTC");
        let d = due(
            &s,
            minute(5),
            minute(5) + Duration::seconds(1),
            MisfirePolicy::Skip,
            Duration::hours(1),
        );
        assert_eq!(
            d.firings,
            [Firing {
                scheduled_for: minute(5),
                start: true,
                reason: None
            }]
        );
        assert_eq!(d.next_run_at, Some(minute(6)));
        // Before its time nothing is due.
        let d = due(
            &s,
            minute(6),
            minute(5),
            MisfirePolicy::Skip,
            Duration::hours(1),
        );
        assert!(d.firings.is_empty());
        assert_eq!(d.next_run_at, Some(minute(6)));
    }

    #[test]
    fn misfire_after_downtime_skip_records_every_firing_missed() {
        let s = spec("* * * * *", "UTC");
        // Down from before 10:05 to 10:08:30.
        let now = minute(8) + Duration::seconds(30);
        let d = due(&s, minute(5), now, MisfirePolicy::Skip, Duration::hours(1));
        let times: Vec<_> = d.firings.iter().map(|f| f.scheduled_for).collect();
        assert_eq!(times, [minute(5), minute(6), minute(7), minute(8)]);
        assert!(d.firings.iter().all(|f| !f.start && f.reason.is_some()));
        assert_eq!(d.next_run_at, Some(minute(9)));
    }

    #[test]
    fn misfire_after_downtime_run_once_catches_up_once() {
        let s = spec("* * * * *", "UTC");
        let now = minute(8) + Duration::seconds(30);
        let d = due(
            &s,
            minute(5),
            now,
            MisfirePolicy::RunOnce,
            Duration::hours(1),
        );
        let started: Vec<_> = d.firings.iter().filter(|f| f.start).collect();
        assert_eq!(started.len(), 1);
        assert_eq!(started[0].scheduled_for, minute(8));
        assert!(
            started[0]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("catch-up"))
        );
        assert_eq!(d.firings.iter().filter(|f| !f.start).count(), 3);
    }

    #[test]
    fn run_once_past_the_starting_deadline_is_missed() {
        let s = spec("0 2 * * *", "UTC");
        let due_at = at("UTC", 2026, 12, 5, 2, 0);
        // Up again 3 hours later; deadline 2 hours.
        let d = due(
            &s,
            due_at,
            due_at + Duration::hours(3),
            MisfirePolicy::RunOnce,
            Duration::hours(2),
        );
        assert_eq!(d.firings.len(), 1);
        assert!(!d.firings[0].start);
        assert!(
            d.firings[0]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("starting deadline"))
        );
        // Within the deadline it runs.
        let d = due(
            &s,
            due_at,
            due_at + Duration::minutes(90),
            MisfirePolicy::RunOnce,
            Duration::hours(2),
        );
        assert!(d.firings[0].start);
        assert_eq!(d.next_run_at, Some(at("UTC", 2026, 12, 6, 2, 0)));
    }

    #[test]
    fn a_long_downtime_keeps_a_bounded_number_of_rows() {
        let s = spec("* * * * *", "UTC");
        let d = due(
            &s,
            minute(0),
            minute(0) + Duration::days(7),
            MisfirePolicy::Skip,
            Duration::hours(1),
        );
        assert_eq!(d.firings.len(), MAX_MISSED_ROWS + 1);
        assert!(
            d.firings[0]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("earlier firings"))
        );
    }

    #[test]
    fn overlap_policies() {
        for policy in [
            OverlapPolicy::Forbid,
            OverlapPolicy::Allow,
            OverlapPolicy::Replace,
        ] {
            assert_eq!(on_overlap(policy, None), OnOverlap::Start, "{policy:?}");
        }
        assert_eq!(on_overlap(OverlapPolicy::Allow, Some(7)), OnOverlap::Start);
        assert_eq!(
            on_overlap(OverlapPolicy::Replace, Some(7)),
            OnOverlap::Replace(7)
        );
        match on_overlap(OverlapPolicy::Forbid, Some(7)) {
            OnOverlap::Skip(reason) => assert!(reason.contains("#7"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_round_trip() {
        for p in [
            OverlapPolicy::Forbid,
            OverlapPolicy::Allow,
            OverlapPolicy::Replace,
        ] {
            assert_eq!(OverlapPolicy::parse(p.as_str()), Some(p));
        }
        for p in [MisfirePolicy::Skip, MisfirePolicy::RunOnce] {
            assert_eq!(MisfirePolicy::parse(p.as_str()), Some(p));
        }
        assert_eq!(RunOutcome::parse("MISSED"), Some(RunOutcome::Missed));
        assert_eq!(OverlapPolicy::parse("forbid"), None);
    }
}

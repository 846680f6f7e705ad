//! Schedules: scans of saved configs that run themselves. The list shows each schedule in
//! words with its next run and last outcome; operators create and edit them with a live
//! preview of the next runs (the server computes them: the cron expression and timezone are
//! checked where they are used), pause and resume them, run them now and delete them; anyone
//! reads a schedule's run history (started, skipped because the last scan still ran, missed).

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ops::{
    self, CreateSchedule, DeleteSchedule, PauseSchedule, PreviewSchedule, RunScheduleNow,
    ScheduleRuns, Schedules, UpdateSchedule,
};
use crate::api::remote::{Remote, act, act_on};
use crate::api::{self, ApiError};
use crate::app::use_user;
use crate::components::confirm::ConfirmButton;
use crate::components::error_box::{Empty, ErrorBox, show};
use crate::format;
use crate::route::Route;

/// How often the list is read again (next runs move on, outcomes arrive).
const REFRESH: std::time::Duration = std::time::Duration::from_secs(10);

type Row = ops::schedules::SchedulesSchedulesEdgesNode;
type RunRow = ops::schedule_runs::ScheduleRunsScheduleRunsEdgesNode;

/// The browser's IANA timezone (the default of a new schedule), or UTC.
fn browser_timezone() -> String {
    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
        .resolved_options();
    js_sys::Reflect::get(&options, &"timeZone".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| "UTC".to_owned())
}

/// The editor's fields, as typed.
#[derive(Clone, Copy)]
struct Form {
    editing: RwSignal<Option<String>>,
    name: RwSignal<String>,
    config: RwSignal<String>,
    cron: RwSignal<String>,
    timezone: RwSignal<String>,
    overlap: RwSignal<String>,
    misfire: RwSignal<String>,
    deadline_minutes: RwSignal<String>,
    enabled: RwSignal<bool>,
}

impl Form {
    fn new() -> Self {
        Self {
            editing: RwSignal::new(None),
            name: RwSignal::new(String::new()),
            config: RwSignal::new(String::new()),
            cron: RwSignal::new("30 2 * * *".to_owned()),
            timezone: RwSignal::new(browser_timezone()),
            overlap: RwSignal::new("FORBID".to_owned()),
            misfire: RwSignal::new("SKIP".to_owned()),
            deadline_minutes: RwSignal::new("60".to_owned()),
            enabled: RwSignal::new(true),
        }
    }

    fn reset(self) {
        let fresh = Self::new();
        self.editing.set(None);
        self.name.set(String::new());
        self.cron.set(fresh.cron.get_untracked());
        self.overlap.set("FORBID".to_owned());
        self.misfire.set("SKIP".to_owned());
        self.deadline_minutes.set("60".to_owned());
        self.enabled.set(true);
    }

    fn edit(self, s: &Row) {
        self.editing.set(Some(s.id.clone()));
        self.name.set(s.name.clone());
        self.config
            .set(s.config.as_ref().map(|c| c.id.clone()).unwrap_or_default());
        self.cron.set(s.cron.clone());
        self.timezone.set(s.timezone.clone());
        self.overlap.set(s.overlap_policy.wire().to_owned());
        self.misfire.set(s.misfire_policy.wire().to_owned());
        self.deadline_minutes
            .set((s.starting_deadline_seconds / 60).to_string());
        self.enabled.set(s.enabled);
    }
}

/// The input of create and update (the same fields; each operation has its own type).
macro_rules! input {
    ($module:ident, $form:expr) => {{
        let f = $form;
        let deadline = f
            .deadline_minutes
            .get_untracked()
            .trim()
            .parse::<i64>()
            .map(|m| m * 60)
            .ok();
        ops::$module::ScheduleInput {
            name: f.name.get_untracked().trim().to_owned(),
            config_id: f.config.get_untracked(),
            cron: f.cron.get_untracked().trim().to_owned(),
            timezone: Some(f.timezone.get_untracked().trim().to_owned()),
            enabled: Some(f.enabled.get_untracked()),
            overlap_policy: ops::OverlapPolicy::from_wire(&f.overlap.get_untracked()),
            misfire_policy: ops::MisfirePolicy::from_wire(&f.misfire.get_untracked()),
            starting_deadline_seconds: deadline,
        }
    }};
}

#[component]
pub fn SchedulesPage() -> impl IntoView {
    let list = Remote::new(|| async {
        api::call::<Schedules>(ops::schedules::Variables {
            first: Some(100),
            after: None,
        })
        .await
        .map(|d| {
            d.schedules
                .edges
                .into_iter()
                .map(|e| e.node)
                .collect::<Vec<_>>()
        })
    });
    if let Ok(tick) = set_interval_with_handle(move || list.refetch(), REFRESH) {
        on_cleanup(move || tick.clear());
    }
    let operator = use_user().role.can_operate();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let notice = RwSignal::new(None::<(String, Option<String>)>);
    let history = RwSignal::new(None::<(String, String)>);
    let runs_version = RwSignal::new(0u32);
    let form = Form::new();

    let pause = move |id: String, pause: bool| {
        notice.set(None);
        act_on(
            busy,
            error,
            api::body::<PauseSchedule>(ops::pause_schedule::Variables { id, pause }),
            move |_| list.refetch(),
        );
    };
    let run_now = move |id: String, name: String| {
        notice.set(None);
        act(
            busy,
            error,
            api::call::<RunScheduleNow>(ops::run_schedule_now::Variables { id }),
            move |d| {
                let scan = d.run_schedule_now.id;
                notice.try_set(Some((
                    format!("Schedule “{name}” started scan #{scan}."),
                    Some(scan),
                )));
                list.refetch();
                runs_version.update(|v| *v += 1);
            },
        );
    };

    view! {
        <div class="page-head"><h1>"Schedules"</h1></div>
        {operator.then(|| view! { <ScheduleEditor form=form on_saved=move || list.refetch() /> })}
        <section class="card" aria-labelledby="schedules-title">
            <h2 id="schedules-title">"Schedules"</h2>
            <p class="hint">"A schedule starts a scan of its config at the times its cron expression names, in its timezone. While its last scan still runs, a firing is skipped (FORBID), runs beside it (ALLOW) or replaces it (REPLACE). Runs missed while no server ran are recorded; RUN_ONCE catches up the latest one."</p>
            {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
            {move || notice.get().map(|(text, scan)| view! {
                <p class="notice" role="status">{text}" "
                    {scan.map(|id| view! { <a href=Route::Scan(id).href()>"Follow it"</a> })}
                </p>
            })}
            {move || show(list.get(), move |rows| {
                if rows.is_empty() {
                    return view! { <Empty>"No schedule yet."</Empty> }.into_any();
                }
                view! {
                    <div class="table-wrap">
                    <table class="table schedules">
                        <thead><tr>
                            <th scope="col">"Name"</th><th scope="col">"Config"</th><th scope="col">"When"</th>
                            <th scope="col">"Next run"</th><th scope="col">"Last run"</th><th scope="col">"State"</th>
                            <th scope="col"><span class="sr-only">"Actions"</span></th>
                        </tr></thead>
                        <tbody>
                            {rows.into_iter().map(|s| {
                                let state = if s.enabled {
                                    view! { <span class="badge good">"active"</span> }.into_any()
                                } else if let Some(reason) = s.disabled_reason.clone() {
                                    view! { <span class="badge bad" title=reason.clone()>"disabled"</span><div class="hint">{reason}</div> }.into_any()
                                } else {
                                    view! { <span class="badge">"paused"</span> }.into_any()
                                };
                                let outcome = s.last_outcome.map(outcome_badge);
                                let (id_pause, id_run, id_delete, id_history) = (s.id.clone(), s.id.clone(), s.id.clone(), s.id.clone());
                                let (name_run, name_history) = (s.name.clone(), s.name.clone());
                                let enabled = s.enabled;
                                let row = s.clone();
                                view! {
                                    <tr data-schedule=s.name.clone()>
                                        <td>{s.name.clone()}</td>
                                        <td>{match &s.config {
                                            Some(c) => view! { <a href=Route::Config(c.id.clone()).href()>{c.title.clone()}</a> }.into_any(),
                                            None => view! { <span class="muted">"deleted"</span> }.into_any(),
                                        }}</td>
                                        <td>{s.description.clone()}<div class="mono muted">{s.cron.clone()}</div></td>
                                        <td class="nowrap">{format::maybe_timestamp(s.next_run_at.as_deref())}</td>
                                        <td class="nowrap">{format::maybe_timestamp(s.last_run_at.as_deref())}" "{outcome}</td>
                                        <td>{state}</td>
                                        <td class="actions">
                                            <button type="button" class="button secondary small"
                                                on:click=move |_| {
                                                    history.set(Some((id_history.clone(), name_history.clone())));
                                                    runs_version.update(|v| *v += 1);
                                                }>"Runs"</button>
                                            {operator.then(|| view! {
                                                <button type="button" class="button secondary small"
                                                    on:click=move |_| form.edit(&row)>"Edit"</button>
                                                <button type="button" class="button secondary small" disabled=move || busy.get()
                                                    on:click=move |_| pause(id_pause.clone(), enabled)>
                                                    {if enabled { "Pause" } else { "Resume" }}
                                                </button>
                                                <button type="button" class="button small" disabled=move || busy.get()
                                                    on:click=move |_| run_now(id_run.clone(), name_run.clone())>"Run now"</button>
                                                <ConfirmButton label="Delete" what=format!("schedule “{}”", s.name) disabled=busy
                                                    on_confirm=move || {
                                                        let id = id_delete.clone();
                                                        act_on(busy, error,
                                                            api::body::<DeleteSchedule>(ops::delete_schedule::Variables { id }),
                                                            move |_| list.refetch());
                                                    }
                                                />
                                            })}
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any()
            })}
        </section>
        {move || history.get().map(|(id, name)| view! { <RunHistory id=id name=name version=runs_version /> })}
    }
}

fn outcome_badge(outcome: ops::ScheduleRunOutcome) -> AnyView {
    let class = match outcome {
        ops::ScheduleRunOutcome::Started => "badge good",
        ops::ScheduleRunOutcome::SkippedOverlap => "badge warn",
        ops::ScheduleRunOutcome::Missed => "badge bad",
    };
    view! { <span class=class>{outcome.label()}</span> }.into_any()
}

/// Create or edit, with the next runs and the expression in words as it is typed.
#[component]
fn ScheduleEditor(form: Form, #[prop(into)] on_saved: Callback<()>) -> impl IntoView {
    let configs = Remote::new(api::config_choices);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let preview = RwSignal::new(None::<Result<(String, Vec<String>), ApiError>>);
    let asked = StoredValue::new(0u32);
    Effect::new(move || {
        let cron = form.cron.get();
        let timezone = form.timezone.get();
        let n = asked.get_value() + 1;
        asked.set_value(n);
        spawn_local(async move {
            let answer =
                api::call::<PreviewSchedule>(ops::preview_schedule::Variables { cron, timezone })
                    .await
                    .map(|d| (d.describe_schedule, d.preview_schedule));
            // Only the answer to the latest text is shown.
            if asked.try_get_value() == Some(n) {
                preview.try_set(Some(answer));
            }
        });
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let done = move || {
            form.reset();
            on_saved.run(());
        };
        match form.editing.get_untracked() {
            Some(id) => act_on(
                busy,
                error,
                api::body::<UpdateSchedule>(ops::update_schedule::Variables {
                    id,
                    input: input!(update_schedule, form),
                }),
                move |_| done(),
            ),
            None => act_on(
                busy,
                error,
                api::body::<CreateSchedule>(ops::create_schedule::Variables {
                    input: input!(create_schedule, form),
                }),
                move |_| done(),
            ),
        }
    };

    view! {
        <section class="card" aria-labelledby="schedule-form-title">
            <h2 id="schedule-form-title">{move || if form.editing.get().is_some() { "Edit schedule" } else { "New schedule" }}</h2>
            <form class="form grid-2" on:submit=submit>
                <div>
                    <label for="schedule-name">"Name"</label>
                    <input id="schedule-name" type="text" autocomplete="off" required maxlength="100" placeholder="nightly dmz" bind:value=form.name />
                </div>
                <div>
                    <label for="schedule-config">"Config"</label>
                    <select id="schedule-config" required bind:value=form.config>
                        <option value="">"Choose a config"</option>
                        {move || configs.get().and_then(Result::ok).map(|list| list.into_iter().map(|c| view! {
                            <option value=c.id.clone() selected=form.config.get_untracked() == c.id>{c.title.clone()}</option>
                        }).collect_view())}
                    </select>
                </div>
                <div>
                    <label for="schedule-cron">"Cron expression"</label>
                    <input id="schedule-cron" class="mono" type="text" autocomplete="off" spellcheck="false" required bind:value=form.cron />
                    <p class="hint">"minute hour day-of-month month day-of-week, e.g. " <code>"30 2 * * *"</code> ", " <code>"*/15 * * * 1-5"</code> ", " <code>"@daily"</code> ". At most once a minute."</p>
                </div>
                <div>
                    <label for="schedule-timezone">"Timezone"</label>
                    <input id="schedule-timezone" type="text" autocomplete="off" spellcheck="false" required placeholder="Europe/Berlin" bind:value=form.timezone />
                    <p class="hint">"An IANA name; daylight saving time is followed."</p>
                </div>
                <div class="span-2" aria-live="polite" id="schedule-preview">
                    {move || match preview.get() {
                        None => view! { <p class="hint">"…"</p> }.into_any(),
                        Some(Err(e)) => view! { <p class="bad-text">{e.message}</p> }.into_any(),
                        Some(Ok((words, runs))) => view! {
                            <p><strong>{words}</strong></p>
                            <p class="hint">"Next runs: "{runs.iter().map(|t| format::timestamp(t)).collect::<Vec<_>>().join(" · ")}</p>
                        }.into_any(),
                    }}
                </div>
                <div>
                    <label for="schedule-overlap">"While its last scan still runs"</label>
                    <select id="schedule-overlap" bind:value=form.overlap>
                        <option value="FORBID">"Skip the run (FORBID)"</option>
                        <option value="ALLOW">"Run beside it (ALLOW)"</option>
                        <option value="REPLACE">"Cancel it and run (REPLACE)"</option>
                    </select>
                </div>
                <div>
                    <label for="schedule-misfire">"Runs missed while no server ran"</label>
                    <select id="schedule-misfire" bind:value=form.misfire>
                        <option value="SKIP">"Record them missed (SKIP)"</option>
                        <option value="RUN_ONCE">"Catch up the latest once (RUN_ONCE)"</option>
                    </select>
                </div>
                <div>
                    <label for="schedule-deadline">"Catch up at most this late (minutes)"</label>
                    <input id="schedule-deadline" type="number" min="1" max="10080" inputmode="numeric" bind:value=form.deadline_minutes />
                </div>
                <div>
                    <label class="check"><input type="checkbox" bind:checked=form.enabled />"Enabled"</label>
                </div>
                <div class="form-actions span-2">
                    <button type="submit" class="button" disabled=move || busy.get()>
                        {move || if form.editing.get().is_some() { "Save schedule" } else { "Create schedule" }}
                    </button>
                    {move || form.editing.get().is_some().then(|| view! {
                        <button type="button" class="button secondary" on:click=move |_| form.reset()>"Cancel"</button>
                    })}
                </div>
            </form>
            {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
        </section>
    }
}

/// A schedule's firings, newest first.
#[component]
fn RunHistory(id: String, name: String, version: RwSignal<u32>) -> impl IntoView {
    let runs = RwSignal::new(None::<Result<Vec<RunRow>, ApiError>>);
    Effect::new(move || {
        version.track();
        let id = id.clone();
        spawn_local(async move {
            let answer = api::call::<ScheduleRuns>(ops::schedule_runs::Variables {
                id,
                first: Some(50),
                after: None,
            })
            .await
            .map(|d| {
                d.schedule
                    .map(|s| s.runs.edges.into_iter().map(|e| e.node).collect())
                    .unwrap_or_default()
            });
            runs.try_set(Some(answer));
        });
    });
    view! {
        <section class="card" aria-labelledby="runs-title">
            <h2 id="runs-title">{format!("Runs of “{name}”")}</h2>
            {move || show(runs.get(), |list: Vec<RunRow>| {
                if list.is_empty() {
                    return view! { <Empty>"It has not fired yet."</Empty> }.into_any();
                }
                view! {
                    <div class="table-wrap">
                    <table class="table runs">
                        <thead><tr>
                            <th scope="col">"Scheduled for"</th><th scope="col">"Fired"</th><th scope="col">"Outcome"</th>
                            <th scope="col">"Scan"</th><th scope="col">"Why"</th>
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|r| view! {
                                <tr>
                                    <td class="nowrap">{format::timestamp(&r.scheduled_for)}</td>
                                    <td class="nowrap">{format::timestamp(&r.fired_at)}</td>
                                    <td>{outcome_badge(r.outcome)}</td>
                                    <td>{r.scan.as_ref().map(|s| view! {
                                        <a href=Route::Scan(s.id.clone()).href()>{format!("#{}", s.id)}</a>" "
                                        <span class="muted">{s.status.as_str().to_lowercase()}</span>
                                    })}</td>
                                    <td>{r.reason.clone().unwrap_or_default()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any()
            })}
        </section>
    }
}

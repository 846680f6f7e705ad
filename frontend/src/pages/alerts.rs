//! Alerts: what the alert rules raised (live: the list follows `alertUpdates`), searched with
//! the filter language; an alert's events and deliveries; acknowledge, resolve and retry a
//! delivery (operators). The rules (operators edit them, the scope checked as it is typed) and
//! the notification channels (admins create, test and delete them — to change one, replace it;
//! a channel's URL and secret are write-only).
//!
//! Built for size: answers are read as JSON values (`api::run`, no decoding code per
//! operation), every change goes through one `act_on`, and the tables and fields share a few
//! helpers (`cells`, `head`, `field`, `check`) instead of a view type each.

use leptos::prelude::*;
use serde_json::Value;

use crate::api::ops::{
    self, AcknowledgeAlert, AlertDetail, AlertUpdates, AlertsPage as PageQuery, CreateAlertRule,
    CreateChannel, DeleteAlertRule, DeleteChannel, GenerateWebhookSecret, ResolveAlert,
    RetryDelivery, TestChannel, UpdateAlertRule,
};
use crate::api::remote::{Remote, act_on};
use crate::api::{self, ApiError, Role};
use crate::app::use_user;
use crate::components::confirm::ConfirmButton;
use crate::components::error_box::{Empty, ErrorBox, show};
use crate::format;

/// The change kinds a rule can match (the schema's names).
const KINDS: [&str; 24] = [
    "PORT_OPENED",
    "UNEXPECTED_PORT",
    "EXPECTED_PORT_MISSING",
    "PORT_CLOSED",
    "PORT_STATE_CHANGED",
    "SERVICE_CHANGED",
    "HTTP_CHANGED",
    "SCRIPT_CHANGED",
    "CERT_CHANGED",
    "CERT_EXPIRING",
    "CERT_EXPIRED",
    "TLS_VERSION_ADDED",
    "TLS_VERSION_REMOVED",
    "HOST_NEW",
    "HOST_UP",
    "HOST_DOWN",
    "HOSTNAME_CHANGED",
    "PING_MISMATCH",
    "DRIFT_RESOLVED",
    "SCAN_COMPLETED",
    "SCAN_FAILED",
    "SCHEDULE_MISSED",
    "AGENT_OFFLINE",
    "AGENT_ONLINE",
];

/// Fields a rule's scope can use (as the server checks).
const SCOPE_FIELDS: [&str; 10] = [
    "site",
    "address",
    "hostname",
    "port",
    "protocol",
    "tag",
    "owner",
    "kind",
    "severity",
    "cert.expires",
];

fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => (if *b { "yes" } else { "no" }).to_owned(),
        _ => String::new(),
    }
}

fn list(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

/// The badge class of a status or severity.
fn tone(word: &str) -> &'static str {
    match word {
        "OPEN" | "HIGH" | "FAILED" => "badge bad",
        "ACKNOWLEDGED" | "MEDIUM" | "PENDING" => "badge warn",
        "RESOLVED" | "SENT" | "yes" => "badge good",
        _ => "badge",
    }
}

/// A badge cell.
fn badge(word: String) -> (&'static str, String) {
    (tone(&word), word.to_lowercase())
}

/// Table cells: each a text in a span of the given class ("" for plain text).
fn cells(cells: Vec<(&'static str, String)>) -> impl IntoView {
    cells
        .into_iter()
        .map(|(class, t)| view! { <td><span class=class>{t}</span></td> })
        .collect_view()
}

fn plain(t: String) -> (&'static str, String) {
    ("", t)
}

/// A table's head.
fn head(columns: &'static [&'static str]) -> impl IntoView {
    view! { <thead><tr>{columns.iter().map(|c| view! { <th scope="col">{*c}</th> }).collect_view()}</tr></thead> }
}

/// A labelled text field.
fn field(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    placeholder: &'static str,
) -> impl IntoView {
    view! {
        <div>
            <label for=id>{label}</label>
            <input id=id type="text" autocomplete="off" spellcheck="false" placeholder=placeholder bind:value=value />
        </div>
    }
}

/// A title that says whether a form edits or creates.
fn title(
    editing: RwSignal<Option<String>>,
    edit: &'static str,
    new: &'static str,
) -> impl Fn() -> &'static str + Copy {
    move || {
        if editing.with(Option::is_some) {
            edit
        } else {
            new
        }
    }
}

/// A labelled checkbox.
fn check(label: &'static str, value: RwSignal<bool>) -> impl IntoView {
    view! { <label class="check"><input type="checkbox" bind:checked=value />{label}</label> }
}

/// Checkboxes for a set of choices (value, label) kept in `chosen`.
fn choices(items: Vec<(String, String)>, chosen: RwSignal<Vec<String>>) -> impl IntoView {
    items
        .into_iter()
        .map(|(value, label)| {
            let (v1, v2) = (value.clone(), value);
            view! {
                <label class="check"><input type="checkbox"
                    prop:checked=move || chosen.with(|l| l.contains(&v1))
                    on:change=move |_| chosen.update(|l| match l.iter().position(|x| *x == v2) {
                        Some(i) => { l.remove(i); }
                        None => l.push(v2.clone()),
                    }) />{label}</label>
            }
        })
        .collect_view()
}

/// What is wrong with a filter, as typed (None: fine); `scope`: also the fields a rule cannot
/// use.
fn problem(text: &str, scope: bool) -> Option<String> {
    match filter::parse(text.trim()) {
        Err(e) => Some(format!("column {}: {}", e.column, e.message)),
        Ok(expr) if scope => expr.terms().into_iter().find_map(|t| {
            t.field
                .filter(|f| !SCOPE_FIELDS.contains(&f.name()))
                .map(|f| {
                    format!(
                        "column {}: `{}` does not apply to alert rules",
                        t.column,
                        f.name()
                    )
                })
        }),
        Ok(_) => None,
    }
}

/// Some(trimmed) unless blank.
fn given(s: RwSignal<String>) -> Option<String> {
    Some(s.get_untracked().trim().to_owned()).filter(|s| !s.is_empty())
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let role = use_user().role;
    let filter = RwSignal::new(String::new());
    let open_only = RwSignal::new(true);
    let page = Remote::new(move || {
        let f = given(filter);
        let open = open_only.get_untracked();
        api::run(api::body::<PageQuery>(ops::alerts_page::Variables {
            filter: f,
            open: Some(open),
        }))
    });
    // Live: any alert opened, attached to, acknowledged, resolved or delivered.
    api::ws::subscribe::<AlertUpdates>(
        ops::alert_updates::Variables,
        move |_| page.refetch(),
        |_| {},
        move || page.refetch(),
    );
    Effect::new(move || {
        open_only.track();
        page.refetch();
    });
    let selected = RwSignal::new(None::<String>);
    let refresh = Callback::new(move |()| page.refetch());
    let search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        page.refetch();
    };
    view! {
            <div class="page-head"><h1>"Alerts"</h1></div>
            <section class="card" aria-labelledby="alerts-title">
                <h2 id="alerts-title">"Alerts"</h2>
                <form class="filters" role="search" on:submit=search>
                    <label for="alerts-filter">"Search"</label>
                    <input id="alerts-filter" type="search" placeholder="severity>=medium port:22" bind:value=filter />
    {check("Open only", open_only)}
                    <button type="submit" class="button secondary">"Search"</button>
                </form>
                <p id="alerts-filter-problem" class="filter-problem" aria-live="polite">{move || problem(&filter.get(), false)}</p>
                {move || show(page.get(), move |v: Value| {
                    let rows = list(&v["alerts"]["edges"]);
                    if rows.is_empty() {
                        return view! { <Empty>"No alerts match. They appear here when an enabled rule matches what a scan saw."</Empty> }.into_any();
                    }
                    view! {
                        <div class="table-wrap"><table class="table alerts">
                            {head(&["Severity", "Status", "Rule", "What", "Where", "Events", "Last event", ""])}
                            <tbody>{rows.into_iter().map(|e| {
                                let a = &e["node"];
                                let id = text(a, "id");
                                let mut status = text(a, "status");
                                let who = text(a, "acknowledgedBy");
                                let tone_of = tone(&status);
                                if !who.is_empty() { status = format!("{status} by {who}"); }
                                let key = id.clone();
                                view! {
                                    <tr data-alert=key data-status=text(a, "status")>
                                        {cells(vec![badge(text(a, "severity")), (tone_of, status.to_lowercase()), plain(text(&a["rule"], "name")),
                                            plain(text(a, "summary")), ("mono", text(a, "subject")), plain(text(a, "eventCount")),
                                            plain(format::timestamp(&text(a, "lastEventAt")))])}
                                        <td><button type="button" class="button secondary small" on:click=move |_| selected.set(Some(id.clone()))>"Details"</button></td>
                                    </tr>
                                }
                            }).collect_view()}</tbody>
                        </table></div>
                    }.into_any()
                })}
            </section>
            {move || selected.get().map(|id| detail(id, role, refresh))}
            {move || page.get().and_then(Result::ok).map(|v| (
                rules(list(&v["alertRules"]), list(&v["channels"]), role, refresh),
                channels(list(&v["channels"]), role, refresh),
            ))}
        }
}

/// One alert: its events and deliveries; acknowledge, resolve.
fn detail(id: String, role: Role, on_change: Callback<()>) -> impl IntoView {
    let key = id.clone();
    let detail = Remote::new(move || {
        api::run(api::body::<AlertDetail>(ops::alert_detail::Variables {
            id: key.clone(),
        }))
    });
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let note = RwSignal::new(String::new());
    let operator = role.can_operate();
    let decide = move |resolve: bool| {
        let (id, note) = (id.clone(), given(note));
        let body = if resolve {
            api::body::<ResolveAlert>(ops::resolve_alert::Variables { id, note })
        } else {
            api::body::<AcknowledgeAlert>(ops::acknowledge_alert::Variables { id, note })
        };
        act_on(busy, error, body, move |_| {
            detail.refetch();
            on_change.run(());
        });
    };
    let decide2 = decide.clone();
    view! {
        <section class="card" aria-labelledby="alert-detail-title" id="alert-detail">
            <h2 id="alert-detail-title">"Alert"</h2>
            {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
            {move || show(detail.get(), move |v: Value| {
                let a = &v["alert"];
                view! {
                    <p><strong>{text(a, "summary")}</strong></p>
                    <h3>"Events"</h3>
                    <div class="table-wrap"><table class="table events">
                        {head(&["When", "Kind", "What", "Scan"])}
                        <tbody>{list(&a["events"]).into_iter().map(|e| view! {
                            <tr>{cells(vec![plain(format::timestamp(&text(&e, "at"))), ("mono", text(&e, "kind")), plain(text(&e, "summary")), plain(text(&e["scan"], "id"))])}</tr>
                        }).collect_view()}</tbody>
                    </table></div>
                    <h3>"Deliveries"</h3>
                    <div class="table-wrap"><table class="table deliveries">
                        {head(&["Kind", "Channel", "Status", "Attempts", "Last error", "Sent", ""])}
                        <tbody>{list(&a["deliveries"]).into_iter().map(|d| {
                            let (id, status) = (text(&d, "id"), text(&d, "status"));
                            let retry = (operator && status != "SENT").then(|| view! {
                                <button type="button" class="button secondary small" disabled=move || busy.get()
                                    on:click=move |_| act_on(busy, error, api::body::<RetryDelivery>(ops::retry_delivery::Variables { id: id.clone() }), move |_| detail.refetch())>"Retry"</button>
                            });
                            view! {
                                <tr data-delivery=text(&d, "kind")>
                                    {cells(vec![plain(text(&d, "kind")), plain(text(&d["channel"], "name")), badge(status), plain(text(&d, "attempts")),
                                        plain(text(&d, "lastError")), plain(format::maybe_timestamp(d["sentAt"].as_str()))])}
                                    <td>{retry}</td>
                                </tr>
                            }
                        }).collect_view()}</tbody>
                    </table></div>
                }
            })}
            {operator.then(|| view! {
                <div class="form-actions">
                    {field("alert-note", "Note", note, "optional")}
                    <button type="button" class="button" id="alert-acknowledge" disabled=move || busy.get() on:click=move |_| decide(false)>"Acknowledge"</button>
                    <button type="button" class="button secondary" id="alert-resolve" disabled=move || busy.get() on:click=move |_| decide2(true)>"Resolve"</button>
                </div>
            })}
        </section>
    }
}

#[derive(Clone, Copy)]
struct RuleForm {
    editing: RwSignal<Option<String>>,
    name: RwSignal<String>,
    enabled: RwSignal<bool>,
    kinds: RwSignal<Vec<String>>,
    severity: RwSignal<String>,
    scope: RwSignal<String>,
    confirm: RwSignal<String>,
    cooldown: RwSignal<String>,
    channels: RwSignal<Vec<String>>,
}

impl RuleForm {
    /// The form for `rule` (or a new one).
    fn load(self, rule: &Value) {
        let new = rule.is_null();
        self.editing.set((!new).then(|| text(rule, "id")));
        self.name.set(text(rule, "name"));
        self.enabled.set(rule["enabled"].as_bool().unwrap_or(true));
        self.kinds.set(if new {
            vec!["PORT_OPENED".to_owned()]
        } else {
            list(&rule["events"])
                .iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        });
        let or = |key: &str, default: &str| {
            if new {
                default.to_owned()
            } else {
                text(rule, key)
            }
        };
        self.severity.set(or("minSeverity", "INFO"));
        self.scope.set(text(rule, "scope"));
        self.confirm.set(or("confirmAfterScans", "1"));
        self.cooldown.set(or("cooldownMinutes", "0"));
        self.channels.set(
            list(&rule["channels"])
                .iter()
                .map(|c| text(c, "id"))
                .collect(),
        );
    }
}

/// The input of create and update (the same fields; each operation has its own type).
macro_rules! rule_input {
    ($module:ident, $form:expr) => {{
        let f = $form;
        ops::$module::AlertRuleInput {
            name: f.name.get_untracked().trim().to_owned(),
            enabled: Some(f.enabled.get_untracked()),
            events: f
                .kinds
                .get_untracked()
                .iter()
                .filter_map(|k| ops::ChangeKind::from_wire(k))
                .collect(),
            min_severity: ops::Severity::from_wire(&f.severity.get_untracked()),
            scope: Some(f.scope.get_untracked().trim().to_owned()),
            confirm_after_scans: f.confirm.get_untracked().trim().parse().ok(),
            cooldown_minutes: f.cooldown.get_untracked().trim().parse().ok(),
            channel_ids: Some(f.channels.get_untracked()),
        }
    }};
}

fn rules(
    rules: Vec<Value>,
    channels: Vec<Value>,
    role: Role,
    on_saved: Callback<()>,
) -> impl IntoView {
    let form = RuleForm {
        editing: RwSignal::new(None),
        name: RwSignal::new(String::new()),
        enabled: RwSignal::new(true),
        kinds: RwSignal::new(vec!["PORT_OPENED".to_owned()]),
        severity: RwSignal::new("INFO".to_owned()),
        scope: RwSignal::new(String::new()),
        confirm: RwSignal::new("1".to_owned()),
        cooldown: RwSignal::new("0".to_owned()),
        channels: RwSignal::new(Vec::new()),
    };
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let operator = role.can_operate();
    let scope_problem = Memo::new(move |_| problem(&form.scope.get(), true));
    let done = move |_| {
        form.load(&Value::Null);
        on_saved.run(());
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = match form.editing.get_untracked() {
            Some(id) => api::body::<UpdateAlertRule>(ops::update_alert_rule::Variables {
                id,
                input: rule_input!(update_alert_rule, form),
            }),
            None => api::body::<CreateAlertRule>(ops::create_alert_rule::Variables {
                input: rule_input!(create_alert_rule, form),
            }),
        };
        act_on(busy, error, body, done);
    };
    let channel_choices: Vec<(String, String)> = channels
        .iter()
        .map(|c| (text(c, "id"), text(c, "name")))
        .collect();
    view! {
        <section class="card" aria-labelledby="rules-title">
            <h2 id="rules-title">"Rules"</h2>
            <p class="hint">"A rule raises one alert per port, host or config when a scan's changes (or a state that still holds, such as an unexpected port) are of its kinds, at least its severity and in its scope. It can wait for N consecutive scans, and keeps quiet for its cooldown after a notice."</p>
            {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
            <div class="table-wrap"><table class="table rules">
                {head(&["Name", "Enabled", "Kinds", "Severity ≥", "Scope", "Confirm after", "Cooldown (min)", "Channels", ""])}
                <tbody>{rules.into_iter().map(|r| {
                    let (id, name) = (text(&r, "id"), text(&r, "name"));
                    let kinds = list(&r["events"]).iter().filter_map(|k| k.as_str()).collect::<Vec<_>>().join(" ");
                    let to = list(&r["channels"]).iter().map(|c| text(c, "name")).collect::<Vec<_>>().join(", ");
                    let row = r.clone();
                    let actions = operator.then(|| view! {
                        <button type="button" class="button secondary small" on:click=move |_| form.load(&row)>"Edit"</button>
                        <ConfirmButton label="Delete" what=format!("rule “{name}” and its alerts") disabled=busy
                            on_confirm=move || act_on(busy, error, api::body::<DeleteAlertRule>(ops::delete_alert_rule::Variables { id: id.clone() }), move |_| on_saved.run(())) />
                    });
                    view! {
                        <tr data-rule=text(&r, "name")>
                            {cells(vec![plain(text(&r, "name")), badge(text(&r, "enabled")), ("mono", kinds), plain(text(&r, "minSeverity").to_lowercase()),
                                ("mono", text(&r, "scope")), plain(text(&r, "confirmAfterScans")), plain(text(&r, "cooldownMinutes")), plain(to)])}
                            <td class="actions">{actions}</td>
                        </tr>
                    }
                }).collect_view()}</tbody>
            </table></div>
            {operator.then(|| view! {
                <h3>{title(form.editing, "Edit rule", "New rule")}</h3>
                <form class="form grid-2" on:submit=submit id="rule-form">
                    {field("rule-name", "Name", form.name, "")}
                    <div>
                        <label for="rule-severity">"At least this severe"</label>
                        <select id="rule-severity" bind:value=form.severity>
                            <option value="INFO">"info"</option><option value="LOW">"low"</option>
                            <option value="MEDIUM">"medium"</option><option value="HIGH">"high"</option>
                        </select>
                    </div>
                    <fieldset class="span-2 kinds"><legend>"Change kinds"</legend>
                        {choices(KINDS.iter().map(|k| ((*k).to_owned(), (*k).to_owned())).collect(), form.kinds)}
                    </fieldset>
                    {field("rule-scope", "Scope (filter language; empty: everything)", form.scope, "site:dmz -port:22")}
                    <p id="rule-scope-problem" class="filter-problem" aria-live="polite">{scope_problem}</p>
                    {field("rule-confirm", "Confirm after (consecutive scans)", form.confirm, "")}
                    {field("rule-cooldown", "Cooldown (minutes)", form.cooldown, "")}
                    <fieldset class="span-2"><legend>"Channels"</legend>{choices(channel_choices, form.channels)}</fieldset>
                    {check("Enabled", form.enabled)}
                    <div class="form-actions span-2">
                        <button type="submit" class="button" disabled=move || busy.get() || scope_problem.with(Option::is_some)>
                            {title(form.editing, "Save rule", "Create rule")}</button>
                    </div>
                </form>
            })}
        </section>
    }
}

#[derive(Clone, Copy)]
struct ChannelForm {
    name: RwSignal<String>,
    kind: RwSignal<String>,
    url: RwSignal<String>,
    secret: RwSignal<String>,
    email_to: RwSignal<String>,
    enabled: RwSignal<bool>,
}

impl ChannelForm {
    fn clear(self) {
        self.name.set(String::new());
        self.url.set(String::new());
        self.secret.set(String::new());
        self.email_to.set(String::new());
        self.enabled.set(true);
    }
}

fn channels(channels: Vec<Value>, role: Role, on_saved: Callback<()>) -> impl IntoView {
    let admin = role == Role::Admin;
    let form = ChannelForm {
        name: RwSignal::new(String::new()),
        kind: RwSignal::new("WEBHOOK".to_owned()),
        url: RwSignal::new(String::new()),
        secret: RwSignal::new(String::new()),
        email_to: RwSignal::new(String::new()),
        enabled: RwSignal::new(true),
    };
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let notice = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (name, enabled) = (
            form.name.get_untracked().trim().to_owned(),
            Some(form.enabled.get_untracked()),
        );
        let (url, secret, email_to) = (given(form.url), given(form.secret), given(form.email_to));
        let body = api::body::<CreateChannel>(ops::create_channel::Variables {
            input: ops::create_channel::ChannelInput {
                name,
                kind: ops::ChannelKind::from_wire(&form.kind.get_untracked()),
                url,
                secret,
                email_to,
                enabled,
            },
        });
        act_on(busy, error, body, move |_| {
            form.clear();
            on_saved.run(());
        });
    };
    view! {
        <section class="card" aria-labelledby="channels-title">
            <h2 id="channels-title">"Channels"</h2>
            <p class="hint">"Where notices go: a webhook (signed per Standard Webhooks: check webhook-signature with the channel's secret), a Slack-compatible incoming webhook, or email through the server's SMTP settings. URLs and secrets are never shown again; a private or loopback target needs its network in Settings."</p>
            {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
            {move || notice.get().map(|n| view! { <p class="notice" role="status">{n}</p> })}
            <div class="table-wrap"><table class="table channels">
                {head(&["Name", "Kind", "Target", "Enabled", "Last delivery", "When", "Last error", ""])}
                <tbody>{channels.into_iter().map(|c| {
                    let last = &c["deliveries"][0];
                    let (id, test_id, name) = (text(&c, "id"), text(&c, "id"), text(&c, "name"));
                    let what = format!("channel “{name}”");
                    let actions = admin.then(|| view! {
                        <button type="button" class="button secondary small" disabled=move || busy.get()
                            on:click=move |_| {
                                notice.set(None);
                                let name = name.clone();
                                act_on(busy, error, api::body::<TestChannel>(ops::test_channel::Variables { id: test_id.clone() }), move |v| {
                                    let d = &v["testChannel"];
                                    notice.set(Some(format!("Test to “{name}”: {} {}", text(d, "status").to_lowercase(), text(d, "lastError"))));
                                    on_saved.run(());
                                });
                            }>"Test"</button>
                        <ConfirmButton label="Delete" what=what disabled=busy
                            on_confirm=move || act_on(busy, error, api::body::<DeleteChannel>(ops::delete_channel::Variables { id: id.clone() }), move |_| on_saved.run(())) />
                    });
                    view! {
                        <tr data-channel=text(&c, "name")>
                            {cells(vec![plain(text(&c, "name")), plain(text(&c, "kind").to_lowercase()), ("mono", text(&c, "target")), badge(text(&c, "enabled")),
                                badge(text(last, "status")), plain(format::maybe_timestamp(last["createdAt"].as_str())), plain(text(last, "lastError"))])}
                            <td class="actions">{actions}</td>
                        </tr>
                    }
                }).collect_view()}</tbody>
            </table></div>
            {admin.then(|| view! {
                <h3>"New channel"</h3>
                <form class="form grid-2" on:submit=submit id="channel-form">
                    {field("channel-name", "Name", form.name, "")}
                    <div>
                        <label for="channel-kind">"Kind"</label>
                        <select id="channel-kind" bind:value=form.kind>
                            <option value="WEBHOOK">"Webhook (signed)"</option>
                            <option value="SLACK">"Slack-compatible webhook"</option>
                            <option value="EMAIL">"Email"</option>
                        </select>
                    </div>
                    {field("channel-url", "URL (webhook, Slack)", form.url, "https://hooks.example.com/…")}
                    {field("channel-secret", "Signing secret (webhook; copy it to the receiver: it is not shown again)", form.secret, "whsec_…")}
                    {field("channel-email", "Send to (email; addresses, comma-separated)", form.email_to, "")}
                    {check("Enabled", form.enabled)}
                    <div class="form-actions span-2">
                        <button type="submit" class="button" disabled=move || busy.get()>"Create channel"</button>
                        <button type="button" class="button secondary" id="channel-generate"
                            on:click=move |_| act_on(busy, error, api::body::<GenerateWebhookSecret>(ops::generate_webhook_secret::Variables), move |v| form.secret.set(text(&v, "generateWebhookSecret")))>"Generate a secret"</button>
                    </div>
                </form>
            })}
        </section>
    }
}

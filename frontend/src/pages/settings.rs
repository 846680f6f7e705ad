//! Admin: scan scope and limits, and user accounts (create, change role, disable).

use leptos::prelude::*;

use crate::api::ops::{
    self, ApplyRetention, CreateUser, SettingsPage as SettingsQuery, UpdateSettings, UpdateUser,
};
use crate::api::remote::{Remote, act, act_on};
use crate::api::{self, ApiError, Role};
use crate::app::use_user;
use crate::components::error_box::{ErrorBox, show};
use crate::format;

type Users = Vec<ops::settings_page::SettingsPageUsers>;

fn role_options(selected: Role) -> impl IntoView {
    Role::ALL
        .into_iter()
        .map(|r| view! { <option value=r.as_str() selected=r == selected>{r.as_str()}</option> })
        .collect_view()
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    if use_user().role != Role::Admin {
        return view! {
            <section class="card narrow">
                <h1>"Settings"</h1>
                <ErrorBox error=ApiError::new("Only administrators can change settings and users.", "FORBIDDEN") />
            </section>
        }
        .into_any();
    }
    let data =
        Remote::new(|| async { api::call::<SettingsQuery>(ops::settings_page::Variables).await });
    view! {
        <div class="page-head"><h1>"Settings"</h1></div>
        {move || show(data.get(), move |d| view! {
            <ScopeForm settings=d.settings />
            <UsersCard users=d.users on_change=move || data.refetch() />
        })}
    }
    .into_any()
}

#[component]
fn ScopeForm(settings: ops::settings_page::SettingsPageSettings) -> impl IntoView {
    let allowed = RwSignal::new(settings.allowed_cidrs.join("\n"));
    let denied = RwSignal::new(settings.denied_cidrs.join("\n"));
    let notify = RwSignal::new(settings.notify_allowed_cidrs.join("\n"));
    let max_addresses = RwSignal::new(settings.max_addresses_per_scan.to_string());
    let max_scans = RwSignal::new(settings.max_concurrent_scans.to_string());
    let chunk = RwSignal::new(settings.chunk_addresses.to_string());
    let keep_scans = RwSignal::new(settings.keep_scans_per_config.to_string());
    let keep_days = RwSignal::new(settings.keep_days.to_string());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let notice = RwSignal::new(None::<String>);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Ok(addresses), Ok(scans), Ok(chunk), Ok(keep_scans), Ok(keep_days)) = (
            max_addresses.get_untracked().trim().parse::<i64>(),
            max_scans.get_untracked().trim().parse::<i64>(),
            chunk.get_untracked().trim().parse::<i64>(),
            keep_scans.get_untracked().trim().parse::<i64>(),
            keep_days.get_untracked().trim().parse::<i64>(),
        ) else {
            error.set(Some(ApiError::local("The limits must be whole numbers.")));
            return;
        };
        let input = ops::update_settings::UpdateSettingsInput {
            allowed_cidrs: Some(format::list_entries(&allowed.get_untracked())),
            denied_cidrs: Some(format::list_entries(&denied.get_untracked())),
            max_addresses_per_scan: Some(addresses),
            max_concurrent_scans: Some(scans),
            chunk_addresses: Some(chunk),
            keep_scans_per_config: Some(keep_scans),
            keep_days: Some(keep_days),
            notify_allowed_cidrs: Some(format::list_entries(&notify.get_untracked())),
        };
        notice.set(None);
        let update = api::call::<UpdateSettings>(ops::update_settings::Variables { input });
        act(busy, error, update, move |d| {
            let s = d.update_settings;
            allowed.try_set(s.allowed_cidrs.join("\n"));
            denied.try_set(s.denied_cidrs.join("\n"));
            notify.try_set(s.notify_allowed_cidrs.join("\n"));
            notice.try_set(Some("Saved. New scans use these settings.".to_owned()));
        });
    };

    view! {
        <section class="card" aria-labelledby="scope-title">
            <h2 id="scope-title">"Scope and limits"</h2>
            <form class="form grid-2" on:submit=submit>
                <div>
                    <label for="allowed">"Allowed networks (one CIDR per line)"</label>
                    <textarea id="allowed" rows="5" spellcheck="false" bind:value=allowed></textarea>
                </div>
                <div>
                    <label for="denied">"Denied networks (win over allowed)"</label>
                    <textarea id="denied" rows="5" spellcheck="false" bind:value=denied></textarea>
                </div>
                <div>
                    <label for="max-addresses">"Most addresses per scan"</label>
                    <input id="max-addresses" type="number" min="1" inputmode="numeric" bind:value=max_addresses />
                </div>
                <div>
                    <label for="max-scans">"Scans at once"</label>
                    <input id="max-scans" type="number" min="1" inputmode="numeric" bind:value=max_scans />
                    <p class="hint">"Over every worker and agent; a chunk counts as a scan."</p>
                </div>
                <div>
                    <label for="chunk-addresses">"Addresses per chunk"</label>
                    <input id="chunk-addresses" type="number" min="0" inputmode="numeric" bind:value=chunk />
                    <p class="hint">"A larger scan runs as chunks that workers and agents scan in parallel, merged into one scan. 0: never."</p>
                </div>
                <div>
                    <label for="keep-scans">"Finished scans kept per config"</label>
                    <input id="keep-scans" type="number" min="0" inputmode="numeric" bind:value=keep_scans />
                    <p class="hint">"Older ones are deleted by the daily retention run; what changed stays in the history. 0: keep all."</p>
                </div>
                <div>
                    <label for="keep-days">"Days finished scans are kept"</label>
                    <input id="keep-days" type="number" min="0" inputmode="numeric" bind:value=keep_days />
                    <p class="hint">"0: no age limit."</p>
                </div>
                <div>
                    <label for="notify-allowed">"Notification networks (one CIDR per line)"</label>
                    <textarea id="notify-allowed" rows="3" spellcheck="false" bind:value=notify></textarea>
                    <p class="hint">"Private, loopback or link-local networks that webhook and Slack channels may reach (refused otherwise)."</p>
                </div>
                <div class="form-actions span-2">
                    <button type="submit" class="button" disabled=move || busy.get()>"Save settings"</button>
                    <button type="button" class="button secondary" disabled=move || busy.get() on:click=move |_| {
                        notice.set(None);
                        act(busy, error, api::call::<ApplyRetention>(ops::apply_retention::Variables), move |d| {
                            notice.try_set(Some(format!("Retention applied: {} scans deleted.", d.apply_retention)));
                        });
                    }>"Apply retention now"</button>
                </div>
            </form>
            {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
            {move || notice.get().map(|n| view! { <p class="notice" role="status">{n}</p> })}
        </section>
    }
}

#[component]
fn UsersCard(users: Users, #[prop(into)] on_change: Callback<()>) -> impl IntoView {
    let me = use_user();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer.as_str().to_owned());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);

    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let input = ops::create_user::CreateUserInput {
            username: username.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
            role: Role::parse(&role.get_untracked()).unwrap_or(Role::Viewer),
        };
        let create = api::body::<CreateUser>(ops::create_user::Variables { input });
        act_on(busy, error, create, move |_| on_change.run(()));
    };
    let update = move |id: String, role: Option<Role>, disabled: Option<bool>| {
        let update = api::body::<UpdateUser>(ops::update_user::Variables {
            id,
            input: ops::update_user::UpdateUserInput { role, disabled },
        });
        act_on(busy, error, update, move |_| on_change.run(()));
    };

    view! {
        <section class="card" aria-labelledby="users-title">
            <h2 id="users-title">"Users"</h2>
            {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
            <div class="table-wrap">
            <table class="table">
                <thead><tr>
                    <th scope="col">"User"</th><th scope="col">"Role"</th>
                    <th scope="col">"Status"</th><th scope="col">"Created"</th><th scope="col">"Actions"</th>
                </tr></thead>
                <tbody>
                    {users.into_iter().map(|u| {
                        let is_me = u.id == me.id;
                        let (id_role, id_toggle) = (u.id.clone(), u.id.clone());
                        let disabled = u.disabled;
                        let select_id = format!("role-{}", u.id);
                        view! {
                            <tr data-user=u.username.clone()>
                                <td>{u.username.clone()}{is_me.then_some(" (you)")}</td>
                                <td>
                                    <label class="sr-only" for=select_id.clone()>{format!("Role of {}", u.username)}</label>
                                    <select id=select_id disabled=move || is_me || busy.get()
                                        on:change=move |ev| update(id_role.clone(), Role::parse(&event_target_value(&ev)), None)>
                                        {role_options(u.role)}
                                    </select>
                                </td>
                                <td>{if disabled { view! { <span class="badge bad">"disabled"</span> }.into_any() } else { view! { <span class="badge good">"active"</span> }.into_any() }}</td>
                                <td class="nowrap">{format::timestamp(&u.created_at)}</td>
                                <td>
                                    {(!is_me).then(|| view! {
                                        <button type="button" class="button secondary small" disabled=move || busy.get()
                                            on:click=move |_| update(id_toggle.clone(), None, Some(!disabled))>
                                            {if disabled { "Enable" } else { "Disable" }}
                                        </button>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            </div>
            <h3>"New user"</h3>
            <form class="inline-form" on:submit=create>
                <label for="new-username">"Username"</label>
                <input id="new-username" type="text" autocomplete="off" required bind:value=username />
                <label for="new-password">"Password"</label>
                <input id="new-password" type="password" autocomplete="new-password" required bind:value=password />
                <label for="new-role">"Role"</label>
                <select id="new-role" bind:value=role>{role_options(Role::Viewer)}</select>
                <button type="submit" class="button" disabled=move || busy.get()>"Create user"</button>
            </form>
        </section>
    }
}

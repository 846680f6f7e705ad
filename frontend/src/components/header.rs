use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError, Role, User};
use crate::app::Session;
use crate::components::error_box::ErrorBox;
use crate::route::{Route, use_router};

/// The top bar: product name, navigation, who is signed in, and Sign out.
#[component]
pub fn Header(user: User, session: RwSignal<Session>) -> impl IntoView {
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let router = use_router();

    let sign_out = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            match api::logout().await {
                // An expired session is as good as a finished one.
                Ok(()) => {
                    session.try_set(Session::SignedOut(None));
                }
                Err(e) if e.is_unauthenticated() => {
                    session.try_set(Session::SignedOut(None));
                }
                Err(e) => {
                    pending.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };

    let mut links = vec![
        (Route::Dashboard, "Dashboard"),
        (Route::Scans, "Scans"),
        (Route::Configs, "Configs"),
        (Route::Schedules, "Schedules"),
        (Route::Hosts, "Hosts"),
        (Route::Changes, "Changes"),
        (Route::Certificates, "Certificates"),
        (Route::Alerts, "Alerts"),
    ];
    if user.role.can_operate() {
        links.push((Route::Import, "Import"));
    }
    links.push((Route::Workers, "Workers"));
    links.push((Route::Agents, "Agents"));
    links.push((Route::ApiKeys, "API keys"));
    if user.role == Role::Admin {
        links.push((Route::Settings, "Settings"));
    }
    let nav = links
        .into_iter()
        .map(|(route, label)| {
            let href = route.href();
            let current = move || (router.0.get().section() == route).then_some("page");
            view! { <a href=href aria-current=current>{label}</a> }
        })
        .collect_view();

    view! {
        <header class="topbar">
            <a class="brand" href="/">"SneakyScanner"</a>
            <nav class="nav" aria-label="Main">
                {nav}
                <a href="/graphiql" target="_blank" rel="noopener" title="GraphQL playground">"API"</a>
            </nav>
            {move || (crate::api::ws::link_state().get() == crate::api::ws::LinkState::Reconnecting).then(|| view! {
                <span class="link-state" role="status">"Live updates reconnecting…"</span>
            })}
            <div class="account">
                <span class="who">
                    <strong>{user.username}</strong> " · " {user.role.as_str()}
                </span>
                <button
                    type="button"
                    class="button secondary small"
                    on:click=sign_out
                    disabled=move || pending.get()
                >
                    {move || if pending.get() { "Signing out…" } else { "Sign out" }}
                </button>
            </div>
        </header>
        {move || error.get().map(|e| view! { <div class="topbar-error"><ErrorBox error=e /></div> })}
    }
}

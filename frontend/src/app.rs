//! The root component: finds out who is signed in, then shows the page the address bar names.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError, User};
use crate::components::error_box::ErrorBox;
use crate::components::header::Header;
use crate::pages::agents::AgentsPage;
use crate::pages::alerts::AlertsPage;
use crate::pages::api_keys::ApiKeysPage;
use crate::pages::certificates::CertificatesPage;
use crate::pages::changes::ChangesPage;
use crate::pages::config_edit::ConfigEditPage;
use crate::pages::configs::ConfigsPage;
use crate::pages::dashboard::DashboardPage;
use crate::pages::diff::DiffPage;
use crate::pages::host_detail::HostDetailPage;
use crate::pages::hosts::HostsPage;
use crate::pages::import::ImportPage;
use crate::pages::login::LoginPage;
use crate::pages::not_found::NotFoundPage;
use crate::pages::scan_detail::ScanDetailPage;
use crate::pages::scans::ScansPage;
use crate::pages::schedules::SchedulesPage;
use crate::pages::settings::SettingsPage;
use crate::pages::workers::WorkersPage;
use crate::route::{Route, Router};

/// What the app knows about the session.
#[derive(Clone, Debug, PartialEq)]
pub enum Session {
    /// `me` is in flight.
    Checking,
    /// Not signed in; the message says why when the session ended by itself.
    SignedOut(Option<String>),
    SignedIn(User),
    /// `me` failed for a reason other than "not signed in" (server down, …).
    Unavailable(ApiError),
}

/// Asks the server who is signed in and stores the answer in `session`.
pub fn refresh_session(session: RwSignal<Session>) {
    session.set(Session::Checking);
    spawn_local(async move {
        let next = match api::me().await {
            Ok(Some(user)) => Session::SignedIn(user),
            Ok(None) => Session::SignedOut(None),
            Err(e) if e.is_unauthenticated() => Session::SignedOut(None),
            Err(e) => Session::Unavailable(e),
        };
        session.try_set(next);
    });
}

/// The signed-in user, for pages that show or hide actions by role.
pub fn use_user() -> User {
    expect_context::<User>()
}

#[component]
pub fn App() -> impl IntoView {
    let session = RwSignal::new(Session::Checking);
    let router = Router::install();
    refresh_session(session);
    // Any request answered UNAUTHENTICATED while signed in: the session expired or was
    // ended elsewhere. The address bar keeps the page, so signing in again returns to it.
    api::on_unauthenticated(move || {
        if matches!(session.get_untracked(), Session::SignedIn(_)) {
            session.set(Session::SignedOut(Some(
                "Your session has ended. Sign in again to continue.".to_owned(),
            )));
        }
    });
    Effect::new(move || {
        document().set_title(&router.0.get().title());
    });
    // A signed-out browser keeps no live connection of the previous user.
    Effect::new(move || {
        if matches!(session.get(), Session::SignedOut(_)) {
            api::ws::disconnect();
        }
    });

    move || match session.get() {
        Session::Checking => view! {
            <main class="centered" aria-busy="true">
                <p class="loading" role="status">"Loading…"</p>
            </main>
        }
        .into_any(),
        Session::SignedOut(message) => view! {
            <main class="centered">
                <LoginPage session=session message=message />
            </main>
        }
        .into_any(),
        Session::SignedIn(user) => {
            provide_context(user.clone());
            view! {
                <a class="skip-link" href="#main">"Skip to content"</a>
                <Header user=user session=session />
                <main class="content" id="main" tabindex="-1">
                    {move || page(router.0.get())}
                </main>
            }
            .into_any()
        }
        Session::Unavailable(error) => view! {
            <main class="centered">
                <section class="card narrow" aria-labelledby="unavailable-title">
                    <h1 id="unavailable-title">"SneakyScanner"</h1>
                    <ErrorBox error=error />
                    <button type="button" class="button" on:click=move |_| refresh_session(session)>
                        "Try again"
                    </button>
                </section>
            </main>
        }
        .into_any(),
    }
}

fn page(route: Route) -> AnyView {
    match route {
        Route::Dashboard => view! { <DashboardPage /> }.into_any(),
        Route::Scans => view! { <ScansPage /> }.into_any(),
        Route::Scan(id) => view! { <ScanDetailPage id=id /> }.into_any(),
        Route::Configs => view! { <ConfigsPage /> }.into_any(),
        Route::NewConfig => view! { <ConfigEditPage id=None /> }.into_any(),
        Route::Config(id) => view! { <ConfigEditPage id=Some(id) /> }.into_any(),
        Route::Import => view! { <ImportPage /> }.into_any(),
        Route::ApiKeys => view! { <ApiKeysPage /> }.into_any(),
        Route::Workers => view! { <WorkersPage /> }.into_any(),
        Route::Agents => view! { <AgentsPage /> }.into_any(),
        Route::Settings => view! { <SettingsPage /> }.into_any(),
        Route::Hosts => view! { <HostsPage /> }.into_any(),
        Route::Host(id) => view! { <HostDetailPage id=id /> }.into_any(),
        Route::Certificates => view! { <CertificatesPage /> }.into_any(),
        Route::Changes => view! { <ChangesPage /> }.into_any(),
        Route::Schedules => view! { <SchedulesPage /> }.into_any(),
        Route::Alerts => view! { <AlertsPage /> }.into_any(),
        Route::Diff { base, head } => view! { <DiffPage base=base head=head /> }.into_any(),
        Route::NotFound(path) => view! { <NotFoundPage path=path /> }.into_any(),
    }
}

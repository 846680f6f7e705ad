//! The root component: finds out who is signed in and shows the matching page.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError, User};
use crate::components::error_box::ErrorBox;
use crate::components::header::Header;
use crate::pages::home::HomePage;
use crate::pages::login::LoginPage;

/// What the app knows about the session.
#[derive(Clone, Debug, PartialEq)]
pub enum Session {
    /// `me` is in flight.
    Checking,
    SignedOut,
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
            Ok(None) => Session::SignedOut,
            Err(e) if e.is_unauthenticated() => Session::SignedOut,
            Err(e) => Session::Unavailable(e),
        };
        session.try_set(next);
    });
}

#[component]
pub fn App() -> impl IntoView {
    let session = RwSignal::new(Session::Checking);
    refresh_session(session);

    move || match session.get() {
        Session::Checking => view! {
            <main class="centered" aria-busy="true">
                <p class="loading" role="status">"Loading…"</p>
            </main>
        }
        .into_any(),
        Session::SignedOut => view! {
            <main class="centered">
                <LoginPage session=session />
            </main>
        }
        .into_any(),
        Session::SignedIn(user) => view! {
            <Header user=user session=session />
            <main class="content">
                <HomePage />
            </main>
        }
        .into_any(),
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

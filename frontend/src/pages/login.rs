use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::app::Session;
use crate::components::error_box::ErrorBox;

/// The sign-in form. Enter in either field submits it.
#[component]
pub fn LoginPage(session: RwSignal<Session>, message: Option<String>) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let password_input = NodeRef::<html::Input>::new();

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let user = username.get_untracked().trim().to_owned();
        let pass = password.get_untracked();
        if user.is_empty() || pass.is_empty() {
            error.set(Some(ApiError::local("Enter a username and a password.")));
            return;
        }
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            match api::login(user, pass).await {
                Ok(user) => {
                    session.try_set(Session::SignedIn(user));
                }
                Err(e) => {
                    pending.try_set(false);
                    password.try_set(String::new());
                    error.try_set(Some(e));
                    if let Some(input) = password_input.get_untracked() {
                        let _ = input.focus();
                    }
                }
            }
        });
    };

    view! {
        <section class="card narrow" aria-labelledby="login-title">
            <h1 id="login-title">"Sign in to SneakyScanner"</h1>
            {message.map(|m| view! { <p class="notice" role="status">{m}</p> })}
            <form class="form" on:submit=submit>
                <label for="username">"Username"</label>
                <input
                    id="username"
                    name="username"
                    type="text"
                    autocomplete="username"
                    autocapitalize="none"
                    spellcheck="false"
                    autofocus
                    required
                    bind:value=username
                />
                <label for="password">"Password"</label>
                <input
                    id="password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                    node_ref=password_input
                    bind:value=password
                />
                <button type="submit" class="button" disabled=move || pending.get()>
                    {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
            {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
            <p class="hint">
                "First start? The admin account is " <code>"admin"</code>
                "; its password comes from " <code>"SNEAKYSCAN_ADMIN_PASSWORD"</code>
                ", or was printed once in the server log."
            </p>
        </section>
    }
}

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError, User};
use crate::app::Session;
use crate::components::error_box::ErrorBox;

/// The top bar: product name, who is signed in, and Sign out.
#[component]
pub fn Header(user: User, session: RwSignal<Session>) -> impl IntoView {
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);

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
                    session.try_set(Session::SignedOut);
                }
                Err(e) if e.is_unauthenticated() => {
                    session.try_set(Session::SignedOut);
                }
                Err(e) => {
                    pending.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };

    view! {
        <header class="topbar">
            <span class="brand">"SneakyScanner"</span>
            <div class="account">
                <span class="who">
                    "Signed in as " <strong>{user.username}</strong> " (" {user.role.as_str()} ")"
                </span>
                <button
                    type="button"
                    class="button secondary"
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

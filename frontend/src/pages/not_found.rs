use leptos::prelude::*;

use crate::route::Route;

/// Any path the app does not know.
#[component]
pub fn NotFoundPage(path: String) -> impl IntoView {
    view! {
        <section class="card narrow" aria-labelledby="nf-title">
            <h1 id="nf-title">"Page not found"</h1>
            <p>"Nothing lives at " <code>{path}</code> "."</p>
            <p><a class="button" href=Route::Dashboard.href()>"Back to the dashboard"</a></p>
        </section>
    }
}

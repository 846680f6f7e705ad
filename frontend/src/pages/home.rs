use leptos::prelude::*;

/// The signed-in landing page until the dashboard lands.
#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="welcome-title">
            <h1 id="welcome-title">"Welcome"</h1>
            <p>
                "The dashboard — scans, scan configs and live progress — is coming. "
                "Until then, everything is available through the GraphQL API."
            </p>
            <p>
                <a class="button" href="/graphiql">"Open the API playground"</a>
            </p>
        </section>
    }
}

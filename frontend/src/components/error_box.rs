use leptos::prelude::*;

use crate::api::ApiError;

/// A server or network error: the message, and the stable code when there is one.
#[component]
pub fn ErrorBox(error: ApiError) -> impl IntoView {
    let ApiError { message, code } = error;
    view! {
        <div class="error-box" role="alert">
            <p class="error-message">{message}</p>
            {code.map(|code| view! { <p class="error-code"><code>{code}</code></p> })}
        </div>
    }
}

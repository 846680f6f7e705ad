use leptos::prelude::*;

use crate::api::ApiError;
use crate::format;

/// A server or network error: the message, and the stable code (and position) when there is one.
#[component]
pub fn ErrorBox(error: ApiError) -> impl IntoView {
    let where_ = format::position(error.line, error.column);
    let ApiError { message, code, .. } = error;
    view! {
        <div class="error-box" role="alert">
            <p class="error-message">
                {where_.map(|w| view! { <strong>{w} ": "</strong> })}
                {message}
            </p>
            {code.map(|code| view! { <p class="error-code"><code>{code}</code></p> })}
        </div>
    }
}

/// Loading, failed or loaded: the one way pages show a request's state.
pub fn show<T, V>(state: Option<Result<T, ApiError>>, ready: impl FnOnce(T) -> V) -> AnyView
where
    V: IntoView + 'static,
{
    match state {
        None => view! { <p class="loading" role="status">"Loading…"</p> }.into_any(),
        Some(Err(e)) => view! { <ErrorBox error=e /> }.into_any(),
        Some(Ok(value)) => ready(value).into_any(),
    }
}

/// A message for an empty list.
#[component]
pub fn Empty(children: Children) -> impl IntoView {
    view! { <p class="empty">{children()}</p> }
}

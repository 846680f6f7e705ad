use leptos::prelude::*;

use crate::api::ScanStatus;
use crate::format;

/// A scan status as a coloured badge (the text carries the meaning, not only the colour).
#[component]
pub fn StatusBadge(#[prop(into)] status: Signal<ScanStatus>) -> impl IntoView {
    view! {
        <span
            class=move || format!("badge status-{}", status.get().as_str().to_lowercase())
            data-status=move || status.get().as_str()
        >
            {move || status.get().as_str()}
        </span>
    }
}

/// A labelled progress bar (`role=progressbar` with the value for assistive technology).
#[component]
pub fn ProgressBar(
    #[prop(into)] percent: Signal<f64>,
    #[prop(into)] label: Signal<String>,
) -> impl IntoView {
    view! {
        <div
            class="progress"
            role="progressbar"
            aria-valuemin="0"
            aria-valuemax="100"
            aria-valuenow=move || format::whole_percent(percent.get()).to_string()
            aria-label=move || label.get()
        >
            <div
                class="progress-fill"
                style=move || format::width(percent.get())
            ></div>
        </div>
        <span class="progress-text">{move || format::percent(percent.get())}</span>
    }
}

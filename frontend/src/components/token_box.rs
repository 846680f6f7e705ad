//! A secret shown once (an API key's or an agent's token): read-only, selected on focus, with
//! a Copy button; `children` say what to do with it.

use leptos::prelude::*;

#[component]
pub fn TokenBox(
    token: String,
    /// The input's id (tests and labels find it by this).
    #[prop(into)]
    id: String,
    /// Its accessible label.
    #[prop(into)]
    label: String,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy_token = token.clone();
    let copy = move |_| {
        let _ = window().navigator().clipboard().write_text(&copy_token);
        copied.set(true);
    };
    view! {
        <div class="token-box" role="status">
            <p><strong>"Copy this token now: it is shown only once."</strong></p>
            <div class="token-row">
                <label class="sr-only" for=id.clone()>{label}</label>
                <input id=id class="mono" type="text" readonly value=token
                    on:focus=|ev| { if let Some(el) = ev.target().and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(t).ok()) { el.select(); } } />
                <button type="button" class="button small" on:click=copy>
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            </div>
            {children.map(|c| c())}
        </div>
    }
}

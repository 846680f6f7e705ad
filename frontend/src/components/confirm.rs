use leptos::prelude::*;

/// A destructive action in two steps: the button asks, then "Yes, …" runs `on_confirm`.
#[component]
pub fn ConfirmButton(
    /// The action's name, e.g. "Delete".
    label: &'static str,
    /// What the question names, e.g. "scan 12".
    #[prop(into)]
    what: String,
    #[prop(into, optional)] disabled: Signal<bool>,
    #[prop(into)] on_confirm: Callback<()>,
) -> impl IntoView {
    let asking = RwSignal::new(false);
    let question = format!("{label} {what}?");
    // Keyboard users land on the answer, not on nothing, when the question replaces the button.
    let no_button = NodeRef::<leptos::html::Button>::new();
    Effect::new(move || {
        if let Some(button) = no_button.get() {
            let _ = button.focus();
        }
    });
    view! {
        <Show
            when=move || asking.get()
            fallback=move || {
                view! {
                    <button
                        type="button"
                        class="button danger small"
                        disabled=move || disabled.get()
                        on:click=move |_| asking.set(true)
                    >
                        {label}
                    </button>
                }
            }
        >
            <span class="confirm" role="group" aria-label=question.clone()>
                <span class="confirm-question">{question.clone()}</span>
                <button
                    type="button"
                    class="button danger small"
                    on:click=move |_| {
                        asking.set(false);
                        on_confirm.run(());
                    }
                >
                    {format!("Yes, {}", label.to_lowercase())}
                </button>
                <button
                    type="button"
                    class="button secondary small"
                    node_ref=no_button
                    on:click=move |_| asking.set(false)
                >
                    "No"
                </button>
            </span>
        </Show>
    }
}

//! A user's saved views of a list page (issue 15): pick one to search with it, save the
//! filter as typed under a name (a name the page has is replaced), delete the one picked.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::enums::ViewPage;
use crate::api::ops::{self, DeleteSavedView, SaveView, SavedViews};
use crate::api::{self, ApiError};
use crate::components::error_box::ErrorBox;

type View = ops::saved_views::SavedViewsSavedViews;

#[component]
pub fn SavedViewPicker(
    page: ViewPage,
    filter: RwSignal<String>,
    on_pick: Callback<()>,
) -> impl IntoView {
    let views = RwSignal::new(Vec::<View>::new());
    let chosen = RwSignal::new(String::new());
    let naming = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<ApiError>);
    let reload_views = move || {
        spawn_local(async move {
            let vars = ops::saved_views::Variables { page: Some(page) };
            match api::call::<SavedViews>(vars).await {
                Ok(data) => {
                    views.try_set(data.saved_views);
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    reload_views();
    let pick = move |ev: leptos::ev::Event| {
        let id = event_target_value(&ev);
        let found =
            views.with_untracked(|v| v.iter().find(|v| v.id == id).map(|v| v.filter.clone()));
        chosen.set(id);
        if let Some(text) = found {
            filter.set(text);
            on_pick.run(());
        }
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(name) = naming.get_untracked() else {
            return;
        };
        let vars = ops::save_view::Variables {
            input: ops::save_view::SavedViewInput {
                page,
                name,
                filter: filter.get_untracked().trim().to_owned(),
            },
        };
        spawn_local(async move {
            match api::call::<SaveView>(vars).await {
                Ok(data) => {
                    naming.try_set(None);
                    error.try_set(None);
                    chosen.try_set(data.save_view.id);
                    reload_views();
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    let delete = move |_| {
        let id = chosen.get_untracked();
        if id.is_empty() {
            return;
        }
        spawn_local(async move {
            match api::call::<DeleteSavedView>(ops::delete_saved_view::Variables { id }).await {
                Ok(_) => {
                    chosen.try_set(String::new());
                    reload_views();
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    view! {
        <div class="filters">
            <select aria-label="Saved views" on:change=pick prop:value=move || chosen.get()>
                <option value="">"Saved views…"</option>
                {move || views.get().into_iter().map(|v| view! {
                    <option value=v.id.clone() title=v.filter.clone()>{v.name.clone()}</option>
                }).collect_view()}
            </select>
            {move || (!chosen.get().is_empty()).then(|| view! {
                <button type="button" class="button secondary" on:click=delete>"Delete view"</button>
            })}
            <button type="button" class="button secondary" on:click=move |_| naming.set(Some(String::new()))>"Save view"</button>
        </div>
        {move || naming.get().is_some().then(|| view! {
            <form class="filters" on:submit=save>
                <label for="view-name">"View name"</label>
                <input id="view-name" maxlength="80" required
                    prop:value=move || naming.get().unwrap_or_default()
                    on:input=move |ev| naming.set(Some(event_target_value(&ev))) />
                <button type="submit" class="button">"Save"</button>
                <button type="button" class="button secondary" on:click=move |_| naming.set(None)>"Cancel"</button>
            </form>
        })}
        {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
    }
}

//! The search bar of a list page (hosts, changes, certificates, scans): the filter language,
//! checked as it is typed by the parser the server uses (the `filter` crate, compiled in);
//! kept in the address bar (`?filter=`) so a view can be bookmarked and shared; the user's
//! saved views of the page; and, where the list exports, CSV and JSON download links.

use leptos::prelude::*;

use crate::api::enums::ViewPage;
use crate::components::views::SavedViewPicker;

/// The filter in the address bar (`?filter=…`).
pub fn filter_in_address_bar() -> String {
    let search = window().location().search().unwrap_or_default();
    search
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix("filter="))
        .and_then(|v| js_sys::decode_uri_component(&v.replace('+', " ")).ok())
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

fn encoded(filter: &str) -> String {
    String::from(js_sys::encode_uri_component(filter))
}

/// `/<page>` or `/<page>?filter=…`.
pub fn page_href(page: ViewPage, filter: &str) -> String {
    if filter.is_empty() {
        format!("/{}", page.label())
    } else {
        format!("/{}?filter={}", page.label(), encoded(filter))
    }
}

fn keep_in_address_bar(page: ViewPage, filter: &str) {
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(
            &wasm_bindgen::JsValue::NULL,
            "",
            Some(&page_href(page, filter)),
        );
    }
}

#[component]
pub fn SearchBar(
    page: ViewPage,
    filter: RwSignal<String>,
    /// Loads the list for the filter (its first page).
    on_search: Callback<()>,
    placeholder: &'static str,
    /// `hosts` or `changes`: offer `/api/export/<export>.{csv,json}` of what the filter selects.
    #[prop(optional)]
    export: Option<&'static str>,
) -> impl IntoView {
    let id = format!("{}-filter", page.label());
    let hint_id = format!("{id}-problem");
    let search = move || {
        keep_in_address_bar(page, filter.get_untracked().trim());
        on_search.run(());
    };
    // Checked as it is typed, by the parser the server uses.
    let problem = Memo::new(move |_| {
        filter::parse(filter.get().trim())
            .err()
            .map(|e| format!("column {}: {}", e.column, e.message))
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        search();
    };
    // The export of what the box says, fetched on a click (the server answers with an
    // attachment, so the page stays).
    let download = move |format: &'static str, label: &'static str| {
        export.map(|name| {
            let go = move |_| {
                let text = filter.get_untracked();
                let text = text.trim();
                let mut url = format!("/api/export/{name}.{format}");
                if !text.is_empty() {
                    url.push_str("?filter=");
                    url.push_str(&encoded(text));
                }
                let _ = window().location().set_href(&url);
            };
            view! { <button type="button" class="button secondary" on:click=go>{label}</button> }
        })
    };
    view! {
        <div class="search">
            <form class="filters" role="search" on:submit=submit>
                <label for=id.clone()>"Search"</label>
                <input id=id type="search" placeholder=placeholder bind:value=filter aria-describedby=hint_id.clone() />
                <button type="submit" class="button secondary">"Search"</button>
                {download("csv", "Download CSV")}
                {download("json", "Download JSON")}
            </form>
            <p id=hint_id class="filter-problem" aria-live="polite">{move || problem.get()}</p>
            <SavedViewPicker page=page filter=filter on_pick=Callback::new(move |()| search()) />
        </div>
    }
}

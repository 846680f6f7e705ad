//! Change events, newest first: searched with the filter language (kept in the address bar,
//! saved as views, exported as CSV or JSON), cursor pages.

use leptos::prelude::*;

use crate::api::enums::ViewPage;
use crate::api::ops::{self, Changes};
use crate::api::{self, ApiError};
use crate::components::changes::{ChangeRow, ChangeTable};
use crate::components::error_box::{Empty, show};
use crate::components::pager::{Cursors, Pager};
use crate::components::search::{SearchBar, filter_in_address_bar};

const PAGE: i64 = 50;

#[component]
pub fn ChangesPage() -> impl IntoView {
    let rows = RwSignal::new(None::<Result<Vec<ChangeRow>, ApiError>>);
    let filter = RwSignal::new(filter_in_address_bar());
    let cursors = Cursors::default();
    let load = move || {
        let text = filter.get_untracked().trim().to_owned();
        let vars = ops::changes::Variables {
            first: Some(PAGE),
            after: cursors.after(),
            filter: (!text.is_empty()).then_some(text),
            since_hours: None,
        };
        cursors.fill(rows, async move {
            let page = crate::loaded!(api::call::<Changes>(vars).await?.changes);
            Ok(Some(page.map(|n| crate::change_row!(n))))
        });
    };
    load();
    let search = Callback::new(move |()| {
        cursors.reset();
        load();
    });
    view! {
        <div class="page-head">
            <h1>"Changes"</h1>
        </div>
        <SearchBar page=ViewPage::Changes filter=filter on_search=search export="changes"
            placeholder="kind:PORT_OPENED severity>=medium changed<24h" />
        <section class="card">
            <p class="hint">"What every scan and import changed, against the previous scan of each host. Search with the filter language: "<code>"kind:PORT_OPENED port:22"</code>", "<code>"severity>=high changed<7d"</code>", "<code>"address:10.0.0.0/8 -kind:HOST_UP"</code>"."</p>
            {move || show(rows.get(), |list| {
                if list.is_empty() {
                    view! { <Empty>"No changes match."</Empty> }.into_any()
                } else {
                    view! { <ChangeTable rows=list /> }.into_any()
                }
            })}
            <Pager cursors=cursors size=PAGE noun="changes" load=load />
        </section>
    }
}

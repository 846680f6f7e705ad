//! Cursor pages over a keyset-paginated connection: Previous · "1–20 of N" · Next.
//! The page keeps the cursors; its loader asks for the page after [`Cursors::after`] and hands
//! the answer, made a [`Loaded`] by [`loaded!`](crate::loaded), to [`Cursors::fill`].

use std::future::Future;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ApiError;

/// One page of a connection as the pager needs it.
pub struct Loaded<T> {
    pub rows: Vec<T>,
    pub total: i64,
    pub has_next: bool,
    pub end_cursor: Option<String>,
}

/// The [`Loaded`] page of a connection answer: every connection type graphql_client generates
/// has the same fields (`edges { node }`, `totalCount`, `pageInfo`), but no common type.
#[macro_export]
macro_rules! loaded {
    ($connection:expr) => {{
        let page = $connection;
        $crate::components::pager::Loaded {
            rows: page.edges.into_iter().map(|e| e.node).collect(),
            total: page.total_count,
            has_next: page.page_info.has_next_page,
            end_cursor: page.page_info.end_cursor,
        }
    }};
}

impl<T> Loaded<T> {
    /// The same page with each row made another type.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Loaded<U> {
        Loaded {
            rows: self.rows.into_iter().map(f).collect(),
            total: self.total,
            has_next: self.has_next,
            end_cursor: self.end_cursor,
        }
    }
}

#[derive(Clone, Copy)]
pub struct Cursors {
    /// Cursors of the pages before the current one (`None` = the first page).
    previous: RwSignal<Vec<Option<String>>>,
    current: RwSignal<Option<String>>,
    next: RwSignal<Option<String>>,
    total: RwSignal<i64>,
    /// Pages before the one shown (set when it has loaded, so the label matches the rows).
    pages_before_shown: RwSignal<usize>,
}

impl Default for Cursors {
    fn default() -> Self {
        Self {
            previous: RwSignal::new(Vec::new()),
            current: RwSignal::new(None),
            next: RwSignal::new(None),
            total: RwSignal::new(0),
            pages_before_shown: RwSignal::new(0),
        }
    }
}

impl Cursors {
    /// The `after` argument of the current page.
    pub fn after(self) -> Option<String> {
        self.current.get_untracked()
    }

    /// What the current page's answer said: the total and the next page's cursor, if any.
    fn loaded(self, total: i64, has_next: bool, end_cursor: Option<String>) {
        self.total.try_set(total);
        self.next.try_set(has_next.then_some(end_cursor).flatten());
        self.pages_before_shown
            .try_set(self.previous.with_untracked(Vec::len));
    }

    /// Loads the current page with `fetch` into `rows` and records where it is (`None` from
    /// `fetch`: nothing there, e.g. the scan was deleted).
    pub fn fill<T: Send + Sync + 'static>(
        self,
        rows: RwSignal<Option<Result<Vec<T>, ApiError>>>,
        fetch: impl Future<Output = Result<Option<Loaded<T>>, ApiError>> + 'static,
    ) {
        spawn_local(async move {
            let list = fetch.await.map(|page| match page {
                Some(page) => {
                    self.loaded(page.total, page.has_next, page.end_cursor);
                    page.rows
                }
                None => Vec::new(),
            });
            rows.try_set(Some(list));
        });
    }

    /// Back to the first page (a filter changed).
    pub fn reset(self) {
        self.previous.set(Vec::new());
        self.current.set(None);
    }

    fn forward(self) -> bool {
        let Some(cursor) = self.next.get_untracked() else {
            return false;
        };
        self.previous
            .update(|p| p.push(self.current.get_untracked()));
        self.current.set(Some(cursor));
        true
    }

    fn back(self) -> bool {
        match self.previous.try_update(|p| p.pop()) {
            Some(Some(cursor_or_first)) => {
                self.current.set(cursor_or_first);
                true
            }
            _ => false,
        }
    }
}

/// "first–last of total" for the page after `pages_before` pages of `size`.
pub fn range_label(pages_before: usize, size: i64, total: i64, noun: &str) -> String {
    let shown = pages_before as i64 * size;
    if total == 0 {
        format!("0 {noun}")
    } else {
        format!("{}–{} of {total}", shown + 1, (shown + size).min(total))
    }
}

#[component]
pub fn Pager<F>(
    cursors: Cursors,
    size: i64,
    /// What the list holds, plural ("scans"), for an empty list.
    noun: &'static str,
    /// Loads the page `cursors` now point at.
    load: F,
) -> impl IntoView
where
    F: Fn() + Clone + 'static,
{
    let forward = {
        let load = load.clone();
        move |_| {
            if cursors.forward() {
                load();
            }
        }
    };
    let back = move |_| {
        if cursors.back() {
            load();
        }
    };
    view! {
        <nav class="pager" aria-label=format!("Pages of {noun}")>
            <button
                type="button"
                class="button secondary small"
                disabled=move || cursors.previous.with(Vec::is_empty)
                on:click=back
            >
                "Previous"
            </button>
            <span class="muted">
                {move || range_label(cursors.pages_before_shown.get(), size, cursors.total.get(), noun)}
            </span>
            <button
                type="button"
                class="button secondary small"
                disabled=move || cursors.next.with(Option::is_none)
                on:click=forward
            >
                "Next"
            </button>
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::range_label;

    #[test]
    fn ranges_say_where_the_page_is() {
        assert_eq!(range_label(0, 20, 0, "scans"), "0 scans");
        assert_eq!(range_label(0, 20, 7, "scans"), "1–7 of 7");
        assert_eq!(range_label(1, 50, 10_000, "hosts"), "51–100 of 10000");
        assert_eq!(range_label(2, 20, 45, "scans"), "41–45 of 45");
    }
}

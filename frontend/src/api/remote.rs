//! Talking to the server from a page: data it loads and may load again (`Remote`: a signal
//! holding "loading", the answer or the error — Leptos' `LocalResource` does this too, but its
//! async machinery costs more wasm than this page-sized need), and changes the user asks for
//! (`act`).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::ApiError;

type Fetch<T> = Rc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<T, ApiError>>>>>;

pub struct Remote<T: 'static> {
    state: RwSignal<Option<Result<T, ApiError>>>,
    fetch: StoredValue<Fetch<T>, LocalStorage>,
}

impl<T: 'static> Clone for Remote<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: 'static> Copy for Remote<T> {}

impl<T: Send + Sync + 'static> Remote<T> {
    /// Starts loading at once.
    pub fn new<F, Fut>(fetch: F) -> Self
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = Result<T, ApiError>> + 'static,
    {
        let fetch: Fetch<T> = Rc::new(move || Box::pin(fetch()));
        let remote = Remote {
            state: RwSignal::new(None),
            fetch: StoredValue::new_local(fetch),
        };
        remote.refetch();
        remote
    }

    /// Loads again; what is shown stays until the new answer arrives.
    pub fn refetch(self) {
        let Some(fut) = self.fetch.try_with_value(|f| f()) else {
            return;
        };
        let state = self.state;
        spawn_local(async move {
            let answer = fut.await;
            state.try_set(Some(answer));
        });
    }

    /// `None` while the first answer is awaited (tracked).
    pub fn get(self) -> Option<Result<T, ApiError>>
    where
        T: Clone,
    {
        self.state.get()
    }
}

/// [`act`] for a request body (`api::body`), its answer as JSON: one instance of `act` serves
/// every such change.
pub fn act_on(
    busy: RwSignal<bool>,
    error: RwSignal<Option<ApiError>>,
    body: String,
    on_ok: impl FnOnce(serde_json::Value) + 'static,
) {
    let on_ok: Box<dyn FnOnce(serde_json::Value)> = Box::new(on_ok);
    act(busy, error, super::run(body), on_ok);
}

/// Runs one change the user asked for: `busy` while it is in flight (its buttons disabled),
/// then `on_ok` with the answer, or the error in `error` (cleared when the change starts).
pub fn act<T: 'static>(
    busy: RwSignal<bool>,
    error: RwSignal<Option<ApiError>>,
    change: impl Future<Output = Result<T, ApiError>> + 'static,
    on_ok: impl FnOnce(T) + 'static,
) {
    busy.set(true);
    error.set(None);
    spawn_local(async move {
        let result = change.await;
        busy.try_set(false);
        match result {
            Ok(answer) => on_ok(answer),
            Err(e) => {
                error.try_set(Some(e));
            }
        }
    });
}

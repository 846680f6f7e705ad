//! SneakyScanner's browser app: a Leptos CSR (WebAssembly) client of the GraphQL API.

mod api;
mod app;
mod components;
mod format;
mod pages;
mod route;

fn main() {
    // No panic hook: panics abort (wasm-release), and the hook's formatting costs wasm size.
    leptos::mount::mount_to_body(app::App);
}

//! SneakyScanner's browser app: a Leptos CSR (WebAssembly) client of the GraphQL API.

mod api;
mod app;
mod components;
mod format;
mod pages;
mod route;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}

//! The app's pages as one enum: the single source of every link, parsed from and written to
//! the address bar (History API, no reloads).

use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// Every page of the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Dashboard,
    Scans,
    Scan(String),
    Configs,
    NewConfig,
    Config(String),
    Import,
    ApiKeys,
    Workers,
    Agents,
    Settings,
    Hosts,
    Host(String),
    Certificates,
    /// Change events (`/changes?filter=…`).
    Changes,
    Schedules,
    Alerts,
    /// Compare scans: `/diff?base=<id>&head=<id>` (either may be absent).
    Diff {
        base: Option<String>,
        head: Option<String>,
    },
    NotFound(String),
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A numeric parameter of a query string.
fn query_id(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| is_id(v))
}

impl Route {
    /// The page for a path (the query string is read by the pages that take one; the fragment
    /// is ignored).
    pub fn parse(path: &str) -> Route {
        let path = path.split('#').next().unwrap_or("");
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        match parts.as_slice() {
            [] => Route::Dashboard,
            ["scans"] => Route::Scans,
            ["scans", id] if is_id(id) => Route::Scan((*id).to_owned()),
            ["configs"] => Route::Configs,
            ["configs", "new"] => Route::NewConfig,
            ["configs", id] if is_id(id) => Route::Config((*id).to_owned()),
            ["import"] => Route::Import,
            ["keys"] => Route::ApiKeys,
            ["workers"] => Route::Workers,
            ["agents"] => Route::Agents,
            ["settings"] => Route::Settings,
            ["hosts"] => Route::Hosts,
            ["hosts", id] if is_id(id) => Route::Host((*id).to_owned()),
            ["certificates"] => Route::Certificates,
            ["changes"] => Route::Changes,
            ["schedules"] => Route::Schedules,
            ["alerts"] => Route::Alerts,
            ["diff"] => Route::Diff {
                base: query_id(query, "base"),
                head: query_id(query, "head"),
            },
            _ => Route::NotFound(path.to_owned()),
        }
    }

    pub fn href(&self) -> String {
        match self {
            Route::Dashboard => "/".to_owned(),
            Route::Scans => "/scans".to_owned(),
            Route::Scan(id) => format!("/scans/{id}"),
            Route::Configs => "/configs".to_owned(),
            Route::NewConfig => "/configs/new".to_owned(),
            Route::Config(id) => format!("/configs/{id}"),
            Route::Import => "/import".to_owned(),
            Route::ApiKeys => "/keys".to_owned(),
            Route::Workers => "/workers".to_owned(),
            Route::Agents => "/agents".to_owned(),
            Route::Settings => "/settings".to_owned(),
            Route::Hosts => "/hosts".to_owned(),
            Route::Host(id) => format!("/hosts/{id}"),
            Route::Certificates => "/certificates".to_owned(),
            Route::Changes => "/changes".to_owned(),
            Route::Schedules => "/schedules".to_owned(),
            Route::Alerts => "/alerts".to_owned(),
            Route::Diff { base, head } => {
                let params: Vec<String> = [("base", base), ("head", head)]
                    .into_iter()
                    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
                    .collect();
                if params.is_empty() {
                    "/diff".to_owned()
                } else {
                    format!("/diff?{}", params.join("&"))
                }
            }
            Route::NotFound(path) => path.clone(),
        }
    }

    /// The document title for the page.
    pub fn title(&self) -> String {
        let page = match self {
            Route::Dashboard => "Dashboard".to_owned(),
            Route::Scans => "Scans".to_owned(),
            Route::Scan(id) => format!("Scan {id}"),
            Route::Configs => "Configs".to_owned(),
            Route::NewConfig => "New config".to_owned(),
            Route::Config(id) => format!("Config {id}"),
            Route::Import => "Import".to_owned(),
            Route::ApiKeys => "API keys".to_owned(),
            Route::Workers => "Workers".to_owned(),
            Route::Agents => "Agents".to_owned(),
            Route::Settings => "Settings".to_owned(),
            Route::Hosts => "Hosts".to_owned(),
            Route::Host(id) => format!("Host {id}"),
            Route::Certificates => "Certificates".to_owned(),
            Route::Changes => "Changes".to_owned(),
            Route::Schedules => "Schedules".to_owned(),
            Route::Alerts => "Alerts".to_owned(),
            Route::Diff { .. } => "Compare scans".to_owned(),
            Route::NotFound(_) => "Not found".to_owned(),
        };
        format!("{page} · SneakyScanner")
    }

    /// The top-level section a page belongs to (for the navigation's current marker).
    pub fn section(&self) -> Route {
        match self {
            Route::Scan(_) | Route::Diff { .. } => Route::Scans,
            Route::Host(_) => Route::Hosts,
            Route::NewConfig | Route::Config(_) => Route::Configs,
            other => other.clone(),
        }
    }
}

/// True for links the app handles itself: same-origin page paths, not the API, the
/// playground or downloads.
pub fn is_app_link(href: &str) -> bool {
    href.starts_with('/')
        && !href.starts_with("//")
        && !href.starts_with("/api/")
        && !href.starts_with("/graphql")
        && !href.starts_with("/graphiql")
}

/// The current page, shared through context.
#[derive(Clone, Copy)]
pub struct Router(pub RwSignal<Route>);

/// The address bar's path and query string.
fn current_path() -> String {
    let location = window().location();
    let path = location.pathname().unwrap_or_else(|_| "/".to_owned());
    format!("{path}{}", location.search().unwrap_or_default())
}

impl Router {
    /// Reads the address bar, follows Back/Forward and intercepts clicks on app links.
    pub fn install() -> Router {
        let router = Router(RwSignal::new(Route::parse(&current_path())));
        provide_context(router);
        let _ = window_event_listener(leptos::ev::popstate, move |_| {
            router.0.set(Route::parse(&current_path()));
        });
        let _ = window_event_listener(leptos::ev::click, move |ev| {
            if ev.default_prevented()
                || ev.button() != 0
                || ev.ctrl_key()
                || ev.meta_key()
                || ev.shift_key()
                || ev.alt_key()
            {
                return;
            }
            let Some(anchor) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|el| el.closest("a[href]").ok().flatten())
            else {
                return;
            };
            if anchor.has_attribute("download") || anchor.has_attribute("target") {
                return;
            }
            let Some(href) = anchor.get_attribute("href") else {
                return;
            };
            if is_app_link(&href) {
                ev.prevent_default();
                router.go_href(&href);
            }
        });
        router
    }

    /// Shows `route` and records it in the history.
    pub fn go(self, route: Route) {
        self.go_href(&route.href());
    }

    /// Shows the page of an app link and records it as written, its query string too (a
    /// list's `?filter=`, which the page reads).
    pub fn go_href(self, href: &str) {
        if let Ok(history) = window().history() {
            let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(href));
        }
        window().scroll_to_with_x_and_y(0.0, 0.0);
        self.0.set(Route::parse(href));
    }
}

/// The router of the app (panics only if used outside `App`, a programming error).
pub fn use_router() -> Router {
    expect_context::<Router>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_href_round_trip_for_every_page() {
        for route in [
            Route::Dashboard,
            Route::Scans,
            Route::Scan("42".into()),
            Route::Configs,
            Route::NewConfig,
            Route::Config("7".into()),
            Route::Import,
            Route::ApiKeys,
            Route::Workers,
            Route::Agents,
            Route::Settings,
            Route::Hosts,
            Route::Host("3".into()),
            Route::Certificates,
            Route::Changes,
            Route::Schedules,
            Route::Alerts,
            Route::Diff {
                base: None,
                head: None,
            },
            Route::Diff {
                base: Some("1".into()),
                head: Some("2".into()),
            },
            Route::Diff {
                base: None,
                head: Some("2".into()),
            },
        ] {
            assert_eq!(Route::parse(&route.href()), route);
        }
    }

    #[test]
    fn parse_is_not_found_when_path_is_unknown_or_id_is_not_a_number() {
        assert_eq!(Route::parse("/nope"), Route::NotFound("/nope".into()));
        assert_eq!(
            Route::parse("/scans/abc"),
            Route::NotFound("/scans/abc".into())
        );
        assert_eq!(
            Route::parse("/scans/1/2"),
            Route::NotFound("/scans/1/2".into())
        );
        assert_eq!(Route::parse("/scans/?x=1"), Route::Scans);
        assert_eq!(Route::parse("/configs/new"), Route::NewConfig);
    }

    #[test]
    fn app_links_exclude_api_downloads_and_other_origins() {
        assert!(is_app_link("/scans/3"));
        assert!(!is_app_link("/api/scans/3/report.zip"));
        assert!(!is_app_link("/graphiql"));
        assert!(!is_app_link("//evil.example/"));
        assert!(!is_app_link("https://example.com/"));
    }
}

//! `GET /graphiql`: the API playground (GraphiQL), served from this server's own files
//! (`frontend/dist/graphiql`, installed by `make frontend` at pinned versions), each script
//! and stylesheet checked by its Subresource Integrity hash: no CDN, nothing unpinned.

use std::path::Path;

use axum::extract::State;
use axum::response::Html;

use crate::state::AppState;

/// Scripts from this origin only; GraphiQL sets inline styles and data: fonts and icons.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>SneakyScanner API</title>
<link rel="stylesheet" href="/graphiql/graphiql.min.css"
  integrity="sha384-6ZaxvqvxdqMCDsD9wNOq+NxheDM6rTYy4eeE/fZmPonsSKffQ7nV+IQNzLemeuSH">
<script src="/graphiql/react.production.min.js"
  integrity="sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z"></script>
<script src="/graphiql/react-dom.production.min.js"
  integrity="sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1"></script>
<script src="/graphiql/graphiql.min.js"
  integrity="sha384-naAA3pYPARITlxC7GwToGuWsRdWfcCBgwIRLMDY6t7YKpjASnzW27h0gm4PIW06W"></script>
<script src="/graphiql/init.js" defer></script>
</head><body style="margin:0"><div id="graphiql" style="height:100vh"></div></body></html>
"#;

const NOT_INSTALLED: &str = "<!doctype html><html lang=en><head><meta charset=utf-8>\
<title>SneakyScanner API</title></head><body style=\"background:#0f1419;color:#e6e6e6;font-family:sans-serif\">\
<h1>SneakyScanner API</h1><p>The playground's files are not installed: run <code>make frontend</code>. \
The API itself answers at <code>POST /graphql</code>; its schema is <code>schema.graphql</code>.</p></body></html>";

fn installed(frontend_dir: &Path) -> bool {
    frontend_dir.join("graphiql/graphiql.min.js").is_file()
}

pub async fn page(State(state): State<AppState>) -> Html<&'static str> {
    Html(if installed(&state.settings.frontend_dir) {
        PAGE
    } else {
        NOT_INSTALLED
    })
}

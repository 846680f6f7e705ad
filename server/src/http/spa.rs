//! The built frontend (Trunk's `frontend/dist`) with `index.html` for every unknown path, and
//! the Content-Security-Policy that lets exactly that app run.

use std::path::Path;

use axum::Router;
use axum::response::Html;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use tower_http::services::{ServeDir, ServeFile};

/// Base64 SHA-256 hashes of the inline `<script>` blocks of an HTML page (Trunk's loader).
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        rest = &rest[start..];
        let Some(tag_end) = rest.find('>') else { break };
        let tag = &rest[..tag_end];
        let body_start = tag_end + 1;
        let Some(close) = rest[body_start..].find("</script>") else {
            break;
        };
        let body = &rest[body_start..body_start + close];
        if !tag.contains(" src=") && !body.trim().is_empty() {
            hashes.push(format!(
                "'sha256-{}'",
                STANDARD.encode(Sha256::digest(body.as_bytes()))
            ));
        }
        rest = &rest[body_start + close..];
    }
    hashes
}

/// The CSP for the app: same-origin everything, WASM allowed, inline scripts only by hash.
pub fn content_security_policy(frontend_dir: &Path) -> String {
    let hashes = std::fs::read_to_string(frontend_dir.join("index.html"))
        .map(|html| inline_script_hashes(&html))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{}{}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        if hashes.is_empty() { "" } else { " " },
        hashes.join(" ")
    )
}

const NOT_BUILT: &str = "<!doctype html><html lang=en><head><meta charset=utf-8>\
<title>SneakyScanner</title></head><body style=\"background:#0f1419;color:#e6e6e6;font-family:sans-serif\">\
<h1>SneakyScanner</h1><p>The web app is not built. Run <code>make frontend</code> (or <code>make run</code>). \
The GraphQL API is at <a style=\"color:#7cc4ff\" href=\"/graphiql\">/graphiql</a>.</p></body></html>";

/// Static files of the SPA; unknown paths get `index.html` so client-side routes work.
pub fn router(frontend_dir: &Path) -> Router<crate::state::AppState> {
    let index = frontend_dir.join("index.html");
    if index.is_file() {
        Router::new().fallback_service(ServeDir::new(frontend_dir).fallback(ServeFile::new(index)))
    } else {
        tracing::warn!(dir = %frontend_dir.display(), "frontend not built; serving a placeholder page");
        Router::new().fallback(|| async { Html(NOT_BUILT) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_script_hashes_skips_external_scripts() {
        let html = "<script src=\"/a.js\"></script><script type=\"module\">init()</script>";
        let hashes = inline_script_hashes(html);
        assert_eq!(hashes.len(), 1);
        let expected = STANDARD.encode(Sha256::digest(b"init()"));
        assert_eq!(hashes[0], format!("'sha256-{expected}'"));
    }
}

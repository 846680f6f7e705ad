//! The committed contract files stay true: schema.graphql and configs/sneakyscan.toml.

use std::path::PathBuf;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

#[test]
fn schema_graphql_equals_the_exported_schema() {
    let committed = std::fs::read_to_string(repo("schema.graphql")).expect("schema.graphql");
    assert!(
        committed == server::graphql::sdl(),
        "schema.graphql is stale: run `cargo run -p server -- export-schema --out schema.graphql`"
    );
}

#[test]
fn settings_file_documents_the_defaults() {
    let loaded = server::Settings::load(
        Some(&repo("configs/sneakyscan.toml")),
        &server::config::Overrides::default(),
    )
    .expect("configs/sneakyscan.toml loads");
    assert_eq!(loaded, server::Settings::default());
}

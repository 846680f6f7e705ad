//! The layers of `server/src` point one way (README, Layout): a module may use only modules of
//! a lower rank. A `use crate::…` of a higher (or equal, other) layer fails this test.

use std::collections::BTreeMap;
use std::path::Path;

/// Rank of each top-level module: lower ranks are below.
const RANKS: &[(&str, u8)] = &[
    ("error", 0),
    ("config", 0),
    ("db", 0),
    ("telemetry", 1),
    ("domain", 1),
    ("auth", 2),
    ("events", 2),
    ("scanner", 3),
    ("service", 4),
    ("session", 5),
    ("jobs", 5),
    ("graphql", 6),
    ("oneshot", 6),
    ("agent", 6),
    ("state", 7),
    ("http", 8),
    ("cli", 9),
    ("app", 10),
];

fn rank(module: &str) -> Option<u8> {
    RANKS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn modules_use_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("inside src");
        let module = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|m| m.trim_end_matches(".rs").to_owned())
            .expect("module");
        if matches!(module.as_str(), "lib" | "main") {
            continue;
        }
        let own = rank(&module).unwrap_or_else(|| panic!("{module} has no rank in RANKS"));
        let text = std::fs::read_to_string(&file).expect("read file");
        for (at, _) in text.match_indices("crate::") {
            let used: String = text[at + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if used == module {
                continue;
            }
            let Some(theirs) = rank(&used) else { continue };
            if theirs >= own {
                wrong
                    .entry(format!("{} ({module})", rel.display()))
                    .or_default()
                    .push(used);
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "modules that use a layer at or above their own: {wrong:#?}"
    );
}

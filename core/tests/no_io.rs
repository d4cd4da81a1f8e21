//! core does no IO: its sources name none of std's IO, process, environment,
//! thread or time modules, and none of the compile-time environment macros.
//! (The test script also builds core for wasm32-unknown-unknown.)

const MODULES: [&str; 7] = ["fs", "net", "process", "env", "time", "io", "thread"];
const NAMES: [&str; 4] = ["SystemTime", "Instant", "env!", "option_env!"];

/// The identifier-like words of `text`, with `::` and `!` kept inside them.
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '!'))
        .filter(|w| !w.is_empty())
        .collect()
}

/// `env!("OUT_DIR")` names where build.rs wrote the catalog: a compile-time
/// constant, not a run-time read.
fn build_output(text: &str, word: &str) -> bool {
    word == "env!" && text.matches("env!(").count() == text.matches("env!(\"OUT_DIR\")").count()
}

fn violations(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for word in words(text) {
        let path: Vec<&str> = word.split("::").collect();
        if path.len() > 1 && path[0] == "std" && MODULES.contains(&path[1]) {
            found.push(word.to_string());
        }
        if path.iter().any(|segment| NAMES.contains(segment)) && !build_output(text, word) {
            found.push(word.to_string());
        }
    }
    // `use std::{fs, io::Read}`: the modules inside a group import from std.
    for group in text.split("std::{").skip(1) {
        let inside = group.split('}').next().unwrap_or_default();
        for item in inside.split(',') {
            let first = item.trim().split("::").next().unwrap_or_default();
            if MODULES.contains(&first) {
                found.push(format!("std::{{{first}}}"));
            }
        }
    }
    found
}

#[test]
fn the_check_catches_io() {
    assert_eq!(violations("use std::fs::read;"), ["std::fs::read"]);
    assert_eq!(
        violations("use std::{collections::BTreeMap, env};"),
        ["std::{env}"]
    );
    assert_eq!(violations("let t = Instant::now();"), ["Instant::now"]);
    assert_eq!(violations("env!(\"HOME\")"), ["env!"]);
    assert!(violations("include_str!(concat!(env!(\"OUT_DIR\"), \"/x.json\"))").is_empty());
    assert!(
        violations(
            "use core::net::IpAddr; let nets = 1; use std::collections::{BTreeMap, BTreeSet};"
        )
        .is_empty()
    );
}

/// Every `.rs` file below `dir`.
fn sources(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("directory is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn core_sources_use_no_io() {
    let files = sources(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    )));
    // Every module of the crate, so a renamed or moved one is not silently skipped.
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| {
            p.strip_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))
                .ok()
        })
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    for expected in [
        "lib.rs",
        "catalog.rs",
        "decode.rs",
        "deployment.rs",
        "model.rs",
        "render.rs",
        "report.rs",
        "resolve.rs",
        "rules.rs",
        "sources.rs",
        "state.rs",
        "backends/mod.rs",
        "backends/firewalld.rs",
        "backends/iptables.rs",
        "backends/nftables.rs",
        "backends/ufw.rs",
    ] {
        assert!(
            names.iter().any(|n| n.trim_start_matches('/') == expected),
            "{expected} not scanned: {names:?}"
        );
    }
    for path in files {
        let text = std::fs::read_to_string(&path).expect("source is readable");
        assert_eq!(
            violations(&text),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
    }
}

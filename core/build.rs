//! Packs the catalog files into OUT_DIR/catalog.deflate: they are reviewed
//! pretty-printed, one file per profile, but every byte of them ships inside
//! the WebAssembly plugins. Minified, as one JSON array in catalog order, and
//! compressed with raw DEFLATE, ~48 KB of JSON becomes ~7 KB; core inflates
//! it once per process (`catalog.rs`).

use std::path::Path;

/// The catalog order (`portplan catalog`, the WIT's `catalog`): one file
/// `core/catalog/<name>.json` each.
const PROFILES: [&str; 5] = [
    "finedatalink-single",
    "finedatalink-cluster",
    "fineops",
    "ocp",
    "ocp-ce",
];

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    println!("cargo::rerun-if-changed=catalog");
    let mut profiles = Vec::new();
    for name in PROFILES {
        let path = Path::new("catalog").join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path).expect("catalog file is readable");
        let value: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        profiles.push(value);
    }
    let listed = std::fs::read_dir("catalog")
        .expect("core/catalog is readable")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
        .count();
    assert_eq!(
        listed,
        PROFILES.len(),
        "every core/catalog/*.json is in build.rs's PROFILES"
    );
    let minified = serde_json::Value::Array(profiles).to_string();
    let packed = miniz_oxide::deflate::compress_to_vec(minified.as_bytes(), 10);
    std::fs::write(Path::new(&out).join("catalog.deflate"), packed).expect("OUT_DIR is writable");
}

//! Minifies the catalog files into OUT_DIR: they are reviewed pretty-printed,
//! but every byte of them ships inside the WebAssembly plugins.

use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    println!("cargo::rerun-if-changed=catalog");
    for entry in std::fs::read_dir("catalog").expect("core/catalog is readable") {
        let path = entry.expect("catalog entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("catalog file is readable");
        let value: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        let name = path.file_name().expect("file name");
        std::fs::write(Path::new(&out).join(name), value.to_string()).expect("OUT_DIR is writable");
    }
}

//! The built-in catalog: one reviewed JSON file per profile under `core/catalog/`,
//! compiled into the binary (minified by build.rs) so the core reads no files.

use std::sync::OnceLock;

use crate::model::{PlanError, Profile};

/// The minified copy build.rs wrote of `core/catalog/$name`.
macro_rules! catalog_file {
    ($name:literal) => {
        ($name, include_str!(concat!(env!("OUT_DIR"), "/", $name)))
    };
}

/// `(file name, contents)` of every built-in profile, in catalog order.
const SOURCES: [(&str, &str); 5] = [
    catalog_file!("finedatalink-single.json"),
    catalog_file!("finedatalink-cluster.json"),
    catalog_file!("fineops.json"),
    catalog_file!("ocp.json"),
    catalog_file!("ocp-ce.json"),
];

/// Every built-in profile, in catalog order, parsed once per process.
///
/// The files are checked by this crate's tests (a parse failure is a build
/// defect, not an input error), and `catalog_parses` in them pins that.
pub(crate) fn profiles() -> &'static [Profile] {
    static PARSED: OnceLock<Vec<Profile>> = OnceLock::new();
    PARSED.get_or_init(|| {
        SOURCES
            .iter()
            .filter_map(|(_, text)| {
                // The same strict parser as for plans: one deserializer in the binary.
                crate::decode::parse_json(text).ok()
            })
            .collect()
    })
}

/// One built-in profile by name.
pub(crate) fn profile(name: &str) -> Result<Profile, PlanError> {
    let all = profiles();
    let known = names(all);
    all.iter().find(|p| p.name == name).cloned().ok_or_else(|| {
        PlanError::single(
            "name",
            name,
            format!("unknown profile; known profiles: {known}"),
        )
    })
}

/// The names of `profiles`, comma-separated, for error messages.
pub(crate) fn names(profiles: &[Profile]) -> String {
    profiles
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

//! The built-in catalog: one reviewed JSON file per profile under `core/catalog/`,
//! compiled into the binary (minified by build.rs) so the core reads no files.

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

/// Every built-in profile, in catalog order.
///
/// The files are checked by this crate's tests, so a parse failure here is a
/// build defect, not an input error.
pub fn profiles() -> Vec<Profile> {
    SOURCES
        .iter()
        .map(|(file, text)| {
            // The same strict parser as for plans: one deserializer in the binary.
            crate::parse_json(text)
                .unwrap_or_else(|e| panic!("built-in catalog file {file} is invalid: {e}"))
        })
        .collect()
}

/// One built-in profile by name.
pub fn profile(name: &str) -> Result<Profile, PlanError> {
    let all = profiles();
    let known = names(&all);
    all.into_iter().find(|p| p.name == name).ok_or_else(|| {
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

//! The built-in catalog: one reviewed JSON file per profile under `core/catalog/`,
//! compiled into the binary so the core reads no files.

use crate::model::{PlanError, Profile};

/// `(file name, contents)` of every built-in profile, in catalog order.
const SOURCES: [(&str, &str); 5] = [
    (
        "finedatalink-single.json",
        include_str!("../catalog/finedatalink-single.json"),
    ),
    (
        "finedatalink-cluster.json",
        include_str!("../catalog/finedatalink-cluster.json"),
    ),
    ("fineops.json", include_str!("../catalog/fineops.json")),
    ("ocp.json", include_str!("../catalog/ocp.json")),
    ("ocp-ce.json", include_str!("../catalog/ocp-ce.json")),
];

/// Every built-in profile, in catalog order.
///
/// The files are checked by this crate's tests, so a parse failure here is a
/// build defect, not an input error.
pub fn profiles() -> Vec<Profile> {
    SOURCES
        .iter()
        .map(|(file, text)| {
            serde_json::from_str(text)
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

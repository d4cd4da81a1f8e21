//! The built-in catalog: one reviewed JSON file per profile under `core/catalog/`,
//! compiled into the binary so the core reads no files: build.rs packs them,
//! minified and DEFLATE-compressed (a seventh of the JSON's size in every
//! plugin), and they are inflated and parsed once per process.

use std::sync::OnceLock;

use crate::list::List;
use crate::model::{PlanError, Profile};

/// Every profile's JSON, as one array in catalog order, raw DEFLATE (build.rs).
const PACKED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/catalog.deflate"));

/// Every built-in profile, in catalog order, parsed once per process.
///
/// The files are checked by this crate's tests (an inflate or parse failure
/// is a build defect, not an input error: the catalog is then empty), and
/// `catalog_parses` in them pins that.
pub(crate) fn profiles() -> &'static [Profile] {
    static PARSED: OnceLock<Vec<Profile>> = OnceLock::new();
    PARSED.get_or_init(|| {
        crate::inflate::inflate(PACKED)
            .and_then(|json| String::from_utf8(json).ok())
            // The same strict parser as for plans: one deserializer in the binary.
            .and_then(|text| crate::decode::parse_json(&text).ok())
            .unwrap_or_default()
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
    profiles.iter().map(|p| p.name.as_str()).list().join(", ")
}

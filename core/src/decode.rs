//! Decoding: JSON text to any contract type, strictly, with the JSON path
//! and the value of the first problem. The one way every artifact reads input.

use serde::de::DeserializeOwned;

use crate::model::PlanError;

/// Longest excerpt of an offending value quoted in a problem.
const VALUE_EXCERPT: usize = 80;

/// Parse any contract type from JSON text, strictly, with the path and value
/// of the first problem: the one way every artifact reads its input.
pub fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T, PlanError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return PlanError::single(".", "", format!("not valid JSON: {inner}"));
        }
        // The text is valid JSON, so the value at the path can be quoted.
        let value = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|root| value_at(&root, &path).map(excerpt))
            .unwrap_or_default();
        PlanError::single(path, value, strip_position(&inner.to_string()))
    })?;
    de.end()
        .map_err(|e| PlanError::single(".", "", format!("not valid JSON: {e}")))?;
    Ok(value)
}

/// serde_json appends " at line L column C"; the path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// The value at a serde_path_to_error path such as `hosts[0].address`.
fn value_at<'v>(root: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    if path == "." {
        return Some(root);
    }
    let mut node = root;
    for segment in path.split('.') {
        let (key, indices) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !key.is_empty() {
            node = node.get(key)?;
        }
        for index in indices.split(['[', ']']).filter(|s| !s.is_empty()) {
            node = node.get(index.parse::<usize>().ok()?)?;
        }
    }
    Some(node)
}

fn excerpt(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= VALUE_EXCERPT {
        return text;
    }
    let mut cut: String = text.chars().take(VALUE_EXCERPT).collect();
    cut.push_str("...");
    cut
}

//! Decoding: JSON text to any contract type, strictly, with the JSON path
//! and the value of the first problem. The one way every artifact reads input.
//!
//! Also the one way input is echoed back: [`quote`] escapes and caps every
//! plan value a problem quotes, and [`escape`] makes text safe for a terminal.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::model::PlanError;

/// Most characters of a plan value a problem quotes; longer ones are cut and
/// end in `...`. An escape such as `\u{1b}` counts as its written length and
/// is never cut in half.
pub(crate) const VALUE_LIMIT: usize = 200;

/// Most characters of a decoder's message (which may quote several values).
const MESSAGE_LIMIT: usize = 4 * VALUE_LIMIT;

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
        let value = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|root| value_at(&root, &path).map(excerpt))
            .unwrap_or_default();
        // serde's messages quote the offending value or key (`unknown field
        // `...``, `invalid type: string "..."`): capped like the value.
        PlanError::single(
            quote(&path),
            value,
            message(&strip_position(&inner.to_string())),
        )
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
fn value_at<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
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

/// Whether `c` is written as an escape wherever text is echoed: control
/// characters (C0, DEL, C1: NUL, ESC, tab, newline, ...), the bidirectional
/// controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and the
/// line and paragraph separators U+2028, U+2029. They could hide or reorder
/// what a terminal, a log or a spreadsheet shows.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// `text` with every [`is_hidden`] character written Rust style as
/// `\u{hex}` (NUL is `\u{0}`, ESC `\u{1b}`, U+202E `\u{202e}`); everything
/// else, backslashes included, as is. Applying it twice changes nothing.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    if is_hidden(c) {
        out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
    } else {
        out.push(c);
    }
}

/// A plan value as a problem quotes it: [`escape`]d, and at most
/// [`VALUE_LIMIT`] characters, then `...` when it was longer.
pub fn quote(text: &str) -> String {
    let mut out = Capped::new(VALUE_LIMIT);
    for c in text.chars() {
        if !out.char(c) {
            break;
        }
    }
    out.finish()
}

/// A decoder's message: each stretch between quote marks (a quoted value or
/// key) capped like a value, and the whole at [`MESSAGE_LIMIT`].
fn message(text: &str) -> String {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['`', '"']) {
        pieces.push(quote(&rest[..at]));
        pieces.push(rest[at..=at].to_string());
        rest = &rest[at + 1..];
    }
    pieces.push(quote(rest));
    let mut out = Capped::new(MESSAGE_LIMIT);
    for piece in &pieces {
        if !out.unit(piece) {
            break;
        }
    }
    out.finish()
}

/// An offending value as a problem quotes it: its JSON text, with strings
/// [`escape`]d rather than JSON-escaped, capped like [`quote`].
fn excerpt(value: &Value) -> String {
    let mut out = Capped::new(VALUE_LIMIT);
    write_value(&mut out, value);
    out.finish()
}

/// Compact JSON text, as `serde_json` writes it, into `out` until it is full.
fn write_value(out: &mut Capped, value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => out.unit(&value.to_string()),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.unit("[")
                && items
                    .iter()
                    .enumerate()
                    .all(|(i, item)| (i == 0 || out.unit(",")) && write_value(out, item))
                && out.unit("]")
        }
        Value::Object(map) => {
            out.unit("{")
                && map.iter().enumerate().all(|(i, (key, item))| {
                    (i == 0 || out.unit(","))
                        && write_string(out, key)
                        && out.unit(":")
                        && write_value(out, item)
                })
                && out.unit("}")
        }
    }
}

fn write_string(out: &mut Capped, text: &str) -> bool {
    out.unit("\"")
        && text.chars().all(|c| match c {
            '"' => out.unit("\\\""),
            '\\' => out.unit("\\\\"),
            c => out.char(c),
        })
        && out.unit("\"")
}

/// Text built from units (a character, or an escape) that stops before the
/// first unit that would take it past its limit.
struct Capped {
    text: String,
    chars: usize,
    limit: usize,
    cut: bool,
}

impl Capped {
    fn new(limit: usize) -> Self {
        Capped {
            text: String::new(),
            chars: 0,
            limit,
            cut: false,
        }
    }

    /// Appends `unit` whole if it fits; false once full.
    fn unit(&mut self, unit: &str) -> bool {
        let count = unit.chars().count();
        if self.cut || self.chars + count > self.limit {
            self.cut = true;
            return false;
        }
        self.text.push_str(unit);
        self.chars += count;
        true
    }

    /// Appends `c`, escaped when hidden; false once full.
    fn char(&mut self, c: char) -> bool {
        if is_hidden(c) {
            let mut escaped = String::new();
            push_escaped(&mut escaped, c);
            self.unit(&escaped)
        } else {
            let mut buf = [0; 4];
            self.unit(c.encode_utf8(&mut buf))
        }
    }

    fn finish(mut self) -> String {
        if self.cut {
            self.text.push_str("...");
        }
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_hidden_characters_and_caps() {
        assert_eq!(
            quote("a\u{0}b\u{1b}c\u{202e}d\\u"),
            "a\\u{0}b\\u{1b}c\\u{202e}d\\u"
        );
        assert_eq!(
            escape(&escape("x\u{7f}\u{85}\u{2066}")),
            "x\\u{7f}\\u{85}\\u{2066}"
        );
        let long = quote(&"x".repeat(10_000));
        assert_eq!(long.len(), VALUE_LIMIT + 3);
        assert!(long.ends_with("..."));
        // An escape is never cut in half.
        let nuls = quote(&"\u{0}".repeat(100));
        assert!(nuls.ends_with("\\u{0}..."), "{nuls}");
        assert!(nuls.chars().count() <= VALUE_LIMIT + 3);
        assert_eq!(quote("ok"), "ok");
    }

    #[test]
    fn excerpt_is_compact_json_with_escaped_strings() {
        let value: Value =
            serde_json::from_str(r#"{"a":[1,true,null,"q\"\\\n"],"b":"\u202e"}"#).expect("json");
        assert_eq!(
            excerpt(&value),
            r#"{"a":[1,true,null,"q\"\\\u{a}"],"b":"\u{202e}"}"#
        );
        let clean: Value = serde_json::from_str(r#"{"a":[1,"x y"]}"#).expect("json");
        assert_eq!(excerpt(&clean), clean.to_string());
    }

    #[test]
    fn message_caps_each_quoted_stretch() {
        let key = "k".repeat(5000);
        let text = format!("unknown field `{key}`, expected one of `name`, `address`");
        let out = message(&text);
        assert!(
            out.ends_with("...`, expected one of `name`, `address`"),
            "{out}"
        );
        assert!(out.chars().count() < 300);
        let ticks = "`".repeat(10_000);
        assert!(message(&ticks).chars().count() <= MESSAGE_LIMIT + 3);
    }
}

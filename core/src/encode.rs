//! Encoding: contract values as JSON text, byte for byte as serde_json's
//! compact and pretty writers write them (`to_string`, `to_string_pretty`),
//! through one writer whose form is chosen at run time.
//!
//! Why not serde_json's writer: it is generic in its formatter and serde's
//! derived `Serialize` in its serializer, so the plugins carried each output
//! type's code twice (compact for their answers, pretty for `render-report`'s
//! and `render-plan-error`'s JSON), with each field's writing inlined into
//! its record (issue 16). Here `#[derive(Encode)]` (portplan-derive) writes a
//! call per field, and what does not depend on the type (separators,
//! indentation, escapes, numbers) is [`Out`]'s, one copy. serde's derives
//! stay on the types for native shells that embed them in their own JSON;
//! core/tests/properties.rs holds the two writers to the same bytes on
//! arbitrary records of every output type, hostile strings included.

use std::sync::Arc;

/// A contract type written as JSON: `#[derive(Encode)]` writes it from the
/// type's own serde attributes.
pub trait Encode {
    /// Writes this value at `out`'s current place.
    fn encode(&self, out: &mut Out);
}

/// `value` as compact JSON, as `serde_json::to_string` writes it.
pub fn compact<T: Encode + ?Sized>(value: &T) -> String {
    write(value, false)
}

/// `value` as pretty JSON (two-space indents), as
/// `serde_json::to_string_pretty` writes it.
pub fn pretty<T: Encode + ?Sized>(value: &T) -> String {
    write(value, true)
}

fn write<T: Encode + ?Sized>(value: &T, pretty: bool) -> String {
    let mut out = Out {
        text: String::new(),
        pretty,
        depth: 0,
        empty: false,
    };
    value.encode(&mut out);
    out.text
}

/// The text written so far, and where in it the writer is.
pub struct Out {
    text: String,
    pretty: bool,
    /// Open arrays and objects.
    depth: usize,
    /// Whether the innermost open array or object has nothing in it yet.
    empty: bool,
}

impl Out {
    /// Opens an object (`{`).
    pub fn begin_object(&mut self) {
        self.begin('{');
    }

    /// Closes the innermost object.
    pub fn end_object(&mut self) {
        self.end('}');
    }

    /// Starts an object member: its key, then its value is written.
    pub fn key(&mut self, key: &str) {
        self.next();
        self.string(key);
        self.text.push_str(if self.pretty { ": " } else { ":" });
    }

    /// A string, escaped as serde_json escapes it: `"` and `\`, and every
    /// control character below U+0020 (`\b`, `\t`, `\n`, `\f`, `\r`, or
    /// `\u00xx` in lower-case hex); nothing else.
    pub fn string(&mut self, text: &str) {
        self.text.push('"');
        let mut rest = text;
        // By bytes: every byte to escape is ASCII, never inside a multi-byte
        // character, so the runs between them are whole text.
        while let Some(at) = rest
            .bytes()
            .position(|b| b < b' ' || b == b'"' || b == b'\\')
        {
            self.text.push_str(&rest[..at]);
            let byte = rest.as_bytes()[at];
            match byte {
                b'"' => self.text.push_str("\\\""),
                b'\\' => self.text.push_str("\\\\"),
                0x08 => self.text.push_str("\\b"),
                b'\t' => self.text.push_str("\\t"),
                b'\n' => self.text.push_str("\\n"),
                0x0c => self.text.push_str("\\f"),
                b'\r' => self.text.push_str("\\r"),
                _ => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.text.push_str("\\u00");
                    self.text.push(char::from(HEX[usize::from(byte >> 4)]));
                    self.text.push(char::from(HEX[usize::from(byte & 0xf)]));
                }
            }
            rest = &rest[at + 1..];
        }
        self.text.push_str(rest);
        self.text.push('"');
    }

    /// An enum's one-field variant: an object of one member, as serde_json
    /// writes a newtype variant.
    pub fn variant<T: Encode + ?Sized>(&mut self, name: &str, payload: &T) {
        self.begin_object();
        self.key(name);
        payload.encode(self);
        self.end_object();
    }

    fn number(&mut self, n: u64) {
        self.text.push_str(itoa::Buffer::new().format(n));
    }

    fn begin(&mut self, open: char) {
        self.depth += 1;
        self.empty = true;
        self.text.push(open);
    }

    /// Pretty JSON puts a non-empty container's end on its own line.
    fn end(&mut self, close: char) {
        self.depth = self.depth.saturating_sub(1);
        if self.pretty && !self.empty {
            self.newline();
        }
        self.text.push(close);
        // The container just closed is a value of its parent's.
        self.empty = false;
    }

    /// Before an element or a member: the comma after the one before, and
    /// in pretty JSON a new line at the depth.
    fn next(&mut self) {
        if !self.empty {
            self.text.push(',');
        }
        if self.pretty {
            self.newline();
        }
        self.empty = false;
    }

    fn newline(&mut self) {
        self.text.push('\n');
        for _ in 0..self.depth {
            self.text.push_str("  ");
        }
    }

    fn items<T: Encode>(&mut self, items: &[T]) {
        self.begin('[');
        for item in items {
            self.next();
            item.encode(self);
        }
        self.end(']');
    }
}

impl Encode for str {
    fn encode(&self, out: &mut Out) {
        out.string(self);
    }
}

impl Encode for String {
    fn encode(&self, out: &mut Out) {
        out.string(self);
    }
}

impl Encode for bool {
    fn encode(&self, out: &mut Out) {
        out.text.push_str(if *self { "true" } else { "false" });
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode(&self, out: &mut Out) {
                out.number(u64::from(*self));
            }
        }
    )*};
}

unsigned!(u8, u16, u32, u64);

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, out: &mut Out) {
        match self {
            Some(value) => value.encode(out),
            None => out.text.push_str("null"),
        }
    }
}

impl<T: Encode> Encode for [T] {
    fn encode(&self, out: &mut Out) {
        out.items(self);
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, out: &mut Out) {
        out.items(self);
    }
}

impl<T: Encode> Encode for Arc<[T]> {
    fn encode(&self, out: &mut Out) {
        out.items(self);
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode(&self, out: &mut Out) {
        (**self).encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer against serde_json on nested and empty containers and
    /// every escape, both forms.
    #[test]
    fn it_writes_what_serde_json_writes() {
        fn same<T: Encode + serde::Serialize + ?Sized>(value: &T) {
            let serde = serde_json::to_string(value).expect("json");
            assert_eq!(compact(value), serde);
            let serde = serde_json::to_string_pretty(value).expect("json");
            assert_eq!(pretty(value), serde);
        }
        let text: String = (0u8..0x80)
            .map(char::from)
            .chain("é\u{2028}".chars())
            .collect();
        same(&vec![
            vec![],
            vec![None],
            vec![Some(text), None, Some(String::new())],
        ]);
        same(&vec![0u64, 7, u64::MAX]);
        same(&[true, false][..]);
    }
}

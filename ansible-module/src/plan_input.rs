//! Plan files as JSON or YAML.
//!
//! **Which one.** A `.yaml` or `.yml` file is YAML and a `.json` file JSON;
//! anything else (standard input, other names) is JSON when its first
//! non-blank character opens an object or an array, or it is blank, and YAML
//! otherwise. The name decides first so that a `.json` file with a typo keeps
//! serde_json's exact message (a YAML parser would report the same typo
//! differently: YAML's flow style is nearly a superset of JSON), and a YAML
//! file written in flow style (`{name: x, ...}`) is still read as YAML.
//!
//! **YAML reads as its JSON twin.** The YAML is turned into a
//! `serde_json::Value` (keys in file order: the workspace's serde_json keeps
//! order) and that value's JSON goes through core's strict parser, so every
//! problem, path and quoted value is exactly what the JSON twin gives, and a
//! plan that parses gives the same [`Plan`], hence byte-identical reports.
//! Each problem's path is then mapped back to the YAML line of that node (of
//! its key for a mapping entry, of its closest ancestor for a missing field)
//! and the message ends in `(line N)`: `hosts[1].address: not an IPv4 or
//! IPv6 address (line 7) (value: x)`.
//!
//! **The crate: saphyr-parser.** A pure-Rust YAML 1.2 parser (it passes the
//! YAML test suite) whose events carry a span with line and column; it has no
//! `unsafe` and two small dependencies. It is the actively developed branch of
//! the yaml-rust family: yaml-rust is unmaintained and yaml-rust2's README
//! says it gets basic maintenance only, with new work going to saphyr;
//! serde_yaml is archived (deprecated) and wraps the C libyaml through
//! unsafe-libyaml, which implements YAML 1.1 (`yes` is a bool there). Reading
//! events rather than a loaded document lets this module decide what the
//! loaders leave open: duplicate keys are an error naming both lines, nesting
//! is bounded, aliases are expanded with a bound, custom tags are refused.
//!
//! **Semantics.** YAML 1.2's core schema: `null`, `~` and empty are null;
//! only `true`/`false` (any of three casings) are booleans, so `yes`, `on`,
//! `no` are strings; decimal, `0o` octal and `0x` hex integers; decimals and
//! exponents are floats; `.inf` and `.nan` have no JSON form and are refused.
//! Quoted and block scalars are strings. Tags: `!!str`, `!!int`, `!!float`,
//! `!!bool`, `!!null`, `!!seq`, `!!map` and the non-specific `!`; any other
//! (`!vault`, `!foo`) is refused. Merge keys (`<<`) are YAML 1.1 and refused.
//! One document per file.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use portplan_core::{Plan, PlanError};
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};
use serde_json::{Map, Number, Value};

/// Most levels of nested mappings and sequences in a YAML plan (a plan needs
/// six or so); deeper input is refused before it is built.
pub const MAX_DEPTH: usize = 64;

/// Most values a YAML plan may hold once its aliases are expanded: a bound
/// on "billion laughs" documents whose aliases of aliases grow exponentially.
pub const MAX_NODES: usize = 1_000_000;

/// The plan in `text`, JSON or YAML (see the module docs for which);
/// `path_label` is the file's name as given (`-` for standard input). A YAML
/// plan's problems carry the line of their path.
pub fn read_plan_text(path_label: &str, text: &str) -> Result<Plan, PlanError> {
    if !is_yaml(path_label, text) {
        return portplan_core::parse_plan(text);
    }
    let doc = Doc::load(text)?;
    portplan_core::shell::parse_json(&doc.value.to_string()).map_err(|e| doc.annotate(e))
}

/// A YAML plan as its JSON twin's value, for a caller that adds to it before
/// core parses it (the module adds the hosts the action plugin built from the
/// inventory); [`with_lines`] then gives its problems their lines.
pub fn yaml_value(text: &str) -> Result<Value, PlanError> {
    Doc::load(text).map(|doc| doc.value)
}

/// `error` (e.g. from `validate_plan` over a plan [`read_plan_text`] read)
/// with each problem's YAML line ([`locate`]) added, when `text` is YAML; as
/// it is for JSON. The text is parsed once, however many problems there are.
pub fn with_lines(path_label: &str, text: &str, error: PlanError) -> PlanError {
    if !is_yaml(path_label, text) {
        return error;
    }
    match Doc::load(text) {
        Ok(doc) => doc.annotate(error),
        Err(_) => error,
    }
}

/// The line (1-based) of the node at a problem path such as
/// `hosts[1].address` in YAML text: of the key for a mapping entry, of the
/// item for a sequence item, and of the closest ancestor written in the text
/// for a path it lacks (a missing field). `None` for the whole plan (`.`) or
/// text that is not valid YAML. For one path; [`with_lines`] does a whole
/// error with one parse.
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "the CLI annotates whole errors with with_lines")
)]
pub fn locate(yaml_text: &str, path: &str) -> Option<usize> {
    Doc::load(yaml_text).ok()?.line(path)
}

/// Whether a plan file is YAML: by its name, else by its first character.
fn is_yaml(path_label: &str, text: &str) -> bool {
    let extension = Path::new(path_label)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("yaml" | "yml") => true,
        Some("json") => false,
        _ => !matches!(text.trim_start().chars().next(), None | Some('{' | '[')),
    }
}

/// A YAML plan as JSON, with the line of every path written in it.
struct Doc {
    value: Value,
    lines: HashMap<String, usize>,
}

impl Doc {
    fn load(text: &str) -> Result<Doc, PlanError> {
        let mut loader = Loader::default();
        for event in Parser::new_from_str(text) {
            let (event, span) = event.map_err(|e| syntax(&e))?;
            loader.event(event, span.start.line())?;
        }
        match loader.root {
            Some(value) => Ok(Doc {
                value,
                lines: loader.lines,
            }),
            None => Err(PlanError::single(
                ".",
                "",
                "not valid YAML: the file holds no document",
            )),
        }
    }

    fn line(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if path.is_empty() || path == "." {
                return None;
            }
            if let Some(line) = self.lines.get(path) {
                return Some(*line);
            }
            path = &path[..path.rfind(['.', '['])?];
        }
    }

    fn annotate(&self, mut error: PlanError) -> PlanError {
        for problem in &mut error.problems {
            if let Some(line) = self.line(&problem.path) {
                let _ = write!(problem.message, " (line {line})");
            }
        }
        error
    }
}

/// A YAML syntax error, where serde_json would say it: `at line L column C`.
fn syntax(error: &ScanError) -> PlanError {
    let mark = error.marker();
    PlanError::single(
        ".",
        "",
        format!(
            "not valid YAML: {} at line {} column {}",
            error.info(),
            mark.line(),
            mark.col() + 1
        ),
    )
}

/// A problem at `path` (`""` is the whole plan) on `line`.
fn problem(path: &str, value: &str, message: &str, line: usize) -> PlanError {
    PlanError::single(
        if path.is_empty() { "." } else { path },
        portplan_core::shell::quote(value),
        format!("{message} (line {line})"),
    )
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// An open mapping or sequence.
struct Frame {
    path: String,
    line: usize,
    anchor: usize,
    node: Node,
}

enum Node {
    Seq(Vec<Value>),
    Map {
        map: Map<String, Value>,
        /// Each key's line, for duplicates.
        keys: HashMap<String, usize>,
        /// The key whose value comes next; `None` while a key is expected.
        key: Option<String>,
    },
}

/// Builds the JSON value from the parser's events, without recursion.
#[derive(Default)]
struct Loader {
    stack: Vec<Frame>,
    root: Option<Value>,
    lines: HashMap<String, usize>,
    /// Anchored values by anchor id, with their depth and size.
    anchors: HashMap<usize, (Value, usize, usize)>,
    nodes: usize,
    documents: usize,
}

impl Loader {
    /// Whether the next scalar is a mapping key.
    fn expects_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame {
                node: Node::Map { key: None, .. },
                ..
            })
        )
    }

    /// The path of the next value.
    fn next_path(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(frame) => match &frame.node {
                Node::Seq(items) => format!("{}[{}]", frame.path, items.len()),
                Node::Map { key: Some(key), .. } => join(&frame.path, key),
                Node::Map { key: None, .. } => frame.path.clone(),
            },
        }
    }

    fn count(&mut self, nodes: usize, path: &str, line: usize) -> Result<(), PlanError> {
        self.nodes += nodes;
        if self.nodes > MAX_NODES {
            return Err(problem(
                path,
                "",
                &format!(
                    "the plan holds more than {MAX_NODES} values once its aliases are expanded"
                ),
                line,
            ));
        }
        Ok(())
    }

    fn event(&mut self, event: Event<'_>, line: usize) -> Result<(), PlanError> {
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(problem(
                        "",
                        "",
                        "a plan file holds one YAML document; another one starts here",
                        line,
                    ));
                }
            }
            Event::Alias(id) => {
                let path = self.next_path();
                if self.expects_key() {
                    return Err(problem(&path, "", "an alias cannot be a key", line));
                }
                let Some(&(_, depth, nodes)) = self.anchors.get(&id) else {
                    return Err(problem(&path, "", "an alias of an unknown anchor", line));
                };
                if self.stack.len() + depth > MAX_DEPTH {
                    return Err(depth_problem(&path, line));
                }
                // Counted before it is copied: the bound holds the memory too.
                self.count(nodes, &path, line)?;
                if let Some((value, _, _)) = self.anchors.get(&id) {
                    let value = value.clone();
                    self.value(value, line);
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                if self.expects_key() {
                    return self.key(text.into_owned(), style, anchor, line);
                }
                let path = self.next_path();
                let value = scalar(&text, style, tag.as_deref())
                    .map_err(|message| problem(&path, &text, &message, line))?;
                self.count(1, &path, line)?;
                if anchor > 0 {
                    self.anchors.insert(anchor, (value.clone(), 0, 1));
                }
                self.value(value, line);
            }
            Event::SequenceStart(anchor, tag) => {
                self.open(Node::Seq(Vec::new()), anchor, tag.as_deref(), line)?;
            }
            Event::MappingStart(anchor, tag) => {
                let node = Node::Map {
                    map: Map::new(),
                    keys: HashMap::new(),
                    key: None,
                };
                self.open(node, anchor, tag.as_deref(), line)?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    let value = match frame.node {
                        Node::Seq(items) => Value::Array(items),
                        Node::Map { map, .. } => Value::Object(map),
                    };
                    if frame.anchor > 0 {
                        let (levels, values) = (depth(&value), size(&value));
                        self.anchors
                            .insert(frame.anchor, (value.clone(), levels, values));
                    }
                    self.value(value, frame.line);
                }
            }
        }
        Ok(())
    }

    /// A mapping or sequence starts.
    fn open(
        &mut self,
        node: Node,
        anchor: usize,
        tag: Option<&Tag>,
        line: usize,
    ) -> Result<(), PlanError> {
        let path = self.next_path();
        if self.expects_key() {
            return Err(problem(
                &path,
                "",
                "a key must be a scalar (a string)",
                line,
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(depth_problem(&path, line));
        }
        let kind = match node {
            Node::Seq(_) => "seq",
            Node::Map { .. } => "map",
        };
        if let Some(tag) = tag
            && !(is_non_specific(tag) || tag.is_yaml_core_schema() && tag.suffix == kind)
        {
            return Err(problem(&path, "", &unsupported(tag), line));
        }
        self.count(1, &path, line)?;
        self.stack.push(Frame {
            path,
            line,
            anchor,
            node,
        });
        Ok(())
    }

    /// A mapping key: a string, written once per mapping.
    fn key(
        &mut self,
        key: String,
        style: ScalarStyle,
        anchor: usize,
        line: usize,
    ) -> Result<(), PlanError> {
        let Some(Frame {
            path,
            node: Node::Map {
                keys, key: next, ..
            },
            ..
        }) = self.stack.last_mut()
        else {
            return Ok(());
        };
        let at = join(path, &key);
        if style == ScalarStyle::Plain && key == "<<" {
            return Err(problem(
                &at,
                "",
                "merge keys (<<) are YAML 1.1, not 1.2; write the entries out",
                line,
            ));
        }
        if let Some(first) = keys.get(&key) {
            return Err(problem(
                &at,
                &key,
                &format!("duplicate key; line {first} has it already"),
                line,
            ));
        }
        keys.insert(key.clone(), line);
        if anchor > 0 {
            self.anchors
                .insert(anchor, (Value::String(key.clone()), 0, 1));
        }
        self.lines.insert(at, line);
        *next = Some(key);
        Ok(())
    }

    /// A finished value: the root, the next item or the pending key's value.
    fn value(&mut self, value: Value, line: usize) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(frame) => match &mut frame.node {
                Node::Seq(items) => {
                    self.lines
                        .insert(format!("{}[{}]", frame.path, items.len()), line);
                    items.push(value);
                }
                Node::Map { map, key, .. } => {
                    if let Some(key) = key.take() {
                        map.insert(key, value);
                    }
                }
            },
        }
    }
}

fn depth_problem(path: &str, line: usize) -> PlanError {
    problem(
        path,
        "",
        &format!("nested more than {MAX_DEPTH} levels deep"),
        line,
    )
}

/// How many levels of mappings and sequences `value` nests (0 for a scalar).
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// How many values `value` holds, itself included.
fn size(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(size).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(size).sum::<usize>(),
        _ => 1,
    }
}

/// The tag `!`: "not resolved by the schema", a string for a scalar (the
/// parser gives it as an empty handle and the suffix `!`).
fn is_non_specific(tag: &Tag) -> bool {
    tag.handle.is_empty() && tag.suffix == "!"
}

fn unsupported(tag: &Tag) -> String {
    let shown = if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else {
        tag.to_string()
    };
    format!(
        "tag `{shown}` is not supported here; a plan uses YAML 1.2's core schema \
         (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!seq`, `!!map`)"
    )
}

/// A scalar as YAML 1.2's core schema resolves it; quoted and block scalars
/// and the `!` tag are strings.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    let string = || Value::String(text.to_string());
    let Some(tag) = tag else {
        return if style == ScalarStyle::Plain {
            plain(text)
        } else {
            Ok(string())
        };
    };
    if is_non_specific(tag) {
        return Ok(string());
    }
    if !tag.is_yaml_core_schema() {
        return Err(unsupported(tag));
    }
    let not = |what: &str| format!("not {what} (tag `!!{}`)", tag.suffix);
    match tag.suffix.as_str() {
        "str" => Ok(string()),
        "null" if is_null(text) => Ok(Value::Null),
        "null" => Err(not("a null")),
        "bool" => boolean(text)
            .map(Value::Bool)
            .ok_or_else(|| not("a boolean")),
        "int" => integer(text).ok_or_else(|| not("an integer"))?,
        "float" => match float(text).or_else(|| integer(text)) {
            Some(Ok(Value::Number(n))) => n
                .as_f64()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| not("a number")),
            Some(Err(message)) => Err(message),
            _ => Err(not("a number")),
        },
        _ => Err(unsupported(tag)),
    }
}

/// A plain scalar: null, boolean, integer, float or string.
fn plain(text: &str) -> Result<Value, String> {
    if is_null(text) {
        return Ok(Value::Null);
    }
    if let Some(b) = boolean(text) {
        return Ok(Value::Bool(b));
    }
    if let Some(number) = integer(text).or_else(|| float(text)) {
        return number;
    }
    Ok(Value::String(text.to_string()))
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn boolean(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn all_digits(text: &str, radix: u32) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_digit(radix))
}

/// `[-+]?[0-9]+`, `0o[0-7]+` or `0x[0-9a-fA-F]+`, as serde_json would hold
/// the same decimal: u64, else i64, else f64 (and `-0` is `-0.0`).
fn integer(text: &str) -> Option<Result<Value, String>> {
    let too_big = || Err(format!("{text} is too large for a number"));
    for (prefix, radix) in [("0o", 8), ("0x", 16)] {
        if let Some(digits) = text.strip_prefix(prefix) {
            if !all_digits(digits, radix) {
                return None;
            }
            return Some(
                u64::from_str_radix(digits, radix).map_or_else(|_| too_big(), |n| Ok(n.into())),
            );
        }
    }
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if !all_digits(digits, 10) {
        return None;
    }
    let exact = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| match (negative, n) {
            (false, n) => Some(Value::from(n)),
            (true, 0) => Number::from_f64(-0.0).map(Value::Number),
            (true, n) => 0i64.checked_sub_unsigned(n).map(Value::from),
        });
    Some(match exact {
        Some(value) => Ok(value),
        None => finite(text),
    })
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, or `.inf` and
/// `.nan` in their three casings, which JSON cannot hold.
fn float(text: &str) -> Option<Result<Value, String>> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN") {
        return Some(Err(format!(
            "{text} has no JSON form; quote it for a string"
        )));
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let mantissa_ok = match fraction {
        None => all_digits(whole, 10),
        Some(fraction) => {
            (whole.is_empty() && all_digits(fraction, 10))
                || (all_digits(whole, 10) && (fraction.is_empty() || all_digits(fraction, 10)))
        }
    };
    let exponent_ok =
        exponent.is_none_or(|e| all_digits(e.strip_prefix(['-', '+']).unwrap_or(e), 10));
    (mantissa_ok && exponent_ok).then(|| finite(text))
}

/// A decimal number as an f64, as serde_json reads one that no integer holds.
fn finite(text: &str) -> Result<Value, String> {
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| format!("{text} is out of range for a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<Value, PlanError> {
        Doc::load(text).map(|doc| doc.value)
    }

    fn first(error: PlanError) -> String {
        error.to_string()
    }

    #[test]
    fn numbers_read_as_serde_json_reads_the_same_text() {
        for text in [
            "0",
            "-0",
            "7",
            "-7",
            "70000",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "1.5",
            "-1.5",
            "1.0",
            "0.1",
            "1e3",
            "1E-3",
            "2.5e+2",
        ] {
            let json: Value = serde_json::from_str(text).expect("JSON number");
            let ours = plain(text).expect("YAML number");
            assert_eq!(ours, json, "{text}");
            assert_eq!(ours.to_string(), json.to_string(), "{text}");
        }
    }

    #[test]
    fn scalars_follow_yaml_1_2_core_schema() {
        let doc = yaml(
            "a: yes\nb: no\nc: on\nd: True\ne: ~\nf:\ng: 0o17\nh: 0x1F\ni: +5\nj: 1_000\n\
             k: 'true'\nl: \"8080\"\nm: 2001-12-14\nn: .5\no: 12:30\np: !!str 8080\nq: !!int \"53\"\n\
             r: ! 12\ns: |\n  two\n  lines\n",
        )
        .expect("valid YAML");
        let expected = serde_json::json!({
            "a": "yes", "b": "no", "c": "on", "d": true, "e": null, "f": null, "g": 15, "h": 31,
            "i": 5, "j": "1_000", "k": "true", "l": "8080", "m": "2001-12-14", "n": 0.5,
            "o": "12:30", "p": "8080", "q": 53, "r": "12", "s": "two\nlines\n"
        });
        assert_eq!(doc, expected);
        assert_eq!(
            doc.as_object()
                .map(|m| m.keys().cloned().collect::<Vec<_>>()),
            expected.as_object().map(|m| m.keys().cloned().collect()),
            "key order is the file's"
        );
        for (text, message) in [
            ("a: .inf", "a: .inf has no JSON form"),
            ("a: -.Inf", "a: -.Inf has no JSON form"),
            ("a: .NaN", "a: .NaN has no JSON form"),
            ("a: !!int x", "a: not an integer (tag `!!int`) (line 1)"),
            ("a: !!bool yes", "a: not a boolean (tag `!!bool`) (line 1)"),
            ("a: !vault x", "a: tag `!vault` is not supported here"),
            ("a: !!set {}", "a: tag `!!set` is not supported here"),
        ] {
            let got = first(yaml(text).expect_err(text));
            assert!(got.starts_with(message), "{text}: {got}");
        }
    }

    #[test]
    fn duplicate_keys_name_both_lines() {
        let text = "name: x\nhosts:\n  - name: a\n    address: 1.2.3.4\n    name: b\n";
        assert_eq!(
            first(yaml(text).expect_err("duplicate")),
            "hosts[0].name: duplicate key; line 3 has it already (line 5) (value: name)"
        );
        // The same key in two mappings is no duplicate.
        assert!(yaml("a: {x: 1}\nb: {x: 2}\n").is_ok());
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        assert!(yaml(&nested(MAX_DEPTH)).is_ok());
        let got = first(yaml(&nested(MAX_DEPTH + 1)).expect_err("too deep"));
        assert!(
            got.ends_with(": nested more than 64 levels deep (line 1)"),
            "{got}"
        );
        // Through an alias too.
        let text = format!("a: &a {}\nb: [*a]\n", nested(MAX_DEPTH - 1));
        let got = first(yaml(&text).expect_err("too deep through an alias"));
        assert!(got.starts_with("b[0]: nested more than 64"), "{got}");
    }

    #[test]
    fn aliases_expand_within_a_bound() {
        let doc = yaml("a: &cidrs [198.18.0.0/24, 198.18.1.0/24]\nb: *cidrs\nc: &n x\nd: *n\n")
            .expect("aliases");
        assert_eq!(doc["b"], doc["a"]);
        assert_eq!(doc["d"], "x");
        let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            laughs.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let got = first(yaml(&laughs).expect_err("billion laughs"));
        assert!(got.contains("more than 1000000 values"), "{got}");
        let got = first(yaml("a: {<<: {x: 1}}\n").expect_err("merge key"));
        assert!(
            got.starts_with("a.<<: merge keys (<<) are YAML 1.1"),
            "{got}"
        );
    }

    #[test]
    fn syntax_errors_and_documents_name_their_line() {
        let got = first(yaml("name: x\nhosts: [\n  - a\n").expect_err("syntax"));
        assert!(got.starts_with(".: not valid YAML: "), "{got}");
        assert!(got.ends_with(" at line 3 column 3"), "{got}");
        let got = first(yaml("a: 1\n---\nb: 2\n").expect_err("two documents"));
        assert_eq!(
            got,
            ".: a plan file holds one YAML document; another one starts here (line 2)"
        );
        let got = first(yaml("# nothing\n").expect_err("empty"));
        assert_eq!(got, ".: not valid YAML: the file holds no document");
        let got = first(yaml("a: 1\n? [x]\n: 2\n").expect_err("complex key"));
        assert_eq!(got, ".: a key must be a scalar (a string) (line 2)");
    }

    #[test]
    fn locate_maps_problem_paths_to_lines() {
        let text = "# plan\nname: p\nhosts:\n  - name: a\n    address: x\n  -\n    name: b\n    \
                    components: [one,\n      two]\n";
        assert_eq!(locate(text, "name"), Some(2));
        assert_eq!(locate(text, "hosts"), Some(3));
        assert_eq!(locate(text, "hosts[0]"), Some(4));
        assert_eq!(locate(text, "hosts[0].address"), Some(5));
        assert_eq!(locate(text, "hosts[1].name"), Some(7));
        assert_eq!(locate(text, "hosts[1].components[1]"), Some(9));
        // A missing field: the closest ancestor written in the text.
        assert_eq!(locate(text, "hosts[0].components"), Some(4));
        assert_eq!(locate(text, "networks"), None);
        assert_eq!(locate(text, "."), None);
        assert_eq!(locate("a: [", "a"), None);
    }

    #[test]
    fn the_format_is_chosen_by_name_then_by_first_character() {
        assert!(is_yaml("plan.yaml", "{\"name\": 1}"));
        assert!(is_yaml("PLAN.YML", ""));
        assert!(!is_yaml("plan.json", "name: x"));
        assert!(!is_yaml("-", "  \n{\"name\": 1}"));
        assert!(!is_yaml("-", "[]"));
        assert!(!is_yaml("-", ""));
        assert!(is_yaml("-", "# a plan\nname: x"));
        assert!(is_yaml("plan.txt", "name: x"));
    }

    #[test]
    fn json_is_read_exactly_as_core_reads_it() {
        for text in [
            "{\"name\": \"x\",}",
            "{\"name\": 1}",
            "{\"name\": \"x\", \"profiles\": [\"ocp\"], \"hosts\": [], \"port\": 1}",
            "",
        ] {
            assert_eq!(
                read_plan_text("-", text).map_err(first),
                portplan_core::parse_plan(text).map_err(first),
                "{text}"
            );
            let error = portplan_core::parse_plan(text).expect_err("rejected");
            assert_eq!(with_lines("plan.json", text, error.clone()), error);
        }
    }

    #[test]
    fn yaml_problems_are_the_json_twins_with_lines() {
        let yaml_text = "name: x\nprofiles: [ocp]\nhosts:\n  - name: a\n    address: 198.18.0.1\n    \
                         components: [ocp-server]\n    port: 8080\n";
        let json_text = "{\"name\": \"x\", \"profiles\": [\"ocp\"], \"hosts\": [{\"name\": \"a\", \
                         \"address\": \"198.18.0.1\", \"components\": [\"ocp-server\"], \"port\": 8080}]}";
        let from_yaml = read_plan_text("plan.yaml", yaml_text).expect_err("unknown field");
        let mut from_json = portplan_core::parse_plan(json_text).expect_err("unknown field");
        from_json.problems[0].message.push_str(" (line 7)");
        assert_eq!(from_yaml, from_json);
        // `yes` is a string, so a boolean field refuses it.
        let text = "name: x\nprofiles: [d]\ncustom-profiles:\n  - name: d\n    title: D\n    \
                    components:\n      - {name: c, title: C, required: yes}\n    specs: []\n\
                    hosts: []\n";
        let got = first(read_plan_text("p.yml", text).expect_err("yes is no bool"));
        assert!(
            got.starts_with("custom-profiles[0].components[0].required: invalid type: string"),
            "{got}"
        );
        assert!(got.contains("expected a boolean (line 7)"), "{got}");
        assert!(read_plan_text("p.yml", &text.replace("yes", "true")).is_ok());
    }
}

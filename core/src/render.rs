//! Text renderings of reports and profiles. Pure string building, so every
//! artifact renders byte for byte alike.
//!
//! Plan text is hostile until shown otherwise: every text rendering writes
//! control and bidi characters as `\u{hex}` escapes ([`escape`]), names in
//! the readable tables (host, spec, profile, accessor) are also capped
//! ([`quote`]) so one long name cannot pad every row, and the request sheets
//! neutralise cells a spreadsheet would evaluate ([`sheet_cell`]); the sheets
//! are data for the network team and keep every character. JSON is left to
//! JSON's own escaping.

use crate::list::List;
use crate::table::Map;
use std::fmt::Write as _;

use crate::decode::{escape, is_hidden, quote};
use crate::model::{
    Accessor, Allocation, Exposure, HostPorts, Modifiable, Profile, Report, ReportFormat, Severity,
};

/// Render a report in `format`. Every rendering ends with a newline.
pub fn report(report: &Report, format: ReportFormat) -> String {
    // The table and the sheets list each rule's sources in full: n² for an
    // all-to-all spec of n hosts, which the JSON names once. They are
    // refused past the limit rather than exhaust memory.
    let groups = Groups::new(report);
    let listed = || crate::limits::check_listed(groups.listed(report));
    let rendered = match format {
        ReportFormat::Json => Ok(json(report)),
        ReportFormat::Table => listed().map(|()| table(report, &groups)),
        ReportFormat::Markdown => listed().map(|()| markdown_sheet(report, &groups)),
        ReportFormat::Csv => listed().map(|()| csv_sheet(report, &groups)),
    };
    rendered.unwrap_or_else(|error| crate::render_plan_error(&error, format))
}

/// Pretty JSON with a final newline: the reference form the corpus compares.
pub fn json<T: crate::Encode + ?Sized>(value: &T) -> String {
    let mut text = crate::encode::pretty(value);
    text.push('\n');
    text
}

/// Columns padded to their widest cell; the last column is not padded.
/// Every cell is [`escape`]d first, so no cell can hide, reorder or break
/// the lines around it.
///
/// Hand-written: a table crate would bring box drawing and terminal width
/// detection we do not want, and the whole job is this loop.
pub(crate) fn columns(rows: &[Vec<String>], indent: &str) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| escape(cell)).list())
        .list();
    let width = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..width)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .list();
    let mut out = String::new();
    for row in &rows {
        let mut line = indent.to_string();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == width {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub(crate) fn header(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).list()
}

/// Tables shout the severity: `ERROR`, `WARNING`, `INFO`.
fn severity(s: Severity) -> String {
    s.as_str().to_ascii_uppercase()
}

/// Tables show the first sentence; JSON and the sheets keep the whole text.
fn first_sentence(text: &str) -> &str {
    text.find(". ").map_or(text, |end| &text[..=end])
}

fn protocol(transport: &str, protocol: &str) -> String {
    if protocol.is_empty() || protocol == transport {
        transport.to_string()
    } else {
        format!("{transport}/{protocol}")
    }
}

pub(crate) fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A report's source groups' sources by name, as the text table and the
/// sheets list them (a name the report does not hold lists nothing).
struct Groups<'r>(Map<&'r str, &'r [String]>);

impl<'r> Groups<'r> {
    fn new(report: &'r Report) -> Self {
        let groups = report.source_groups.iter();
        Groups(
            groups
                .map(|g| (g.name.as_str(), g.sources.as_slice()))
                .collect(),
        )
    }

    fn sources(&self, group: Option<&str>) -> Option<&'r [String]> {
        group.and_then(|g| self.0.get(g).copied())
    }

    /// How many sources the rows of `report` list in full (each row its
    /// group's whole list), counted without listing them.
    fn listed(&self, report: &Report) -> usize {
        let rows = report.hosts.iter().flat_map(|h| &h.ports);
        rows.filter_map(|p| self.sources(p.group.as_deref()))
            .map(<[String]>::len)
            .sum()
    }
}

fn host_table(groups: &Groups, host: &HostPorts) -> String {
    let mut rows = vec![header(&[
        "PORT",
        "PROTO",
        "SPEC",
        "EXPOSURE",
        "ALLOWED SOURCES",
        "PURPOSE",
    ])];
    for entry in &host.ports {
        let mut port = entry.ports.to_string();
        if entry.allocation == Allocation::Pool {
            port.push_str(" (pool)");
        }
        if entry.overridden {
            port.push('*');
        }
        let admitted = groups.sources(entry.group.as_deref());
        let sources = match (entry.exposure, admitted) {
            (Exposure::Loopback, _) => "local only".to_string(),
            (_, None) => "closed".to_string(),
            (_, Some(admitted)) => admitted.join(" "),
        };
        rows.push(vec![
            port,
            entry.transport.as_str().to_string(),
            quote(&entry.spec),
            Exposure::as_str(entry.exposure).to_string(),
            sources,
            first_sentence(&entry.purpose).to_string(),
        ]);
    }
    columns(&rows, "  ")
}

/// The readable report: each host's port table, then the findings.
fn table(report: &Report, groups: &Groups) -> String {
    let s = report.summary;
    let mut out = format!(
        "plan {}: {}, {}, {}\n",
        quote(&report.plan),
        plural(s.errors, "error"),
        plural(s.warnings, "warning"),
        plural(s.infos, "info")
    );
    for host in &report.hosts {
        let _ = write!(
            out,
            "\nhost {} ({})\n",
            quote(&host.host),
            quote(&host.address)
        );
        out.push_str(&host_table(groups, host));
    }
    if report
        .hosts
        .iter()
        .any(|h| h.ports.iter().any(|p| p.overridden))
    {
        out.push_str("\n  * overridden from the vendor default\n");
    }
    if !report.findings.is_empty() {
        out.push_str("\nfindings\n");
        let mut rows = Vec::new();
        for f in &report.findings {
            let code = f.code.as_str().to_string();
            let place = match (&f.host, f.ports) {
                (Some(h), Some(p)) => format!("{}:{p}", quote(h)),
                (Some(h), None) => quote(h),
                (None, Some(p)) => format!("*:{p}"),
                (None, None) => "plan".to_string(),
            };
            rows.push(vec![severity(f.severity), code, place, f.message.clone()]);
            rows.push(vec![
                String::new(),
                String::new(),
                String::new(),
                format!("fix: {}", f.fix),
            ]);
        }
        out.push_str(&columns(&rows, "  "));
    }
    out
}

/// The network team's request sheet rows: one per desired rule, its
/// sources listed (a sheet is read row by row, not joined).
fn sheet_rows(report: &Report, groups: &Groups) -> Vec<[String; 6]> {
    let mut rows = Vec::new();
    for host in &report.hosts {
        for entry in &host.ports {
            let Some(sources) = groups.sources(entry.group.as_deref()) else {
                continue;
            };
            rows.push([
                host.host.clone(),
                host.address.clone(),
                entry.ports.to_string(),
                entry.transport.as_str().to_string(),
                sources.join(" "),
                format!("{} ({})", entry.purpose, entry.spec),
            ]);
        }
    }
    rows
}

const SHEET_HEADER: [&str; 6] = [
    "host",
    "address",
    "port",
    "transport",
    "allowed sources",
    "purpose",
];

/// A request sheet's cell, for a spreadsheet to show and never evaluate.
///
/// Following OWASP's CSV injection guidance, a cell that starts with `=`,
/// `+`, `-`, `@` (or their fullwidth forms) or a control character (tab, CR,
/// NUL, ...) or bidi control gets a leading `'`, which spreadsheets read as
/// "this is text"; then control and bidi characters are [`escape`]d. No cell
/// portplan writes itself starts so: only hostile plan text is changed.
pub(crate) fn sheet_cell(cell: &str) -> String {
    let evaluated = cell.chars().next().is_some_and(|c| {
        matches!(
            c,
            '=' | '+' | '-' | '@' | '\u{ff1d}' | '\u{ff0b}' | '\u{ff0d}' | '\u{ff20}'
        ) || is_hidden(c)
    });
    let cell = escape(cell);
    if evaluated { format!("'{cell}") } else { cell }
}

/// The request sheet as a Markdown table.
fn markdown_sheet(report: &Report, groups: &Groups) -> String {
    let pipes = |cell: String| cell.replace('|', "\\|");
    let mut out = format!("# Firewall request: {}\n\n", pipes(escape(&report.plan)));
    let _ = writeln!(out, "| {} |", SHEET_HEADER.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(SHEET_HEADER.len()));
    for row in sheet_rows(report, groups) {
        let cells: Vec<String> = row.iter().map(|c| pipes(sheet_cell(c))).list();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// The request sheet as CSV ([`csv_record`]), every cell a [`sheet_cell`].
fn csv_sheet(report: &Report, groups: &Groups) -> String {
    let mut out = String::new();
    csv_record(&mut out, SHEET_HEADER);
    for row in sheet_rows(report, groups) {
        csv_record(&mut out, row.iter().map(|c| sheet_cell(c)));
    }
    out
}

/// One record of `fields` as CSV, as the `csv` crate's writer writes it by
/// default: RFC 4180 quoting where a field holds a comma, a quote, CR or LF
/// (quotes doubled), `\n` after the record, and `""` for a record with no
/// bytes (a single empty field), which would otherwise read as no record.
/// Records of different lengths are written as given, as the crate's
/// `flexible` writer does (its default refuses them; portplan's sheets have
/// fixed columns).
///
/// Hand-written: the crate's writer links `f64` parsing for a quoting style
/// portplan never uses (the plugins carried ~25 KB for it), and the whole
/// job is this loop; a test holds it to the crate's output.
pub(crate) fn csv_record<S: AsRef<str>>(out: &mut String, fields: impl IntoIterator<Item = S>) {
    let start = out.len();
    for (i, field) in fields.into_iter().enumerate() {
        let field = field.as_ref();
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    if out.len() == start {
        out.push_str("\"\"");
    }
    out.push('\n');
}

fn accessor(a: &Accessor) -> String {
    match a {
        Accessor::Component(c) => quote(c),
        Accessor::Network(n) => format!("net:{}", quote(n)),
        Accessor::Profile(p) => format!("all of {}", quote(p)),
    }
}

/// A profile as a readable table: components, then the port specs.
pub fn profile(profile: &Profile) -> String {
    let mut out = format!("{} - {}\n", quote(&profile.name), quote(&profile.title));
    if !profile.description.is_empty() {
        let _ = writeln!(out, "  {}", escape(&profile.description));
    }
    if !profile.source.is_empty() {
        let _ = writeln!(out, "  source: {}", escape(&profile.source));
    }
    // Client networks are a fixed list per profile: a plan names them in
    // "networks", and a name the profiles do not list is rejected.
    if !profile.networks.is_empty() {
        out.push_str("  client networks (plan \"networks\" names):\n");
        for network in &profile.networks {
            let _ = writeln!(
                out,
                "    {} - {}",
                quote(&network.name),
                escape(&network.description)
            );
        }
    }
    out.push('\n');
    let mut rows = vec![header(&[
        "SPEC",
        "PORTS",
        "PROTO",
        "ALLOC",
        "EXPOSURE",
        "ACCESSED BY",
        "MODIFIABLE",
        "PURPOSE",
    ])];
    for spec in &profile.specs {
        let mut id = quote(&spec.id);
        if spec.optional {
            id.push_str(" (optional)");
        }
        rows.push(vec![
            id,
            spec.ports.to_string(),
            protocol(spec.transport.as_str(), &spec.protocol),
            match spec.allocation {
                Allocation::Fixed => "fixed",
                Allocation::Pool => "pool",
            }
            .to_string(),
            Exposure::as_str(spec.exposure).to_string(),
            if spec.accessed_by.is_empty() {
                "-".to_string()
            } else {
                spec.accessed_by.iter().map(accessor).list().join(", ")
            },
            match &spec.modifiable {
                Modifiable::NotSupported => "no".to_string(),
                Modifiable::Configurable(_) => "yes".to_string(),
            },
            first_sentence(&spec.purpose).to_string(),
        ]);
    }
    out.push_str(&columns(&rows, "  "));
    out
}

/// Every profile as a short list, then each profile's table.
pub fn catalog(profiles: &[Profile]) -> String {
    let mut rows = vec![header(&["PROFILE", "COMPONENTS", "SPECS", "TITLE"])];
    for p in profiles {
        rows.push(vec![
            quote(&p.name),
            p.components.len().to_string(),
            p.specs.len().to_string(),
            p.title.clone(),
        ]);
    }
    let mut out = columns(&rows, "");
    for p in profiles {
        out.push('\n');
        out.push_str(&profile(p));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::csv_record;
    use proptest::prelude::*;

    /// What the `csv` crate's default writer makes of `records`.
    fn by_the_crate(records: &[Vec<String>]) -> String {
        let mut writer = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::new());
        for record in records {
            writer
                .write_record(record)
                .expect("a Vec takes every write");
        }
        String::from_utf8(writer.into_inner().expect("flushed")).expect("UTF-8 in, UTF-8 out")
    }

    fn ours(records: &[Vec<String>]) -> String {
        let mut out = String::new();
        for record in records {
            csv_record(&mut out, record);
        }
        out
    }

    #[test]
    fn edge_records_are_written_as_the_crate_writes_them() {
        let cases: Vec<Vec<String>> = vec![
            vec![],
            vec![String::new()],
            vec![String::new(), String::new()],
            vec![
                "a,b".into(),
                "say \"hi\"".into(),
                "cr\rlf\n".into(),
                " x ".into(),
            ],
            vec!["\"".into(), "#".into(), "'".into(), "\t".into()],
        ];
        for case in cases {
            let records = [case];
            assert_eq!(ours(&records), by_the_crate(&records), "{records:?}");
        }
    }

    proptest! {
        /// Any text, the characters CSV treats specially most of all.
        #[test]
        fn records_are_written_as_the_crate_writes_them(
            records in prop::collection::vec(
                prop::collection::vec("[,\"\r\n a\u{e9}\u{202e}=#\\\\]{0,6}", 0..5),
                0..6,
            )
        ) {
            prop_assert_eq!(ours(&records), by_the_crate(&records));
        }
    }
}

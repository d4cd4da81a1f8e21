//! The truth table as text, Markdown and CSV: a matrix of sources against
//! destinations, then every row that is not as expected.

use crate::list::List;
use crate::table::Map;
use std::fmt::Write as _;

use crate::decode::escape;
use crate::model::ReportFormat;
use crate::reach::model::{Expectation, TruthRow, TruthTable, Verdict};
use crate::reach::truth::meaning;
use crate::render::{columns, header, json, plural, sheet_cell};

/// Render a truth table in `format`.
pub(crate) fn truth_table(table: &TruthTable, format: ReportFormat) -> String {
    match format {
        ReportFormat::Json => json(table),
        ReportFormat::Table => text(table),
        ReportFormat::Markdown => markdown(table),
        ReportFormat::Csv => csv(table),
    }
}

fn headline(table: &TruthTable) -> String {
    let s = table.summary;
    format!(
        "reachability of {} ({}): {}, {} as expected, {}, {} unknown",
        table.plan,
        table.phase.as_str(),
        plural(s.rows, "probe"),
        s.as_expected,
        plural(s.mismatches, "mismatch").replace("mismatchs", "mismatches"),
        s.unknown
    )
}

/// Sources down, destinations across; a cell is `ok`, or counts of
/// mismatches (`2 bad`) and unknown rows (`1 ?`); `self` where a host meets
/// itself, `none` where a source has nothing to try.
fn matrix(table: &TruthTable) -> Vec<Vec<String>> {
    let mut destinations: Vec<&str> = table.rows.iter().map(|r| r.destination.as_str()).list();
    crate::order::sort(&mut destinations);
    destinations.dedup();
    // Hashed: only asked, in the order of `sources` and `destinations`.
    let mut cells: Map<(String, &str), (u32, u32, u32)> = Map::new();
    let mut sources: Vec<String> = Vec::new();
    for row in &table.rows {
        let source = row.source.label();
        if sources.last() != Some(&source) {
            sources.push(source.clone());
        }
        let cell = cells.get_or_default((source, &row.destination));
        match row.verdict {
            Verdict::AsExpected => cell.0 += 1,
            Verdict::Mismatch => cell.1 += 1,
            Verdict::Unknown => cell.2 += 1,
        }
    }
    let mut rows = vec![
        std::iter::once("source \\ destination")
            .chain(destinations.iter().copied())
            .map(str::to_string)
            .list(),
    ];
    for source in sources {
        let mut line = vec![source.clone()];
        for d in &destinations {
            line.push(match cells.get(&(source.clone(), d)) {
                None if source == format!("host {d}") => "self".into(),
                None => "none".into(),
                Some((_, 0, 0)) => "ok".into(),
                Some((_, bad, unknown)) => match (*bad, *unknown) {
                    (0, u) => format!("{u} ?"),
                    (b, 0) => format!("{b} bad"),
                    (b, u) => format!("{b} bad {u} ?"),
                },
            });
        }
        rows.push(line);
    }
    rows
}

fn actual(row: &TruthRow) -> String {
    row.outcome
        .map_or("not probed".into(), |o| o.as_str().to_string())
}

fn listing(table: &TruthTable) -> Vec<Vec<String>> {
    let mut rows = vec![header(&[
        "SOURCE",
        "DESTINATION",
        "PORT",
        "SPEC",
        "EXPECT",
        "ACTUAL",
        "MEANING",
    ])];
    for row in table
        .rows
        .iter()
        .filter(|r| r.verdict != Verdict::AsExpected)
    {
        let why = match (row.verdict, row.outcome) {
            (Verdict::Mismatch, Some(o)) if row.expect == Expectation::Allow => meaning(o).into(),
            (Verdict::Mismatch, _) => "connected, though the plan does not open it".into(),
            _ => row.detail.clone(),
        };
        rows.push(vec![
            row.source.label(),
            row.destination.clone(),
            format!("{}/{}", row.port, row.transport.as_str()),
            row.spec.clone(),
            row.expect.as_str().into(),
            actual(row),
            why,
        ]);
    }
    rows
}

fn text(table: &TruthTable) -> String {
    let mut out = format!("{}\n\n", escape(&headline(table)));
    out.push_str(&columns(&matrix(table), "  "));
    let listed = listing(table);
    if listed.len() > 1 {
        out.push('\n');
        out.push_str(&columns(&listed, "  "));
    }
    out
}

fn markdown_rows(out: &mut String, rows: &[Vec<String>]) {
    let pipes = |cell: &String| sheet_cell(cell).replace('|', "\\|");
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(pipes).list();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
        if i == 0 {
            let _ = writeln!(out, "|{}", "---|".repeat(row.len()));
        }
    }
}

fn markdown(table: &TruthTable) -> String {
    let mut out = format!("# {}\n\n", sheet_cell(&headline(table)).replace('|', "\\|"));
    markdown_rows(&mut out, &matrix(table));
    let listed = listing(table);
    if listed.len() > 1 {
        out.push('\n');
        markdown_rows(&mut out, &listed);
    }
    out
}

/// Every row, for a spreadsheet.
fn csv(table: &TruthTable) -> String {
    let mut out = String::new();
    crate::render::csv_record(
        &mut out,
        [
            "source",
            "destination",
            "port",
            "transport",
            "spec",
            "expect",
            "actual",
            "verdict",
            "detail",
        ],
    );
    for row in &table.rows {
        crate::render::csv_record(
            &mut out,
            [
                row.source.label(),
                row.destination.clone(),
                row.port.to_string(),
                row.transport.as_str().into(),
                row.spec.clone(),
                row.expect.as_str().into(),
                actual(row),
                row.verdict.as_str().into(),
                row.detail.clone(),
            ]
            .iter()
            .map(|c| sheet_cell(c)),
        );
    }
    out
}

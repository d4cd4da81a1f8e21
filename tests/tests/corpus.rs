//! The golden corpus: every `corpus/*.plan.json` gives exactly its `*.report.json`.
//!
//! Every artifact (native, component, Extism plugin, page) must reproduce these
//! bytes. After an intended change, `PORTPLAN_BLESS=1 cargo test -p portplan-tests
//! --test corpus` rewrites the expectations; review the diff like code.

use portplan_tests::{corpus_cases, corpus_dir, reference_output};

#[test]
fn every_plan_gives_its_golden_report() {
    let bless = std::env::var_os("PORTPLAN_BLESS").is_some();
    let cases = corpus_cases();
    assert!(cases.len() >= 10, "corpus is missing: {cases:?}");
    let mut failed = Vec::new();
    for (name, plan, expected) in cases {
        let plan_text = std::fs::read_to_string(&plan).expect("plan is readable");
        let actual = reference_output(&plan_text);
        assert_eq!(
            actual,
            reference_output(&plan_text),
            "{name}: not deterministic"
        );
        if bless {
            std::fs::write(&expected, &actual).expect("report is writable");
        } else if std::fs::read_to_string(&expected).ok().as_deref() != Some(actual.as_str()) {
            failed.push(name);
        }
    }
    assert!(
        failed.is_empty(),
        "reports differ from the corpus (PORTPLAN_BLESS=1 to rewrite): {failed:?}"
    );
}

#[test]
fn every_example_plan_is_in_the_corpus() {
    let examples = corpus_dir().join("../../examples/plans");
    for entry in std::fs::read_dir(examples).expect("examples/plans is readable") {
        let path = entry.expect("example entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name");
        let copy = corpus_dir().join(format!("example-{name}.plan.json"));
        assert_eq!(
            std::fs::read_to_string(&path).ok(),
            std::fs::read_to_string(&copy).ok(),
            "{} must equal {}",
            copy.display(),
            path.display()
        );
    }
}

/// The reach corpus: every `reach/*.input.json` gives exactly its
/// `*.truth.txt` and `*.probes.json` (same blessing as the plans).
#[test]
fn every_reach_case_gives_its_golden_truth_table() {
    let bless = std::env::var_os("PORTPLAN_BLESS").is_some();
    let cases = portplan_tests::reach_cases();
    assert!(cases.len() >= 3, "reach corpus is missing: {cases:?}");
    if bless {
        for (name, input) in &cases {
            let text = std::fs::read_to_string(input).expect("input is readable");
            let (truth, probes) = portplan_tests::reach_reference(&text);
            assert_eq!(
                (truth.clone(), probes.clone()),
                portplan_tests::reach_reference(&text),
                "{name}: not deterministic"
            );
            std::fs::write(input.with_file_name(format!("{name}.truth.txt")), truth)
                .expect("truth is writable");
            let probes = serde_json::to_string_pretty(&probes).expect("plain data") + "\n";
            std::fs::write(input.with_file_name(format!("{name}.probes.json")), probes)
                .expect("probes are writable");
        }
    }
    let mismatches =
        portplan_tests::reach_mismatches(|text| Ok(portplan_tests::reach_reference(text)));
    assert!(
        mismatches.is_empty(),
        "{mismatches:?} (PORTPLAN_BLESS=1 to rewrite)"
    );
}

//! Grounded answers through `dossier ask --json`, with the real SmolLM2 model.

mod common;

use common::*;

#[test]
fn ask_answers_with_a_citation_to_the_right_file_and_page() {
    let store = sample_store();
    let output = ok(dossier(store).args([
        "ask",
        "--json",
        "How much advance notice must the customer give to terminate the Corvane agreement for convenience?",
    ]));
    let result = json(&output);
    assert_eq!(result["refused"], false, "{result:#}");
    assert!(!result["answer"].as_str().unwrap().trim().is_empty());
    let citations = result["citations"].as_array().unwrap();
    assert!(!citations.is_empty(), "{result:#}");
    // The notice period's page is cited (first, or after a quote for another figure the
    // same sentence states).
    let notice = citation_on(&result["citations"], "service-agreement.pdf", 4)
        .unwrap_or_else(|| panic!("page 4 is not cited: {result:#}"));
    assert!(!notice["quote"].as_str().unwrap().is_empty());
    assert!(result["timings"]["total_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn ask_human_output_streams_the_answer_then_lists_sources() {
    let store = sample_store();
    let output = ok(dossier(store).args([
        "ask",
        "What is the most I can spend per night on a hotel in London?",
    ]));
    let text = stdout(&output);
    let sources = text
        .find("Sources:")
        .unwrap_or_else(|| panic!("no sources in:\n{text}"));
    assert!(sources > 0, "the answer comes before the sources:\n{text}");
    assert!(text.contains("employee-handbook.pdf, p. 4"), "{text}");
}

#[test]
fn ask_refuses_when_the_documents_do_not_say() {
    let store = sample_store();
    // Topics absent from every sample. (Questions that name the samples' own people and
    // companies but ask what they do not say are the harder case: see `dossier eval`.)
    for question in [
        "What is the boiling point of mercury?",
        "Who won the 1998 football World Cup?",
    ] {
        let output = ok(dossier(store).args(["ask", "--json", question]));
        let result = json(&output);
        assert_eq!(result["refused"], true, "{question}: {result:#}");
        assert!(result["answer"]
            .as_str()
            .unwrap()
            .contains("do not contain"));
        assert_eq!(result["citations"].as_array().unwrap().len(), 0);
        assert!(
            !result["closest"].as_array().unwrap().is_empty(),
            "closest passages are shown"
        );
    }
}

//! PDF text as dossier indexes it (`dossier extract`, then ingest and search where it
//! matters): reading order, ligatures, tables, running footers, scanned pages.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// `dossier extract --json FILE`: the one JSON line it prints for the file.
fn extract(file: &Path, extra: &[&str]) -> Value {
    let scratch = tempfile::tempdir().unwrap();
    let output = run(dossier(scratch.path())
        .arg("extract")
        .arg("--json")
        .args(extra)
        .arg(file));
    let line = stdout(&output);
    serde_json::from_str(line.trim()).unwrap_or_else(|e| {
        panic!(
            "not one JSON line ({e}):\n{line}\nstderr:\n{}",
            stderr(&output)
        )
    })
}

/// Ingests one file into a fresh store and returns the best search hit for `question`.
fn top_hit(file: &Path, question: &str) -> Value {
    let store = tempfile::tempdir().unwrap();
    ok(dossier(store.path()).arg("ingest").arg(file));
    let found = json(&ok(dossier(store.path())
        .args(["search", "--json", "-k", "1"])
        .arg(question)));
    found["hits"][0].clone()
}

fn page_text(file: &Value, page: usize) -> String {
    file["pages"][page - 1]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text for page {page}: {file:#}"))
        .to_owned()
}

#[test]
fn a_two_column_page_reads_column_by_column() {
    let file = extract(&fixtures().join("two-column.pdf"), &[]);
    let text = page_text(&file, 1);
    let position = |phrase: &str| {
        text.find(phrase)
            .unwrap_or_else(|| panic!("{phrase:?} missing from:\n{text}"))
    };
    // The title, then the whole left column, then the whole right column.
    assert!(
        position("Residential Lease") < position("Clause 4"),
        "{text}"
    );
    assert!(
        position("Clause 4") < position("phrase amber lantern."),
        "{text}"
    );
    assert!(
        position("phrase amber lantern.") < position("Clause 5"),
        "{text}"
    );
    assert!(
        position("Clause 5") < position("phrase copper kettle."),
        "{text}"
    );
    for line in text.lines() {
        assert!(
            !(line.contains("tenant") && line.contains("landlord repairs")),
            "a line mixes both columns: {line}"
        );
    }
}

#[test]
fn ligature_glyphs_become_searchable_letters() {
    let fixture = fixtures().join("ligature.pdf");
    let text = page_text(&extract(&fixture, &[]), 1);
    for word in ["confidential", "office", "benefits", "flow", "first"] {
        assert!(text.contains(word), "{word:?} missing from:\n{text}");
    }
    assert!(
        !text.contains('\u{FB01}') && !text.contains('\u{FB02}'),
        "{text}"
    );

    let hit = top_hit(&fixture, "confidential settlement signed in the office");
    assert_eq!(hit["file"], "ligature.pdf", "{hit:#}");
    assert!(hit["text"].as_str().unwrap().contains("confidential"));
}

#[test]
fn table_rows_keep_their_cells_together() {
    let file = extract(&samples().join("employee-handbook.pdf"), &[]);
    let text = page_text(&file, 2);
    assert!(
        text.contains("5 to 9 | 21 | 10 | 2 | 8 days"),
        "the table row is not one line with separated cells:\n{text}"
    );
}

#[test]
fn running_footers_are_dropped_unless_asked_for() {
    let handbook = samples().join("employee-handbook.pdf");
    let footer = "Internal use only - Quarrystone Robotics, Inc. Page 2 of 4";
    let indexed = page_text(&extract(&handbook, &[]), 2);
    assert!(!indexed.contains("Internal use only"), "{indexed}");
    let raw = page_text(&extract(&handbook, &["--keep-furniture"]), 2);
    assert!(raw.contains(footer), "{raw}");
    // The page's own text is the same either way.
    assert!(raw.contains(indexed.lines().next().unwrap()));
}

#[test]
fn an_image_only_page_is_reported_as_having_no_text_layer() {
    let scratch = tempfile::tempdir().unwrap();
    let output = run(dossier(scratch.path())
        .args(["extract", "--ocr", "never"])
        .arg(fixtures().join("scanned.pdf")));
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("scanned.pdf"), "{message}");
    assert!(message.contains("no text layer"), "{message}");
}

#[test]
fn a_scanned_page_is_ocrd_when_tesseract_is_installed() {
    let fixture = fixtures().join("scanned.pdf");
    let tesseract = std::process::Command::new("tesseract")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let file = extract(&fixture, &[]);
    if !tesseract {
        // Without tesseract the page is reported, and the report says why.
        let error = file["error"].as_str().unwrap_or_default();
        assert!(error.contains("tesseract is not installed"), "{file:#}");
        return;
    }
    let page = &file["pages"][0];
    assert_eq!(page["ocr"], true, "{file:#}");
    let text = page["text"].as_str().unwrap();
    for word in ["Wexford", "colonoscopy", "fast for twelve"] {
        assert!(
            text.contains(word),
            "{word:?} missing from the OCR text:\n{text}"
        );
    }

    let hit = top_hit(
        &fixture,
        "How long must the patient fast before the colonoscopy?",
    );
    assert_eq!(hit["file"], "scanned.pdf", "{hit:#}");
    assert_eq!(hit["page"], 1, "{hit:#}");
    // The store keeps that the text came from OCR, and search says so.
    assert_eq!(hit["ocr"], true, "{hit:#}");
}

#[test]
fn a_damaged_cross_reference_table_is_rebuilt() {
    let file = extract(&fixtures().join("bad-xref.pdf"), &[]);
    assert!(file["error"].is_null(), "{file:#}");
    assert_eq!(file["pages"].as_array().unwrap().len(), 3, "{file:#}");
    assert!(page_text(&file, 1).contains("osprey protocol"), "{file:#}");
}

#[test]
fn type3_glyph_names_give_the_text() {
    let fixture = fixtures().join("type3.pdf");
    let text = page_text(&extract(&fixture, &[]), 1);
    assert_eq!(
        text,
        "The pelican ledger is kept in vault nine.\nIts glyphs are drawn by the page itself."
    );

    let hit = top_hit(&fixture, "Where is the pelican ledger kept?");
    assert_eq!(hit["file"], "type3.pdf", "{hit:#}");
    assert!(
        hit["text"].as_str().unwrap().contains("vault nine"),
        "{hit:#}"
    );
}

#[test]
fn cid_text_comes_back_through_to_unicode() {
    let fixture = fixtures().join("cid.pdf");
    let text = page_text(&extract(&fixture, &[]), 1);
    // bfchar (capitals, punctuation), a bfrange with a start value (letters), one with an
    // array (digits) and a three-letter target (the ffi ligature glyph).
    assert_eq!(
        text,
        "The Cassowary Tariff of 2031 was officially filed.\n\
         Identity-H codes map back through ToUnicode."
    );

    let hit = top_hit(&fixture, "When was the Cassowary Tariff officially filed?");
    assert_eq!(hit["file"], "cid.pdf", "{hit:#}");
    assert!(hit["text"].as_str().unwrap().contains("2031"), "{hit:#}");
}

#[test]
fn pages_that_give_one_font_name_to_different_fonts_each_read_with_their_own() {
    // dossier reads pages in batches with one font table per batch; page 2 would come out
    // empty or garbled if it were decoded with the font pages 1 and 3 call /F1.
    let file = extract(&fixtures().join("font-names.pdf"), &["--keep-furniture"]);
    assert_eq!(
        page_text(&file, 1),
        "Page one sets the heron clause in the first font."
    );
    assert_eq!(
        page_text(&file, 2),
        "Page two gives the name F1 to another font: the ibis clause."
    );
    assert_eq!(
        page_text(&file, 3),
        "Page three is back to the first font and the crane clause."
    );
}

#[test]
fn forms_that_draw_images_still_give_their_text_on_every_page() {
    // A running header drawn through a form that draws an inner form and an image: dossier
    // reads such forms through copies with the image left out.
    let file = extract(&fixtures().join("form-image.pdf"), &["--keep-furniture"]);
    for (page, body) in [
        (1, "Page one counts forty herons at the north pond."),
        (2, "Page two counts twelve herons at the reed bed."),
    ] {
        assert_eq!(
            page_text(&file, page),
            format!("Quarterly heron survey\n\nMarsh office of the heron survey\n\n{body}"),
            "{file:#}"
        );
    }
}

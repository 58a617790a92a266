//! What `ingest` did with each file, and the summary of a run. Pure functions of what the
//! readers and the writer found, so that every category is decided (and tested) in one place.
//!
//! Every file of a run lands in exactly one category, so the counts of the summary add up to
//! the files: stored in this run (added, replaced, recovered, partial), already stored (same
//! content as another path, moved, unchanged), or failed.

use dossier_ingest::PreparedDocument;
use serde::Serialize;

/// A file's category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// New bytes, read whole.
    Added,
    /// New bytes at a path that held other bytes, read whole; the old version is gone.
    Replaced,
    /// Damaged: read after a repair (`repairs` says which).
    Recovered,
    /// Some pages have no text layer, or failed (`page_notes` says which and why).
    Partial,
    /// Bytes already stored, or stored in this run, under another path: one document, now
    /// listed under this path too.
    SameContent,
    /// Bytes already stored under a path that is gone: the document now has this one.
    Moved,
    /// Bytes already stored under this path.
    Unchanged,
    Failed,
}

impl Outcome {
    /// The file's text was read and embedded in this run.
    pub fn embedded(self) -> bool {
        matches!(
            self,
            Outcome::Added | Outcome::Replaced | Outcome::Recovered | Outcome::Partial
        )
    }

    /// The category of a file whose text was read in this run. Damage is the bigger news,
    /// so a repaired file with pages without text is "recovered" (its report lists both).
    pub fn stored(replaced: bool, repairs: &[String], page_notes: &[PageNote]) -> Self {
        if !repairs.is_empty() {
            Outcome::Recovered
        } else if !page_notes.is_empty() {
            Outcome::Partial
        } else if replaced {
            Outcome::Replaced
        } else {
            Outcome::Added
        }
    }
}

/// A page of a stored file that has no text from a text layer, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageNote {
    pub page: u32,
    /// "OCR'd", or why the page has no text ("no image on the page", "OCR off", ...).
    pub note: String,
    /// The page's text came from OCR.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ocr: bool,
}

/// What became of each page without a text layer of a parsed file, in page order.
pub fn page_notes(prepared: &PreparedDocument) -> Vec<PageNote> {
    let mut notes: Vec<PageNote> = prepared
        .ocr_pages
        .iter()
        .map(|&page| PageNote {
            page,
            note: "OCR'd".into(),
            ocr: true,
        })
        .collect();
    for &page in &prepared.pages_without_text {
        let why = prepared
            .no_text_notes
            .iter()
            .find(|(p, _)| *p == page)
            .map(|(_, why)| why.clone())
            // OCR was not tried: `--ocr never`.
            .unwrap_or_else(|| "OCR off".into());
        notes.push(PageNote {
            page,
            note: format!("no text: {why}"),
            ocr: false,
        });
    }
    for (page, reason) in &prepared.failed_pages {
        notes.push(PageNote {
            page: *page,
            note: format!("text extraction failed: {reason}"),
            ocr: false,
        });
    }
    notes.sort_by_key(|n| n.page);
    notes
}

/// What happened to one file; the JSON report is a list of these.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The path as given (or found under a folder given).
    pub path: String,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc_id: Option<String>,
    pub pages: u32,
    pub chunks: u32,
    /// The path held other bytes before, whose document no longer lists it: always so for
    /// "replaced", and possible for "recovered", "partial" and "same content".
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replaced: bool,
    /// Recovered: the repairs the file needed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repairs: Vec<String>,
    /// Pages without text in the store (no text layer and no OCR text, or failed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pages_without_text: Vec<u32>,
    /// Every page without a text layer, OCR'd or not, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub page_notes: Vec<PageNote>,
    /// Same content: the stored path of the copy the document was first stored under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_content_as: Option<String>,
    /// Moved: the stored path that is gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl FileReport {
    fn new(path: String, outcome: Outcome) -> Self {
        Self {
            path,
            outcome,
            doc_id: None,
            pages: 0,
            chunks: 0,
            replaced: false,
            repairs: Vec::new(),
            pages_without_text: Vec::new(),
            page_notes: Vec::new(),
            same_content_as: None,
            moved_from: None,
            error: None,
        }
    }

    pub fn failed(path: String, reason: String) -> Self {
        Self {
            error: Some(reason),
            ..Self::new(path, Outcome::Failed)
        }
    }

    /// A copy whose first copy (same bytes, this run) failed: it fails for the same reason,
    /// and says so rather than passing for stored.
    pub fn twin_failed(path: String, first: &str, reason: &str) -> Self {
        Self::failed(
            path,
            format!("same content as {first}, which failed: {reason}"),
        )
    }

    /// A file whose text was read in this run.
    pub fn stored(
        path: String,
        doc_id: String,
        (pages, chunks): (u32, u32),
        replaced: bool,
        prepared: &PreparedDocument,
    ) -> Self {
        let repairs: Vec<String> = prepared.repairs.iter().map(|r| r.to_string()).collect();
        let page_notes = page_notes(prepared);
        let mut pages_without_text = prepared.pages_without_text.clone();
        pages_without_text.extend(prepared.failed_pages.iter().map(|(p, _)| *p));
        pages_without_text.sort_unstable();
        let outcome = Outcome::stored(replaced, &repairs, &page_notes);
        Self {
            doc_id: Some(doc_id),
            pages,
            chunks,
            replaced,
            repairs,
            pages_without_text,
            page_notes,
            ..Self::new(path, outcome)
        }
    }

    /// A file whose bytes were stored already (before or earlier in this run).
    pub fn known(path: String, doc_id: String, (pages, chunks): (u32, u32), seen: Seen) -> Self {
        let (outcome, same_content_as, moved_from) = match seen.how {
            How::Unchanged => (Outcome::Unchanged, None, None),
            How::SameContentAs(first) => (Outcome::SameContent, Some(first), None),
            How::MovedFrom(gone) => (Outcome::Moved, None, Some(gone)),
        };
        Self {
            doc_id: Some(doc_id),
            pages,
            chunks,
            replaced: seen.replaced,
            same_content_as,
            moved_from,
            ..Self::new(path, outcome)
        }
    }

    /// The line `ingest` prints on stderr for this file when the summary's count is not
    /// enough: what was repaired, which pages lack text, which file it is a copy of. Failed
    /// files have their `error:` line printed when they fail.
    pub fn note_line(&self) -> Option<String> {
        let replaced = if self.replaced {
            "; replaces the earlier version at this path"
        } else {
            ""
        };
        let pages = if self.page_notes.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = self
                .page_notes
                .iter()
                .map(|n| format!("{} ({})", n.page, n.note))
                .collect();
            format!("pages without a text layer: {}", list.join(", "))
        };
        match self.outcome {
            Outcome::Recovered => Some(format!(
                "recovered: {}: damaged; text recovered after: {}{}{replaced}",
                self.path,
                self.repairs.join(", "),
                if pages.is_empty() {
                    String::new()
                } else {
                    format!("; {pages}")
                }
            )),
            Outcome::Partial => Some(format!("partial: {}: {pages}{replaced}", self.path)),
            Outcome::SameContent => {
                let first = self.same_content_as.as_deref().unwrap_or_default();
                Some(format!(
                    "same content: {}: same content as {}; stored once, under both names{replaced}",
                    self.path,
                    distinct_name(first, &self.path)
                ))
            }
            _ => None,
        }
    }
}

/// How a file whose bytes were stored already relates to that document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub how: How,
    /// The path was listed under another document (other bytes), which no longer lists it.
    pub replaced: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// The document lists this path already.
    Unchanged,
    /// The document's first path, still there, and now this one too.
    SameContentAs(String),
    /// The gone path this one took the place of.
    MovedFrom(String),
}

/// `path`'s file name, or the whole path where the file name alone would not tell it from
/// `other` (same name, other folder).
pub fn distinct_name<'a>(path: &'a str, other: &str) -> &'a str {
    let name = dossier_store::file_name(path);
    if name == dossier_store::file_name(other) {
        path
    } else {
        name
    }
}

#[derive(Serialize, Default, Debug, Clone, PartialEq)]
pub struct Summary {
    pub files: usize,
    pub added: usize,
    pub replaced: usize,
    pub recovered: usize,
    pub partial: usize,
    pub same_content: usize,
    pub moved: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub pruned: usize,
    pub pages: u64,
    pub chunks: u64,
    pub seconds: f64,
    pub chunks_per_second: f64,
    /// Seconds the embedders spent inside the model (summed over embedders).
    pub embed_seconds: f64,
    /// Commits of document batches.
    pub commits: usize,
    pub optimized: bool,
    pub interrupted: bool,
}

pub fn summarize(reports: &[FileReport], seconds: f64, interrupted: bool) -> Summary {
    let count = |outcome: Outcome| reports.iter().filter(|r| r.outcome == outcome).count();
    let fresh = reports.iter().filter(|r| r.outcome.embedded());
    let pages: u64 = fresh.clone().map(|r| u64::from(r.pages)).sum();
    let chunks: u64 = fresh.map(|r| u64::from(r.chunks)).sum();
    Summary {
        files: reports.len(),
        added: count(Outcome::Added),
        replaced: count(Outcome::Replaced),
        recovered: count(Outcome::Recovered),
        partial: count(Outcome::Partial),
        same_content: count(Outcome::SameContent),
        moved: count(Outcome::Moved),
        unchanged: count(Outcome::Unchanged),
        failed: count(Outcome::Failed),
        pages,
        chunks,
        seconds,
        chunks_per_second: if seconds > 0.0 {
            chunks as f64 / seconds
        } else {
            0.0
        },
        interrupted,
        ..Summary::default()
    }
}

/// The line `ingest` ends with. The six categories of every run are always there, the
/// rarer ones (same content, moved, pruned) when they happened or were asked for.
pub fn summary_line(summary: &Summary, prune: bool) -> String {
    let mut counts = vec![
        format!("{} added", summary.added),
        format!("{} replaced", summary.replaced),
        format!("{} recovered", summary.recovered),
        format!("{} partial", summary.partial),
    ];
    if summary.same_content > 0 {
        counts.push(format!("{} same content", summary.same_content));
    }
    if summary.moved > 0 {
        counts.push(format!("{} moved", summary.moved));
    }
    counts.push(format!("{} unchanged", summary.unchanged));
    counts.push(format!("{} failed", summary.failed));
    if prune {
        counts.push(format!("{} pruned", summary.pruned));
    }
    format!(
        "{} files: {}; {} pages, {} chunks in {:.1}s ({:.1} chunks/s){}",
        summary.files,
        counts.join(", "),
        summary.pages,
        summary.chunks,
        summary.seconds,
        summary.chunks_per_second,
        if summary.interrupted {
            "; interrupted"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use dossier_ingest::Repair;

    use super::*;

    fn prepared() -> PreparedDocument {
        PreparedDocument {
            id: "id".into(),
            path: PathBuf::from("/w/a.pdf"),
            title: None,
            size_bytes: 10,
            page_count: 4,
            pages_without_text: Vec::new(),
            ocr_note: None,
            no_text_notes: Vec::new(),
            repairs: Vec::new(),
            ocr_pages: Vec::new(),
            failed_pages: Vec::new(),
            chunks: Vec::new(),
        }
    }

    fn stored(replaced: bool, prepared: &PreparedDocument) -> FileReport {
        FileReport::stored("/w/a.pdf".into(), "id".into(), (4, 9), replaced, prepared)
    }

    #[test]
    fn a_sound_file_is_added_or_replaced_and_needs_no_note() {
        let added = stored(false, &prepared());
        assert_eq!(added.outcome, Outcome::Added);
        assert!(added.note_line().is_none());
        let replaced = stored(true, &prepared());
        assert_eq!(replaced.outcome, Outcome::Replaced);
        assert!(replaced.note_line().is_none());
        let json = serde_json::to_value(&replaced).unwrap();
        assert_eq!(json["outcome"], "replaced");
        assert_eq!(json["replaced"], true);
        assert!(serde_json::to_value(&added)
            .unwrap()
            .get("replaced")
            .is_none());
    }

    #[test]
    fn a_repaired_file_is_recovered_and_names_the_repair() {
        let mut file = prepared();
        file.repairs = vec![Repair::XrefRebuilt];
        let report = stored(true, &file);
        assert_eq!(report.outcome, Outcome::Recovered);
        assert_eq!(report.repairs, vec!["cross-reference table rebuilt"]);
        assert!(report.replaced);
        assert_eq!(
            report.note_line().unwrap(),
            "recovered: /w/a.pdf: damaged; text recovered after: cross-reference table \
             rebuilt; replaces the earlier version at this path"
        );
        // A repaired file with a page without text is still "recovered", and says both.
        file.pages_without_text = vec![3];
        file.no_text_notes = vec![(3, "no image on the page".into())];
        let report = stored(false, &file);
        assert_eq!(report.outcome, Outcome::Recovered);
        assert!(
            report
                .note_line()
                .unwrap()
                .ends_with("; pages without a text layer: 3 (no text: no image on the page)"),
            "{:?}",
            report.note_line()
        );
    }

    #[test]
    fn pages_without_text_make_a_file_partial_and_are_named_with_what_became_of_them() {
        let mut file = prepared();
        file.ocr_pages = vec![2];
        file.pages_without_text = vec![4, 1];
        file.no_text_notes = vec![(4, "no image on the page".into())];
        file.failed_pages = vec![(3, "bad font".into())];
        let report = stored(false, &file);
        assert_eq!(report.outcome, Outcome::Partial);
        assert_eq!(report.pages_without_text, vec![1, 3, 4]);
        let notes: Vec<(u32, &str)> = report
            .page_notes
            .iter()
            .map(|n| (n.page, n.note.as_str()))
            .collect();
        assert_eq!(
            notes,
            vec![
                (1, "no text: OCR off"),
                (2, "OCR'd"),
                (3, "text extraction failed: bad font"),
                (4, "no text: no image on the page"),
            ]
        );
        assert_eq!(
            report.note_line().unwrap(),
            "partial: /w/a.pdf: pages without a text layer: 1 (no text: OCR off), 2 (OCR'd), \
             3 (text extraction failed: bad font), 4 (no text: no image on the page)"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["outcome"], "partial");
        assert_eq!(
            json["page_notes"][1],
            serde_json::json!({"page": 2, "note": "OCR'd", "ocr": true})
        );

        // Only OCR'd pages: the text is all there, but the file still says which pages are
        // machine-read.
        let mut ocrd = prepared();
        ocrd.ocr_pages = vec![1];
        assert_eq!(stored(false, &ocrd).outcome, Outcome::Partial);
    }

    #[test]
    fn copies_moves_and_unchanged_files_say_what_they_are() {
        let known = |how: How, replaced| {
            FileReport::known(
                "/w/b.pdf".into(),
                "id".into(),
                (4, 9),
                Seen { how, replaced },
            )
        };
        let twin = known(How::SameContentAs("/w/a.pdf".into()), false);
        assert_eq!(twin.outcome, Outcome::SameContent);
        assert_eq!(
            twin.note_line().unwrap(),
            "same content: /w/b.pdf: same content as a.pdf; stored once, under both names"
        );
        let json = serde_json::to_value(&twin).unwrap();
        assert_eq!(json["outcome"], "same_content");
        assert_eq!(json["same_content_as"], "/w/a.pdf");
        // Same name in another folder: the whole path tells them apart.
        let elsewhere = known(How::SameContentAs("/v/b.pdf".into()), true);
        assert_eq!(
            elsewhere.note_line().unwrap(),
            "same content: /w/b.pdf: same content as /v/b.pdf; stored once, under both \
             names; replaces the earlier version at this path"
        );
        let moved = known(How::MovedFrom("/old/b.pdf".into()), false);
        assert_eq!(moved.outcome, Outcome::Moved);
        assert_eq!(
            serde_json::to_value(&moved).unwrap()["moved_from"],
            "/old/b.pdf"
        );
        assert_eq!(known(How::Unchanged, false).outcome, Outcome::Unchanged);
        assert!(known(How::Unchanged, false).note_line().is_none());
    }

    #[test]
    fn a_copy_of_a_file_that_failed_fails_too_and_says_why() {
        let report = FileReport::twin_failed("/w/b.pdf".into(), "a.pdf", "corrupt PDF: x");
        assert_eq!(report.outcome, Outcome::Failed);
        assert_eq!(
            report.error.as_deref(),
            Some("same content as a.pdf, which failed: corrupt PDF: x")
        );
    }

    #[test]
    fn every_file_is_counted_once_and_the_line_names_each_category() {
        let mut partial = prepared();
        partial.pages_without_text = vec![2];
        let mut recovered = prepared();
        recovered.repairs = vec![Repair::XrefRebuilt];
        let known = |how| {
            FileReport::known(
                "/w/k.pdf".into(),
                "k".into(),
                (4, 9),
                Seen {
                    how,
                    replaced: false,
                },
            )
        };
        let reports = vec![
            stored(false, &prepared()),
            stored(true, &prepared()),
            stored(false, &recovered),
            stored(false, &partial),
            known(How::SameContentAs("/w/a.pdf".into())),
            known(How::MovedFrom("/w/gone.pdf".into())),
            known(How::Unchanged),
            FileReport::failed("/w/bad.pdf".into(), "not a PDF".into()),
        ];
        let summary = summarize(&reports, 2.0, false);
        assert_eq!(
            (
                summary.files,
                summary.added,
                summary.replaced,
                summary.recovered,
                summary.partial,
                summary.same_content,
                summary.moved,
                summary.unchanged,
                summary.failed
            ),
            (8, 1, 1, 1, 1, 1, 1, 1, 1)
        );
        // Only the four files read in this run count pages and chunks.
        assert_eq!((summary.pages, summary.chunks), (16, 36));
        assert_eq!(
            summary_line(&summary, false),
            "8 files: 1 added, 1 replaced, 1 recovered, 1 partial, 1 same content, 1 moved, \
             1 unchanged, 1 failed; 16 pages, 36 chunks in 2.0s (18.0 chunks/s)"
        );

        let plain = summarize(&reports[..1], 1.0, true);
        assert_eq!(
            summary_line(&plain, true),
            "1 files: 1 added, 0 replaced, 0 recovered, 0 partial, 0 unchanged, 0 failed, \
             0 pruned; 4 pages, 9 chunks in 1.0s (9.0 chunks/s); interrupted"
        );
    }
}

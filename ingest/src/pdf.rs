//! PDF bytes → text per physical page.
//!
//! lopdf parses the file (and decrypts files whose user password is empty); `pdf-extract`
//! interprets each page's content stream with the fonts' encodings and ToUnicode maps.
//! Both crates can panic on hostile input, so every call into them is contained per file
//! and per page: one bad page never costs the rest of the document, one bad file never
//! costs the batch.

use std::panic::{catch_unwind, AssertUnwindSafe};

use lopdf::content::Operation;
use lopdf::{Document, LoadOptions};
use rayon::prelude::*;
use unicode_normalization::UnicodeNormalization;

use crate::layout::{self, GlyphCollector, PageLayout};
use crate::ocr::{self, OcrError, OcrMode};

/// Why a file yields no pages at all. Each variant's message is the reason shown to the
/// user after the file name, so it is short and says what to do where something can be done.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PdfError {
    #[error("empty file (0 bytes)")]
    Empty,
    #[error("not a PDF (no %PDF header)")]
    NotPdf,
    #[error("encrypted: password required")]
    PasswordRequired,
    #[error("encrypted: the password given does not open it")]
    WrongPassword,
    #[error("corrupt or truncated PDF: {0}")]
    Corrupt(String),
    #[error("no pages found (corrupt page tree?)")]
    NoPages,
    #[error("no text layer on any of its {pages} page(s) (scanned or image-only?){}",
        ocr.as_ref().map(|why| format!("; not OCR'd: {why}")).unwrap_or_default())]
    NoText { pages: usize, ocr: Option<String> },
    #[error("OCR was asked for (--ocr always) but {0}")]
    Ocr(OcrError),
}

/// What one page gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStatus {
    Text,
    /// The page has no extractable text: typically a scanned image.
    NoText,
    /// Extraction failed on this page; the reason is kept for the report.
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Page {
    /// 1-based physical page number (the position in the file, not the printed label).
    pub number: u32,
    /// NFKC-normalised text with tidy whitespace; empty unless `status` is `Text`.
    pub text: String,
    pub status: PageStatus,
    /// The text was recognised by OCR from an image of the page, not read from a text layer.
    pub ocr: bool,
    /// Why a page without a text layer was not OCR'd (tesseract missing, no image, ...).
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PdfText {
    pub title: Option<String>,
    pub pages: Vec<Page>,
}

impl PdfText {
    pub fn pages_with_text(&self) -> impl Iterator<Item = &Page> {
        self.pages.iter().filter(|p| p.status == PageStatus::Text)
    }
}

/// How to read a PDF.
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    /// Tried as the user password of an encrypted file; without one, the empty password is
    /// tried, which opens "print-protected" files that readers open silently.
    pub password: Option<String>,
    /// Whether pages without a text layer are OCR'd (needs `tesseract` on PATH).
    pub ocr: crate::ocr::OcrMode,
    /// Keep running headers, footers and page numbers (dropped by default: they repeat on
    /// every page and drown short questions in matches).
    pub keep_furniture: bool,
}

/// Extracts the text of every page of a PDF held in memory.
pub fn extract(bytes: &[u8], options: &ExtractOptions) -> Result<PdfText, PdfError> {
    let password = options.password.as_deref();
    if bytes.is_empty() {
        return Err(PdfError::Empty);
    }
    if !has_pdf_header(bytes) {
        return Err(PdfError::NotPdf);
    }
    let mut document = load(bytes, password)?;
    let page_ids = contained(|| document.get_pages())
        .map_err(|panic| PdfError::Corrupt(format!("page tree: {panic}")))?;
    if page_ids.is_empty() {
        // lopdf does not fail on a password it cannot authenticate: it returns a document
        // with nothing behind the encrypted trailer. No pages plus /Encrypt is that case.
        if document.trailer.get(b"Encrypt").is_ok() {
            return Err(if password.is_some() {
                PdfError::WrongPassword
            } else {
                PdfError::PasswordRequired
            });
        }
        return Err(PdfError::NoPages);
    }
    let title = contained(|| document_title(&document)).ok().flatten();

    for &page_id in page_ids.values() {
        // A page whose rewrite fails is still read as it is.
        let _ = contained(|| expand_quote_operators(&mut document, page_id));
    }
    // Pages are independent once the document is parsed: lay them out on all cores.
    let numbers: Vec<u32> = page_ids.keys().copied().collect();
    let mut layouts: Vec<(u32, Result<PageLayout, String>)> = numbers
        .par_iter()
        .map(|&number| (number, lay_out_page(&document, number)))
        .collect();
    let mut laid_out: Vec<PageLayout> = layouts
        .iter_mut()
        .filter_map(|(_, l)| l.as_mut().ok().map(std::mem::take))
        .collect();
    if !options.keep_furniture {
        layout::drop_furniture(&mut laid_out);
    }
    let mut laid_out = laid_out.into_iter();
    let mut pages: Vec<Page> = layouts
        .into_iter()
        .map(|(number, outcome)| {
            let outcome = outcome.map(|_| laid_out.next().unwrap_or_default());
            page_from(number, outcome)
        })
        .collect();

    if options.ocr != OcrMode::Never {
        for page in pages.iter_mut().filter(|p| p.status == PageStatus::NoText) {
            let Some(&page_id) = page_ids.get(&page.number) else {
                continue;
            };
            match contained(|| ocr::ocr_page(&document, page_id, page.number, bytes, password)) {
                Ok(Ok(text)) => {
                    page.text = tidy(&text);
                    page.status = PageStatus::Text;
                    page.ocr = true;
                }
                Ok(Err(OcrError::NoTesseract)) if options.ocr == OcrMode::Always => {
                    return Err(PdfError::Ocr(OcrError::NoTesseract));
                }
                Ok(Err(error)) => page.note = Some(error.to_string()),
                Err(panic) => page.note = Some(format!("OCR crashed: {panic}")),
            }
        }
    }

    if !pages.iter().any(|p| p.status == PageStatus::Text) {
        if let Some(Page {
            status: PageStatus::Failed(reason),
            ..
        }) = pages
            .iter()
            .find(|p| matches!(p.status, PageStatus::Failed(_)))
        {
            return Err(PdfError::Corrupt(reason.clone()));
        }
        return Err(PdfError::NoText {
            pages: pages.len(),
            ocr: pages.iter().find_map(|p| p.note.clone()),
        });
    }
    Ok(PdfText { title, pages })
}

fn has_pdf_header(bytes: &[u8]) -> bool {
    // The spec allows junk before the header; readers look in the first KiB.
    let head = &bytes[..bytes.len().min(1024)];
    head.windows(5).any(|w| w == b"%PDF-")
}

fn load(bytes: &[u8], password: Option<&str>) -> Result<Document, PdfError> {
    // lopdf tries the empty user password by itself; a password given here is tried next.
    let options = || LoadOptions {
        password: password.map(str::to_owned),
        ..LoadOptions::default()
    };
    let first = contained(|| Document::load_mem_with_options(bytes, options()))
        .map_err(|panic| PdfError::Corrupt(format!("parser crashed: {panic}")))?
        .map_err(|error| match error {
            lopdf::Error::InvalidPassword => PdfError::WrongPassword,
            other => PdfError::Corrupt(other.to_string()),
        });
    let Err(PdfError::Corrupt(reason)) = first else {
        return first;
    };
    // A damaged cross-reference table: rebuild it from the object headers, as poppler does,
    // and keep the result only if it has pages. Otherwise the first error stands.
    let repaired = contained(|| {
        let fixed = crate::repair::rebuild_xref(bytes)?;
        let document = Document::load_mem_with_options(&fixed, options()).ok()?;
        (!document.get_pages().is_empty()).then_some(document)
    });
    match repaired {
        Ok(Some(document)) => {
            tracing::debug!("cross-reference table rebuilt after: {reason}");
            Ok(document)
        }
        _ => Err(PdfError::Corrupt(reason)),
    }
}

/// Rewrites the text operators `'` and `"` (next line, then show a string) as `T*` and `Tj`,
/// which pdf-extract's interpreter knows. groff and Ghostscript use them for whole lines,
/// which pdf-extract would otherwise drop without a word.
fn expand_quote_operators(document: &mut Document, page_id: lopdf::ObjectId) {
    let Ok(raw) = document.get_page_content(page_id) else {
        return;
    };
    // Cheap pre-check, so that only pages which may use the operators are parsed twice: the
    // operator follows a string operand, `(...)'` or `<...>"`, where an apostrophe inside a
    // string follows a letter.
    let follows_string = raw.windows(3).any(|w| {
        matches!(w[2], b'\'' | b'"')
            && (matches!(w[1], b')' | b'>')
                || (w[1].is_ascii_whitespace() && matches!(w[0], b')' | b'>')))
    });
    if !follows_string {
        return;
    }
    let Ok(content) = lopdf::content::Content::decode(&raw) else {
        return;
    };
    if !content
        .operations
        .iter()
        .any(|op| op.operator == "'" || op.operator == "\"")
    {
        return;
    }
    let mut operations = Vec::with_capacity(content.operations.len() + 8);
    for op in content.operations {
        match (op.operator.as_str(), op.operands.as_slice()) {
            ("'", [text]) => {
                operations.push(Operation::new("T*", vec![]));
                operations.push(Operation::new("Tj", vec![text.clone()]));
            }
            ("\"", [word_spacing, char_spacing, text]) => {
                operations.push(Operation::new("Tw", vec![word_spacing.clone()]));
                operations.push(Operation::new("Tc", vec![char_spacing.clone()]));
                operations.push(Operation::new("T*", vec![]));
                operations.push(Operation::new("Tj", vec![text.clone()]));
            }
            _ => operations.push(op),
        }
    }
    if let Ok(encoded) = (lopdf::content::Content { operations }).encode() {
        let _ = document.change_page_content(page_id, encoded);
    }
}

/// Runs pdf-extract's content-stream interpreter over one page and lays out its glyphs.
fn lay_out_page(document: &Document, number: u32) -> Result<PageLayout, String> {
    match contained(|| {
        let mut glyphs = GlyphCollector::default();
        pdf_extract::output_doc_page(document, &mut glyphs, number).map(|()| glyphs)
    }) {
        Ok(Ok(glyphs)) => {
            contained(|| glyphs.into_layout()).map_err(|panic| format!("layout crashed: {panic}"))
        }
        Ok(Err(error)) => Err(error.to_string()),
        Err(panic) => Err(format!("extractor crashed: {panic}")),
    }
}

fn page_from(number: u32, outcome: Result<PageLayout, String>) -> Page {
    let (text, status) = match outcome {
        Ok(layout) => {
            let text = tidy(&layout.render());
            if text.chars().any(char::is_alphanumeric) {
                (text, PageStatus::Text)
            } else {
                (String::new(), PageStatus::NoText)
            }
        }
        Err(reason) => (String::new(), PageStatus::Failed(reason)),
    };
    Page {
        number,
        text,
        status,
        ocr: false,
        note: None,
    }
}

fn document_title(document: &Document) -> Option<String> {
    let info = document.trailer.get(b"Info").ok()?;
    let info = document.dereference(info).ok()?.1.as_dict().ok()?;
    let title = info.get(b"Title").ok()?;
    let title = document.dereference(title).ok()?.1;
    let title = match title {
        lopdf::Object::String(bytes, _) => decode_text_string(bytes),
        _ => return None,
    };
    let title = title.trim().to_owned();
    (!title.is_empty()).then_some(title)
}

/// PDF text strings are UTF-16BE with a BOM, or PDFDocEncoding (close enough to Latin-1
/// for titles).
fn decode_text_string(bytes: &[u8]) -> String {
    if let Some(utf16) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = utf16
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        bytes.iter().map(|&b| b as char).collect()
    }
}

/// NFKC (which also expands ligatures such as ﬁ), one space between words, at most one
/// blank line between paragraphs, no control characters.
pub fn tidy(raw: &str) -> String {
    let normalised: String = raw.nfkc().collect();
    let mut out = String::with_capacity(normalised.len());
    let mut blank_lines = 0;
    for line in normalised.lines() {
        let line: String = line
            .chars()
            .map(|c| {
                if c.is_control() || c == '\u{a0}' {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            blank_lines += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_lines > 0 { "\n\n" } else { "\n" });
        }
        blank_lines = 0;
        out.push_str(&words.join(" "));
    }
    out
}

thread_local! {
    static CONTAINING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True while this thread runs parser code whose panics are caught and reported as a file's
/// error. A panic hook can use it to keep such panics off the terminal.
pub fn panic_is_contained() -> bool {
    CONTAINING.with(|c| c.get())
}

/// Runs `f`, turning a panic into an error message.
fn contained<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let outer = CONTAINING.with(|c| c.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    CONTAINING.with(|c| c.set(outer));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_collapses_whitespace_and_expands_ligatures() {
        let raw = "  The \u{FB01}rst   clause\n\n\n\nSecond\tline \n";
        assert_eq!(tidy(raw), "The first clause\n\nSecond line");
    }

    #[test]
    fn rejects_empty_and_non_pdf_bytes() {
        assert_eq!(
            extract(b"", &ExtractOptions::default()).unwrap_err(),
            PdfError::Empty
        );
        assert_eq!(
            extract(b"hello, this is text", &ExtractOptions::default()).unwrap_err(),
            PdfError::NotPdf
        );
    }

    #[test]
    fn garbage_after_header_is_corrupt_not_a_panic() {
        let mut bytes = b"%PDF-1.4\n".to_vec();
        bytes.extend((0..4000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
        assert!(matches!(
            extract(&bytes, &ExtractOptions::default()),
            Err(PdfError::Corrupt(_) | PdfError::NoPages)
        ));
    }
}

//! PDF bytes → text per physical page.
//!
//! lopdf parses the file (and decrypts files whose user password is empty); `pdf-extract`
//! interprets the pages' content streams with the fonts' encodings and ToUnicode maps, a
//! batch of pages per pass so that each font is built once per batch (`lay_out_pages`).
//! Both crates can panic on hostile input, so every call into them is contained per file
//! and per page: one bad page never costs the rest of the document, one bad file never
//! costs the batch.

use std::panic::{catch_unwind, AssertUnwindSafe};

use std::collections::{BTreeMap, HashMap, HashSet};

use lopdf::xref::XrefEntry;
use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId, Stream};
use pdf_extract::MediaBox;
use rayon::prelude::*;
use unicode_normalization::UnicodeNormalization;

use crate::fonts;
use crate::layout::{self, BatchCollector, GlyphCollector, PageLayout};
use crate::ocr::{self, OcrError, OcrMode};
use crate::repair::{self, Repair};

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
    /// What had to be mended to read the file (empty for a sound file), in the order applied.
    pub repairs: Vec<Repair>,
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
    let Loaded {
        mut document,
        mut repairs,
    } = load(bytes, password)?;
    let mut page_ids = match page_tree(&document, password) {
        Ok(page_ids) => page_ids,
        // Read through its own table, the file has no page tree (a `startxref` that names
        // an older section, say): the rebuilt table may have one.
        Err(error @ (PdfError::NoPages | PdfError::Corrupt(_))) if repairs.is_empty() => {
            let other = repaired(bytes, password, Some(&document))
                .ok()
                .filter(|r| !r.repairs.is_empty())
                .ok_or(error)?;
            (document, repairs) = (other.document, other.repairs);
            page_tree(&document, password)?
        }
        Err(error) => return Err(error),
    };
    let mut pages = read_pages(&mut document, &page_ids, options.keep_furniture);
    // The declared cross-reference table read, but pages came out without text that the file
    // may still hold (it named objects at the wrong places, or an old section): read the
    // file through a rebuilt table too and keep whichever reading has more text.
    if repairs.is_empty() && text_may_be_lost(&document, &page_ids, &pages) {
        if let Some(mut other) = repaired(bytes, password, Some(&document))
            .ok()
            .filter(|r| !r.repairs.is_empty())
        {
            if let Ok(other_ids) = page_tree(&other.document, password) {
                let other_pages =
                    read_pages(&mut other.document, &other_ids, options.keep_furniture);
                if text_chars(&other_pages) > text_chars(&pages) {
                    tracing::debug!("pages without text; read again with {:?}", other.repairs);
                    (document, page_ids, pages, repairs) =
                        (other.document, other_ids, other_pages, other.repairs);
                }
            }
        }
    }
    let title = contained(|| document_title(&document)).ok().flatten();

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
    Ok(PdfText {
        title,
        pages,
        repairs,
    })
}

/// The page tree: physical page number → page object.
fn page_tree(
    document: &Document,
    password: Option<&str>,
) -> Result<BTreeMap<u32, ObjectId>, PdfError> {
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
    Ok(page_ids)
}

/// Every page's text layer (no OCR yet), furniture dropped unless it is kept.
fn read_pages(
    document: &mut Document,
    page_ids: &BTreeMap<u32, ObjectId>,
    keep_furniture: bool,
) -> Vec<Page> {
    match contained(|| fonts::prepare(document)) {
        Ok(fixed) if fixed != fonts::FontRepairs::default() => {
            tracing::debug!("fonts prepared for the interpreter: {fixed:?}");
        }
        Ok(_) => {}
        Err(panic) => tracing::debug!("font preparation crashed: {panic}"),
    }
    let mut layouts = lay_out_pages(document, page_ids);
    let mut laid_out: Vec<PageLayout> = layouts
        .iter_mut()
        .filter_map(|(_, l)| l.as_mut().ok().map(std::mem::take))
        .collect();
    if !keep_furniture {
        layout::drop_furniture(&mut laid_out);
    }
    let mut laid_out = laid_out.into_iter();
    let outcomes: Vec<(u32, Result<PageLayout, String>)> = layouts
        .into_iter()
        .map(|(number, outcome)| (number, outcome.map(|_| laid_out.next().unwrap_or_default())))
        .collect();
    outcomes
        .into_par_iter()
        .map(|(number, outcome)| page_from(number, outcome))
        .collect()
}

fn text_chars(pages: &[Page]) -> usize {
    pages
        .iter()
        .map(|p| p.text.chars().filter(|c| c.is_alphanumeric()).count())
        .sum()
}

/// Whether a page without text names content streams that are missing from the document, or
/// whose content shows text (`Tj`, `TJ`, `'`, `"`): signs of a cross-reference table that
/// points at the wrong bytes, not of a scanned page.
fn text_may_be_lost(
    document: &Document,
    page_ids: &BTreeMap<u32, ObjectId>,
    pages: &[Page],
) -> bool {
    pages
        .iter()
        .filter(|p| p.status != PageStatus::Text)
        .filter_map(|p| page_ids.get(&p.number))
        .any(|&page_id| {
            contained(|| {
                let Ok(page) = document.get_dictionary(page_id) else {
                    return false;
                };
                let contents = match page.get(b"Contents") {
                    Ok(Object::Reference(id)) => vec![*id],
                    Ok(Object::Array(items)) => {
                        items.iter().filter_map(|o| o.as_reference().ok()).collect()
                    }
                    _ => Vec::new(),
                };
                contents.iter().any(|&id| {
                    match document.get_object(id).and_then(Object::as_stream) {
                        Err(_) => true,
                        Ok(stream) => stream
                            .decompressed_content()
                            .is_ok_and(|content| shows_text(&content)),
                    }
                })
            })
            .unwrap_or(false)
        })
}

/// Whether content holds a text-showing operator. A byte search, not a parse: a false "yes"
/// costs one more reading of the file, never a wrong text.
fn shows_text(content: &[u8]) -> bool {
    let delimiter =
        |b: Option<&u8>| b.is_none_or(|&b| b.is_ascii_whitespace() || b"()<>[]{}/%".contains(&b));
    let shown = content.windows(2).enumerate().any(|(i, w)| {
        matches!(w, b"Tj" | b"TJ")
            && delimiter(i.checked_sub(1).and_then(|j| content.get(j)))
            && delimiter(content.get(i + 2))
    });
    // `'` and `"` take a string: the operator follows its closing `)` or `>`.
    shown
        || content.iter().enumerate().any(|(i, &b)| {
            matches!(b, b'\'' | b'"')
                && delimiter(content.get(i + 1))
                && content[..i]
                    .trim_ascii_end()
                    .last()
                    .is_some_and(|&c| c == b')' || c == b'>')
        })
}

fn has_pdf_header(bytes: &[u8]) -> bool {
    // The spec allows junk before the header; readers look in the first KiB.
    let head = &bytes[..bytes.len().min(1024)];
    head.windows(5).any(|w| w == b"%PDF-")
}

/// A document as lopdf reads it, and what had to be mended for that.
struct Loaded {
    document: Document,
    repairs: Vec<Repair>,
}

fn load_options(password: Option<&str>) -> LoadOptions {
    // lopdf tries the empty user password by itself; a password given here is tried next.
    LoadOptions {
        password: password.map(str::to_owned),
        ..LoadOptions::default()
    }
}

/// The file through its own cross-reference table, as long as every object that table names
/// was read; else through a rebuilt one ([`repair::rebuild`]) when that gives pages.
fn load(bytes: &[u8], password: Option<&str>) -> Result<Loaded, PdfError> {
    let first = contained(|| Document::load_mem_with_options(bytes, load_options(password)))
        .map_err(|panic| PdfError::Corrupt(format!("parser crashed: {panic}")))?
        .map_err(|error| match error {
            lopdf::Error::InvalidPassword => PdfError::WrongPassword,
            other => PdfError::Corrupt(other.to_string()),
        });
    let reason = match first {
        Ok(document) if contained(|| all_read(&document)).unwrap_or(false) => {
            return Ok(Loaded {
                document,
                repairs: Vec::new(),
            });
        }
        Ok(document) => {
            // Objects lost to wrong offsets or stream lengths: take the rebuilt reading if it
            // has at least the pages this one has.
            let pages = contained(|| document.get_pages().len()).unwrap_or(0);
            let better = repaired(bytes, password, Some(&document)).ok().filter(|r| {
                !r.repairs.is_empty()
                    && contained(|| r.document.get_pages().len()).unwrap_or(0) >= pages
            });
            return Ok(better.unwrap_or(Loaded {
                document,
                repairs: Vec::new(),
            }));
        }
        Err(PdfError::Corrupt(reason)) => reason,
        Err(other) => return Err(other),
    };
    // A damaged cross-reference table: rebuild it from the object headers, as poppler does,
    // and keep the result only if it has pages. Otherwise the first error stands.
    match repaired(bytes, password, None) {
        Ok(loaded) => {
            tracing::debug!("{:?} after: {reason}", loaded.repairs);
            Ok(loaded)
        }
        Err(PdfError::Corrupt(why)) => Err(PdfError::Corrupt(format!("{reason}; {why}"))),
        Err(other) => Err(other),
    }
}

/// `bytes` read through a rebuilt cross-reference table, if that gives pages (or is locked:
/// the password errors are the file's); else why not, as `Corrupt`. `declared`: the reading
/// through the file's own table, against which the rebuilt one is compared to say whether
/// the table had to be rebuilt or only stream lengths fixed.
fn repaired(
    bytes: &[u8],
    password: Option<&str>,
    declared: Option<&Document>,
) -> Result<Loaded, PdfError> {
    let corrupt = |why: String| PdfError::Corrupt(why);
    let attempt = contained(|| {
        let rebuilt = repair::rebuild(bytes)
            .map_err(|why| corrupt(format!("a scan of the file finds {why}")))?;
        let mut document = Document::load_mem_with_options(&rebuilt.bytes, load_options(password))
            .map_err(|error| match error {
                lopdf::Error::InvalidPassword => PdfError::WrongPassword,
                other => corrupt(format!(
                    "the rebuilt cross-reference table fails too: {other}"
                )),
            })?;
        settle_compressed(&mut document, &rebuilt.table);
        let locked = document.trailer.get(b"Encrypt").is_ok() && !document.was_encrypted();
        if document.get_pages().is_empty() && !locked {
            return Err(corrupt(
                "the rebuilt cross-reference table gives no pages".to_owned(),
            ));
        }
        let mut repairs = Vec::new();
        if declared.is_none_or(|d| !same_table(d, &rebuilt.table)) {
            repairs.push(Repair::XrefRebuilt);
        }
        if rebuilt.fixed_lengths > 0 {
            repairs.push(Repair::StreamLengthsFixed {
                streams: rebuilt.fixed_lengths,
            });
        }
        Ok(Loaded { document, repairs })
    });
    attempt.unwrap_or_else(|panic| {
        Err(corrupt(format!(
            "the rebuilt file crashed the parser: {panic}"
        )))
    })
}

/// Which copy of an object held by several object streams counts, in a document read through a
/// rebuilt table (which lists no compressed objects, so lopdf takes every object stream's
/// objects where nothing else defines them): lopdf lets whichever stream its parallel parse
/// reaches first win, so the text could change from run to run. poppler's reconstruction lets
/// the first object stream in the file define an object, and never over an object defined
/// directly; so does this.
fn settle_compressed(document: &mut Document, table: &BTreeMap<u32, (u16, usize)>) {
    let mut containers: Vec<(usize, ObjectId)> = table
        .iter()
        .map(|(&number, &(generation, offset))| (offset, (number, generation)))
        .filter(|&(_, id)| {
            document
                .get_object(id)
                .and_then(Object::as_stream)
                .is_ok_and(|s| s.dict.has_type(b"ObjStm"))
        })
        .collect();
    containers.sort_unstable();
    let mut settled = HashSet::new();
    for (_, id) in containers {
        let Ok(mut stream) = document.get_object(id).and_then(Object::as_stream).cloned() else {
            continue;
        };
        let Ok(held) = lopdf::ObjectStream::new(&mut stream) else {
            continue;
        };
        for (inner, object) in held.objects {
            if !table.contains_key(&inner.0) && settled.insert(inner) {
                document.objects.insert(inner, object);
            }
        }
    }
}

/// Whether lopdf read every object the cross-reference table names, and every stream's data.
/// A wrong offset or a wrong `/Length` loses objects silently (lopdf logs and goes on), and a
/// `/Length` that refers to a missing object leaves the stream empty.
fn all_read(document: &Document) -> bool {
    if document.trailer.get(b"Encrypt").is_ok() && !document.was_encrypted() {
        // Locked (no password that opens it): nothing was meant to be read.
        return true;
    }
    // Having decrypted a file, lopdf drops its encryption dictionary from the objects and the
    // trailer alike: one object of the table is missing by design.
    let mut dropped = usize::from(document.was_encrypted());
    for (&number, entry) in &document.reference_table.entries {
        let id = match *entry {
            // Offset 0 is how some writers mark an object they deleted.
            XrefEntry::Normal { offset: 0, .. } => continue,
            XrefEntry::Normal { generation, .. } => (number, generation),
            XrefEntry::Compressed { .. } => (number, 0),
            _ => continue,
        };
        if !document.objects.contains_key(&id) {
            if dropped == 0 {
                return false;
            }
            dropped -= 1;
        }
    }
    document.objects.values().all(|object| match object {
        Object::Stream(stream) => !(stream.content.is_empty() && stream.start_position.is_some()),
        _ => true,
    })
}

/// Whether the rebuilt table is the declared one: the same object at the same offset for
/// every object either names.
fn same_table(declared: &Document, rebuilt: &BTreeMap<u32, (u16, usize)>) -> bool {
    let entries = &declared.reference_table.entries;
    let declared_match = entries.iter().all(|(number, entry)| match *entry {
        XrefEntry::Normal { offset, generation } => {
            rebuilt.get(number) == Some(&(generation, offset as usize))
        }
        _ => true,
    });
    declared_match && rebuilt.keys().all(|number| entries.contains_key(number))
}

/// Operators that draw no text and change nothing text is placed by: path construction,
/// painting and clipping, colours, line style.
const GRAPHICS_OPERATORS: &[&[u8]] = &[
    b"m", b"l", b"c", b"v", b"y", b"h", b"re", b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b",
    b"b*", b"n", b"W", b"W*", b"g", b"G", b"rg", b"RG", b"k", b"K", b"cs", b"CS", b"sc", b"SC",
    b"scn", b"SCN", b"w", b"J", b"j", b"M", b"d", b"ri", b"i",
];

/// A content stream without its graphics operators and their operands. pdf-extract parses
/// every operator into objects before it looks at any: on pages of drawings and ruled forms
/// that is most of the work, for operators it ignores. A byte scanner that knows strings,
/// comments and inline images is far cheaper than that parse. Everything else is copied as
/// it is, so text, positions (`cm`, `q`/`Q`, text operators) and forms stay what they were,
/// except the text operators `'` and `"` (next line, then show a string): groff and
/// Ghostscript set whole lines with them, which pdf-extract would drop without a word, so
/// they are rewritten as `T*` and `Tj` (`"` sets `Tw` and `Tc` first). The second value says
/// whether one was.
fn without_graphics(content: &[u8]) -> (Vec<u8>, bool) {
    let regular = |b: u8| {
        !matches!(
            b,
            b'\0'
                | b'\t'
                | b'\n'
                | b'\x0c'
                | b'\r'
                | b' '
                | b'('
                | b')'
                | b'<'
                | b'>'
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'/'
                | b'%'
        )
    };
    let n = content.len();
    let mut out = Vec::with_capacity(n);
    let mut rewritten = false;
    // Where the operands of the next operator begin: just after the previous operator.
    let mut pending = 0;
    let mut i = 0;
    while i < n {
        match content[i] {
            b'%' => {
                while i < n && content[i] != b'\n' && content[i] != b'\r' {
                    i += 1;
                }
            }
            b'(' => i = after_literal_string(content, i),
            b'<' if content.get(i + 1) == Some(&b'<') => i += 2,
            b'<' => {
                while i < n && content[i] != b'>' {
                    i += 1;
                }
                i += 1;
            }
            b'/' => {
                i += 1;
                while i < n && regular(content[i]) {
                    i += 1;
                }
            }
            b if !regular(b) => i += 1,
            _ => {
                let start = i;
                while i < n && regular(content[i]) {
                    i += 1;
                }
                let token = &content[start..i];
                let operand = token
                    .iter()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.'))
                    || matches!(token, b"true" | b"false" | b"null");
                if operand {
                    continue;
                }
                if token == b"ID" {
                    // Inline image data runs to an `EI` between white space.
                    i += 1;
                    while i < n
                        && !(content[i - 1].is_ascii_whitespace()
                            && content[i..].starts_with(b"EI")
                            && content.get(i + 2).is_none_or(|b| b.is_ascii_whitespace()))
                    {
                        i += 1;
                    }
                    i = (i + 2).min(n);
                }
                let operands = &content[pending..start];
                let quote = match token {
                    b"'" => string_operand(operands).map(|s| (None, s)),
                    b"\"" => spacings_and_string(operands).map(|(w, c, s)| (Some((w, c)), s)),
                    _ => None,
                };
                if let Some((spacings, string)) = quote {
                    if let Some((word, character)) = spacings {
                        for (value, operator) in [(word, &b"Tw"[..]), (character, b"Tc")] {
                            out.extend_from_slice(value);
                            out.push(b' ');
                            out.extend_from_slice(operator);
                            out.push(b'\n');
                        }
                    }
                    out.extend_from_slice(b"T*\n");
                    out.extend_from_slice(string);
                    out.extend_from_slice(b" Tj\n");
                    rewritten = true;
                } else if !GRAPHICS_OPERATORS.contains(&token) {
                    out.extend_from_slice(&content[pending..i]);
                    out.push(b'\n');
                }
                pending = i;
            }
        }
    }
    out.extend_from_slice(&content[pending.min(n)..]);
    (out, rewritten)
}

/// The operands of `"`: word spacing, character spacing (two numbers) and the string.
fn spacings_and_string(operands: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let number = |bytes: &[u8]| {
        !bytes.is_empty()
            && bytes
                .iter()
                .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.'))
    };
    let mut rest = operands.trim_ascii_start();
    let mut numbers = [&b""[..]; 2];
    for slot in &mut numbers {
        let end = rest
            .iter()
            .position(|b| b.is_ascii_whitespace() || matches!(b, b'(' | b'<'))
            .unwrap_or(rest.len());
        *slot = &rest[..end];
        rest = rest[end..].trim_ascii_start();
    }
    let string = string_operand(rest)?;
    (number(numbers[0]) && number(numbers[1])).then_some((numbers[0], numbers[1], string))
}

/// `operands` if they are one string, literal or hex, and nothing else: `Tj` needs one.
fn string_operand(operands: &[u8]) -> Option<&[u8]> {
    let string = operands.trim_ascii();
    let closed = match string.first() {
        Some(b'(') => string.last() == Some(&b')'),
        Some(b'<') => string.get(1) != Some(&b'<') && string.last() == Some(&b'>'),
        _ => false,
    };
    closed.then_some(string)
}

/// One page as it goes into a batch: its content becomes a form XObject.
struct PageSource {
    number: u32,
    id: ObjectId,
    /// `content` differs from the page's own (see [`page_content`]).
    rewritten: bool,
    content: Vec<u8>,
    resources: Option<Dictionary>,
    media_box: MediaBox,
    /// Font resource name → font object, over the page and the forms it draws.
    fonts: Vec<(Vec<u8>, usize)>,
}

/// Lays out every page. pdf-extract builds a page's fonts anew for every page it is asked
/// for (its font table is keyed by resource name and cleared per page), which was a third of
/// the extraction time. So consecutive pages whose resource names mean the same fonts are
/// drawn as form XObjects of one synthetic page, one interpreter pass per batch, and the
/// glyphs are split back into pages at markers drawn between the forms. Batches run in
/// parallel. A batch that fails is read again page by page, so one bad page still costs only
/// itself.
fn lay_out_pages(
    document: &mut Document,
    page_ids: &BTreeMap<u32, ObjectId>,
) -> Vec<(u32, Result<PageLayout, String>)> {
    // Not empty: pdf-extract fails on a content stream without operators.
    let blank = document.add_object(Stream::new(
        form_dictionary(&[0.0, 0.0, 1.0, 1.0]),
        b"q Q\n".to_vec(),
    ));
    let pages: Vec<(u32, ObjectId)> = page_ids.iter().map(|(&n, &id)| (n, id)).collect();
    let mut results: Vec<(u32, Result<PageLayout, String>)> = Vec::with_capacity(pages.len());
    let mut alone = Vec::new();
    for round in pages.chunks(ROUND_PAGES) {
        lay_out_round(document, round, blank, &mut results, &mut alone);
    }
    if !alone.is_empty() {
        tracing::debug!("{} page(s) read one by one", alone.len());
    }
    let document = &*document;
    results.par_extend(
        alone
            .par_iter()
            .map(|&number| (number, lay_out_page(document, number))),
    );
    results.sort_by_key(|(number, _)| *number);
    results
}

/// Pages read per round. A round's page contents are held in memory together (as forms), so
/// a long document is read a round at a time and its forms are removed after each.
const ROUND_PAGES: usize = 256;

/// Reads one round of pages in batches; pages to read one by one go to `alone`.
fn lay_out_round(
    document: &mut Document,
    round: &[(u32, ObjectId)],
    blank: ObjectId,
    results: &mut Vec<(u32, Result<PageLayout, String>)>,
    alone: &mut Vec<u32>,
) {
    let substitutes = contained(|| image_free_forms(document, round, blank)).unwrap_or_default();
    let document_ref = &*document;
    let read: Vec<(u32, Result<Option<PageSource>, String>)> = round
        .par_iter()
        .map(|&(number, page_id)| {
            let source =
                contained(|| page_source(document_ref, number, page_id, blank, &substitutes));
            (number, source)
        })
        .collect();
    let mut sources = Vec::with_capacity(round.len());
    for (number, source) in read {
        match source {
            Ok(Some(source)) => sources.push(source),
            _ => alone.push(number),
        }
    }
    let mut batches = batches(sources);
    match contained(|| install_batches(document, &mut batches)) {
        Ok(Ok((original_pages, added))) => {
            let outcomes: Vec<Option<Vec<Result<PageLayout, String>>>> = batches
                .par_iter()
                .enumerate()
                .map(|(index, batch)| lay_out_batch(document, index as u32 + 1, batch))
                .collect();
            // Restore the page tree before anything reads pages by number again.
            if let Ok(catalog) = document.catalog_mut() {
                catalog.set("Pages", original_pages);
            }
            for id in added {
                document.objects.remove(&id);
            }
            for (batch, outcome) in batches.iter().zip(outcomes) {
                match outcome {
                    Some(layouts) => results.extend(batch.iter().map(|p| p.number).zip(layouts)),
                    None => {
                        // Read one by one from the document: give pdf-extract the rewritten
                        // content there too.
                        for page in batch.iter().filter(|p| p.rewritten) {
                            let _ = document.change_page_content(page.id, page.content.clone());
                        }
                        alone.extend(batch.iter().map(|p| p.number));
                    }
                }
            }
        }
        _ => alone.extend(batches.iter().flatten().map(|p| p.number)),
    }
    for copy in substitutes.into_values() {
        document.objects.remove(&copy);
    }
}

/// pdf-extract decodes every image a form draws and parses its pixels as content (see
/// [`replace_xobjects`]); a logo in a running header, drawn through a form on every page, cost
/// half the time of a 15-page report. Each form of the round's pages that draws images,
/// directly or through inner forms, gets a copy that draws the blank form instead; returns
/// form → copy. The copies are added to the document for the round only.
fn image_free_forms(
    document: &mut Document,
    round: &[(u32, ObjectId)],
    blank: ObjectId,
) -> HashMap<ObjectId, ObjectId> {
    let mut draws_images = HashMap::new();
    let mut order = Vec::new();
    for &(_, page_id) in round {
        if let Some(resources) =
            inherited(document, page_id, b"Resources").and_then(|r| r.as_dict().ok())
        {
            scan_forms(document, resources, &mut draws_images, &mut order, 0);
        }
    }
    let substitutes: HashMap<ObjectId, ObjectId> = order
        .iter()
        .map(|&form| (form, document.new_object_id()))
        .collect();
    // Children come before their parents in `order`, but every copy's id is known already.
    for form in order {
        let Ok(mut copy) = document
            .get_object(form)
            .and_then(Object::as_stream)
            .cloned()
        else {
            continue;
        };
        let Some(mut resources) = copy
            .dict
            .get_deref(b"Resources", document)
            .and_then(Object::as_dict)
            .ok()
            .cloned()
        else {
            continue;
        };
        replace_xobjects(document, &mut resources, blank, &substitutes);
        copy.dict.set("Resources", Object::Dictionary(resources));
        document
            .objects
            .insert(substitutes[&form], Object::Stream(copy));
    }
    substitutes
}

/// Whether `resources` name an image, or a form that draws one; records such forms in
/// `order`, inner forms first.
fn scan_forms(
    document: &Document,
    resources: &Dictionary,
    draws_images: &mut HashMap<ObjectId, bool>,
    order: &mut Vec<ObjectId>,
    depth: usize,
) -> bool {
    let Ok(xobjects) = resources
        .get_deref(b"XObject", document)
        .and_then(Object::as_dict)
    else {
        return false;
    };
    let mut any = false;
    for (_, xobject) in xobjects.iter() {
        let Ok(id) = xobject.as_reference() else {
            continue;
        };
        let Ok(stream) = document.get_object(id).and_then(Object::as_stream) else {
            continue;
        };
        match stream.dict.get(b"Subtype").and_then(Object::as_name) {
            Ok(b"Image") => any = true,
            Ok(b"Form") if depth < 8 => {
                if let Some(&known) = draws_images.get(&id) {
                    any |= known;
                    continue;
                }
                // A form that draws itself is not followed round again.
                draws_images.insert(id, false);
                let inner = stream
                    .dict
                    .get_deref(b"Resources", document)
                    .and_then(Object::as_dict)
                    .is_ok_and(|inner| scan_forms(document, inner, draws_images, order, depth + 1));
                if inner {
                    draws_images.insert(id, true);
                    order.push(id);
                    any = true;
                }
            }
            _ => {}
        }
    }
    any
}

/// `blank`: an empty form that stands in for the page's images (see [`replace_xobjects`]);
/// `substitutes`: copies of its forms that draw no images (see [`image_free_forms`]).
fn page_source(
    document: &Document,
    number: u32,
    page_id: ObjectId,
    blank: ObjectId,
    substitutes: &HashMap<ObjectId, ObjectId>,
) -> Option<PageSource> {
    let raw = document.get_page_content(page_id).ok()?;
    let (content, rewritten) = without_graphics(&raw);
    let resources = inherited(document, page_id, b"Resources").and_then(|r| r.as_dict().ok());
    let media_box = inherited(document, page_id, b"MediaBox")
        .and_then(|b| b.as_array().ok())
        .and_then(|b| {
            let n: Vec<f64> = b
                .iter()
                .filter_map(|o| document.dereference(o).ok()?.1.as_float().ok())
                .map(f64::from)
                .collect();
            (n.len() == 4).then(|| MediaBox {
                llx: n[0],
                lly: n[1],
                urx: n[2],
                ury: n[3],
            })
        })?;
    let mut fonts = Vec::new();
    if let Some(resources) = resources {
        font_names(document, resources, &mut fonts, &mut HashSet::new(), 0);
    }
    let resources = resources.map(|resources| {
        let mut resources = resources.clone();
        replace_xobjects(document, &mut resources, blank, substitutes);
        resources
    });
    Some(PageSource {
        number,
        id: page_id,
        rewritten,
        content,
        resources,
        media_box,
        fonts,
    })
}

/// pdf-extract runs every XObject a page draws through its content-stream parser, images
/// included: it inflates the pixels and parses them as operators, which cost more than the
/// text on pages with large images. Images hold no text, so in the batch the page's images
/// are replaced by an empty form, and its forms that draw images by their `substitutes`.
fn replace_xobjects(
    document: &Document,
    resources: &mut Dictionary,
    blank: ObjectId,
    substitutes: &HashMap<ObjectId, ObjectId>,
) {
    let Some(Object::Dictionary(xobjects)) = resources
        .get(b"XObject")
        .ok()
        .and_then(|x| document.dereference(x).ok())
        .map(|(_, x)| x)
    else {
        return;
    };
    let mut xobjects = xobjects.clone();
    let mut changed = false;
    for (_, xobject) in xobjects.iter_mut() {
        if let Some(&copy) = xobject
            .as_reference()
            .ok()
            .and_then(|id| substitutes.get(&id))
        {
            *xobject = Object::Reference(copy);
            changed = true;
            continue;
        }
        let is_image = document
            .dereference(xobject)
            .ok()
            .and_then(|(_, o)| o.as_stream().ok())
            .is_some_and(|s| {
                s.dict
                    .get(b"Subtype")
                    .and_then(Object::as_name)
                    .is_ok_and(|n| n == b"Image")
            });
        if is_image {
            *xobject = Object::Reference(blank);
            changed = true;
        }
    }
    if changed {
        resources.set("XObject", Object::Dictionary(xobjects));
    }
}

fn form_dictionary(bbox: &[f64; 4]) -> Dictionary {
    let mut form = Dictionary::new();
    form.set("Type", Object::Name(b"XObject".to_vec()));
    form.set("Subtype", Object::Name(b"Form".to_vec()));
    form.set(
        "BBox",
        Object::Array(bbox.iter().map(|&v| Object::Real(v as f32)).collect()),
    );
    form
}

/// A page attribute that may be inherited from the page tree, dereferenced.
fn inherited<'a>(document: &'a Document, page_id: ObjectId, key: &[u8]) -> Option<&'a Object> {
    let mut node = document.get_dictionary(page_id).ok()?;
    for _ in 0..32 {
        if let Ok(value) = node.get(key) {
            return document.dereference(value).ok().map(|(_, o)| o);
        }
        node = node.get_deref(b"Parent", document).ok()?.as_dict().ok()?;
    }
    None
}

/// Collects font resource names and what they point to (an object number, or the address of
/// an inline font dictionary), through the forms a page draws, since pdf-extract looks fonts
/// up by name alone.
fn font_names(
    document: &Document,
    resources: &Dictionary,
    out: &mut Vec<(Vec<u8>, usize)>,
    seen: &mut HashSet<ObjectId>,
    depth: usize,
) {
    if let Ok(fonts) = resources
        .get_deref(b"Font", document)
        .and_then(Object::as_dict)
    {
        for (name, font) in fonts.iter() {
            let key = match font {
                Object::Reference((number, generation)) => {
                    ((*number as usize) << 16) | *generation as usize
                }
                inline => (inline as *const Object as usize) | (1 << (usize::BITS - 1)),
            };
            out.push((name.clone(), key));
        }
    }
    if depth >= 8 {
        return;
    }
    let Ok(xobjects) = resources
        .get_deref(b"XObject", document)
        .and_then(Object::as_dict)
    else {
        return;
    };
    for (_, xobject) in xobjects.iter() {
        if let Ok(id) = xobject.as_reference() {
            if !seen.insert(id) {
                continue;
            }
        }
        let Ok(stream) = document
            .dereference(xobject)
            .and_then(|(_, o)| o.as_stream())
        else {
            continue;
        };
        if let Ok(inner) = stream
            .dict
            .get_deref(b"Resources", document)
            .and_then(Object::as_dict)
        {
            font_names(document, inner, out, seen, depth + 1);
        }
    }
}

/// Splits pages into runs in which every font name means one font, about one run per core.
/// Every run builds its fonts anew (a twelfth of the time with two runs per core), so runs
/// are as long as keeping the cores busy allows: each gets its share of the content bytes,
/// which follow the glyph count more closely than the page count does.
fn batches(sources: Vec<PageSource>) -> Vec<Vec<PageSource>> {
    let threads = rayon::current_num_threads().max(1);
    let share = sources
        .iter()
        .map(|s| s.content.len())
        .sum::<usize>()
        .div_ceil(threads);
    let mut batches: Vec<Vec<PageSource>> = Vec::new();
    let mut current: Vec<PageSource> = Vec::new();
    let mut bytes = 0;
    let mut names: HashMap<Vec<u8>, usize> = HashMap::new();
    for source in sources {
        let clash = (!current.is_empty() && bytes >= share)
            || source
                .fonts
                .iter()
                .any(|(name, key)| names.get(name).is_some_and(|k| k != key));
        if clash {
            batches.push(std::mem::take(&mut current));
            names.clear();
            bytes = 0;
        }
        names.extend(source.fonts.iter().cloned());
        bytes += source.content.len();
        current.push(source);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Adds one synthetic page per batch (its pages as forms, a marker before each) and points
/// the catalog at a page tree of just those; returns the catalog's original `Pages` entry and
/// the objects added.
/// The pages' contents and resources move into the forms, except content that a failed
/// batch must write back (see [`lay_out_pages`]).
fn install_batches(
    document: &mut Document,
    batches: &mut [Vec<PageSource>],
) -> lopdf::Result<(Object, Vec<ObjectId>)> {
    let original = document.catalog()?.get(b"Pages")?.clone();
    let tree_id = document.new_object_id();
    let mut added = vec![tree_id];
    let mut kids = Vec::with_capacity(batches.len());
    for batch in batches {
        let mut xobjects = Dictionary::new();
        let mut content = Vec::new();
        for (index, page) in batch.iter_mut().enumerate() {
            let b = &page.media_box;
            let mut form = form_dictionary(&[b.llx, b.lly, b.urx, b.ury]);
            // Always a Resources entry: without one pdf-extract would look names up in the
            // synthetic page's, where a hostile page could draw itself forever.
            let resources = page.resources.take().unwrap_or_default();
            form.set("Resources", Object::Dictionary(resources));
            let page_content = if page.rewritten {
                page.content.clone()
            } else {
                std::mem::take(&mut page.content)
            };
            let form_id = document.add_object(Stream::new(form, page_content));
            added.push(form_id);
            let name = format!("P{index}");
            xobjects.set(name.as_bytes(), Object::Reference(form_id));
            content.extend_from_slice(
                format!("{} {index} 0 0 re f /{name} Do\n", layout::PAGE_MARK).as_bytes(),
            );
        }
        let content_id = document.add_object(Stream::new(Dictionary::new(), content));
        added.push(content_id);
        let mut resources = Dictionary::new();
        resources.set("XObject", Object::Dictionary(xobjects));
        let mut page = Dictionary::new();
        page.set("Type", Object::Name(b"Page".to_vec()));
        page.set("Parent", Object::Reference(tree_id));
        page.set(
            "MediaBox",
            Object::Array(vec![0.into(), 0.into(), 612.into(), 792.into()]),
        );
        page.set("Resources", Object::Dictionary(resources));
        page.set("Contents", Object::Reference(content_id));
        let page_id = document.add_object(page);
        added.push(page_id);
        kids.push(Object::Reference(page_id));
    }
    let mut tree = Dictionary::new();
    tree.set("Type", Object::Name(b"Pages".to_vec()));
    tree.set("Count", Object::Integer(kids.len() as i64));
    tree.set("Kids", Object::Array(kids));
    document.objects.insert(tree_id, Object::Dictionary(tree));
    document
        .catalog_mut()?
        .set("Pages", Object::Reference(tree_id));
    Ok((original, added))
}

/// Runs pdf-extract over one synthetic page (`number` in the synthetic page tree) and lays
/// out each of its pages; `None` if the interpreter failed anywhere in the batch.
fn lay_out_batch(
    document: &Document,
    number: u32,
    batch: &[PageSource],
) -> Option<Vec<Result<PageLayout, String>>> {
    let boxes: Vec<MediaBox> = batch
        .iter()
        .map(|p| MediaBox {
            llx: p.media_box.llx,
            lly: p.media_box.lly,
            urx: p.media_box.urx,
            ury: p.media_box.ury,
        })
        .collect();
    let mut collector = BatchCollector::new(&boxes);
    match contained(|| pdf_extract::output_doc_page(document, &mut collector, number)) {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::debug!("batch of {} pages failed: {error}", batch.len());
            return None;
        }
        Err(panic) => {
            tracing::debug!("batch of {} pages crashed: {panic}", batch.len());
            return None;
        }
    }
    Some(
        collector
            .into_pages()
            .into_iter()
            .map(|glyphs| {
                contained(|| glyphs.into_layout())
                    .map_err(|panic| format!("layout crashed: {panic}"))
            })
            .collect(),
    )
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
    // Most pages are already NFKC (plain ASCII always is): the quick check spares the copy.
    let normalised: std::borrow::Cow<str> = if raw.is_ascii()
        || unicode_normalization::is_nfkc_quick(raw.chars())
            == unicode_normalization::IsNormalized::Yes
    {
        std::borrow::Cow::Borrowed(raw)
    } else {
        std::borrow::Cow::Owned(raw.nfkc().collect())
    };
    let mut out = String::with_capacity(normalised.len());
    let mut blank_lines = 0;
    for line in normalised.lines() {
        let mut words = line
            .split(|c: char| c.is_whitespace() || c.is_control())
            .filter(|w| !w.is_empty());
        let Some(first) = words.next() else {
            blank_lines += 1;
            continue;
        };
        if !out.is_empty() {
            out.push_str(if blank_lines > 0 { "\n\n" } else { "\n" });
        }
        blank_lines = 0;
        out.push_str(first);
        for word in words {
            out.push(' ');
            out.push_str(word);
        }
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

/// The index just past the literal string that opens at `start` (a `(`): nested
/// parentheses balance, and a backslash escapes the byte after it.
pub(crate) fn after_literal_string(content: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < content.len() {
        match content[i] {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i + 1
}

/// Runs `f`, turning a panic into an error message.
pub(crate) fn contained<T>(f: impl FnOnce() -> T) -> Result<T, String> {
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
    fn graphics_operators_go_and_text_stays() {
        let content = b"q 1 0 0 1 72 72 cm 0 0 m 10 10 l S 0.5 g 0 0 5 5 re f\n\
            BT /F1 12 Tf (m l re f) Tj [(a) -250 (b<<)] TJ ET Q\n\
            <</MCID 3>> BDC BI /W 2 /H 1 ID \x00EI\x01 EI Q EMC %re f\n1 w";
        let kept = String::from_utf8_lossy(&without_graphics(content).0).into_owned();
        let kept = kept.split_whitespace().collect::<Vec<_>>().join(" ");
        let outside_strings = kept.replace("(m l re f)", "");
        let tokens: Vec<&str> = outside_strings.split_whitespace().collect();
        for gone in ["m", "l", "S", "g", "re", "f", "w"] {
            assert!(!tokens.contains(&gone), "{gone} kept in {kept:?}");
        }
        for stays in [
            "q 1 0 0 1 72 72 cm",
            "BT /F1 12 Tf (m l re f) Tj [(a) -250 (b<<)] TJ ET Q",
            "<</MCID 3>> BDC",
            "ID \x00EI\x01 EI",
            "EMC",
        ] {
            assert!(kept.contains(stays), "{stays:?} lost from {kept:?}");
        }
        // Cut anywhere, it returns.
        for cut in 0..content.len() {
            let _ = without_graphics(&content[..cut]);
        }
    }

    #[test]
    fn forms_that_draw_images_get_copies_that_draw_the_blank() {
        // Two pages draw a header form, which draws an inner form, which draws an image.
        let bytes = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/fixtures/form-image.pdf"),
        )
        .unwrap();
        let mut document = Document::load_mem(&bytes).unwrap();
        let round: Vec<(u32, ObjectId)> = document.get_pages().into_iter().collect();
        let blank = document.add_object(Stream::new(Dictionary::new(), b"q Q\n".to_vec()));
        let substitutes = image_free_forms(&mut document, &round, blank);
        assert_eq!(substitutes.len(), 2, "{substitutes:?}");
        let xobject = |id: ObjectId, name: &[u8]| {
            let form = document.get_object(id).unwrap().as_stream().unwrap();
            let resources = form.dict.get_deref(b"Resources", &document).unwrap();
            let xobjects = resources.as_dict().unwrap().get(b"XObject").unwrap();
            xobjects
                .as_dict()
                .unwrap()
                .get(name)
                .unwrap()
                .as_reference()
                .unwrap()
        };
        let page = document.get_dictionary(round[0].1).unwrap();
        let header = page
            .get_deref(b"Resources", &document)
            .unwrap()
            .as_dict()
            .unwrap();
        let header = header.get(b"XObject").unwrap().as_dict().unwrap();
        let header = header.get(b"Header").unwrap().as_reference().unwrap();
        let inner = xobject(header, b"Office");
        assert_eq!(
            xobject(substitutes[&header], b"Office"),
            substitutes[&inner]
        );
        assert_eq!(xobject(substitutes[&inner], b"Logo"), blank);
        // The originals are left as they were.
        assert_ne!(xobject(inner, b"Logo"), blank);
    }

    #[test]
    fn quote_operators_become_next_line_and_show() {
        let content = b"BT /F1 9 Tf 11 TL (first) Tj\n(second)' 1 0.5 (third) \" 2 0(fourth)\"\n\
            <6869>'\n' 3 \" ET";
        let (kept, rewritten) = without_graphics(content);
        let kept = String::from_utf8_lossy(&kept);
        let kept = kept.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(rewritten);
        assert_eq!(
            kept,
            "BT /F1 9 Tf 11 TL (first) Tj T* (second) Tj 1 Tw 0.5 Tc T* (third) Tj \
             2 Tw 0 Tc T* (fourth) Tj T* <6869> Tj ' 3 \" ET"
        );
        assert!(!without_graphics(b"BT (plain) Tj ET").1);
    }

    /// Sound files are read once, through their own cross-reference table: the checks that
    /// send a file to the repair must not fire on them.
    #[test]
    fn sound_files_need_no_repair() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for dir in ["samples", "tests/fixtures", "samples/eval/pdfs"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            files.extend(
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "pdf")),
            );
        }
        let damaged = [
            "bad-xref.pdf",
            "corrupt.pdf",
            "truncated.pdf",
            "empty.pdf",
            "not-a-pdf.pdf",
        ];
        files.retain(|f| !damaged.iter().any(|d| f.ends_with(d)));
        assert!(files.len() >= 10, "{files:?}");
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            let document = Document::load_mem(&bytes).unwrap();
            assert!(all_read(&document), "{}", file.display());
            let options = ExtractOptions {
                ocr: OcrMode::Never,
                ..ExtractOptions::default()
            };
            if let Ok(text) = extract(&bytes, &options) {
                assert_eq!(text.repairs, [], "{}", file.display());
            }
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/fixtures")
                .join(name),
        )
        .unwrap()
    }

    /// `bytes` with the number after its last `startxref` replaced by 7.
    fn wrong_startxref(bytes: &[u8]) -> Vec<u8> {
        let at = bytes.windows(9).rposition(|w| w == b"startxref").unwrap() + 10;
        let end = at
            + bytes[at..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap();
        [&bytes[..at], b"7", &bytes[end..]].concat()
    }

    fn text_of(bytes: &[u8], password: Option<&str>) -> Result<PdfText, PdfError> {
        let options = ExtractOptions {
            password: password.map(str::to_owned),
            ocr: OcrMode::Never,
            ..ExtractOptions::default()
        };
        extract(bytes, &options)
    }

    #[test]
    fn a_rebuilt_table_says_so() {
        let text = text_of(&fixture("bad-xref.pdf"), None).unwrap();
        assert_eq!(text.repairs, [Repair::XrefRebuilt]);
        assert_eq!(text.pages_with_text().count(), 3);
        assert_eq!(
            Repair::XrefRebuilt.to_string(),
            "cross-reference table rebuilt"
        );
        assert_eq!(
            Repair::StreamLengthsFixed { streams: 2 }.to_string(),
            "2 stream lengths fixed by endstream"
        );
    }

    #[test]
    fn damaged_encrypted_files_still_need_and_take_their_password() {
        // The trailer's /Encrypt and /ID go into the rebuilt one: without them no key.
        let owner_only = wrong_startxref(&fixture("owner-only.pdf"));
        let text = text_of(&owner_only, None).unwrap();
        assert_eq!(text.repairs, [Repair::XrefRebuilt]);
        assert!(text.pages[0].text.contains("heron protocol"), "{text:?}");

        let locked = wrong_startxref(&fixture("encrypted.pdf"));
        assert_eq!(
            text_of(&locked, None).unwrap_err(),
            PdfError::PasswordRequired
        );
        let text = text_of(&locked, Some("secret")).unwrap();
        assert!(text.pages[0].text.contains("kestrel protocol"), "{text:?}");
    }

    #[test]
    fn the_first_object_stream_defines_an_object_and_never_over_a_direct_one() {
        let container = |number: u32, data: &str| {
            format!(
                "{number} 0 obj\n<< /Type /ObjStm /N 2 /First 8 /Length {} >>\nstream\n{data}\nendstream\nendobj\n",
                data.len()
            )
        };
        let bytes = format!(
            "%PDF-1.5\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
             2 0 obj\n<< /Type /Pages /Kids [6 0 R] /Count 1 >>\nendobj\n{}{}\
             6 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 9 9] >>\nendobj\n",
            container(5, "3 0 1 8 (first) (lost)"),
            container(4, "3 0 1 9 (second) (lost2)")
        );
        // lopdf visits the streams by object number (4 first) or, in parallel, by timing;
        // the file's order puts 5 first.
        for _ in 0..20 {
            let loaded = repaired(bytes.as_bytes(), None, None).unwrap();
            let objects = &loaded.document.objects;
            let string = |id| match objects.get(&id) {
                Some(Object::String(s, _)) => String::from_utf8_lossy(s).into_owned(),
                other => format!("{other:?}"),
            };
            assert_eq!(string((3, 0)), "first");
            assert!(objects[&(1, 0)].as_dict().is_ok(), "a direct object stays");
        }
    }

    #[test]
    fn text_operators_are_found_outside_strings_only() {
        assert!(shows_text(b"BT (a) Tj ET"));
        assert!(shows_text(b"[(a)-5(b)]TJ"));
        assert!(shows_text(b"(line)'"));
        assert!(shows_text(b"1 2 (line) \""));
        assert!(!shows_text(b"q 1 0 0 1 0 0 cm /Im0 Do Q"));
        assert!(!shows_text(b"/Tjx 1 d (don't)"));
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

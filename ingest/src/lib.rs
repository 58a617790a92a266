//! dossier-ingest: file → pages → chunks → embeddings.
//!
//! This crate knows PDFs, tokenizers and the embedding model. It knows nothing of the store
//! or the terminal: it returns values and typed errors, and the binary decides what to write
//! where and what to print.

pub mod chunk;
pub mod discover;
pub mod embed;
mod fonts;
pub mod layout;
pub mod ocr;
pub mod pdf;
pub mod repair;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use chunk::{ChunkSpan, Chunker};
pub use discover::discover;
pub use embed::{Embedder, EmbedderFiles};
pub use ocr::OcrMode;
pub use pdf::{ExtractOptions, PageStatus, PdfError};
pub use repair::Repair;

/// A document's identity is the sha256 of its bytes: the same file under another name is the
/// same document, and a changed file is a new one.
pub fn document_id(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What the embedder reads for a chunk: the chunk's text with its context before it (the
/// document's title, or its file name when the title is missing or a word processor's
/// placeholder, and the page), so that a small embedder can place a passage that never names
/// its subject. Only the vector sees this; the store keeps the plain chunk text.
pub fn text_for_embedding(
    title: Option<&str>,
    file_name: &str,
    page: u32,
    chunk_text: &str,
) -> String {
    format!(
        "{} (page {page})\n{chunk_text}",
        document_label(title, file_name)
    )
}

/// A readable name for a document: its title if it has a useful one, else its file name
/// without extension, with `-` and `_` read as spaces.
pub fn document_label(title: Option<&str>, file_name: &str) -> String {
    let title = title
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .map(|t| {
            t.strip_prefix("Microsoft Word - ")
                .map(str::to_owned)
                .unwrap_or(t)
        })
        .filter(|t| {
            let lower = t.to_lowercase();
            t.chars().filter(|c| c.is_alphabetic()).count() >= 3
                && ![".doc", ".docx", ".rtf", ".odt", ".pdf", ".tex", ".dvi"]
                    .iter()
                    .any(|ext| lower.ends_with(ext))
                && !lower.starts_with("untitled")
        });
    title.unwrap_or_else(|| {
        let stem = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
        let stem = stem
            .rsplit_once('.')
            .map(|(s, _)| s)
            .filter(|s| !s.is_empty())
            .unwrap_or(stem);
        stem.replace(['-', '_'], " ")
    })
}

/// One chunk ready to embed, with where it came from.
#[derive(Debug, Clone)]
pub struct PreparedChunk {
    /// 1-based physical page.
    pub page: u32,
    /// Position of the chunk in the document, from 0, in reading order.
    pub index: u32,
    pub text: String,
    /// Character span of `text` in the page's text.
    pub char_start: u32,
    pub char_end: u32,
    /// The page's text came from OCR (it may contain recognition errors).
    pub ocr: bool,
}

/// A parsed and chunked document, before embedding.
#[derive(Debug, Clone)]
pub struct PreparedDocument {
    pub id: String,
    pub path: PathBuf,
    pub title: Option<String>,
    pub size_bytes: u64,
    pub page_count: u32,
    /// Pages that have no text layer (scanned?) and were not OCR'd, reported to the user.
    pub pages_without_text: Vec<u32>,
    /// Why those pages were not OCR'd, when OCR was tried (e.g. tesseract is missing).
    pub ocr_note: Option<String>,
    /// The same reason for each such page that has one ("no image on the page"); pages
    /// without a note were not OCR'd because OCR was off.
    pub no_text_notes: Vec<(u32, String)>,
    /// Pages whose text was recognised by OCR.
    pub ocr_pages: Vec<u32>,
    /// Pages whose extraction failed, with the reason.
    pub failed_pages: Vec<(u32, String)>,
    /// What had to be mended to read the file (empty for a sound file).
    pub repairs: Vec<Repair>,
    pub chunks: Vec<PreparedChunk>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read: {0}")]
    Read(#[from] std::io::Error),
    #[error("{0}")]
    Pdf(#[from] PdfError),
    #[error("too large ({size} bytes; the limit is {limit})")]
    TooLarge { size: u64, limit: u64 },
}

/// Parses and chunks one PDF whose bytes are already read (the caller hashed them first, to
/// skip unchanged files without parsing them).
pub fn prepare(
    path: &Path,
    bytes: &[u8],
    id: String,
    options: &ExtractOptions,
    chunker: &Chunker,
) -> Result<PreparedDocument, IngestError> {
    let text = pdf::extract(bytes, options)?;
    let mut chunks = Vec::new();
    let mut pages_without_text = Vec::new();
    let mut failed_pages = Vec::new();
    let mut ocr_note = None;
    let mut no_text_notes = Vec::new();
    let ocr_pages: Vec<u32> = text
        .pages
        .iter()
        .filter(|p| p.ocr)
        .map(|p| p.number)
        .collect();
    for page in &text.pages {
        match &page.status {
            PageStatus::Text => {}
            PageStatus::NoText => {
                pages_without_text.push(page.number);
                if ocr_note.is_none() {
                    ocr_note = page.note.clone();
                }
                if let Some(note) = &page.note {
                    no_text_notes.push((page.number, note.clone()));
                }
                continue;
            }
            PageStatus::Failed(reason) => {
                failed_pages.push((page.number, reason.clone()));
                continue;
            }
        }
        for span in chunker.chunk(&page.text) {
            chunks.push(PreparedChunk {
                page: page.number,
                index: chunks.len() as u32,
                text: span.text,
                char_start: span.char_start as u32,
                char_end: span.char_end as u32,
                ocr: page.ocr,
            });
        }
    }
    Ok(PreparedDocument {
        id,
        path: path.to_owned(),
        title: text.title,
        size_bytes: bytes.len() as u64,
        page_count: text.pages.len() as u32,
        pages_without_text,
        ocr_note,
        no_text_notes,
        ocr_pages,
        failed_pages,
        repairs: text.repairs,
        chunks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_text_puts_a_useful_document_label_and_the_page_first() {
        assert_eq!(
            text_for_embedding(Some("SIMH  FAQ"), "simh-faq.pdf", 3, "Body."),
            "SIMH FAQ (page 3)\nBody."
        );
        assert_eq!(
            document_label(Some("Microsoft Word - pdp8_doc.doc"), "simh-pdp8.pdf"),
            "simh pdp8"
        );
        assert_eq!(document_label(None, "/x/rcpp-faq.pdf"), "rcpp faq");
        assert_eq!(document_label(Some("  "), "lease"), "lease");
        assert_eq!(
            document_label(Some("Microsoft Word - Lease Terms"), "a.pdf"),
            "Lease Terms"
        );
    }
}

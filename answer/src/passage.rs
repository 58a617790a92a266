//! The retrieved chunk that every rule of the crate reads, as retrieval hands it over.

use serde::Serialize;

/// A retrieved chunk with what a citation needs.
#[derive(Debug, Clone, Serialize)]
pub struct Passage {
    /// The file's name, as citations show it: of the document's paths, the one the question
    /// names, else the first.
    #[serde(rename = "file")]
    pub file_name: String,
    /// The path `file_name` is the name of.
    pub path: String,
    /// Every path the document's bytes were found under (the same content, stored once).
    pub paths: Vec<String>,
    /// The document's id (sha256 of its bytes).
    pub doc_id: String,
    /// 1-based physical page.
    pub page: u32,
    /// Position of the chunk among its document's chunks.
    pub chunk_index: u32,
    /// Where the chunk starts in its page's text, in characters.
    pub char_start: u32,
    /// Where the chunk ends in its page's text, in characters.
    pub char_end: u32,
    /// The chunk's text.
    pub text: String,
    /// Cosine similarity to the question.
    pub score: f32,
    /// The page's text was recognised by OCR (quote it with that caveat).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ocr: bool,
}

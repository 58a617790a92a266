//! Page text → token-sized chunks, sized with the embedding model's own tokenizer.

use text_splitter::{ChunkConfig, TextSplitter};
use tokenizers::Tokenizer;

/// One chunk of one page. Spans are in characters (not bytes) of the page text, so that
/// any consumer, in any language, can cut the same passage out of the page again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSpan {
    pub text: String,
    pub char_start: usize,
    pub char_end: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("chunk sizes: {0}")]
    Config(String),
}

pub struct Chunker {
    splitter: TextSplitter<Tokenizer>,
}

impl Chunker {
    /// `max_tokens` is the model's input limit minus the [CLS]/[SEP] it adds (the splitter
    /// counts tokens without them); chunks aim for at least half of it so that tiny
    /// fragments do not crowd the index. `overlap` tokens are repeated between neighbours.
    ///
    /// The tokenizer must have truncation and padding switched off: otherwise every long
    /// text "fits" and chunks silently exceed what the model reads.
    pub fn new(
        tokenizer: Tokenizer,
        max_tokens: usize,
        overlap: usize,
    ) -> Result<Self, ChunkError> {
        let config = ChunkConfig::new((max_tokens / 2).max(1)..max_tokens)
            .with_sizer(tokenizer)
            .with_overlap(overlap)
            .map_err(|e| ChunkError::Config(e.to_string()))?;
        Ok(Self {
            splitter: TextSplitter::new(config),
        })
    }

    pub fn chunk(&self, page_text: &str) -> Vec<ChunkSpan> {
        self.splitter
            .chunk_char_indices(page_text)
            .map(|c| ChunkSpan {
                text: c.chunk.to_owned(),
                char_start: c.char_offset,
                char_end: c.char_offset + c.chunk.chars().count(),
            })
            .collect()
    }
}

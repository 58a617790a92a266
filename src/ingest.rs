//! What a prepared document becomes in the store: the texts the embedder reads, the
//! document row and the chunk rows. `dossier ingest` (and `examples/ingest_folder.rs`) write
//! these; the rows' meaning is dossier-store's.

use std::time::{SystemTime, UNIX_EPOCH};

use dossier_ingest::PreparedDocument;
use dossier_store::{ChunkRecord, DocumentRecord};

/// What the embedder reads for each chunk of a document (see
/// [`dossier_ingest::text_for_embedding`]), in chunk order.
pub fn embedding_texts(document: &PreparedDocument) -> Vec<String> {
    let file_name = document
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    document
        .chunks
        .iter()
        .map(|c| {
            dossier_ingest::text_for_embedding(
                document.title.as_deref(),
                &file_name,
                c.page,
                &c.text,
            )
        })
        .collect()
}

/// The document row of `prepared`, found at `path`, ingested now.
pub fn document_record(prepared: &PreparedDocument, path: &str) -> DocumentRecord {
    DocumentRecord {
        doc_id: prepared.id.clone(),
        paths: vec![path.to_owned()],
        title: prepared.title.clone(),
        size_bytes: prepared.size_bytes,
        pages: prepared.page_count,
        chunks: prepared.chunks.len() as u32,
        pages_without_text: prepared.pages_without_text.len() as u32,
        ingested_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0),
    }
}

/// The chunk rows of `prepared`, with the vectors of its `embedding_texts` in order.
pub fn chunk_records(prepared: &PreparedDocument, vectors: Vec<Vec<f32>>) -> Vec<ChunkRecord> {
    prepared
        .chunks
        .iter()
        .zip(vectors)
        .map(|(chunk, vector)| ChunkRecord {
            doc_id: prepared.id.clone(),
            page: chunk.page,
            chunk_index: chunk.index,
            char_start: chunk.char_start,
            char_end: chunk.char_end,
            text: chunk.text.clone(),
            vector,
            ocr: chunk.ocr,
        })
        .collect()
}

//! Question → ranked passages: embed the question, search the store, shape the hits.

use anyhow::{Context, Result};
use dossier_ingest::Embedder;
use dossier_store::{EmbeddingSpec, Store};
use serde::Serialize;
use tokio::runtime::Runtime;

/// A retrieved chunk with what a citation needs.
#[derive(Debug, Clone, Serialize)]
pub struct Passage {
    #[serde(rename = "file")]
    pub file_name: String,
    pub path: String,
    pub doc_id: String,
    /// 1-based physical page.
    pub page: u32,
    pub chunk_index: u32,
    pub char_start: u32,
    pub char_end: u32,
    pub text: String,
    /// Cosine similarity to the question.
    pub score: f32,
}

/// The store and the embedder, checked to agree on the model.
pub struct Retriever {
    pub store: Store,
    pub embedder: Embedder,
}

impl Retriever {
    pub fn open(runtime: &Runtime, store: Store, embedder: Embedder) -> Result<Self> {
        let spec = EmbeddingSpec {
            model: embedder.model_name().to_owned(),
            dimension: embedder.dimension(),
        };
        if let Some(stored) = runtime.block_on(store.embedding_spec())? {
            if stored != spec {
                anyhow::bail!(
                    "the store at {} was built with {} ({} dims) but this dossier embeds with {} ({} dims); re-ingest into a new --store",
                    store.uri(),
                    stored.model,
                    stored.dimension,
                    spec.model,
                    spec.dimension
                );
            }
        }
        Ok(Self { store, embedder })
    }

    pub fn embed_question(&mut self, question: &str) -> Result<Vec<f32>> {
        self.embedder
            .embed_one(question)
            .context("embedding the question")
    }

    pub fn search(&self, runtime: &Runtime, vector: &[f32], k: usize) -> Result<Vec<Passage>> {
        let hits = runtime.block_on(self.store.nearest(vector, k))?;
        Ok(hits
            .into_iter()
            .map(|hit| Passage {
                file_name: hit.document.file_name().to_owned(),
                path: hit.document.path.clone(),
                doc_id: hit.document.doc_id.clone(),
                page: hit.chunk.page,
                chunk_index: hit.chunk.chunk_index,
                char_start: hit.chunk.char_start,
                char_end: hit.chunk.char_end,
                text: hit.chunk.text,
                score: hit.score,
            })
            .collect())
    }
}

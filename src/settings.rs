//! What every command and the server are given: where the store and the models are, and how
//! many threads to use. The binary fills it from its command line and environment.

use std::path::PathBuf;

use anyhow::{Context, Result};
use dossier_ingest::{Embedder, EmbedderFiles};
use dossier_store::Store;
use tokio::runtime::Runtime;

/// Where the store and the models are, and how the models run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The store: a directory, or an object-store URI (`s3://bucket/prefix`).
    pub store: String,
    /// The folder `make models` filled: `embed/`, `runtime/` and `llm/`.
    pub models: PathBuf,
    /// CPU threads for embedding and generation; `None`: every core.
    pub threads: Option<usize>,
    /// Chunk rows from which writers build the vector index (the store's default if `None`).
    pub vector_index_rows: Option<usize>,
    /// How the local LLM runs.
    pub llm: dossier_llm::LocalOptions,
}

impl Settings {
    /// Settings for `store` with the models in `models` and everything else as by default.
    pub fn new(store: impl Into<String>, models: impl Into<PathBuf>) -> Self {
        Self {
            store: store.into(),
            models: models.into(),
            threads: None,
            vector_index_rows: None,
            llm: dossier_llm::LocalOptions::default(),
        }
    }

    /// The embedding model of `models/embed/`.
    pub fn load_embedder(&self) -> Result<Embedder> {
        let files = EmbedderFiles::in_models_dir(&self.models);
        Embedder::load(&files, self.threads).context("loading the embedding model")
    }

    /// Opens the store: a directory, or an object-store URI (`s3://bucket/prefix`) whose
    /// credentials, region and endpoint come from the usual AWS environment variables.
    pub fn open_store(&self, runtime: &Runtime, create: bool) -> Result<Store> {
        let object_store = dossier_store::local_dir(&self.store).is_none();
        let mut store = runtime
            .block_on(Store::open(&self.store, create))
            .with_context(|| {
                if object_store {
                    format!(
                        "opening the store {} (credentials and endpoint from AWS_ACCESS_KEY_ID, \
                         AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, AWS_ALLOW_HTTP)",
                        self.store
                    )
                } else {
                    format!("opening the store {}", self.store)
                }
            })?;
        if let Some(rows) = self.vector_index_rows {
            store.set_vector_index_rows(rows);
        }
        Ok(store)
    }
}

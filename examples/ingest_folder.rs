//! Ingests every PDF under a folder into a store, one document at a time, with the library's
//! rows on top of dossier-ingest and dossier-store. `dossier ingest` does the same with
//! parallel stages, resume, moved and renamed files and a progress line.
//!
//! ```text
//! DOSSIER_MODELS=models cargo run --example ingest_folder -- samples /tmp/example-store
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result};
use dossier::Settings;
use dossier_ingest::{embed, Chunker, EmbedderFiles, ExtractOptions};
use dossier_store::{EmbeddingSpec, Store};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(folder), Some(store)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: ingest_folder FOLDER STORE (models from DOSSIER_MODELS)");
    };
    let models = std::env::var_os("DOSSIER_MODELS").map_or_else(|| "models".into(), PathBuf::from);
    let settings = Settings::new(store, models);
    let runtime = tokio::runtime::Runtime::new()?;

    let _lock = Store::lock(&settings.store, "ingest", false, |_| {})?;
    let mut store = settings.open_store(&runtime, true)?;
    let mut embedder = settings.load_embedder()?;
    runtime.block_on(store.ensure_embedding(&EmbeddingSpec {
        model: embedder.model_name().to_owned(),
        dimension: embedder.dimension(),
    }))?;
    let tokenizer = embed::sizing_tokenizer(&EmbedderFiles::in_models_dir(&settings.models))?;
    let chunker = Chunker::new(tokenizer, 254, 32)?;

    let (files, unreadable) = dossier_ingest::discover(&[PathBuf::from(folder)]);
    for entry in unreadable {
        eprintln!("skipped: {entry:?}");
    }
    for file in files {
        let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        let id = dossier_ingest::document_id(&bytes);
        let options = ExtractOptions::default();
        let prepared = match dossier_ingest::prepare(&file, &bytes, id, &options, &chunker) {
            Ok(prepared) => prepared,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                continue;
            }
        };
        let texts = dossier::ingest::embedding_texts(&prepared);
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = embedder.embed(&texts, 32)?;
        let path = std::path::absolute(&file)?.to_string_lossy().into_owned();
        let document = dossier::ingest::document_record(&prepared, &path);
        let chunks = dossier::ingest::chunk_records(&prepared, vectors);
        runtime.block_on(store.put_document(&document, &chunks))?;
        println!(
            "{path}: {} pages, {} chunks",
            document.pages, document.chunks
        );
    }
    runtime.block_on(store.refresh_text_index())?;
    Ok(())
}

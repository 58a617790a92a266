//! `dossier ingest`: files → store, one document at a time, each one committed whole.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Args;
use dossier_ingest::{embed, Chunker, EmbedderFiles, PreparedDocument};
use dossier_store::{ChunkRecord, DocumentRecord, EmbeddingSpec};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// PDF files, or folders to search recursively for *.pdf.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// User password for encrypted PDFs (tried on every encrypted file of this run).
    #[arg(long, env = "DOSSIER_PDF_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// OCR pages that have no text layer: auto (when `tesseract` is installed), never, always.
    #[arg(long, value_enum, default_value_t = dossier_ingest::OcrMode::Auto)]
    ocr: dossier_ingest::OcrMode,
    /// Chunk size limit in embedding tokens (the model reads at most 256, 2 go to markers).
    #[arg(long, default_value_t = 254, value_parser = clap::value_parser!(u16).range(16..=254))]
    chunk_tokens: u16,
    /// Tokens repeated between neighbouring chunks, so that a sentence cut at a boundary is
    /// whole in one of them.
    #[arg(long, default_value_t = 32)]
    overlap_tokens: u16,
    /// Chunks embedded per ONNX Runtime call. On 2 cores one at a time measured fastest
    /// (padding to a batch's longest chunk costs more than the calls save; BENCHMARKS.md).
    #[arg(long, default_value_t = 1)]
    batch_size: usize,
    /// Print a JSON report on stdout instead of the summary line.
    #[arg(long)]
    json: bool,
}

/// What happened to one file; the JSON report is a list of these.
#[derive(Serialize)]
struct FileReport {
    path: String,
    /// "added", "replaced", "unchanged", "moved" or "failed".
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    doc_id: Option<String>,
    pages: u32,
    chunks: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pages_without_text: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize, Default)]
struct Summary {
    files: usize,
    added: usize,
    replaced: usize,
    unchanged: usize,
    failed: usize,
    pages: u64,
    chunks: u64,
    seconds: f64,
    chunks_per_second: f64,
    interrupted: bool,
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: IngestArgs) -> Result<u8> {
    let started = Instant::now();
    super::watch_interrupts();
    let (files, unreadable) = dossier_ingest::discover(&args.paths);
    let mut reports: Vec<FileReport> = unreadable
        .into_iter()
        .map(|u| failed(&u.path, u.reason))
        .collect();
    for report in &reports {
        eprintln!(
            "error: {}: {}",
            report.path,
            report.error.as_deref().unwrap_or("")
        );
    }

    let mut embedder = super::load_embedder(global)?;
    let tokenizer = embed::sizing_tokenizer(&EmbedderFiles::in_models_dir(&global.models))?;
    let extract_options = dossier_ingest::ExtractOptions {
        password: args.password.clone(),
        ocr: args.ocr,
    };
    let chunker = Chunker::new(
        tokenizer,
        args.chunk_tokens.into(),
        args.overlap_tokens.into(),
    )?;
    let mut store = super::open_store(runtime, global, true)?;
    runtime.block_on(store.ensure_embedding(&EmbeddingSpec {
        model: embedder.model_name().to_owned(),
        dimension: embedder.dimension(),
    }))?;
    let existing = runtime.block_on(store.documents())?;
    let mut by_id: HashMap<String, DocumentRecord> = existing
        .iter()
        .map(|d| (d.doc_id.clone(), d.clone()))
        .collect();

    let progress = progress_bar(files.len() as u64);
    for file in &files {
        if super::interrupted() {
            break;
        }
        let shown = file.display().to_string();
        progress.set_message(short_name(file));
        let absolute = std::path::absolute(file).unwrap_or_else(|_| file.clone());
        let absolute_str = absolute.to_string_lossy().into_owned();

        let bytes = match std::fs::read(file) {
            Ok(bytes) => bytes,
            Err(e) => {
                report_failure(&progress, &mut reports, file, format!("cannot read: {e}"));
                continue;
            }
        };
        let doc_id = dossier_ingest::document_id(&bytes);

        if let Some(known) = by_id.get(&doc_id) {
            let outcome = if known.path == absolute_str {
                "unchanged"
            } else if !Path::new(&known.path).exists() {
                runtime.block_on(store.move_document(&doc_id, &absolute_str))?;
                "moved"
            } else {
                // The same bytes under a second name: one document, cited by its first path.
                "unchanged"
            };
            reports.push(FileReport {
                path: shown,
                outcome,
                doc_id: Some(doc_id),
                pages: known.pages,
                chunks: known.chunks,
                pages_without_text: Vec::new(),
                error: None,
            });
            progress.inc(1);
            continue;
        }

        let prepared =
            match dossier_ingest::prepare(file, &bytes, doc_id.clone(), &extract_options, &chunker)
            {
                Ok(prepared) => prepared,
                Err(e) => {
                    report_failure(&progress, &mut reports, file, e.to_string());
                    continue;
                }
            };
        for page in &prepared.pages_without_text {
            progress.suspend(|| eprintln!("note: {shown}: page {page}: no text layer (scanned?)"));
        }
        for (page, reason) in &prepared.failed_pages {
            progress.suspend(|| {
                eprintln!("warning: {shown}: page {page}: text extraction failed: {reason}")
            });
        }

        let texts: Vec<&str> = prepared.chunks.iter().map(|c| c.text.as_str()).collect();
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(args.batch_size.max(1)) {
            vectors.extend(embedder.embed(batch, args.batch_size)?);
        }
        let record = document_record(&prepared, &absolute_str);
        let chunks = chunk_records(&prepared, vectors);
        runtime
            .block_on(store.put_document(&record, &chunks))
            .with_context(|| format!("writing {shown} to the store"))?;

        // A changed file: its earlier version goes only now that the new one is committed.
        let replaced: Vec<String> = by_id
            .values()
            .filter(|d| d.path == absolute_str && d.doc_id != doc_id)
            .map(|d| d.doc_id.clone())
            .collect();
        for old in &replaced {
            runtime.block_on(store.remove_document(old))?;
            by_id.remove(old);
        }
        reports.push(FileReport {
            path: shown,
            outcome: if replaced.is_empty() {
                "added"
            } else {
                "replaced"
            },
            doc_id: Some(doc_id.clone()),
            pages: record.pages,
            chunks: record.chunks,
            pages_without_text: prepared.pages_without_text.clone(),
            error: None,
        });
        by_id.insert(doc_id, record);
        progress.inc(1);
    }
    progress.finish_and_clear();

    let summary = summarize(
        &reports,
        started.elapsed().as_secs_f64(),
        super::interrupted(),
    );
    if args.json {
        super::print_json(&serde_json::json!({ "summary": summary, "files": reports }))?;
    } else {
        eprintln!(
            "{} files: {} added, {} replaced, {} unchanged, {} failed; {} pages, {} chunks in {:.1}s ({:.1} chunks/s){}",
            summary.files,
            summary.added,
            summary.replaced,
            summary.unchanged,
            summary.failed,
            summary.pages,
            summary.chunks,
            summary.seconds,
            summary.chunks_per_second,
            if summary.interrupted { "; interrupted" } else { "" }
        );
    }
    Ok(if summary.interrupted {
        crate::exit::INTERRUPTED
    } else if summary.failed > 0 {
        crate::exit::PARTIAL
    } else {
        crate::exit::OK
    })
}

fn progress_bar(files: u64) -> ProgressBar {
    // indicatif draws nothing when stderr is not a terminal, so scripts and logs stay clean.
    let bar = ProgressBar::new(files);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{bar:30}] {pos}/{len} files {elapsed_precise} {wide_msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

fn short_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn failed(path: &Path, reason: String) -> FileReport {
    FileReport {
        path: path.display().to_string(),
        outcome: "failed",
        doc_id: None,
        pages: 0,
        chunks: 0,
        pages_without_text: Vec::new(),
        error: Some(reason),
    }
}

fn report_failure(
    progress: &ProgressBar,
    reports: &mut Vec<FileReport>,
    path: &Path,
    reason: String,
) {
    progress.suspend(|| eprintln!("error: {}: {reason}", path.display()));
    reports.push(failed(path, reason));
    progress.inc(1);
}

pub(crate) fn document_record(prepared: &PreparedDocument, path: &str) -> DocumentRecord {
    DocumentRecord {
        doc_id: prepared.id.clone(),
        path: path.to_owned(),
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

pub(crate) fn chunk_records(
    prepared: &PreparedDocument,
    vectors: Vec<Vec<f32>>,
) -> Vec<ChunkRecord> {
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
        })
        .collect()
}

fn summarize(reports: &[FileReport], seconds: f64, interrupted: bool) -> Summary {
    let count = |outcome: &str| reports.iter().filter(|r| r.outcome == outcome).count();
    let fresh = reports
        .iter()
        .filter(|r| matches!(r.outcome, "added" | "replaced"));
    let pages: u64 = fresh.clone().map(|r| u64::from(r.pages)).sum();
    let chunks: u64 = fresh.map(|r| u64::from(r.chunks)).sum();
    Summary {
        files: reports.len(),
        added: count("added"),
        replaced: count("replaced"),
        unchanged: count("unchanged") + count("moved"),
        failed: count("failed"),
        pages,
        chunks,
        seconds,
        chunks_per_second: if seconds > 0.0 {
            chunks as f64 / seconds
        } else {
            0.0
        },
        interrupted,
    }
}

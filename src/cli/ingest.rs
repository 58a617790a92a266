//! `dossier ingest`: files → store through a pipeline of bounded stages.
//!
//! ```text
//!  readers (--extract-threads)      embedders (--embedders)         writer (this thread)
//!  read, size limit, sha256,   ──▶  a window of ready documents ──▶ batched commits: chunks,
//!  skip known ids, parse+chunk      embedded in length-sorted        then document rows; moves,
//!  on an abandonable thread         batches                          replacements, progress
//!  (--timeout, --max-pages)
//! ```
//!
//! Every channel is bounded, so memory holds at most a few documents per stage whatever the
//! size of the folder, and the readers run ahead of the embedder (the bottleneck) so that it
//! never waits for parsing. A document becomes visible only when the commit of its batch's
//! document rows lands (`Store::put_documents`); the write lock keeps other writers out.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use dossier_ingest::{embed, Chunker, Embedder, EmbedderFiles, ExtractOptions, PreparedDocument};
use dossier_store::{EmbeddingSpec, Store};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::runtime::Runtime;

use dossier::ingest::{chunk_records, document_record, embedding_texts};

use super::args::OcrArg;
use super::catalog::{self, Catalog, Changes};
use super::outcome::{self, FileReport, How, Outcome, Seen};
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
    #[arg(long, value_enum, default_value_t = OcrArg::Auto)]
    ocr: OcrArg,
    /// Chunk size limit in embedding tokens (the model reads at most 256, 2 go to markers).
    #[arg(long, default_value_t = 254, value_parser = clap::value_parser!(u16).range(16..=254))]
    chunk_tokens: u16,
    /// Tokens repeated between neighbouring chunks, so that a sentence cut at a boundary is
    /// whole in one of them.
    #[arg(long, default_value_t = 32)]
    overlap_tokens: u16,
    /// Chunks embedded per ONNX Runtime call. Chunks of a window of documents are sorted by
    /// length first, so a batch pads little; on 2 cores one at a time still measured fastest
    /// (BENCHMARKS.md).
    #[arg(long, default_value_t = 1)]
    batch_size: usize,
    /// Remove from the store the documents whose files, under the folders given, are gone.
    #[arg(long)]
    prune: bool,
    /// When another process is writing to the store, wait for it instead of failing.
    #[arg(long)]
    wait: bool,
    /// Threads that read, hash, parse and chunk files [default: a quarter of the cores, at
    /// least 1].
    #[arg(long)]
    extract_threads: Option<usize>,
    /// Embedding model instances run side by side, each with --threads / N ONNX threads
    /// [default: 1, or one per 8 cores beyond 8].
    #[arg(long)]
    embedders: Option<usize>,
    /// Files larger than this many MiB are skipped with an error.
    #[arg(long, default_value_t = 256)]
    max_file_mb: u64,
    /// Documents with more pages than this are skipped with an error.
    #[arg(long, default_value_t = 10_000)]
    max_pages: u32,
    /// Seconds one document may take to parse and chunk; a document that takes longer is
    /// reported as failed and the batch goes on.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Commit when this many chunks are waiting to be written (one commit makes a batch of
    /// documents visible at once).
    #[arg(long, default_value_t = 2048, hide = true)]
    commit_chunks: usize,
    /// ... or when the oldest waiting document has waited this many seconds.
    #[arg(long, default_value_t = 3.0, hide = true)]
    commit_seconds: f64,
    /// Print a JSON report on stdout instead of the summary line.
    #[arg(long)]
    json: bool,
}

/// Thread counts for this machine.
struct Threads {
    extract: usize,
    embedders: usize,
    /// ONNX Runtime intra-op threads per embedder (`None`: ONNX Runtime's default).
    onnx: Option<usize>,
}

fn threads(global: &GlobalArgs, args: &IngestArgs) -> Threads {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    // Parsing is ~10× cheaper per page than embedding that page's chunks: a quarter of the
    // cores keeps the embedders fed. One ONNX session stops scaling near 8 threads, so big
    // machines run several side by side.
    let extract = args.extract_threads.unwrap_or((cores / 4).max(1)).max(1);
    let embedders = args
        .embedders
        .unwrap_or(if cores > 8 { cores / 8 } else { 1 })
        .max(1);
    let total = global.threads;
    let onnx = match (total, embedders) {
        (Some(t), n) => Some((t / n).max(1)),
        (None, 1) => None,
        (None, n) => Some((cores / n).max(1)),
    };
    Threads {
        extract,
        embedders,
        onnx,
    }
}

/// Reader → embedder: a parsed document.
struct Parsed {
    prepared: PreparedDocument,
    /// The file's place in this run's list (the first of several copies is the first here).
    index: usize,
    absolute: String,
}

/// A file of this run with the bytes of another file of this run, which was parsed instead.
struct Copy {
    index: usize,
    path: PathBuf,
    absolute: String,
}

/// Anything → writer.
// Not boxed: the large variant carries a document's chunks and vectors, which are on the
// heap already; the channel holds a few events at a time.
#[allow(clippy::large_enum_variant)]
enum Event {
    /// Bytes already in the store (by id).
    Known {
        path: PathBuf,
        absolute: String,
        doc_id: String,
    },
    /// Bytes identical to another file of this run, which a reader claimed to parse.
    Duplicate { copy: Copy, doc_id: String },
    Failed {
        path: PathBuf,
        reason: String,
        /// Set when the bytes were read: copies of them fail with this file.
        doc_id: Option<String>,
    },
    Embedded {
        parsed: Parsed,
        vectors: Vec<Vec<f32>>,
    },
    /// An embedder failed as a whole (not one file): the run stops.
    Fatal(String),
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: IngestArgs) -> Result<u8> {
    let started = Instant::now();
    super::watch_interrupts();
    let _lock = match super::lock_store(global, "ingest", args.wait)? {
        Ok(lock) => lock,
        Err(code) => return Ok(code),
    };

    let (files, unreadable) = dossier_ingest::discover(&args.paths);
    let mut reports: Vec<FileReport> = unreadable
        .into_iter()
        .map(|u| FileReport::failed(u.path.display().to_string(), u.reason))
        .collect();
    for report in &reports {
        eprintln!(
            "error: {}: {}",
            report.path,
            report.error.as_deref().unwrap_or("")
        );
    }

    let threads = threads(global, &args);
    let embed_files = EmbedderFiles::in_models_dir(&global.models);
    let mut embedders = Vec::new();
    for _ in 0..threads.embedders {
        embedders.push(
            Embedder::load(&embed_files, threads.onnx).context("loading the embedding model")?,
        );
    }
    let tokenizer = embed::sizing_tokenizer(&embed_files)?;
    let chunker = Arc::new(Chunker::new(
        tokenizer,
        args.chunk_tokens.into(),
        args.overlap_tokens.into(),
    )?);
    let extract_options = Arc::new(ExtractOptions {
        password: args.password.clone(),
        ocr: args.ocr.into(),
        ..Default::default()
    });
    let mut store = global.settings().open_store(runtime, true)?;
    runtime.block_on(store.ensure_embedding(&EmbeddingSpec {
        model: embedders[0].model_name().to_owned(),
        dimension: embedders[0].dimension(),
    }))?;
    let existing = runtime.block_on(store.documents())?;
    let known_ids: Arc<HashSet<String>> =
        Arc::new(existing.iter().map(|d| d.doc_id.clone()).collect());
    let mut catalog = Catalog::new(existing);

    tracing::info!(
        "ingest: {} files, {} extract threads, {} embedders ({:?} ONNX threads each)",
        files.len(),
        threads.extract,
        threads.embedders,
        threads.onnx
    );

    // The stages. Capacities are in documents: enough for every reader to have one ready.
    let (event_tx, event_rx) = mpsc::sync_channel::<Event>(64);
    let (parsed_tx, parsed_rx) = mpsc::sync_channel::<Parsed>(threads.extract + 1);
    let parsed_rx = Arc::new(Mutex::new(parsed_rx));
    let embed_busy = Arc::new(AtomicUsize::new(0)); // microseconds
    let next = Arc::new(AtomicUsize::new(0));
    let files = Arc::new(files);
    let limits = Limits {
        max_bytes: args.max_file_mb.saturating_mul(1024 * 1024),
        max_pages: args.max_pages,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let claimed: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut workers = Vec::new();
    for i in 0..threads.extract {
        let reader = Reader {
            files: Arc::clone(&files),
            next: Arc::clone(&next),
            known: Arc::clone(&known_ids),
            claimed: Arc::clone(&claimed),
            chunker: Arc::clone(&chunker),
            options: Arc::clone(&extract_options),
            limits: limits.clone(),
            events: event_tx.clone(),
            parsed: parsed_tx.clone(),
        };
        workers.push(
            std::thread::Builder::new()
                .name(format!("read-{i}"))
                .spawn(move || reader.run())?,
        );
    }
    drop(parsed_tx);
    for (i, embedder) in embedders.into_iter().enumerate() {
        let stage = EmbedStage {
            embedder,
            input: Arc::clone(&parsed_rx),
            events: event_tx.clone(),
            batch_size: args.batch_size.max(1),
            busy: Arc::clone(&embed_busy),
        };
        workers.push(
            std::thread::Builder::new()
                .name(format!("embed-{i}"))
                .spawn(move || stage.run())?,
        );
    }
    drop(event_tx);

    let progress = Progress::new(files.len() as u64);
    let mut writer = Writer {
        runtime,
        store: &store,
        catalog: &mut catalog,
        reports: &mut reports,
        progress: &progress,
        twins: HashMap::new(),
        failed_firsts: HashMap::new(),
        pending: Vec::new(),
        pending_chunks: 0,
        pending_since: None,
        commits: 0,
        pages: 0,
        chunks: 0,
        started,
    };
    let result = writer.drain(
        &event_rx,
        args.commit_chunks.max(1),
        Duration::from_secs_f64(args.commit_seconds.max(0.0)),
    );
    let commits = writer.commits;
    let unsettled = writer.twins.values().map(Vec::len).sum::<usize>();
    if result.is_err() {
        // Unblock the stages so that they finish: they see a closed channel.
        drop(event_rx);
    }
    for worker in workers {
        let _ = worker.join();
    }
    progress.finish();
    result?;
    if unsettled > 0 {
        // Only an interrupted run ends with copies whose first copy never reached the store.
        eprintln!("note: {unsettled} copies of files that were not stored yet are not reported");
    }

    let interrupted = super::interrupted();
    let mut pruned = Vec::new();
    if args.prune {
        if interrupted {
            eprintln!("note: interrupted, so nothing was pruned (a moved file may not have been seen yet)");
        } else {
            pruned = prune(&args.paths, &mut catalog)?;
            write_changes(runtime, &store, catalog.take_changes())
                .context("pruning documents whose files are gone")?;
        }
    }
    let indexing = Instant::now();
    let change = runtime
        .block_on(store.refresh_indices())
        .context("updating the search indices")?;
    if change == dossier_store::VectorIndexChange::Built {
        eprintln!(
            "built the vector index (the store passed {} chunks) in {:.1}s",
            store.vector_index_rows(),
            indexing.elapsed().as_secs_f64()
        );
    }
    let optimized = maybe_optimize(runtime, &store, commits + usize::from(!pruned.is_empty()))?;

    reports.sort_by(|a, b| a.path.cmp(&b.path));
    let mut summary = outcome::summarize(&reports, started.elapsed().as_secs_f64(), interrupted);
    summary.pruned = pruned.len();
    summary.commits = commits;
    summary.optimized = optimized;
    summary.embed_seconds = embed_busy.load(Ordering::Relaxed) as f64 / 1e6;
    if args.json {
        super::print_json(
            &serde_json::json!({ "summary": summary, "files": reports, "pruned": pruned }),
        )?;
    } else {
        eprintln!("{}", outcome::summary_line(&summary, args.prune));
    }
    Ok(if summary.interrupted {
        crate::exit::INTERRUPTED
    } else if summary.failed > 0 {
        crate::exit::PARTIAL
    } else {
        crate::exit::OK
    })
}

#[derive(Clone)]
struct Limits {
    max_bytes: u64,
    max_pages: u32,
    timeout: Duration,
}

/// Stage 1: takes the next file, reads and hashes it, and parses it unless the store or this
/// run already has those bytes.
struct Reader {
    files: Arc<Vec<PathBuf>>,
    next: Arc<AtomicUsize>,
    known: Arc<HashSet<String>>,
    claimed: Arc<Mutex<HashSet<String>>>,
    chunker: Arc<Chunker>,
    options: Arc<ExtractOptions>,
    limits: Limits,
    events: SyncSender<Event>,
    parsed: SyncSender<Parsed>,
}

impl Reader {
    fn run(self) {
        while !super::interrupted() {
            let i = self.next.fetch_add(1, Ordering::SeqCst);
            let Some(file) = self.files.get(i) else {
                break;
            };
            let sent = match self.one(i, file) {
                Ok(Step::Event(event)) => self.events.send(event).is_ok(),
                Ok(Step::Parsed(parsed)) => self.parsed.send(parsed).is_ok(),
                Err(reason) => self
                    .events
                    .send(Event::Failed {
                        path: file.clone(),
                        reason,
                        doc_id: None,
                    })
                    .is_ok(),
            };
            if !sent {
                break; // the writer stopped
            }
        }
    }

    fn one(&self, index: usize, file: &Path) -> Result<Step, String> {
        let size = std::fs::metadata(file)
            .map_err(|e| format!("cannot read: {e}"))?
            .len();
        if size > self.limits.max_bytes {
            return Err(dossier_ingest::IngestError::TooLarge {
                size,
                limit: self.limits.max_bytes,
            }
            .to_string());
        }
        let bytes = std::fs::read(file).map_err(|e| format!("cannot read: {e}"))?;
        let doc_id = dossier_ingest::document_id(&bytes);
        let absolute = std::path::absolute(file)
            .unwrap_or_else(|_| file.to_owned())
            .to_string_lossy()
            .into_owned();
        if self.known.contains(&doc_id) {
            return Ok(Step::Event(Event::Known {
                path: file.to_owned(),
                absolute,
                doc_id,
            }));
        }
        if !self.claimed.lock().expect("claimed").insert(doc_id.clone()) {
            return Ok(Step::Event(Event::Duplicate {
                copy: Copy {
                    index,
                    path: file.to_owned(),
                    absolute,
                },
                doc_id,
            }));
        }
        match self.prepare_with_limits(file, bytes, doc_id.clone()) {
            Ok(prepared) => Ok(Step::Parsed(Parsed {
                prepared,
                index,
                absolute,
            })),
            Err(reason) => Ok(Step::Event(Event::Failed {
                path: file.to_owned(),
                reason,
                doc_id: Some(doc_id),
            })),
        }
    }

    /// Parses on a thread of its own, with a large stack (deeply nested PDF objects recurse),
    /// and gives up waiting after the time limit. A thread that overran keeps running until
    /// its parser returns, but the batch goes on without it.
    fn prepare_with_limits(
        &self,
        file: &Path,
        bytes: Vec<u8>,
        doc_id: String,
    ) -> Result<PreparedDocument, String> {
        let (tx, rx) = mpsc::sync_channel(1);
        let chunker = Arc::clone(&self.chunker);
        let options = Arc::clone(&self.options);
        let path = file.to_owned();
        std::thread::Builder::new()
            .name("parse".into())
            .stack_size(256 << 20)
            .spawn(move || {
                let result = dossier_ingest::prepare(&path, &bytes, doc_id, &options, &chunker);
                let _ = tx.send(result.map_err(|e| e.to_string()));
            })
            .map_err(|e| format!("cannot start a parser thread: {e}"))?;
        let prepared = match rx.recv_timeout(self.limits.timeout) {
            Ok(result) => result?,
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "took longer than {}s to parse (--timeout); skipped",
                    self.limits.timeout.as_secs()
                ))
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err("the parser stopped without a result".into())
            }
        };
        if prepared.page_count > self.limits.max_pages {
            return Err(format!(
                "too many pages ({}; the limit is {}, --max-pages)",
                prepared.page_count, self.limits.max_pages
            ));
        }
        Ok(prepared)
    }
}

enum Step {
    Event(Event),
    Parsed(Parsed),
}

/// Stage 2: embeds the chunks of whatever documents are ready, in batches of similar length.
struct EmbedStage {
    embedder: Embedder,
    input: Arc<Mutex<Receiver<Parsed>>>,
    events: SyncSender<Event>,
    batch_size: usize,
    busy: Arc<AtomicUsize>,
}

impl EmbedStage {
    fn run(mut self) {
        let window_chunks = (self.batch_size * 8).max(64);
        loop {
            // Take one document (waiting), then whatever else is ready, up to the window.
            let window = {
                let input = self.input.lock().expect("embed input");
                let Ok(first) = input.recv() else {
                    return;
                };
                let mut window = vec![first];
                let mut chunks = window[0].prepared.chunks.len();
                while chunks < window_chunks {
                    match input.try_recv() {
                        Ok(more) => {
                            chunks += more.prepared.chunks.len();
                            window.push(more);
                        }
                        Err(_) => break,
                    }
                }
                window
            };
            let started = Instant::now();
            let result = self.embed_window(&window);
            self.busy
                .fetch_add(started.elapsed().as_micros() as usize, Ordering::Relaxed);
            match result {
                Ok(vectors) => {
                    for (parsed, vectors) in window.into_iter().zip(vectors) {
                        if self
                            .events
                            .send(Event::Embedded { parsed, vectors })
                            .is_err()
                        {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = self.events.send(Event::Fatal(format!("embedding: {e}")));
                    return;
                }
            }
        }
    }

    /// Vectors per document of the window, in chunk order.
    fn embed_window(&mut self, window: &[Parsed]) -> Result<Vec<Vec<Vec<f32>>>> {
        let mut order: Vec<(usize, usize)> = window
            .iter()
            .enumerate()
            .flat_map(|(d, p)| (0..p.prepared.chunks.len()).map(move |c| (d, c)))
            .collect();
        // The embedder reads each chunk with its document and page before it; the store
        // keeps the plain text.
        let inputs: Vec<Vec<String>> = window
            .iter()
            .map(|p| embedding_texts(&p.prepared))
            .collect();
        let text = |&(d, c): &(usize, usize)| inputs[d][c].as_str();
        if self.batch_size > 1 {
            // Similar lengths share a batch, so little of it is padding.
            order.sort_by_key(|k| text(k).len());
        }
        let mut out: Vec<Vec<Vec<f32>>> = window
            .iter()
            .map(|p| vec![Vec::new(); p.prepared.chunks.len()])
            .collect();
        for batch in order.chunks(self.batch_size) {
            let texts: Vec<&str> = batch.iter().map(text).collect();
            let vectors = self.embedder.embed(&texts, self.batch_size)?;
            for (&(d, c), vector) in batch.iter().zip(vectors) {
                out[d][c] = vector;
            }
        }
        Ok(out)
    }
}

/// Stage 3: batches embedded documents into commits and keeps the report.
struct Writer<'a> {
    runtime: &'a Runtime,
    store: &'a Store,
    catalog: &'a mut Catalog,
    reports: &'a mut Vec<FileReport>,
    progress: &'a Progress,
    /// Copies of this run's new bytes whose first copy is still being parsed or embedded,
    /// by id: they join its document when it is committed, or fail with it.
    twins: HashMap<String, Vec<Copy>>,
    /// First copies that failed, by id (their path as shown, the reason): a copy seen after
    /// fails with them.
    failed_firsts: HashMap<String, (String, String)>,
    pending: Vec<(Parsed, Vec<Vec<f32>>)>,
    pending_chunks: usize,
    pending_since: Option<Instant>,
    commits: usize,
    pages: u64,
    chunks: u64,
    started: Instant,
}

impl Writer<'_> {
    fn drain(
        &mut self,
        events: &Receiver<Event>,
        commit_chunks: usize,
        commit_after: Duration,
    ) -> Result<()> {
        loop {
            let wait = match self.pending_since {
                Some(since) => commit_after.saturating_sub(since.elapsed()),
                None => Duration::from_secs(3600),
            };
            match events.recv_timeout(wait) {
                Ok(event) => self.handle(event)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let due = self
                .pending_since
                .is_some_and(|since| since.elapsed() >= commit_after);
            if self.pending_chunks >= commit_chunks || due {
                self.commit()?;
            }
        }
        self.commit()?;
        // Documents left without a path go only now (see `Catalog::take_updates`).
        write_changes(self.runtime, self.store, self.catalog.take_changes())
    }

    /// Keeps a file's report, with its line on stderr where the summary's count is not
    /// enough.
    fn report(&mut self, report: FileReport) {
        if report.outcome == Outcome::Failed {
            self.progress.println(&format!(
                "error: {}: {}",
                report.path,
                report.error.as_deref().unwrap_or("")
            ));
        } else if let Some(line) = report.note_line() {
            self.progress.println(&line);
        }
        let (pages, chunks) = if report.outcome.embedded() {
            (u64::from(report.pages), u64::from(report.chunks))
        } else {
            (0, 0)
        };
        self.reports.push(report);
        self.progress.file_done(pages, chunks);
    }

    /// A file whose bytes are a stored document's.
    fn known(&mut self, path: &Path, absolute: &str, doc_id: String) {
        let shown = path.display().to_string();
        let Some(seen) = self.catalog.seen(&doc_id, absolute, catalog::exists) else {
            // Every id a reader takes for stored is in the catalog, which drops none before
            // the run ends; this would be a writer outside the lock (an object store).
            self.report(FileReport::failed(
                shown,
                "its stored document disappeared while this run went on; ingest it again".into(),
            ));
            return;
        };
        let counts = self
            .catalog
            .get(&doc_id)
            .map_or((0, 0), |d| (d.pages, d.chunks));
        self.report(FileReport::known(shown, doc_id, counts, seen));
    }

    fn handle(&mut self, event: Event) -> Result<()> {
        match event {
            Event::Known {
                path,
                absolute,
                doc_id,
            } => self.known(&path, &absolute, doc_id),
            Event::Duplicate { copy, doc_id } => {
                if self.catalog.get(&doc_id).is_some() {
                    // Its first copy was committed earlier in this run.
                    self.known(&copy.path, &copy.absolute, doc_id);
                } else if let Some((first, reason)) = self.failed_firsts.get(&doc_id) {
                    let shown = copy.path.display().to_string();
                    let first = outcome::distinct_name(first, &shown).to_owned();
                    let reason = reason.clone();
                    self.report(FileReport::twin_failed(shown, &first, &reason));
                } else {
                    self.twins.entry(doc_id).or_default().push(copy);
                }
            }
            Event::Failed {
                path,
                reason,
                doc_id,
            } => {
                let shown = path.display().to_string();
                self.report(FileReport::failed(shown.clone(), reason.clone()));
                if let Some(doc_id) = doc_id {
                    for copy in self.twins.remove(&doc_id).unwrap_or_default() {
                        let copy_shown = copy.path.display().to_string();
                        let first = outcome::distinct_name(&shown, &copy_shown).to_owned();
                        self.report(FileReport::twin_failed(copy_shown, &first, &reason));
                    }
                    self.failed_firsts.insert(doc_id, (shown, reason));
                }
            }
            Event::Embedded { parsed, vectors } => {
                self.pending_chunks += vectors.len();
                self.pending_since.get_or_insert_with(Instant::now);
                self.pending.push((parsed, vectors));
            }
            Event::Fatal(reason) => anyhow::bail!(reason),
        }
        Ok(())
    }

    /// One batch commit: chunks, then document rows (each listing every copy of its bytes
    /// seen so far); then the rows of documents that lost a path to them.
    fn commit(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        self.pending_chunks = 0;
        self.pending_since = None;
        let mut records = Vec::with_capacity(pending.len());
        let mut chunk_rows = Vec::new();
        let mut parsed_docs = Vec::with_capacity(pending.len());
        for (parsed, vectors) in pending {
            let mut copies = vec![Copy {
                index: parsed.index,
                path: parsed.prepared.path.clone(),
                absolute: parsed.absolute.clone(),
            }];
            copies.extend(self.twins.remove(&parsed.prepared.id).unwrap_or_default());
            // The first of the copies in this run's order is the one reported as stored,
            // whichever a reader happened to parse.
            copies.sort_by_key(|c| c.index);
            let mut record = document_record(&parsed.prepared, &copies[0].absolute);
            for copy in &copies[1..] {
                if !record.has_path(&copy.absolute) {
                    record.paths.push(copy.absolute.clone());
                }
            }
            records.push(record);
            chunk_rows.extend(chunk_records(&parsed.prepared, vectors));
            parsed_docs.push((parsed, copies));
        }
        self.runtime
            .block_on(self.store.put_documents(&records, &chunk_rows))
            .with_context(|| format!("writing {} documents to the store", records.len()))?;
        self.commits += 1;

        let mut reports = Vec::new();
        for ((parsed, copies), record) in parsed_docs.into_iter().zip(records) {
            let replaced = self.catalog.stored(record.clone());
            let counts = (record.pages, record.chunks);
            let first = &copies[0];
            reports.push(FileReport::stored(
                first.path.display().to_string(),
                record.doc_id.clone(),
                counts,
                replaced.contains(&first.absolute),
                &parsed.prepared,
            ));
            for (i, copy) in copies.iter().enumerate().skip(1) {
                // One file named twice on the command line ("a.pdf ./a.pdf") is one path.
                let how = if copies[..i].iter().any(|c| c.absolute == copy.absolute) {
                    How::Unchanged
                } else {
                    How::SameContentAs(first.absolute.clone())
                };
                reports.push(FileReport::known(
                    copy.path.display().to_string(),
                    record.doc_id.clone(),
                    counts,
                    Seen {
                        how,
                        replaced: replaced.contains(&copy.absolute),
                    },
                ));
            }
            self.pages += u64::from(record.pages);
            self.chunks += u64::from(record.chunks);
        }
        // Changed files: their earlier versions' rows lose the path only now that the new
        // versions are committed.
        let updates = self.catalog.take_updates();
        self.runtime
            .block_on(self.store.update_documents(&updates))
            .context("recording the paths of documents")?;
        for report in reports {
            self.report(report);
        }
        self.progress.committed(
            self.reports.len() as u64,
            self.pages,
            self.chunks,
            self.started.elapsed(),
        );
        Ok(())
    }
}

/// Writes what the catalog changed: rows first (a document keeps its remaining paths),
/// then the documents left without a path (rows, then chunks).
fn write_changes(runtime: &Runtime, store: &Store, changes: Changes) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    runtime
        .block_on(store.update_documents(&changes.update))
        .context("recording the paths of documents")?;
    runtime
        .block_on(store.remove_documents(&changes.remove))
        .context("removing documents that no path names any more")?;
    Ok(())
}

/// Progress: a bar on a terminal; otherwise a plain line per commit.
struct Progress {
    bar: ProgressBar,
    terminal: bool,
    files: u64,
    pages: AtomicUsize,
    chunks: AtomicUsize,
    started: Instant,
}

impl Progress {
    fn new(files: u64) -> Self {
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = if terminal {
            let bar = ProgressBar::with_draw_target(Some(files), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{bar:30}] {pos}/{len} files, {msg}, {elapsed_precise} (ETA {eta})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        Self {
            bar,
            terminal,
            files,
            pages: AtomicUsize::new(0),
            chunks: AtomicUsize::new(0),
            started: Instant::now(),
        }
    }

    fn println(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    fn file_done(&self, pages: u64, chunks: u64) {
        let pages = self.pages.fetch_add(pages as usize, Ordering::Relaxed) + pages as usize;
        let chunks = self.chunks.fetch_add(chunks as usize, Ordering::Relaxed) + chunks as usize;
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!(
            "{pages} pages, {chunks} chunks, {:.1} chunks/s",
            chunks as f64 / seconds
        ));
        self.bar.inc(1);
    }

    /// A plain log line per commit when there is no terminal to draw a bar on.
    fn committed(&self, done: u64, pages: u64, chunks: u64, elapsed: Duration) {
        if self.terminal {
            return;
        }
        let seconds = elapsed.as_secs_f64().max(1e-3);
        let eta = if done > 0 && done < self.files {
            let left = seconds / done as f64 * (self.files - done) as f64;
            format!(", ETA {}", human_duration(left))
        } else {
            String::new()
        };
        eprintln!(
            "progress: {done}/{} files, {pages} pages, {chunks} chunks committed, {:.1} chunks/s{eta}",
            self.files,
            chunks as f64 / seconds
        );
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn human_duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Takes from the catalog the paths whose files are gone, under the folders given on the
/// command line that exist now (a folder that is missing as a whole, an unmounted disk say,
/// prunes nothing). Files outside those folders are never touched. A document goes with its
/// last path; one that another path still names stays.
fn prune(paths: &[PathBuf], catalog: &mut Catalog) -> Result<Vec<String>> {
    let mut roots = Vec::new();
    for path in paths {
        if path.is_dir() {
            roots.push(std::path::absolute(path)?);
        } else if !path.exists() {
            eprintln!(
                "note: {} does not exist; nothing under it is pruned",
                path.display()
            );
        }
    }
    let mut gone: Vec<String> = catalog
        .documents()
        .flat_map(|d| d.paths.iter())
        .filter(|stored| {
            let path = Path::new(stored.as_str());
            roots.iter().any(|root| path.starts_with(root)) && !path.exists()
        })
        .cloned()
        .collect();
    gone.sort();
    gone.dedup();
    for path in &gone {
        catalog.release(path, None);
        eprintln!("pruned: {path} (file gone)");
    }
    Ok(gone)
}

/// Versions or small fragments beyond which an ingest compacts and prunes the store.
const OPTIMIZE_VERSIONS: usize = 64;
const OPTIMIZE_SMALL_FRAGMENTS: usize = 32;

/// Compacts and prunes old versions when they have piled up.
fn maybe_optimize(runtime: &Runtime, store: &Store, commits: usize) -> Result<bool> {
    if commits == 0 {
        return Ok(false);
    }
    let health = runtime.block_on(store.health())?;
    let due = health
        .iter()
        .any(|t| t.versions > OPTIMIZE_VERSIONS || t.small_fragments > OPTIMIZE_SMALL_FRAGMENTS);
    if !due {
        return Ok(false);
    }
    let versions: usize = health.iter().map(|t| t.versions).sum();
    let started = Instant::now();
    let after = runtime
        .block_on(store.optimize())
        .context("optimizing the store")?;
    tracing::info!(
        "optimized the store: {versions} → {} versions in {:.1}s",
        after.iter().map(|t| t.versions).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    Ok(true)
}

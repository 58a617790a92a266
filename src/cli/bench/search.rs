//! Search latency at scale: a temporary store of synthetic chunk rows (clustered unit vectors,
//! text recombined from the benchmark's real chunks), its full-text index, and queries in
//! each search mode, timed against the embedder's time for the same question; first by exact
//! search, then with each ANN index asked for, whose recall@10 is measured against the exact
//! results. With DOSSIER_BENCH_EXPLAIN set, the plan of one ANN query is printed to stderr with
//! its metrics.

use std::collections::HashSet;
use std::time::Instant;

use anyhow::Result;
use dossier_ingest::Embedder;
use dossier_store::{
    ChunkRecord, DocumentRecord, EmbeddingSpec, SearchMode, SearchOptions, Store, VectorIndexKind,
    VectorSearchParams,
};
use tokio::runtime::Runtime;

use super::{measure, Measure};

/// Chunks per synthetic document, and documents per commit.
const CHUNKS_PER_DOCUMENT: usize = 100;
const DOCUMENTS_PER_COMMIT: usize = 100;
/// Topics the synthetic vectors gather around, and how far a vector strays from its topic:
/// a noise vector of norm 1 puts a chunk at cosine ≈ 0.7 to its topic and ≈ 0.5 to another
/// chunk of it, which is how MiniLM places passages of one subject.
const TOPICS: usize = 1000;
const NOISE: f32 = 1.0;
/// Query vectors for recall (drawn like the rows, not stored).
const RECALL_QUERIES: usize = 50;
const K: usize = 10;

const QUESTIONS: &[&str] = &[
    "How much notice is needed to terminate the agreement?",
    "What is the maximum hotel rate per night in London?",
    "Which court has jurisdiction over disputes?",
    "How many vacation days can be carried over to next year?",
    "What dose of aspirin was the patient discharged on?",
    "Who owns the intellectual property created under the contract?",
    "What is the late payment interest rate?",
    "How long is the warranty period?",
    "What does the licence say about redistribution of modified versions?",
    "Which register holds the program counter?",
    "What was the ejection fraction on the echocardiogram?",
    "When must the annual report be filed?",
    "What happens if the supplier breaches confidentiality?",
    "How is the fee calculated for additional users?",
    "Which operating systems are supported?",
    "What is the default page size of the generated document?",
    "Who signs on behalf of the company?",
    "How are expenses reimbursed for travel by car?",
    "What encryption is used for stored data?",
    "What is the retention period for medical records?",
];

/// What the ANN part of the stage measures.
#[derive(Debug, Clone, Default)]
pub struct AnnBench {
    /// Indices to build, one after the other (empty: exact search only).
    pub kinds: Vec<VectorIndexKind>,
    /// IVF partitions (default: the store's rule).
    pub partitions: Option<u32>,
    /// Also measure a grid of search parameters (nprobes, ef, refine factor) per index.
    pub sweep: bool,
}

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// Roughly normal (sum of uniforms), enough for directions uniform on the sphere.
    fn normal(&mut self) -> f32 {
        (0..4)
            .map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32)
            .sum::<f32>()
            - 2.0
    }
}

fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn unit_vector(rng: &mut Rng, dimension: usize) -> Vec<f32> {
    normalized((0..dimension).map(|_| rng.normal()).collect())
}

/// A unit vector near one of `topics`: the topic plus noise of norm `NOISE`.
fn clustered(rng: &mut Rng, topics: &[Vec<f32>]) -> Vec<f32> {
    let topic = &topics[rng.below(topics.len())];
    let noise = unit_vector(rng, topic.len());
    normalized(
        topic
            .iter()
            .zip(&noise)
            .map(|(t, n)| t + NOISE * n)
            .collect(),
    )
}

/// A real chunk with a third of its words swapped for words drawn from the whole corpus, so
/// that no two rows are the same and term statistics stay natural.
fn text(rng: &mut Rng, chunks: &[String], vocabulary: &[&str]) -> String {
    let base = &chunks[rng.below(chunks.len())];
    base.split_whitespace()
        .map(|w| {
            if rng.below(3) == 0 {
                vocabulary[rng.below(vocabulary.len())]
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The p-th percentile (0–100) of `ms`, nearest rank.
fn percentile(ms: &[f64], p: f64) -> f64 {
    let mut sorted = ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Times `rounds` passes over the questions (after one untimed warm-up pass).
fn latencies(
    runtime: &Runtime,
    store: &Store,
    mode: SearchMode,
    queries: &[(&str, Vec<f32>)],
    rounds: usize,
) -> Result<Vec<f64>> {
    let options = SearchOptions {
        mode,
        ..SearchOptions::default()
    };
    let mut ms = Vec::new();
    for round in 0..=rounds {
        for (question, vector) in queries {
            let t = Instant::now();
            let hits = runtime.block_on(store.search(vector, question, K, &options))?;
            if round > 0 {
                ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
            anyhow::ensure!(
                mode == SearchMode::Text || hits.len() == K,
                "{mode} search returned {} hits",
                hits.len()
            );
        }
    }
    Ok(ms)
}

/// The top `K` (document, chunk) of a vector search for each query.
fn top_ids(
    runtime: &Runtime,
    store: &Store,
    queries: &[Vec<f32>],
) -> Result<Vec<HashSet<(String, u32)>>> {
    let options = SearchOptions {
        mode: SearchMode::Vector,
        ..SearchOptions::default()
    };
    queries
        .iter()
        .map(|q| {
            let hits = runtime.block_on(store.search(q, "", K, &options))?;
            Ok(hits
                .into_iter()
                .map(|h| (h.hit.chunk.doc_id, h.hit.chunk.chunk_index))
                .collect())
        })
        .collect()
}

fn recall(exact: &[HashSet<(String, u32)>], approximate: &[HashSet<(String, u32)>]) -> f64 {
    let found: usize = exact
        .iter()
        .zip(approximate)
        .map(|(e, a)| e.intersection(a).count())
        .sum();
    let total: usize = exact.iter().map(HashSet::len).sum();
    found as f64 / total.max(1) as f64
}

fn describe(p: &VectorSearchParams) -> String {
    let show = |v: Option<String>| v.unwrap_or_else(|| "auto".into());
    format!(
        "nprobes {}, ef {}, refine {}",
        show(p.nprobes.map(|v| v.to_string())),
        show(p.ef.map(|v| v.to_string())),
        p.refine_factor
            .map(|v| v.to_string())
            .unwrap_or_else(|| "none".into())
    )
}

/// The grid of search parameters a sweep measures for `kind`.
fn grid(kind: VectorIndexKind) -> Vec<VectorSearchParams> {
    let efs: &[Option<usize>] = match kind {
        VectorIndexKind::IvfHnswSq => &[None, Some(64)],
        VectorIndexKind::IvfPq => &[None],
    };
    let refines: &[Option<u32>] = match kind {
        VectorIndexKind::IvfHnswSq => &[None, Some(1)],
        VectorIndexKind::IvfPq => &[Some(1), Some(5), Some(10)],
    };
    let mut grid = Vec::new();
    for nprobes in [None, Some(8), Some(16), Some(32)] {
        for &ef in efs {
            for &refine_factor in refines {
                grid.push(VectorSearchParams {
                    use_index: true,
                    nprobes,
                    ef,
                    refine_factor,
                });
            }
        }
    }
    grid
}

/// Fills a temporary store with `rows` synthetic chunks and measures: write speed, index
/// build times, p50/p95 search latency per mode (k = 10) against the p50 time to embed the
/// question (the reference), exact and with each ANN index, and the ANN's recall@10.
pub fn at_scale(
    runtime: &Runtime,
    embedder: &mut Embedder,
    chunks: &[String],
    rows: usize,
    ann: &AnnBench,
) -> Result<Vec<Measure>> {
    anyhow::ensure!(!chunks.is_empty(), "no chunk text to synthesise rows from");
    let vocabulary: Vec<&str> = chunks.iter().flat_map(|c| c.split_whitespace()).collect();
    let dimension = embedder.dimension();
    let dir = tempfile::tempdir()?;
    let uri = dir.path().to_string_lossy().into_owned();
    let mut store = runtime.block_on(Store::open(&uri, true))?;
    runtime.block_on(store.ensure_embedding(&EmbeddingSpec {
        model: embedder.model_name().to_owned(),
        dimension,
    }))?;
    let scale = if rows >= 1_000_000 {
        format!("{}M", rows / 1_000_000)
    } else if rows >= 1000 {
        format!("{}k", rows / 1000)
    } else {
        rows.to_string()
    };
    let stage = "search@scale";

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let topics: Vec<Vec<f32>> = (0..TOPICS)
        .map(|_| unit_vector(&mut rng, dimension))
        .collect();
    let started = Instant::now();
    let documents = rows.div_ceil(CHUNKS_PER_DOCUMENT);
    let mut written = 0;
    for first in (0..documents).step_by(DOCUMENTS_PER_COMMIT) {
        let mut records = Vec::new();
        let mut rows_out = Vec::new();
        for d in first..(first + DOCUMENTS_PER_COMMIT).min(documents) {
            let doc_id = format!("{d:064x}");
            let n = CHUNKS_PER_DOCUMENT.min(rows - written);
            written += n;
            for i in 0..n {
                let text = text(&mut rng, chunks, &vocabulary);
                rows_out.push(ChunkRecord {
                    doc_id: doc_id.clone(),
                    page: (i / 4 + 1) as u32,
                    chunk_index: i as u32,
                    char_start: 0,
                    char_end: text.chars().count() as u32,
                    text,
                    vector: clustered(&mut rng, &topics),
                    ocr: false,
                });
            }
            records.push(DocumentRecord {
                doc_id,
                paths: vec![format!("/bench/doc-{d}.pdf")],
                title: None,
                size_bytes: 0,
                pages: (n / 4 + 1) as u32,
                chunks: n as u32,
                pages_without_text: 0,
                ingested_at_ms: 0,
            });
        }
        runtime.block_on(store.put_documents(&records, &rows_out))?;
    }
    let write_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    runtime.block_on(store.refresh_text_index())?;
    let index_seconds = started.elapsed().as_secs_f64();
    // Indices are built below, one kind at a time, not by the store's own threshold.
    store.set_vector_index_rows(usize::MAX);
    // The writes leave one version per commit; searches at scale run on a compacted table,
    // as they do after an ingest's automatic optimize.
    runtime.block_on(store.optimize())?;

    let mut embed_ms = Vec::new();
    // Questions' own words for the text list, vectors near the stored topics for the vector
    // list (a real question's embedding has no neighbours among synthetic rows).
    let mut questions = Vec::new();
    for question in QUESTIONS {
        let t = Instant::now();
        embedder.embed_one(question)?;
        embed_ms.push(t.elapsed().as_secs_f64() * 1e3);
        questions.push((*question, clustered(&mut rng, &topics)));
    }
    let embed_p50 = percentile(&embed_ms, 50.0);
    let recall_queries: Vec<Vec<f32>> = (0..RECALL_QUERIES)
        .map(|_| clustered(&mut rng, &topics))
        .collect();

    let mut out = vec![
        measure(
            stage,
            format!("write {scale} synthetic chunks ({dimension} dims)"),
            rows as f64 / write_seconds,
            "chunks/s",
            None,
        ),
        measure(
            stage,
            format!("build the full-text index, {scale} chunks"),
            index_seconds,
            "s",
            None,
        ),
    ];
    let latency_rows = |out: &mut Vec<Measure>, label: &str, mode: SearchMode, ms: &[f64]| {
        for p in [50.0, 95.0] {
            out.push(measure(
                stage,
                format!("{mode} p{p}, {label}, k=10, {scale} vs embedding the question"),
                percentile(ms, p),
                "ms",
                Some(embed_p50),
            ));
        }
    };
    // Exact searches take seconds each at a million rows: fewer rounds there.
    let rounds = if rows >= 500_000 { 1 } else { 3 };

    store.set_vector_search(VectorSearchParams {
        use_index: false,
        ..VectorSearchParams::default()
    });
    for mode in [SearchMode::Vector, SearchMode::Text, SearchMode::Hybrid] {
        let ms = latencies(runtime, &store, mode, &questions, rounds)?;
        latency_rows(&mut out, "exact", mode, &ms);
    }
    let exact = top_ids(runtime, &store, &recall_queries)?;

    for &kind in &ann.kinds {
        let started = Instant::now();
        runtime.block_on(store.build_vector_index(kind, ann.partitions))?;
        let build_seconds = started.elapsed().as_secs_f64();
        let partitions = ann
            .partitions
            .unwrap_or_else(|| dossier_store::default_partitions(rows));
        out.push(measure(
            stage,
            format!("build {kind} ({partitions} partitions), {scale} chunks"),
            build_seconds,
            "s",
            None,
        ));
        let mut settings = vec![VectorSearchParams::default()];
        if ann.sweep {
            settings.extend(grid(kind));
        }
        for (i, params) in settings.iter().enumerate() {
            store.set_vector_search(params.clone());
            let approximate = top_ids(runtime, &store, &recall_queries)?;
            let ms = latencies(runtime, &store, SearchMode::Vector, &questions, rounds)?;
            // Where a query's time goes, operator by operator (partitions probed, rows read).
            if i == 0 && crate::cli::env::bench_explain() {
                let plan = runtime.block_on(store.analyze_vector_search(&questions[0].1, 50))?;
                eprintln!("{plan}");
            }
            let what = if i == 0 {
                format!("{kind} default ({})", describe(params))
            } else {
                format!("{kind} {}", describe(params))
            };
            out.push(measure(
                stage,
                format!("recall@10 vs exact, {what}, {scale}"),
                recall(&exact, &approximate),
                "recall",
                None,
            ));
            latency_rows(&mut out, &what, SearchMode::Vector, &ms);
            tracing::info!(
                "{scale} {what}: recall {:.3}, p50 {:.1} ms",
                recall(&exact, &approximate),
                percentile(&ms, 50.0)
            );
        }
        store.set_vector_search(VectorSearchParams::default());
        let ms = latencies(runtime, &store, SearchMode::Hybrid, &questions, rounds)?;
        latency_rows(
            &mut out,
            &format!("{kind} default"),
            SearchMode::Hybrid,
            &ms,
        );
    }
    Ok(out)
}

//! Search latency at scale: a temporary store of synthetic chunk rows (random unit vectors,
//! text recombined from the benchmark's real chunks), its full-text index, and queries in
//! each search mode, timed against the embedder's time for the same question.

use std::time::Instant;

use anyhow::Result;
use dossier_ingest::Embedder;
use dossier_store::{ChunkRecord, DocumentRecord, EmbeddingSpec, SearchMode, SearchOptions, Store};
use tokio::runtime::Runtime;

use super::{measure, Measure};

/// Chunks per synthetic document, and documents per commit.
const CHUNKS_PER_DOCUMENT: usize = 100;
const DOCUMENTS_PER_COMMIT: usize = 100;

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

fn unit_vector(rng: &mut Rng, dimension: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dimension).map(|_| rng.normal()).collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
    v.iter_mut().for_each(|x| *x /= norm);
    v
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

fn p50(mut ms: Vec<f64>) -> f64 {
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

/// Fills a temporary store with `rows` synthetic chunks and measures: write speed, full-text
/// index build time, and p50 search latency per mode (k = 10) against the p50 time to
/// embed the question (the reference).
pub fn at_scale(
    runtime: &Runtime,
    embedder: &mut Embedder,
    chunks: &[String],
    rows: usize,
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

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
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
                    vector: unit_vector(&mut rng, dimension),
                    ocr: false,
                });
            }
            records.push(DocumentRecord {
                doc_id,
                path: format!("/bench/doc-{d}.pdf"),
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

    let mut embed_ms = Vec::new();
    let mut vectors = Vec::new();
    for question in QUESTIONS {
        let t = Instant::now();
        vectors.push(embedder.embed_one(question)?);
        embed_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let embed_p50 = p50(embed_ms);

    let mut out = vec![
        measure(
            "search@scale",
            format!("write {rows} synthetic chunks ({dimension} dims)"),
            rows as f64 / write_seconds,
            "chunks/s",
            None,
        ),
        measure(
            "search@scale",
            format!("build the full-text index on {rows} chunks"),
            index_seconds,
            "s",
            None,
        ),
    ];
    for mode in [SearchMode::Vector, SearchMode::Text, SearchMode::Hybrid] {
        let options = SearchOptions {
            mode,
            ..SearchOptions::default()
        };
        // One untimed round warms caches; then each question three times.
        let mut ms = Vec::new();
        for round in 0..4 {
            for (question, vector) in QUESTIONS.iter().zip(&vectors) {
                let t = Instant::now();
                let hits = runtime.block_on(store.search(vector, question, 10, &options))?;
                if round > 0 {
                    ms.push(t.elapsed().as_secs_f64() * 1e3);
                }
                anyhow::ensure!(
                    mode == SearchMode::Text || hits.len() == 10,
                    "{mode} search returned {} hits",
                    hits.len()
                );
            }
        }
        out.push(measure(
            "search@scale",
            format!("{mode} search p50, k=10, {rows} chunks vs embedding the question"),
            p50(ms),
            "ms",
            Some(embed_p50),
        ));
    }
    Ok(out)
}

//! Ranked retrieval over the chunks table: vector (cosine), full-text (BM25 on an inverted
//! index of the chunk text) and hybrid, their reciprocal-rank fusion.
//!
//! Every hit carries the cosine similarity of its chunk to the query vector, whichever list
//! found it, so that a refusal threshold calibrated on cosine keeps its meaning in every mode;
//! the order of the results is the mode's own (`relevance`). Only chunks of committed
//! documents (those with a `documents` row) are returned.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Array, FixedSizeListArray, Float32Array, RecordBatch};
use futures::TryStreamExt;
use lancedb::index::scalar::{FtsIndexBuilder, FullTextSearchQuery};
use lancedb::index::{Index, IndexType};
use lancedb::query::{ExecutableQuery, QueryBase};
use lancedb::table::OptimizeAction;
use lancedb::DistanceType;

use crate::schema;
use crate::{ChunkRecord, DocumentRecord, Hit, Result, Store, StoreError};

/// Which ranked lists a search draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchMode {
    /// Cosine similarity of the embeddings only.
    Vector,
    /// BM25 over the chunk text only.
    Text,
    /// Both lists, fused by reciprocal rank.
    #[default]
    Hybrid,
}

impl std::str::FromStr for SearchMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "vector" => Ok(Self::Vector),
            "text" => Ok(Self::Text),
            "hybrid" => Ok(Self::Hybrid),
            other => Err(format!(
                "unknown search mode {other:?} (vector, text, hybrid)"
            )),
        }
    }
}

impl std::fmt::Display for SearchMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Vector => "vector",
            Self::Text => "text",
            Self::Hybrid => "hybrid",
        })
    }
}

/// How a search ranks: the mode, and the reciprocal-rank fusion's constants.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    pub mode: SearchMode,
    /// Candidates taken from each list before fusion (at least the number asked for).
    pub candidates: usize,
    /// RRF's k: a hit at rank r (from 1) of a list adds `weight / (rrf_k + r)`.
    pub rrf_k: f32,
    pub vector_weight: f32,
    pub text_weight: f32,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            mode: SearchMode::default(),
            candidates: 50,
            rrf_k: 60.0,
            vector_weight: 1.0,
            text_weight: 1.0,
        }
    }
}

/// A hit with its place in the fused ranking.
#[derive(Debug, Clone)]
pub struct RankedHit {
    /// `hit.score` is the cosine similarity to the query vector in every mode.
    pub hit: Hit,
    /// The score the results are ordered by: cosine (vector), BM25 (text) or RRF (hybrid).
    pub relevance: f32,
    /// 1-based rank in the vector list, if it was among its candidates.
    pub vector_rank: Option<usize>,
    /// 1-based rank in the full-text list, if it was among its candidates.
    pub text_rank: Option<usize>,
}

/// Columns read for a search: what `chunks_from_batch` reads, and the list's score.
const VECTOR_COLUMNS: &[&str] = &[
    "doc_id",
    "page",
    "chunk_index",
    "char_start",
    "char_end",
    "text",
    "_distance",
];
/// The same for full-text search, with the vector to compute the cosine from.
const TEXT_COLUMNS: &[&str] = &[
    "doc_id",
    "page",
    "chunk_index",
    "char_start",
    "char_end",
    "text",
    "vector",
    "_score",
];
const TEXT_COLUMN: &str = "text";
const RETRIES: usize = 3;

impl Store {
    /// The `k` best chunks for a question, by `options.mode`. `vector` is the question's
    /// embedding (unit length), `text` its words.
    pub async fn search(
        &self,
        vector: &[f32],
        text: &str,
        k: usize,
        options: &SearchOptions,
    ) -> Result<Vec<RankedHit>> {
        if k == 0 || self.chunks.is_none() {
            return Ok(Vec::new());
        }
        // Fusion needs deeper lists than it returns; a single list needs only k.
        let n = match options.mode {
            SearchMode::Hybrid => options.candidates.max(k),
            SearchMode::Vector | SearchMode::Text => k,
        };
        let wants_vector = options.mode != SearchMode::Text;
        let wants_text = options.mode != SearchMode::Vector;
        // The three reads are independent: on two cores the index searches run side by
        // side, and the documents table is read while they do.
        let (documents, vector_rows, text_rows) = futures::try_join!(
            self.committed_documents(),
            async {
                match wants_vector {
                    true => self.vector_rows(vector, n).await,
                    false => Ok(Vec::new()),
                }
            },
            async {
                match wants_text {
                    true => self.text_rows(text, vector, n).await,
                    false => Ok(Vec::new()),
                }
            },
        )?;
        if documents.is_empty() {
            return Ok(Vec::new());
        }
        let mut vector_hits = committed(vector_rows, n, &documents);
        if vector_hits.incomplete {
            // Rows of an unfinished write took places in the list: ask again for more.
            let rows = self
                .vector_rows(vector, n * 2 + vector_hits.skipped)
                .await?;
            vector_hits = committed(rows, n, &documents);
        }
        let mut text_hits = committed(text_rows, n, &documents);
        if text_hits.incomplete {
            let rows = self
                .text_rows(text, vector, n * 2 + text_hits.skipped)
                .await?;
            text_hits = committed(rows, n, &documents);
        }
        let mut ranked = match options.mode {
            SearchMode::Vector => vector_hits
                .hits
                .into_iter()
                .enumerate()
                .map(|(i, (hit, _))| RankedHit {
                    relevance: hit.score,
                    hit,
                    vector_rank: Some(i + 1),
                    text_rank: None,
                })
                .collect(),
            SearchMode::Text => text_hits
                .hits
                .into_iter()
                .enumerate()
                .map(|(i, (hit, bm25))| RankedHit {
                    hit,
                    relevance: bm25,
                    vector_rank: None,
                    text_rank: Some(i + 1),
                })
                .collect(),
            SearchMode::Hybrid => fuse(vector_hits.hits, text_hits.hits, options),
        };
        ranked.truncate(k);
        Ok(ranked)
    }

    /// Complete documents by id.
    async fn committed_documents(&self) -> Result<HashMap<String, Arc<DocumentRecord>>> {
        Ok(self
            .documents()
            .await?
            .into_iter()
            .map(|d| (d.doc_id.clone(), Arc::new(d)))
            .collect())
    }

    /// Builds the full-text index of the chunk text if there is none, or folds rows appended
    /// since into it. Call after a batch of writes (the end of an ingest), holding the write
    /// lock. Rows the index does not cover yet are still found (by a slower flat scan), so
    /// this is about speed, never about correctness.
    pub async fn refresh_text_index(&self) -> Result<()> {
        let Some(chunks) = &self.chunks else {
            return Ok(());
        };
        if chunks.count_rows(None).await? == 0 {
            return Ok(());
        }
        match self.text_index_name().await? {
            Some(name) => {
                let covered = chunks
                    .index_stats(&name)
                    .await?
                    .is_some_and(|s| s.num_unindexed_rows == 0);
                if !covered {
                    chunks
                        .optimize(OptimizeAction::Index(Default::default()))
                        .await?;
                }
            }
            None => {
                chunks
                    .create_index(&[TEXT_COLUMN], Index::FTS(FtsIndexBuilder::default()))
                    .replace(true)
                    .execute()
                    .await?;
            }
        }
        Ok(())
    }

    /// The name of the full-text index on the chunk text, if there is one.
    pub async fn text_index_name(&self) -> Result<Option<String>> {
        let Some(chunks) = &self.chunks else {
            return Ok(None);
        };
        Ok(chunks
            .list_indices()
            .await?
            .into_iter()
            .find(|i| i.index_type == IndexType::FTS && i.columns == [TEXT_COLUMN])
            .map(|i| i.name))
    }

    /// The vector list's query plan with the metrics of one run (for the benchmark).
    pub async fn analyze_vector_search(&self, vector: &[f32], n: usize) -> Result<String> {
        let chunks = self.chunks_table()?;
        let query = chunks
            .query()
            .nearest_to(vector)?
            .distance_type(DistanceType::Cosine);
        Ok(self
            .vector_search
            .apply(query, n)?
            .select(lancedb::query::Select::columns(
                &self.chunk_columns(VECTOR_COLUMNS),
            ))
            .analyze_plan()
            .await?)
    }

    /// The `limit` chunks nearest by cosine, best first, with their cosine; chunks of
    /// documents not yet committed included (the caller drops them).
    async fn vector_rows(&self, vector: &[f32], limit: usize) -> Result<Vec<ListRow>> {
        let chunks = self.chunks_table()?;
        let mut attempt = 0;
        let batches = loop {
            let result = async {
                let query = chunks
                    .query()
                    .nearest_to(vector)?
                    .distance_type(DistanceType::Cosine);
                self.vector_search
                    .apply(query, limit)?
                    .select(lancedb::query::Select::columns(
                        &self.chunk_columns(VECTOR_COLUMNS),
                    ))
                    .execute()
                    .await?
                    .try_collect::<Vec<RecordBatch>>()
                    .await
            }
            .await;
            match result {
                Ok(batches) => break batches,
                Err(e) if attempt < RETRIES => {
                    tracing::debug!("vector search failed ({e}); retrying");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let mut rows = Vec::new();
        for batch in &batches {
            let distances = float_column(batch, "_distance", &self.uri)?;
            for (i, chunk) in schema::chunks_from_batch(batch)?.into_iter().enumerate() {
                let distance = if distances.is_null(i) {
                    2.0
                } else {
                    distances.value(i)
                };
                let cosine = 1.0 - distance;
                rows.push(ListRow {
                    chunk,
                    cosine,
                    list_score: cosine,
                });
            }
        }
        rows.sort_by(|a, b| b.list_score.total_cmp(&a.list_score));
        Ok(rows)
    }

    /// The `limit` best chunks by BM25, best first, each with its cosine to `vector`;
    /// uncommitted chunks included. Empty (with a note in the log) when the store has no
    /// full-text index yet or the question has no searchable word.
    async fn text_rows(&self, text: &str, vector: &[f32], limit: usize) -> Result<Vec<ListRow>> {
        let chunks = self.chunks_table()?;
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        if !self.has_text_index().await? {
            tracing::warn!(
                "the store at {} has no full-text index (ingest builds it); text search skipped",
                self.uri
            );
            return Ok(Vec::new());
        }
        let mut attempt = 0;
        let batches = loop {
            let result = async {
                chunks
                    .query()
                    .full_text_search(FullTextSearchQuery::new(text.to_owned()))
                    .limit(limit)
                    .select(lancedb::query::Select::columns(
                        &self.chunk_columns(TEXT_COLUMNS),
                    ))
                    .execute()
                    .await?
                    .try_collect::<Vec<RecordBatch>>()
                    .await
            }
            .await;
            match result {
                Ok(batches) => break batches,
                Err(e) if attempt < RETRIES => {
                    tracing::debug!("full-text search failed ({e}); retrying");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let mut rows = Vec::new();
        for batch in &batches {
            let scores = float_column(batch, "_score", &self.uri)?;
            let vectors = batch
                .column_by_name("vector")
                .and_then(|c| c.as_any().downcast_ref::<FixedSizeListArray>())
                .ok_or_else(|| StoreError::Damaged(self.uri.clone(), "no vector column".into()))?;
            for (i, chunk) in schema::chunks_from_batch(batch)?.into_iter().enumerate() {
                let row = vectors.value(i);
                let row = row
                    .as_any()
                    .downcast_ref::<Float32Array>()
                    .ok_or_else(|| StoreError::Damaged(self.uri.clone(), "vector type".into()))?;
                let bm25 = if scores.is_null(i) {
                    0.0
                } else {
                    scores.value(i)
                };
                rows.push(ListRow {
                    chunk,
                    cosine: cosine(vector, row.values()),
                    list_score: bm25,
                });
            }
        }
        rows.sort_by(|a, b| b.list_score.total_cmp(&a.list_score));
        Ok(rows)
    }

    /// Whether the chunk text has a full-text index. Once one exists it stays (rebuilds
    /// replace it), so a yes is remembered and later searches skip listing the indices.
    async fn has_text_index(&self) -> Result<bool> {
        if self.text_index_seen.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let found = self.text_index_name().await?.is_some();
        if found {
            self.text_index_seen.store(true, Ordering::Relaxed);
        }
        Ok(found)
    }
}

/// One row of a ranked list as read: the chunk, its cosine to the question, and the
/// list's own score (cosine or BM25).
struct ListRow {
    chunk: ChunkRecord,
    cosine: f32,
    list_score: f32,
}

/// A ranked list cut to committed documents.
struct CommittedList {
    /// At most `n` hits, best first, each with the list's own score.
    hits: Vec<(Hit, f32)>,
    /// Rows dropped for having no committed document.
    skipped: usize,
    /// Fewer than `n` hits are left although the list was read in full up to its limit, so
    /// rows beyond it may belong in the list.
    incomplete: bool,
}

/// `rows` (a list read with limit `n`) without chunks of uncommitted documents.
fn committed(
    rows: Vec<ListRow>,
    n: usize,
    documents: &HashMap<String, Arc<DocumentRecord>>,
) -> CommittedList {
    let read = rows.len();
    let mut hits = Vec::with_capacity(read);
    for row in rows {
        if let Some(document) = documents.get(&row.chunk.doc_id) {
            hits.push((
                Hit {
                    document: Arc::clone(document),
                    chunk: row.chunk,
                    score: row.cosine,
                },
                row.list_score,
            ));
        }
    }
    let skipped = read - hits.len();
    hits.truncate(n);
    CommittedList {
        incomplete: skipped > 0 && read >= n && hits.len() < n,
        skipped,
        hits,
    }
}

/// Reciprocal-rank fusion of two ranked lists (best first), keyed by (document, chunk).
fn fuse(vector: Vec<(Hit, f32)>, text: Vec<(Hit, f32)>, options: &SearchOptions) -> Vec<RankedHit> {
    let mut by_key: HashMap<(String, u32), RankedHit> = HashMap::new();
    let lists = [(vector, options.vector_weight), (text, options.text_weight)];
    for (list_index, (list, weight)) in lists.into_iter().enumerate() {
        for (i, (hit, _)) in list.into_iter().enumerate() {
            let rank = i + 1;
            let add = weight / (options.rrf_k + rank as f32);
            let key = (hit.chunk.doc_id.clone(), hit.chunk.chunk_index);
            let entry = by_key.entry(key).or_insert_with(|| RankedHit {
                hit,
                relevance: 0.0,
                vector_rank: None,
                text_rank: None,
            });
            entry.relevance += add;
            if list_index == 0 {
                entry.vector_rank = Some(rank);
            } else {
                entry.text_rank = Some(rank);
            }
        }
    }
    let mut fused: Vec<RankedHit> = by_key.into_values().collect();
    fused.sort_by(|a, b| {
        b.relevance
            .total_cmp(&a.relevance)
            .then(b.hit.score.total_cmp(&a.hit.score))
            .then(a.hit.chunk.doc_id.cmp(&b.hit.chunk.doc_id))
            .then(a.hit.chunk.chunk_index.cmp(&b.hit.chunk.chunk_index))
    });
    fused
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

fn float_column<'a>(batch: &'a RecordBatch, name: &str, uri: &str) -> Result<&'a Float32Array> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Float32Array>())
        .ok_or_else(|| StoreError::Damaged(uri.to_owned(), format!("no {name} column")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EmbeddingSpec;

    fn doc(id: &str, chunks: u32) -> DocumentRecord {
        DocumentRecord {
            doc_id: id.to_owned(),
            paths: vec![format!("/docs/{id}.pdf")],
            title: None,
            size_bytes: 10,
            pages: 1,
            chunks,
            pages_without_text: 0,
            ingested_at_ms: 0,
        }
    }

    fn chunk(id: &str, i: u32, text: &str, vector: [f32; 3]) -> ChunkRecord {
        ChunkRecord {
            doc_id: id.to_owned(),
            page: i + 1,
            chunk_index: i,
            char_start: 0,
            char_end: text.len() as u32,
            text: text.to_owned(),
            vector: vector.to_vec(),
            ocr: false,
        }
    }

    async fn store(dir: &std::path::Path) -> Store {
        let mut store = Store::open(dir.to_str().unwrap(), true).await.unwrap();
        store
            .ensure_embedding(&EmbeddingSpec {
                model: "test".into(),
                dimension: 3,
            })
            .await
            .unwrap();
        store
    }

    #[tokio::test]
    async fn text_and_hybrid_search_find_words_and_skip_uncommitted_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let a = vec![
            chunk("a", 0, "The lease term is twelve months.", [1.0, 0.0, 0.0]),
            chunk("a", 1, "Rent is due on the first day.", [0.0, 1.0, 0.0]),
            chunk("a", 2, "Pets need written consent.", [0.0, 0.0, 1.0]),
        ];
        store.put_document(&doc("a", 3), &a).await.unwrap();
        // No index yet: text search is empty, vector search still works.
        let options = |mode| SearchOptions {
            mode,
            ..SearchOptions::default()
        };
        let hits = store
            .search(&[0.0, 1.0, 0.0], "consent", 2, &options(SearchMode::Text))
            .await
            .unwrap();
        assert!(hits.is_empty());
        store.refresh_text_index().await.unwrap();
        assert!(store.text_index_name().await.unwrap().is_some());

        let hits = store
            .search(&[0.0, 1.0, 0.0], "consent", 2, &options(SearchMode::Text))
            .await
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].hit.chunk.chunk_index, 2);
        assert_eq!(hits[0].text_rank, Some(1));
        assert!(
            hits[0].hit.score.abs() < 1e-6,
            "cosine of orthogonal vectors"
        );

        // Rows appended after the index was built are found before any refresh...
        store
            .put_document(
                &doc("b", 1),
                &[chunk("b", 0, "Consent of the landlord.", [0.0, 1.0, 0.0])],
            )
            .await
            .unwrap();
        // ...and chunks without a document row never are.
        store
            .chunks
            .as_ref()
            .unwrap()
            .add(
                schema::chunks_batch(&[chunk("c", 0, "consent consent", [0.0, 1.0, 0.0])], 3)
                    .unwrap(),
            )
            .execute()
            .await
            .unwrap();
        let hits = store
            .search(&[0.0, 1.0, 0.0], "consent", 5, &options(SearchMode::Hybrid))
            .await
            .unwrap();
        let found: Vec<(&str, u32)> = hits
            .iter()
            .map(|h| (h.hit.chunk.doc_id.as_str(), h.hit.chunk.chunk_index))
            .collect();
        assert_eq!(found[0], ("b", 0), "in both lists: {found:?}");
        assert!(found.contains(&("a", 2)), "{found:?}");
        assert!(found.iter().all(|(id, _)| *id != "c"), "{found:?}");
        assert!(hits.windows(2).all(|w| w[0].relevance >= w[1].relevance));

        store.refresh_text_index().await.unwrap();
        let hits = store
            .search(&[0.0, 1.0, 0.0], "landlord", 5, &options(SearchMode::Text))
            .await
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].hit.chunk.doc_id, "b");
        assert!((hits[0].hit.score - 1.0).abs() < 1e-6);
    }

    #[tokio::test]
    async fn uncommitted_rows_at_the_top_of_a_list_do_not_shorten_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let a = vec![
            chunk("a", 0, "Rent is due monthly.", [0.8, 0.6, 0.0]),
            chunk("a", 1, "Rent is paid by transfer.", [0.6, 0.8, 0.0]),
            chunk("a", 2, "Pets need written consent.", [0.0, 0.0, 1.0]),
        ];
        store.put_document(&doc("a", 3), &a).await.unwrap();
        // A write that died before its document row: nearer to the query than any chunk of
        // "a", and more of them than asked for.
        let orphans: Vec<ChunkRecord> = (0..4)
            .map(|i| chunk("c", i, "rent rent rent", [1.0, 0.0, 0.0]))
            .collect();
        store
            .chunks
            .as_ref()
            .unwrap()
            .add(schema::chunks_batch(&orphans, 3).unwrap())
            .execute()
            .await
            .unwrap();
        store.refresh_text_index().await.unwrap();
        for mode in [SearchMode::Vector, SearchMode::Text] {
            let options = SearchOptions {
                mode,
                ..SearchOptions::default()
            };
            let hits = store
                .search(&[1.0, 0.0, 0.0], "rent", 2, &options)
                .await
                .unwrap();
            let found: Vec<(&str, u32)> = hits
                .iter()
                .map(|h| (h.hit.chunk.doc_id.as_str(), h.hit.chunk.chunk_index))
                .collect();
            assert_eq!(found.len(), 2, "{mode}: {found:?}");
            assert!(found.iter().all(|(id, _)| *id == "a"), "{mode}: {found:?}");
        }
    }

    #[test]
    fn fusion_rewards_agreement_and_respects_weights() {
        let hit = |id: &str, i: u32| Hit {
            document: Arc::new(doc(id, 1)),
            chunk: chunk(id, i, "x", [1.0, 0.0, 0.0]),
            score: 0.5,
        };
        let vector = vec![(hit("a", 0), 0.9), (hit("a", 1), 0.8), (hit("a", 2), 0.7)];
        let text = vec![(hit("a", 2), 9.0), (hit("a", 3), 8.0)];
        let fused = fuse(vector.clone(), text.clone(), &SearchOptions::default());
        assert_eq!(fused[0].hit.chunk.chunk_index, 2);
        assert_eq!(
            (fused[0].vector_rank, fused[0].text_rank),
            (Some(3), Some(1))
        );
        assert_eq!(fused.len(), 4);
        let vector_only = fuse(
            vector,
            text,
            &SearchOptions {
                text_weight: 0.0,
                ..SearchOptions::default()
            },
        );
        assert_eq!(vector_only[0].hit.chunk.chunk_index, 0);
    }

    #[test]
    fn modes_parse_and_print() {
        for mode in [SearchMode::Vector, SearchMode::Text, SearchMode::Hybrid] {
            assert_eq!(mode.to_string().parse::<SearchMode>(), Ok(mode));
        }
        assert!("bm25".parse::<SearchMode>().is_err());
    }
}

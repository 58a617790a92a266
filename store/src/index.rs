//! The approximate-nearest-neighbour (ANN) index on the chunk vectors.
//!
//! Below a row threshold the vector list is an exact (flat) scan: it is fast enough there and
//! exact. Past it, `refresh_vector_index` builds an IVF index once and afterwards folds rows
//! appended since into it. Rows an index does not cover yet are still searched, by a flat
//! scan of only those rows, so an index is only ever about speed. Index settings and search
//! parameters were chosen from recall@10 against exact search (see BENCHMARKS.md): an index is
//! never used without a measured recall.

use lancedb::index::vector::{IvfHnswSqIndexBuilder, IvfPqIndexBuilder};
use lancedb::index::{Index, IndexType};
use lancedb::query::{QueryBase, VectorQuery};
use lancedb::table::OptimizeAction;
use lancedb::DistanceType;
use serde::Serialize;

use crate::{Result, Store};

/// Chunk rows from which ingest builds a vector index. Exact search over fewer rows stays
/// within the 20 ms goal on 2 cores; an IVF index needs a few thousand rows to train on.
pub const DEFAULT_VECTOR_INDEX_ROWS: usize = 50_000;

const VECTOR_COLUMN: &str = "vector";
/// Candidates an ANN search re-scores on the full vectors at least, when it re-scores.
const MIN_RESCORED: usize = 50;

/// Which ANN index to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VectorIndexKind {
    /// IVF partitions, an HNSW graph in each, 8-bit scalar-quantised vectors.
    #[default]
    IvfHnswSq,
    /// IVF partitions of product-quantised vectors.
    IvfPq,
}

impl std::str::FromStr for VectorIndexKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "ivf_hnsw_sq" => Ok(Self::IvfHnswSq),
            "ivf_pq" => Ok(Self::IvfPq),
            other => Err(format!(
                "unknown vector index {other:?} (ivf_hnsw_sq, ivf_pq)"
            )),
        }
    }
}

impl std::fmt::Display for VectorIndexKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::IvfHnswSq => "ivf_hnsw_sq",
            Self::IvfPq => "ivf_pq",
        })
    }
}

/// How the vector list searches when the table has an ANN index.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSearchParams {
    /// Use the ANN index when there is one (false: always an exact scan).
    pub use_index: bool,
    /// IVF partitions probed; `None` leaves it to Lance's adaptive probing (which probed all
    /// of them on clustered rows).
    pub nprobes: Option<usize>,
    /// HNSW candidates per partition; `None` is Lance's 1.5 × limit.
    pub ef: Option<usize>,
    /// Candidates re-scored on the full vectors, as a multiple of the limit (raised so that
    /// at least 50 are, whatever the limit). Some value is
    /// needed for `_distance` to be the exact cosine distance, which the refusal threshold is
    /// calibrated on; without it, distances come from the quantised vectors.
    pub refine_factor: Option<u32>,
}

impl Default for VectorSearchParams {
    /// 16 of the √rows partitions ([`default_partitions`]) with the exact re-score: recall@10
    /// 0.998 against exact search on 100k clustered rows. Lance's adaptive probing visited
    /// every partition of those rows (its margin covers them all), which cost most of the
    /// search time (docs/benchmarks-history.md, "Search latency at 100k: where the 22 ms went").
    fn default() -> Self {
        Self {
            use_index: true,
            nprobes: Some(16),
            ef: None,
            refine_factor: Some(1),
        }
    }
}

/// What `Store::vector_index` reports.
#[derive(Debug, Clone, Serialize)]
pub struct VectorIndexStatus {
    pub name: String,
    pub kind: String,
    pub indexed_rows: usize,
    /// Rows appended since the index was built or last refreshed (searched flat).
    pub unindexed_rows: usize,
}

/// What `refresh_vector_index` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorIndexChange {
    /// Fewer rows than the threshold and no index: exact search.
    BelowThreshold,
    /// The index covers every row already.
    UpToDate,
    /// Rows appended since were folded into the existing index.
    Updated,
    /// An index was built.
    Built,
}

impl Store {
    /// Rows from which `refresh_vector_index` builds an index (default
    /// [`DEFAULT_VECTOR_INDEX_ROWS`]).
    pub fn set_vector_index_rows(&mut self, rows: usize) {
        self.vector_index_rows = rows;
    }

    pub fn vector_index_rows(&self) -> usize {
        self.vector_index_rows
    }

    /// How vector searches use the index (default [`VectorSearchParams::default`]).
    pub fn set_vector_search(&mut self, params: VectorSearchParams) {
        self.vector_search = params;
    }

    pub fn vector_search(&self) -> &VectorSearchParams {
        &self.vector_search
    }

    /// The ANN index on the chunk vectors, if there is one.
    pub async fn vector_index(&self) -> Result<Option<VectorIndexStatus>> {
        let Some(chunks) = &self.chunks else {
            return Ok(None);
        };
        let Some(config) = chunks
            .list_indices()
            .await?
            .into_iter()
            .find(|i| i.columns == [VECTOR_COLUMN] && is_vector_index(&i.index_type))
        else {
            return Ok(None);
        };
        let stats = chunks.index_stats(&config.name).await?;
        Ok(Some(VectorIndexStatus {
            kind: config.index_type.to_string(),
            indexed_rows: stats.as_ref().map_or(0, |s| s.num_indexed_rows),
            unindexed_rows: stats.as_ref().map_or(0, |s| s.num_unindexed_rows),
            name: config.name,
        }))
    }

    /// Builds the vector index once the chunks table has `vector_index_rows` rows, or folds
    /// rows appended since into the existing one. Call after a batch of writes, holding the
    /// write lock.
    pub async fn refresh_vector_index(&self) -> Result<VectorIndexChange> {
        let Some(chunks) = &self.chunks else {
            return Ok(VectorIndexChange::BelowThreshold);
        };
        match self.vector_index().await? {
            Some(status) if status.unindexed_rows == 0 => Ok(VectorIndexChange::UpToDate),
            Some(_) => {
                chunks
                    .optimize(OptimizeAction::Index(Default::default()))
                    .await?;
                Ok(VectorIndexChange::Updated)
            }
            None => {
                if chunks.count_rows(None).await? < self.vector_index_rows.max(1) {
                    return Ok(VectorIndexChange::BelowThreshold);
                }
                self.build_vector_index(VectorIndexKind::default(), None)
                    .await?;
                Ok(VectorIndexChange::Built)
            }
        }
    }

    /// Builds (or rebuilds, replacing the old one) the vector index over every row, whatever
    /// the threshold; retrains the partitions on the rows there are now. `partitions`: IVF
    /// partitions (default: [`default_partitions`] of the row count). Holding the write lock.
    pub async fn build_vector_index(
        &self,
        kind: VectorIndexKind,
        partitions: Option<u32>,
    ) -> Result<()> {
        let chunks = self.chunks_table()?;
        let rows = chunks.count_rows(None).await?;
        let partitions = partitions.unwrap_or_else(|| default_partitions(rows));
        let index = match kind {
            VectorIndexKind::IvfHnswSq => Index::IvfHnswSq(
                IvfHnswSqIndexBuilder::default()
                    .distance_type(DistanceType::Cosine)
                    .num_partitions(partitions),
            ),
            VectorIndexKind::IvfPq => Index::IvfPq(
                IvfPqIndexBuilder::default()
                    .distance_type(DistanceType::Cosine)
                    .num_partitions(partitions),
            ),
        };
        tracing::info!(
            "building the {kind} vector index on {rows} chunks, {partitions} partitions"
        );
        chunks
            .create_index(&[VECTOR_COLUMN], index)
            .replace(true)
            .execute()
            .await?;
        Ok(())
    }

    /// Both indices of the chunks table (full-text and vector) brought up to date.
    pub async fn refresh_indices(&self) -> Result<VectorIndexChange> {
        // On an object store (no write lock) another ingest may commit an index at the same
        // moment; Lance then refuses ours as a retryable conflict, and a retry finds that
        // index in place and has less or nothing left to do.
        let mut attempts = 0;
        loop {
            let refreshed = match self.refresh_text_index().await {
                Ok(()) => self.refresh_vector_index().await,
                Err(e) => Err(e),
            };
            match refreshed {
                Err(e) if attempts < 3 && e.to_string().contains("commit conflict") => {
                    attempts += 1;
                    tracing::debug!("index refresh lost a commit race ({e}); retrying");
                }
                other => return other,
            }
        }
    }
}

impl VectorSearchParams {
    /// `query` with these parameters and `limit`; they are ignored by a flat scan.
    pub(crate) fn apply(&self, query: VectorQuery, limit: usize) -> lancedb::Result<VectorQuery> {
        if !self.use_index {
            return Ok(query.bypass_vector_index().limit(limit));
        }
        let mut query = query.limit(limit);
        if let Some(nprobes) = self.nprobes {
            query = query.nprobes(nprobes)?;
        }
        // Quantised distances misorder close neighbours: at a limit of 10, re-scoring only the
        // 10 the index ranks first lost 2% of recall@10 whatever the probes, so a small limit
        // re-scores more candidates (only the `limit` best are read in full).
        let refine_factor = self
            .refine_factor
            .map(|factor| factor.max(MIN_RESCORED.div_ceil(limit.max(1)) as u32));
        if let Some(ef) = self.ef {
            // HNSW refuses an ef below the candidates it must return (the limit times the
            // refine factor), which a large --candidates reaches.
            let wanted = limit * refine_factor.unwrap_or(1).max(1) as usize;
            query = query.ef(ef.max(wanted));
        }
        if let Some(factor) = refine_factor {
            query = query.refine_factor(factor);
        }
        Ok(query)
    }
}

/// IVF partitions for `rows` vectors: √rows (316 at 100k), so that a partition's HNSW graph
/// stays small and a fixed number of probes reads a small share of the rows. With 24
/// partitions of 4,096 rows, the same recall needed every partition probed
/// (docs/benchmarks-history.md).
pub fn default_partitions(rows: usize) -> u32 {
    ((rows as f64).sqrt().round() as usize).clamp(1, 4096) as u32
}

fn is_vector_index(kind: &IndexType) -> bool {
    matches!(
        kind,
        IndexType::IvfFlat
            | IndexType::IvfSq
            | IndexType::IvfPq
            | IndexType::IvfRq
            | IndexType::IvfHnswPq
            | IndexType::IvfHnswSq
            | IndexType::IvfHnswFlat
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChunkRecord, DocumentRecord, EmbeddingSpec, SearchMode, SearchOptions};

    const DIM: usize = 16;

    /// Deterministic, spread-out unit vectors (no two alike).
    fn vector(seed: u64) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let v: Vec<f32> = (0..DIM)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        v.into_iter().map(|a| a / norm).collect()
    }

    fn document(id: &str, first_seed: u64, n: u32) -> (DocumentRecord, Vec<ChunkRecord>) {
        let chunks = (0..n)
            .map(|i| ChunkRecord {
                doc_id: id.to_owned(),
                page: i + 1,
                chunk_index: i,
                char_start: 0,
                char_end: 4,
                text: format!("chunk {i} of {id}"),
                vector: vector(first_seed + u64::from(i)),
                ocr: false,
            })
            .collect();
        let record = DocumentRecord {
            doc_id: id.to_owned(),
            paths: vec![format!("/docs/{id}.pdf")],
            title: None,
            size_bytes: 1,
            pages: n,
            chunks: n,
            pages_without_text: 0,
            ingested_at_ms: 0,
        };
        (record, chunks)
    }

    async fn best(store: &Store, query: &[f32]) -> (String, u32, f32) {
        let options = SearchOptions {
            mode: SearchMode::Vector,
            ..SearchOptions::default()
        };
        let hits = store.search(query, "", 5, &options).await.unwrap();
        let top = &hits[0].hit;
        (top.chunk.doc_id.clone(), top.chunk.chunk_index, top.score)
    }

    #[tokio::test]
    async fn index_is_built_past_the_threshold_and_rows_appended_later_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().to_str().unwrap(), true)
            .await
            .unwrap();
        store
            .ensure_embedding(&EmbeddingSpec {
                model: "test".into(),
                dimension: DIM,
            })
            .await
            .unwrap();
        store.set_vector_index_rows(1000);
        for d in 0..4u64 {
            let (record, chunks) = document(&format!("d{d}"), d * 1000, 200);
            store.put_document(&record, &chunks).await.unwrap();
        }
        assert_eq!(
            store.refresh_vector_index().await.unwrap(),
            VectorIndexChange::BelowThreshold
        );
        assert!(store.vector_index().await.unwrap().is_none());
        let (record, chunks) = document("d4", 4000, 200);
        store.put_document(&record, &chunks).await.unwrap();
        assert_eq!(
            store.refresh_vector_index().await.unwrap(),
            VectorIndexChange::Built
        );
        let status = store.vector_index().await.unwrap().expect("an index");
        assert_eq!((status.indexed_rows, status.unindexed_rows), (1000, 0));
        assert_eq!(
            store.refresh_vector_index().await.unwrap(),
            VectorIndexChange::UpToDate
        );

        // A stored vector is its own nearest neighbour through the index, with its exact
        // cosine (the refine step re-scores on the full vectors).
        let (id, chunk, score) = best(&store, &vector(3017)).await;
        assert_eq!((id.as_str(), chunk), ("d3", 17));
        assert!((score - 1.0).abs() < 1e-4, "score {score}");

        // Rows appended after the build are searched too, before any refresh...
        let (record, chunks) = document("late", 9000, 20);
        store.put_document(&record, &chunks).await.unwrap();
        let status = store.vector_index().await.unwrap().unwrap();
        assert_eq!(status.unindexed_rows, 20);
        let (id, chunk, score) = best(&store, &vector(9005)).await;
        assert_eq!((id.as_str(), chunk), ("late", 5));
        assert!((score - 1.0).abs() < 1e-4, "score {score}");
        // ...and after it, from the index.
        assert_eq!(
            store.refresh_vector_index().await.unwrap(),
            VectorIndexChange::Updated
        );
        let status = store.vector_index().await.unwrap().unwrap();
        assert_eq!((status.indexed_rows, status.unindexed_rows), (1020, 0));
        let (id, chunk, _) = best(&store, &vector(9005)).await;
        assert_eq!((id.as_str(), chunk), ("late", 5));

        // A rebuild replaces the index (one vector index, all rows covered).
        store
            .build_vector_index(VectorIndexKind::IvfPq, Some(2))
            .await
            .unwrap();
        let status = store.vector_index().await.unwrap().unwrap();
        assert_eq!(status.kind, "IVF_PQ");
        assert_eq!(status.indexed_rows, 1020);
        let (id, chunk, _) = best(&store, &vector(1150)).await;
        assert_eq!((id.as_str(), chunk), ("d1", 150));
    }

    #[test]
    fn kinds_parse_and_print() {
        for kind in [VectorIndexKind::IvfHnswSq, VectorIndexKind::IvfPq] {
            assert_eq!(kind.to_string().parse::<VectorIndexKind>(), Ok(kind));
        }
        assert_eq!(
            "IVF_PQ".parse::<VectorIndexKind>(),
            Ok(VectorIndexKind::IvfPq)
        );
        assert!("hnsw".parse::<VectorIndexKind>().is_err());
    }

    #[test]
    fn partitions_grow_with_rows() {
        assert_eq!(default_partitions(0), 1);
        assert_eq!(default_partitions(100), 10);
        assert_eq!(default_partitions(100_000), 316);
        assert_eq!(default_partitions(1_000_000), 1000);
    }
}

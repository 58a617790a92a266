//! dossier-store: the LanceDB tables behind dossier.
//!
//! Three tables in one LanceDB directory (or object-store prefix):
//! - `meta`: key/value facts about the store, chiefly which embedding model filled it;
//! - `chunks`: one row per chunk: document id, page, span, text and vector;
//! - `documents`: one row per document, written **after** all its chunks. That row is the
//!   commit point: searches only return chunks whose document row exists, so a crash
//!   mid-write leaves invisible leftovers that the next write of the same document clears.
//!
//! The store knows nothing of PDFs, tokenizers or models: it stores strings, numbers and
//! vectors of the dimension it was created with.

mod schema;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Array, RecordBatch};
use futures::TryStreamExt;
use lancedb::query::{ExecutableQuery, QueryBase};
use lancedb::{Connection, DistanceType, Table};

pub use schema::{ChunkRecord, DocumentRecord};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no dossier store at {0} (run `dossier ingest` first)")]
    Missing(String),
    #[error(
        "the store at {uri} holds {stored_model} vectors ({stored_dim} dims) but this run embeds \
         with {model} ({dim} dims); use another --store or re-ingest into a fresh one"
    )]
    ModelMismatch {
        uri: String,
        stored_model: String,
        stored_dim: usize,
        model: String,
        dim: usize,
    },
    #[error("the store at {0} is damaged: {1}")]
    Damaged(String, String),
    #[error("LanceDB: {0}")]
    Lance(#[from] lancedb::Error),
    #[error("Arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which embedding model filled the store; a store never mixes two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingSpec {
    pub model: String,
    pub dimension: usize,
}

/// One search result: a chunk of a complete document.
#[derive(Debug, Clone)]
pub struct Hit {
    pub document: Arc<DocumentRecord>,
    pub chunk: ChunkRecord,
    /// Cosine similarity of the query and the chunk, in [-1, 1].
    pub score: f32,
}

pub struct Store {
    uri: String,
    db: Connection,
    meta: Table,
    documents: Table,
    chunks: Option<Table>,
}

const META: &str = "meta";
const DOCUMENTS: &str = "documents";
const CHUNKS: &str = "chunks";

impl Store {
    /// Opens the store at `uri` (a directory, or an object-store URI). With `create`, a
    /// missing store is created; without, it is an error that says to ingest first.
    pub async fn open(uri: &str, create: bool) -> Result<Self> {
        let is_local = !uri.contains("://");
        if is_local {
            let path = std::path::Path::new(uri);
            if !path.join(format!("{DOCUMENTS}.lance")).exists() {
                if !create {
                    return Err(StoreError::Missing(uri.to_owned()));
                }
                std::fs::create_dir_all(path)?;
            }
        }
        let db = lancedb::connect(uri)
            // Another process may be writing (an ingest while we search): always read the
            // latest committed version rather than a cached one.
            .read_consistency_interval(Duration::ZERO)
            .execute()
            .await?;
        let names = db.table_names().execute().await?;
        let has = |name: &str| names.iter().any(|n| n == name);
        if !has(DOCUMENTS) && !create {
            return Err(StoreError::Missing(uri.to_owned()));
        }
        let meta = open_or_create(&db, &names, META, schema::meta_schema()).await?;
        let documents = open_or_create(&db, &names, DOCUMENTS, schema::documents_schema()).await?;
        let chunks = if has(CHUNKS) {
            Some(db.open_table(CHUNKS).execute().await?)
        } else {
            None
        };
        Ok(Self {
            uri: uri.to_owned(),
            db,
            meta,
            documents,
            chunks,
        })
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The embedding model recorded in the store, if any document was ever written.
    pub async fn embedding_spec(&self) -> Result<Option<EmbeddingSpec>> {
        let meta = self.meta_values().await?;
        let (Some(model), Some(dimension)) = (meta.get("embed_model"), meta.get("embed_dim"))
        else {
            return Ok(None);
        };
        let dimension = dimension.parse().map_err(|_| {
            StoreError::Damaged(self.uri.clone(), format!("embed_dim {dimension:?}"))
        })?;
        Ok(Some(EmbeddingSpec {
            model: model.clone(),
            dimension,
        }))
    }

    /// Checks that `spec` is the model the store was filled with; on a new store, records it
    /// and creates the chunks table with vectors of that dimension.
    pub async fn ensure_embedding(&mut self, spec: &EmbeddingSpec) -> Result<()> {
        match self.embedding_spec().await? {
            Some(stored) if &stored == spec => {}
            Some(stored) => {
                return Err(StoreError::ModelMismatch {
                    uri: self.uri.clone(),
                    stored_model: stored.model,
                    stored_dim: stored.dimension,
                    model: spec.model.clone(),
                    dim: spec.dimension,
                })
            }
            None => {
                let batch = schema::meta_batch(&[
                    ("embed_model", spec.model.as_str()),
                    ("embed_dim", &spec.dimension.to_string()),
                    ("schema_version", schema::SCHEMA_VERSION),
                ])?;
                self.meta.add(batch).execute().await?;
            }
        }
        if self.chunks.is_none() {
            let names = self.db.table_names().execute().await?;
            let table = open_or_create(
                &self.db,
                &names,
                CHUNKS,
                schema::chunks_schema(spec.dimension),
            )
            .await?;
            self.chunks = Some(table);
        }
        Ok(())
    }

    /// Every complete document, in path order.
    pub async fn documents(&self) -> Result<Vec<DocumentRecord>> {
        let batches: Vec<RecordBatch> = self
            .documents
            .query()
            .execute()
            .await?
            .try_collect()
            .await?;
        let mut docs = Vec::new();
        for batch in &batches {
            docs.extend(schema::documents_from_batch(batch)?);
        }
        docs.sort_by(|a, b| a.path.cmp(&b.path).then(a.doc_id.cmp(&b.doc_id)));
        Ok(docs)
    }

    pub async fn count_chunks(&self) -> Result<usize> {
        match &self.chunks {
            Some(chunks) => Ok(chunks.count_rows(None).await?),
            None => Ok(0),
        }
    }

    /// Writes one document: first clears any chunks a crashed earlier write left behind,
    /// then appends the chunks, then the document row that makes them visible.
    pub async fn put_document(
        &self,
        document: &DocumentRecord,
        chunks: &[ChunkRecord],
    ) -> Result<()> {
        let table = self.chunks_table()?;
        let dimension = self.dimension().await?;
        let id = sql_string(&document.doc_id);
        // Two rows for one id would double its hits; a leftover document row is dropped too.
        self.documents.delete(&format!("doc_id = {id}")).await?;
        table.delete(&format!("doc_id = {id}")).await?;
        // Large appends: each add is a commit, and commits are what cost.
        for part in chunks.chunks(4096) {
            let batch = schema::chunks_batch(part, dimension)?;
            table.add(batch).execute().await?;
        }
        self.documents
            .add(schema::documents_batch(std::slice::from_ref(document))?)
            .execute()
            .await?;
        Ok(())
    }

    /// Records that a document's file now lives at `path` (moved or renamed; same bytes, so
    /// nothing is re-embedded).
    pub async fn move_document(&self, doc_id: &str, path: &str) -> Result<()> {
        self.documents
            .update()
            .only_if(format!("doc_id = {}", sql_string(doc_id)))
            .column("path", sql_string(path))
            .execute()
            .await?;
        Ok(())
    }

    /// Removes a document: the row first (so it disappears from results at once), then its
    /// chunks. A crash in between leaves only invisible chunks.
    pub async fn remove_document(&self, doc_id: &str) -> Result<()> {
        let id = sql_string(doc_id);
        self.documents.delete(&format!("doc_id = {id}")).await?;
        if let Some(chunks) = &self.chunks {
            chunks.delete(&format!("doc_id = {id}")).await?;
        }
        Ok(())
    }

    /// The `k` chunks nearest to `vector` by cosine similarity, from complete documents only.
    pub async fn nearest(&self, vector: &[f32], k: usize) -> Result<Vec<Hit>> {
        let Some(chunks) = &self.chunks else {
            return Ok(Vec::new());
        };
        let documents: HashMap<String, Arc<DocumentRecord>> = self
            .documents()
            .await?
            .into_iter()
            .map(|d| (d.doc_id.clone(), Arc::new(d)))
            .collect();
        if documents.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        // Over-fetch a little: rows of an unfinished write are skipped below.
        let batches: Vec<RecordBatch> = chunks
            .query()
            .nearest_to(vector)?
            .distance_type(DistanceType::Cosine)
            .limit(k * 2 + 8)
            .execute()
            .await?
            .try_collect()
            .await?;
        let mut hits = Vec::new();
        for batch in &batches {
            let rows = schema::chunks_from_batch(batch)?;
            let distances = batch
                .column_by_name("_distance")
                .and_then(|c| c.as_any().downcast_ref::<arrow_array::Float32Array>())
                .ok_or_else(|| {
                    StoreError::Damaged(self.uri.clone(), "no _distance column".into())
                })?;
            for (i, chunk) in rows.into_iter().enumerate() {
                let Some(document) = documents.get(&chunk.doc_id) else {
                    continue;
                };
                let distance = if distances.is_null(i) {
                    2.0
                } else {
                    distances.value(i)
                };
                hits.push(Hit {
                    document: Arc::clone(document),
                    chunk,
                    score: 1.0 - distance,
                });
            }
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(k);
        Ok(hits)
    }

    fn chunks_table(&self) -> Result<&Table> {
        self.chunks.as_ref().ok_or_else(|| {
            StoreError::Damaged(
                self.uri.clone(),
                "no chunks table (ensure_embedding was not called)".into(),
            )
        })
    }

    async fn dimension(&self) -> Result<usize> {
        self.embedding_spec()
            .await?
            .map(|s| s.dimension)
            .ok_or_else(|| {
                StoreError::Damaged(self.uri.clone(), "no embedding model recorded".into())
            })
    }

    async fn meta_values(&self) -> Result<HashMap<String, String>> {
        let batches: Vec<RecordBatch> = self.meta.query().execute().await?.try_collect().await?;
        let mut values = HashMap::new();
        for batch in &batches {
            values.extend(schema::meta_from_batch(batch)?);
        }
        Ok(values)
    }
}

async fn open_or_create(
    db: &Connection,
    names: &[String],
    name: &str,
    schema: arrow_schema::SchemaRef,
) -> Result<Table> {
    if names.iter().any(|n| n == name) {
        Ok(db.open_table(name).execute().await?)
    } else {
        Ok(db.create_empty_table(name, schema).execute().await?)
    }
}

/// A SQL string literal for LanceDB predicates.
fn sql_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_strings_are_quoted_and_escaped() {
        assert_eq!(sql_string("abc"), "'abc'");
        assert_eq!(sql_string("o'neil"), "'o''neil'");
    }
}

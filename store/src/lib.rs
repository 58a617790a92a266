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

mod index;
mod lock;
mod schema;
mod search;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::{Array, RecordBatch};
use futures::TryStreamExt;
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use lancedb::table::OptimizeAction;
use lancedb::{Connection, DistanceType, Table};
use serde::Serialize;

pub use index::{
    default_partitions, VectorIndexChange, VectorIndexKind, VectorIndexStatus, VectorSearchParams,
    DEFAULT_VECTOR_INDEX_ROWS,
};
pub use lock::{Holder, WriteLock, LOCK_FILE};
pub use schema::{file_name, ChunkRecord, DocumentRecord, SCHEMA_VERSION};
pub use search::{RankedHit, SearchMode, SearchOptions};

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
    #[error(
        "another dossier {command} is writing to {uri}{}; wait for it, or pass --wait",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Locked {
        uri: String,
        command: String,
        pid: Option<u32>,
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
    /// Whether the chunks table has the `ocr` column (stores from before it was added lack
    /// it until a writer opens them).
    chunks_have_ocr: bool,
    /// The documents table still has schema version 1 (one `path` per row): reads take it
    /// as it is, and the first write of a document row upgrades it.
    documents_legacy: std::sync::atomic::AtomicBool,
    /// Ids that have chunk rows but no document row (a write that died before its commit
    /// point), found by one scan at the first write; only these need clearing before a put.
    leftovers: Mutex<Option<HashSet<String>>>,
    /// A full-text index on the chunk text was seen (see `Store::has_text_index`).
    text_index_seen: std::sync::atomic::AtomicBool,
    /// Chunk rows from which `refresh_vector_index` builds an ANN index.
    vector_index_rows: usize,
    /// How vector searches use the ANN index.
    vector_search: VectorSearchParams,
}

/// Ids per delete predicate: one predicate per call, cut only so that SQL stays parseable.
const IDS_PER_PREDICATE: usize = 2048;
/// Rows per Arrow batch of one append (one append is one commit, whatever its batches).
const ROWS_PER_BATCH: usize = 4096;
/// A failed read is retried this many times: a reader can race a writer's cleanup of the
/// version it had just resolved.
const READ_RETRIES: usize = 3;
/// On an object store, `optimize` keeps versions younger than this: a concurrent writer
/// that started from one of them still finds it when it checks its commit for conflicts.
const OBJECT_STORE_KEEP_VERSIONS: lancedb::table::optimize::Duration =
    lancedb::table::optimize::Duration::hours(1);

/// What `Store::check` finds: whether every visible document is whole.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub documents: usize,
    pub chunk_rows: usize,
    /// Documents whose stored chunk rows differ from their recorded `chunks` count.
    pub mismatched: Vec<Mismatch>,
    /// Ids with more than one document row.
    pub duplicate_documents: Vec<String>,
    /// Ids with chunk rows and no document row: invisible leftovers of an interrupted write,
    /// cleared by the next ingest of that file or by `dossier optimize`.
    pub orphan_ids: Vec<String>,
    pub orphan_rows: usize,
}

impl CheckReport {
    /// Every visible document is whole and listed once (invisible leftovers are allowed).
    pub fn consistent(&self) -> bool {
        self.mismatched.is_empty() && self.duplicate_documents.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    pub doc_id: String,
    pub path: String,
    pub expected: u32,
    pub found: usize,
}

/// Versions and fragments of one table: what `optimize` reduces.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableHealth {
    pub table: String,
    pub rows: usize,
    pub versions: usize,
    pub fragments: usize,
    pub small_fragments: usize,
    pub deleted_rows: usize,
    pub bytes: usize,
}

const META: &str = "meta";
const DOCUMENTS: &str = "documents";
const CHUNKS: &str = "chunks";

impl Store {
    /// Opens the store at `uri` (a directory, or an object-store URI). With `create`, a
    /// missing store is created; without, it is an error that says to ingest first.
    pub async fn open(uri: &str, create: bool) -> Result<Self> {
        if let Some(path) = local_dir(uri) {
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
        let mut chunks_have_ocr = true;
        if let Some(table) = &chunks {
            if table.schema().await?.field_with_name("ocr").is_err() {
                if create {
                    // A writer brings a store from before OCR up to date: one added column,
                    // false for every existing row.
                    table
                        .add_columns()
                        .transform(lancedb::table::NewColumnTransform::SqlExpressions(vec![(
                            "ocr".to_owned(),
                            "false".to_owned(),
                        )]))
                        .execute()
                        .await?;
                } else {
                    chunks_have_ocr = false;
                }
            }
        }
        let documents_legacy = schema::documents_are_legacy(documents.schema().await?.as_ref());
        Ok(Self {
            uri: uri.to_owned(),
            db,
            meta,
            documents,
            chunks,
            chunks_have_ocr,
            documents_legacy: documents_legacy.into(),
            leftovers: Mutex::new(None),
            text_index_seen: Default::default(),
            vector_index_rows: DEFAULT_VECTOR_INDEX_ROWS,
            vector_search: VectorSearchParams::default(),
        })
    }

    /// Takes this store's write lock (see [`WriteLock`]).
    pub fn lock(
        uri: &str,
        command: &str,
        wait: bool,
        on_wait: impl FnOnce(&Holder),
    ) -> Result<Option<WriteLock>> {
        WriteLock::acquire(uri, command, wait, on_wait)
    }

    /// `columns` plus `ocr` where the chunks table has it.
    pub(crate) fn chunk_columns<'a>(&self, columns: &[&'a str]) -> Vec<&'a str> {
        let mut all = columns.to_vec();
        if self.chunks_have_ocr {
            all.push("ocr");
        }
        all
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Whether the store lives in an object store (`s3://…`), where no write lock exists and
    /// concurrent writers are reconciled by LanceDB's commits instead (see [`local_dir`]).
    pub fn is_object_store(&self) -> bool {
        local_dir(&self.uri).is_none()
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
        let mut attempt = 0;
        let batches: Vec<RecordBatch> = loop {
            match scan(&self.documents, None).await {
                Ok(batches) => break batches,
                Err(e) if attempt < READ_RETRIES => {
                    tracing::debug!("reading documents failed ({e}); retrying");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let mut docs = Vec::new();
        for batch in &batches {
            docs.extend(schema::documents_from_batch(batch)?);
        }
        docs.sort_by(|a, b| a.path().cmp(b.path()).then(a.doc_id.cmp(&b.doc_id)));
        Ok(docs)
    }

    /// Brings a documents table of schema version 1 (one `path` per row) to version 2
    /// (`paths`, every name the bytes were found under). The documents table is small (a row
    /// per file), so it is rewritten whole in one overwrite commit: a reader sees the old
    /// table or the new one, and a kill leaves one of the two, which the next writer
    /// upgrades again. `meta` records the new version after. Writers call it (through the
    /// writes of document rows) under the write lock; on an object store, where there is
    /// none, the first ingest after an upgrade should run alone.
    async fn upgrade_documents(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        if !self.documents_legacy.load(Ordering::SeqCst) {
            return Ok(());
        }
        // Another writer may have upgraded it since this store was opened.
        if schema::documents_are_legacy(self.documents.schema().await?.as_ref()) {
            let documents = self.documents().await?;
            tracing::info!(
                "upgrading the documents table of {} to schema version {} ({} rows)",
                self.uri,
                schema::SCHEMA_VERSION,
                documents.len()
            );
            self.documents
                .add(schema::documents_batch(&documents)?)
                .mode(lancedb::table::AddDataMode::Overwrite)
                .execute()
                .await?;
        }
        // Also when a kill came between the two commits: the table's columns are the truth,
        // `meta` only says what they are.
        self.meta
            .update()
            .only_if("key = 'schema_version'")
            .column("value", sql_string(schema::SCHEMA_VERSION))
            .execute()
            .await?;
        self.documents_legacy.store(false, Ordering::SeqCst);
        Ok(())
    }

    pub async fn count_chunks(&self) -> Result<usize> {
        match &self.chunks {
            Some(chunks) => Ok(chunks.count_rows(None).await?),
            None => Ok(0),
        }
    }

    /// Writes one document; see [`Store::put_documents`].
    pub async fn put_document(
        &self,
        document: &DocumentRecord,
        chunks: &[ChunkRecord],
    ) -> Result<()> {
        self.put_documents(std::slice::from_ref(document), chunks)
            .await
    }

    /// Writes a batch of documents in at most three commits: clear the chunks an interrupted
    /// earlier write of these ids left behind (only if there are any), append all the chunks,
    /// then append all the document rows, which is the commit point of the whole batch. A
    /// crash before the last commit leaves only invisible chunk rows.
    pub async fn put_documents(
        &self,
        documents: &[DocumentRecord],
        chunks: &[ChunkRecord],
    ) -> Result<()> {
        if documents.is_empty() {
            return Ok(());
        }
        let table = self.chunks_table()?;
        let dimension = self.dimension().await?;
        self.upgrade_documents().await?;
        let ids: Vec<String> = documents.iter().map(|d| d.doc_id.clone()).collect();
        let stale: Vec<String> = {
            let leftovers = self.leftovers().await?;
            ids.iter()
                .filter(|id| leftovers.contains(*id))
                .cloned()
                .collect()
        };
        if !stale.is_empty() {
            tracing::info!("clearing leftovers of {} interrupted writes", stale.len());
            for predicate in id_predicates(&stale) {
                table.delete(&predicate).await?;
            }
        }
        if !chunks.is_empty() {
            let batches = chunks
                .chunks(ROWS_PER_BATCH)
                .map(|part| schema::chunks_batch(part, dimension))
                .collect::<Result<Vec<_>, _>>()?;
            // Mark the ids as leftovers until their rows commit: if the document append fails
            // below, a retry in this process clears the chunks first.
            self.leftovers
                .lock()
                .expect("leftovers lock")
                .get_or_insert_with(HashSet::new)
                .extend(ids.iter().cloned());
            table.add(batches).execute().await?;
        }
        self.documents
            .add(schema::documents_batch(documents)?)
            .execute()
            .await?;
        if let Some(set) = self.leftovers.lock().expect("leftovers lock").as_mut() {
            for id in &ids {
                set.remove(id);
            }
        }
        Ok(())
    }

    /// The ids with chunk rows and no document row, scanned once per `Store`.
    async fn leftovers(&self) -> Result<HashSet<String>> {
        if let Some(set) = self.leftovers.lock().expect("leftovers lock").as_ref() {
            return Ok(set.clone());
        }
        let counts = self.chunk_counts().await?;
        let documents: HashSet<String> = self
            .documents()
            .await?
            .into_iter()
            .map(|d| d.doc_id)
            .collect();
        let set: HashSet<String> = counts
            .into_keys()
            .filter(|id| !documents.contains(id))
            .collect();
        *self.leftovers.lock().expect("leftovers lock") = Some(set.clone());
        Ok(set)
    }

    /// Chunk rows per document id (one scan of the `doc_id` column).
    pub async fn chunk_counts(&self) -> Result<HashMap<String, usize>> {
        let mut counts = HashMap::new();
        let Some(chunks) = &self.chunks else {
            return Ok(counts);
        };
        let batches = scan(chunks, Some(&["doc_id"])).await?;
        for batch in &batches {
            let ids = batch
                .column_by_name("doc_id")
                .and_then(|c| c.as_any().downcast_ref::<arrow_array::StringArray>())
                .ok_or_else(|| StoreError::Damaged(self.uri.clone(), "no doc_id column".into()))?;
            for i in 0..ids.len() {
                *counts.entry(ids.value(i).to_owned()).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }

    /// Compares every document row with the chunk rows stored for it.
    pub async fn check(&self) -> Result<CheckReport> {
        let documents = self.documents().await?;
        let mut counts = self.chunk_counts().await?;
        let mut report = CheckReport {
            documents: documents.len(),
            chunk_rows: counts.values().sum(),
            ..CheckReport::default()
        };
        let mut seen = HashSet::new();
        for document in &documents {
            if !seen.insert(document.doc_id.clone()) {
                report.duplicate_documents.push(document.doc_id.clone());
                continue;
            }
            let found = counts.remove(&document.doc_id).unwrap_or(0);
            if found != document.chunks as usize {
                report.mismatched.push(Mismatch {
                    doc_id: document.doc_id.clone(),
                    path: document.path().to_owned(),
                    expected: document.chunks,
                    found,
                });
            }
        }
        report.orphan_rows = counts.values().sum();
        report.orphan_ids = counts.into_keys().collect();
        report.orphan_ids.sort();
        Ok(report)
    }

    /// Versions and fragments of the documents and chunks tables.
    pub async fn health(&self) -> Result<Vec<TableHealth>> {
        let mut tables = vec![(DOCUMENTS, &self.documents)];
        if let Some(chunks) = &self.chunks {
            tables.push((CHUNKS, chunks));
        }
        let mut health = Vec::new();
        for (name, table) in tables {
            let stats = table.stats().await?;
            health.push(TableHealth {
                table: name.to_owned(),
                rows: stats.num_rows,
                versions: table.list_versions().await?.len(),
                fragments: stats.fragment_stats.num_fragments,
                small_fragments: stats.fragment_stats.num_small_fragments,
                deleted_rows: stats.num_deleted_rows.unwrap_or(0),
                bytes: stats.total_bytes,
            });
        }
        Ok(health)
    }

    /// Compacts small fragments, drops the chunks of interrupted writes, removes every old
    /// version and unreferenced file (the `data/*.tmp` a killed write leaves), and brings
    /// indices up to date (building the vector index if the table has grown past its
    /// threshold). Call it only while holding the write lock: it deletes files no
    /// committed version references, which a concurrent writer's would be.
    ///
    /// On an object store there is no write lock, so another process may be between its
    /// chunk commit and its document commit: its chunks look like leftovers, and its new
    /// files like unreferenced ones. There `optimize` deletes no leftovers, keeps versions
    /// younger than [`OBJECT_STORE_KEEP_VERSIONS`] and unverified files, and a step that
    /// loses a commit race to another writer is skipped with a warning (the next optimize
    /// does it).
    pub async fn optimize(&self) -> Result<Vec<TableHealth>> {
        let exclusive = !self.is_object_store();
        if let (true, Some(chunks)) = (exclusive, &self.chunks) {
            let leftovers: Vec<String> = self.leftovers().await?.into_iter().collect();
            for predicate in id_predicates(&leftovers) {
                chunks.delete(&predicate).await?;
            }
            *self.leftovers.lock().expect("leftovers lock") = Some(HashSet::new());
        }
        for table in [
            Some(&self.meta),
            Some(&self.documents),
            self.chunks.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            let keep = if exclusive {
                lancedb::table::optimize::Duration::zero()
            } else {
                OBJECT_STORE_KEEP_VERSIONS
            };
            let actions = [
                OptimizeAction::Compact {
                    options: Default::default(),
                    remap_options: None,
                },
                OptimizeAction::Prune {
                    older_than: Some(keep),
                    delete_unverified: Some(exclusive),
                    error_if_tagged_old_versions: Some(false),
                },
                OptimizeAction::Index(Default::default()),
            ];
            for action in actions {
                match table.optimize(action).await {
                    Ok(_) => {}
                    Err(e) if !exclusive => {
                        tracing::warn!("optimize step skipped (another writer was busy): {e}")
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        self.refresh_vector_index().await?;
        self.health().await
    }

    /// Rewrites the rows of stored documents (same ids) in one commit: a file moved, a
    /// second copy found, a copy removed. Only the row changes (chunks are the bytes', not a
    /// path's), and a merge replaces it atomically, so the document stays visible
    /// throughout. Ids without a row are ignored.
    pub async fn update_documents(&self, documents: &[DocumentRecord]) -> Result<()> {
        if documents.is_empty() {
            return Ok(());
        }
        self.upgrade_documents().await?;
        let batch = schema::documents_batch(documents)?;
        let rows = arrow_array::RecordBatchIterator::new([Ok(batch)], schema::documents_schema());
        let mut merge = self.documents.merge_insert(&["doc_id"]);
        merge.when_matched_update_all(None);
        merge.execute(Box::new(rows)).await?;
        Ok(())
    }

    /// Removes a document; see [`Store::remove_documents`].
    pub async fn remove_document(&self, doc_id: &str) -> Result<()> {
        self.remove_documents(&[doc_id.to_owned()]).await
    }

    /// Removes documents with one predicate delete per table: the rows first (so they
    /// disappear from results at once), then their chunks. A crash in between leaves only
    /// invisible chunks.
    pub async fn remove_documents(&self, doc_ids: &[String]) -> Result<()> {
        if doc_ids.is_empty() {
            return Ok(());
        }
        let predicates = id_predicates(doc_ids);
        for predicate in &predicates {
            self.documents.delete(predicate).await?;
        }
        if let Some(chunks) = &self.chunks {
            for predicate in &predicates {
                chunks.delete(predicate).await?;
            }
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
        let mut attempt = 0;
        let batches: Vec<RecordBatch> = loop {
            let result = async {
                let query = chunks
                    .query()
                    .nearest_to(vector)?
                    .distance_type(DistanceType::Cosine);
                self.vector_search
                    .apply(query, k * 2 + 8)?
                    .execute()
                    .await?
                    .try_collect::<Vec<RecordBatch>>()
                    .await
            }
            .await;
            match result {
                Ok(batches) => break batches,
                Err(e) if attempt < READ_RETRIES => {
                    tracing::debug!("vector search failed ({e}); retrying");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
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
        return Ok(db.open_table(name).execute().await?);
    }
    match db.create_empty_table(name, schema).execute().await {
        Ok(table) => Ok(table),
        // Two first ingests into one object-store prefix at once: the other one created it.
        Err(lancedb::Error::TableAlreadyExists { .. }) => Ok(db.open_table(name).execute().await?),
        Err(e) => Err(e.into()),
    }
}

/// The directory of a local store (a plain path or a `file://` URI), or `None` for an
/// object store (`s3://bucket/prefix`, `memory://`, …). Only a local store has a lock file
/// and files that `optimize` may delete without asking anyone.
pub fn local_dir(uri: &str) -> Option<&std::path::Path> {
    match uri.strip_prefix("file://") {
        Some(path) => Some(std::path::Path::new(path)),
        None if uri.contains("://") => None,
        None => Some(std::path::Path::new(uri)),
    }
}

/// All rows of `table`, or only `columns` of them.
async fn scan(table: &Table, columns: Option<&[&str]>) -> lancedb::Result<Vec<RecordBatch>> {
    let mut query = table.query();
    if let Some(columns) = columns {
        query = query.select(Select::columns(columns));
    }
    query.execute().await?.try_collect().await
}

/// `doc_id IN (...)` predicates covering `ids` (one for up to `IDS_PER_PREDICATE` ids).
fn id_predicates(ids: &[String]) -> Vec<String> {
    ids.chunks(IDS_PER_PREDICATE)
        .map(|part| {
            let list: Vec<String> = part.iter().map(|id| sql_string(id)).collect();
            format!("doc_id IN ({})", list.join(", "))
        })
        .collect()
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

    #[test]
    fn id_predicates_cover_every_id_once() {
        let ids: Vec<String> = (0..5000).map(|i| format!("id{i}")).collect();
        let predicates = id_predicates(&ids);
        assert_eq!(predicates.len(), 3);
        assert!(predicates[0].starts_with("doc_id IN ('id0', 'id1'"));
        let total: usize = predicates.iter().map(|p| p.matches('\'').count() / 2).sum();
        assert_eq!(total, 5000);
    }
}

#[cfg(test)]
mod store_tests {
    use super::*;

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

    fn chunks(id: &str, n: u32) -> Vec<ChunkRecord> {
        (0..n)
            .map(|i| ChunkRecord {
                doc_id: id.to_owned(),
                page: 1,
                chunk_index: i,
                char_start: 0,
                char_end: 1,
                text: format!("{id} {i}"),
                vector: vec![1.0, i as f32, 0.5],
                ocr: false,
            })
            .collect()
    }

    #[tokio::test]
    async fn leftovers_are_invisible_cleared_on_rewrite_and_removed_by_optimize() {
        let dir = tempfile::tempdir().unwrap();
        let uri = dir.path().to_str().unwrap();
        let mut store = Store::open(uri, true).await.unwrap();
        store
            .ensure_embedding(&EmbeddingSpec {
                model: "test".into(),
                dimension: 3,
            })
            .await
            .unwrap();
        let mut all = chunks("a", 3);
        all.extend(chunks("b", 2));
        store
            .put_documents(&[doc("a", 3), doc("b", 2)], &all)
            .await
            .unwrap();
        // A write that died after its chunks and before its document row.
        let table = store.chunks_table().unwrap();
        table
            .add(schema::chunks_batch(&chunks("c", 4), 3).unwrap())
            .execute()
            .await
            .unwrap();
        let store = Store::open(uri, false).await.unwrap();
        let report = store.check().await.unwrap();
        assert!(report.consistent(), "{report:?}");
        assert_eq!(report.orphan_ids, vec!["c".to_owned()]);
        assert_eq!(report.orphan_rows, 4);
        let hits = store.nearest(&[1.0, 0.0, 0.0], 20).await.unwrap();
        assert_eq!(hits.len(), 5);
        assert!(hits.iter().all(|h| h.chunk.doc_id != "c"));

        // Rewriting "c" clears its leftovers first: 4 rows, not 8.
        store
            .put_documents(&[doc("c", 4)], &chunks("c", 4))
            .await
            .unwrap();
        let report = store.check().await.unwrap();
        assert!(
            report.consistent() && report.orphan_ids.is_empty(),
            "{report:?}"
        );
        assert_eq!(report.chunk_rows, 9);

        store
            .remove_documents(&["a".to_owned(), "c".to_owned()])
            .await
            .unwrap();
        let report = store.check().await.unwrap();
        assert_eq!((report.documents, report.chunk_rows), (1, 2));

        let before = store.health().await.unwrap();
        let after = store.optimize().await.unwrap();
        let chunks_versions = |h: &[TableHealth]| {
            h.iter()
                .find(|t| t.table == CHUNKS)
                .map(|t| t.versions)
                .unwrap()
        };
        assert!(chunks_versions(&after) < chunks_versions(&before));
        assert_eq!(chunks_versions(&after), 1);
        let report = store.check().await.unwrap();
        assert_eq!((report.documents, report.chunk_rows), (1, 2));
    }
}

#[cfg(test)]
mod paths_tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, StringArray, UInt32Array, UInt64Array};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    fn doc(id: &str, paths: &[&str]) -> DocumentRecord {
        DocumentRecord {
            doc_id: id.to_owned(),
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            title: None,
            size_bytes: 10,
            pages: 1,
            chunks: 2,
            pages_without_text: 0,
            ingested_at_ms: 0,
        }
    }

    fn chunks(id: &str) -> Vec<ChunkRecord> {
        (0..2)
            .map(|i| ChunkRecord {
                doc_id: id.to_owned(),
                page: 1,
                chunk_index: i,
                char_start: 0,
                char_end: 1,
                text: format!("{id} {i}"),
                vector: vec![1.0, i as f32, 0.5],
                ocr: false,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_document_keeps_several_paths_and_updates_replace_its_row_alone() {
        let dir = tempfile::tempdir().unwrap();
        let uri = dir.path().to_str().unwrap();
        let mut store = Store::open(uri, true).await.unwrap();
        store
            .ensure_embedding(&EmbeddingSpec {
                model: "test".into(),
                dimension: 3,
            })
            .await
            .unwrap();
        let mut all = chunks("a");
        all.extend(chunks("b"));
        store
            .put_documents(
                &[
                    doc("a", &["/x/a.pdf", "/x/twin.pdf"]),
                    doc("b", &["/x/b.pdf"]),
                ],
                &all,
            )
            .await
            .unwrap();
        let listed = store.documents().await.unwrap();
        assert_eq!(listed[0].paths, vec!["/x/a.pdf", "/x/twin.pdf"]);

        store
            .update_documents(&[doc("a", &["/x/twin.pdf"]), doc("gone", &["/x/gone.pdf"])])
            .await
            .unwrap();
        let listed = store.documents().await.unwrap();
        assert_eq!(listed.len(), 2, "{listed:?}");
        let a = listed.iter().find(|d| d.doc_id == "a").unwrap();
        assert_eq!(a.paths, vec!["/x/twin.pdf"]);
        let report = store.check().await.unwrap();
        assert!(report.consistent(), "{report:?}");
        assert_eq!((report.documents, report.chunk_rows), (2, 4));
        let hits = store.nearest(&[1.0, 0.0, 0.5], 4).await.unwrap();
        assert!(hits
            .iter()
            .any(|h| h.document.paths == vec!["/x/twin.pdf".to_owned()]));
    }

    /// A store as dossier wrote it before documents had several paths, with document "a"
    /// or with none.
    async fn version_1_store(uri: &str, with_a: bool) {
        let db = lancedb::connect(uri).execute().await.unwrap();
        db.create_table(
            META,
            schema::meta_batch(&[
                ("embed_model", "test"),
                ("embed_dim", "3"),
                ("schema_version", "1"),
            ])
            .unwrap(),
        )
        .execute()
        .await
        .unwrap();
        let v1 = Arc::new(Schema::new(vec![
            Field::new("doc_id", DataType::Utf8, false),
            Field::new("path", DataType::Utf8, false),
            Field::new("title", DataType::Utf8, true),
            Field::new("size_bytes", DataType::UInt64, false),
            Field::new("pages", DataType::UInt32, false),
            Field::new("chunks", DataType::UInt32, false),
            Field::new("pages_without_text", DataType::UInt32, false),
            Field::new("ingested_at_ms", DataType::Int64, false),
        ]));
        let rows = RecordBatch::try_new(
            v1,
            vec![
                Arc::new(StringArray::from(vec!["a"])),
                Arc::new(StringArray::from(vec!["/x/a.pdf"])),
                Arc::new(StringArray::from(vec![Some("A")])),
                Arc::new(UInt64Array::from(vec![10])),
                Arc::new(UInt32Array::from(vec![1])),
                Arc::new(UInt32Array::from(vec![2])),
                Arc::new(UInt32Array::from(vec![0])),
                Arc::new(Int64Array::from(vec![7])),
            ],
        )
        .unwrap();
        let (rows, chunk_rows) = if with_a {
            (rows, chunks("a"))
        } else {
            (rows.slice(0, 0), Vec::new())
        };
        db.create_table(DOCUMENTS, rows).execute().await.unwrap();
        db.create_table(CHUNKS, schema::chunks_batch(&chunk_rows, 3).unwrap())
            .execute()
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_version_1_store_is_read_as_it_is_and_upgraded_by_the_first_write() {
        let dir = tempfile::tempdir().unwrap();
        let uri = dir.path().to_str().unwrap();
        version_1_store(uri, true).await;

        let reader = Store::open(uri, false).await.unwrap();
        let listed = reader.documents().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].paths, vec!["/x/a.pdf"]);
        assert_eq!(listed[0].title.as_deref(), Some("A"));
        let hits = reader.nearest(&[1.0, 0.0, 0.5], 2).await.unwrap();
        assert_eq!(hits.len(), 2);
        assert!(reader.check().await.unwrap().consistent());

        let mut writer = Store::open(uri, true).await.unwrap();
        writer
            .ensure_embedding(&EmbeddingSpec {
                model: "test".into(),
                dimension: 3,
            })
            .await
            .unwrap();
        writer
            .update_documents(&[DocumentRecord {
                paths: vec!["/x/a.pdf".into(), "/x/copy.pdf".into()],
                ..listed[0].clone()
            }])
            .await
            .unwrap();
        let schema = writer.documents.schema().await.unwrap();
        assert!(!schema::documents_are_legacy(&schema), "{schema:?}");
        assert_eq!(
            writer.meta_values().await.unwrap().get("schema_version"),
            Some(&SCHEMA_VERSION.to_owned())
        );
        // The reader opened before the upgrade reads the new table.
        let listed = reader.documents().await.unwrap();
        assert_eq!(listed[0].paths, vec!["/x/a.pdf", "/x/copy.pdf"]);
        assert_eq!(listed[0].ingested_at_ms, 7);
        writer
            .put_documents(&[doc("b", &["/x/b.pdf"])], &chunks("b"))
            .await
            .unwrap();
        let report = writer.check().await.unwrap();
        assert!(report.consistent(), "{report:?}");
        assert_eq!((report.documents, report.chunk_rows), (2, 4));
    }

    #[tokio::test]
    async fn an_empty_version_1_store_is_upgraded_too() {
        let dir = tempfile::tempdir().unwrap();
        let uri = dir.path().to_str().unwrap();
        version_1_store(uri, false).await;
        let mut writer = Store::open(uri, true).await.unwrap();
        writer
            .ensure_embedding(&EmbeddingSpec {
                model: "test".into(),
                dimension: 3,
            })
            .await
            .unwrap();
        writer
            .put_documents(&[doc("b", &["/x/b.pdf"])], &chunks("b"))
            .await
            .unwrap();
        let listed = writer.documents().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].paths, vec!["/x/b.pdf"]);
    }
}

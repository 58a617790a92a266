//! Arrow schemas of the three tables and conversions between rows and record batches.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::types::Float32Type;
use arrow_array::{
    Array, BooleanArray, FixedSizeListArray, Int64Array, ListArray, RecordBatch, StringArray,
    UInt32Array, UInt64Array,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};

/// Bumped when a table's columns change; recorded in `meta`. Version 1 kept one `path` per
/// document; version 2 keeps every path the same bytes were found under (`paths`).
pub const SCHEMA_VERSION: &str = "2";

/// One document, as the `documents` table holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentRecord {
    /// sha256 of the file's bytes, hex.
    pub doc_id: String,
    /// Every path (absolute) these bytes were ingested from, the one they were first stored
    /// under first. Never empty: a document that loses its last path is removed.
    pub paths: Vec<String>,
    pub title: Option<String>,
    pub size_bytes: u64,
    pub pages: u32,
    pub chunks: u32,
    /// Pages that had no text layer.
    pub pages_without_text: u32,
    /// Unix time of the ingest, in milliseconds.
    pub ingested_at_ms: i64,
}

impl DocumentRecord {
    /// The first path: the one a citation names when nothing says which copy was meant.
    pub fn path(&self) -> &str {
        self.paths.first().map_or("", String::as_str)
    }

    /// The first path's file name, as citations show it.
    pub fn file_name(&self) -> &str {
        file_name(self.path())
    }

    pub fn has_path(&self, path: &str) -> bool {
        self.paths.iter().any(|p| p == path)
    }
}

/// The file name alone of a stored path.
pub fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// One chunk, as the `chunks` table holds it (the vector only on the way in).
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkRecord {
    pub doc_id: String,
    /// 1-based physical page.
    pub page: u32,
    /// Position in the document, from 0.
    pub chunk_index: u32,
    /// Character span of `text` in the page's text.
    pub char_start: u32,
    pub char_end: u32,
    pub text: String,
    /// Empty when read back from a search.
    pub vector: Vec<f32>,
    /// The text was recognised by OCR from an image of the page (it may hold misreadings).
    pub ocr: bool,
}

pub fn meta_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ]))
}

pub fn documents_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("doc_id", DataType::Utf8, false),
        Field::new("paths", paths_type(), false),
        Field::new("title", DataType::Utf8, true),
        Field::new("size_bytes", DataType::UInt64, false),
        Field::new("pages", DataType::UInt32, false),
        Field::new("chunks", DataType::UInt32, false),
        Field::new("pages_without_text", DataType::UInt32, false),
        Field::new("ingested_at_ms", DataType::Int64, false),
    ]))
}

/// A list of strings, as `ListBuilder<StringBuilder>` makes it.
fn paths_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

pub fn chunks_schema(dimension: usize) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("doc_id", DataType::Utf8, false),
        Field::new("page", DataType::UInt32, false),
        Field::new("chunk_index", DataType::UInt32, false),
        Field::new("char_start", DataType::UInt32, false),
        Field::new("char_end", DataType::UInt32, false),
        Field::new("text", DataType::Utf8, false),
        Field::new(
            "vector",
            DataType::FixedSizeList(
                Arc::new(Field::new("item", DataType::Float32, true)),
                dimension as i32,
            ),
            false,
        ),
        // Nullable: stores written before the column existed get it added with
        // `add_columns`, which makes nullable columns.
        Field::new("ocr", DataType::Boolean, true),
    ]))
}

pub fn meta_batch(pairs: &[(&str, &str)]) -> Result<RecordBatch, ArrowError> {
    RecordBatch::try_new(
        meta_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(pairs.iter().map(|p| p.0))),
            Arc::new(StringArray::from_iter_values(pairs.iter().map(|p| p.1))),
        ],
    )
}

pub fn documents_batch(docs: &[DocumentRecord]) -> Result<RecordBatch, ArrowError> {
    if let Some(bad) = docs.iter().find(|d| d.paths.is_empty()) {
        // A row without a path could be neither listed by name nor removed by one.
        return Err(ArrowError::InvalidArgumentError(format!(
            "document {} has no path",
            bad.doc_id
        )));
    }
    let mut paths = ListBuilder::new(StringBuilder::new());
    for d in docs {
        for path in &d.paths {
            paths.values().append_value(path);
        }
        paths.append(true);
    }
    RecordBatch::try_new(
        documents_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(
                docs.iter().map(|d| d.doc_id.as_str()),
            )),
            Arc::new(paths.finish()),
            Arc::new(StringArray::from_iter(
                docs.iter().map(|d| d.title.as_deref()),
            )),
            Arc::new(UInt64Array::from_iter_values(
                docs.iter().map(|d| d.size_bytes),
            )),
            Arc::new(UInt32Array::from_iter_values(docs.iter().map(|d| d.pages))),
            Arc::new(UInt32Array::from_iter_values(docs.iter().map(|d| d.chunks))),
            Arc::new(UInt32Array::from_iter_values(
                docs.iter().map(|d| d.pages_without_text),
            )),
            Arc::new(Int64Array::from_iter_values(
                docs.iter().map(|d| d.ingested_at_ms),
            )),
        ],
    )
}

pub fn chunks_batch(chunks: &[ChunkRecord], dimension: usize) -> Result<RecordBatch, ArrowError> {
    if let Some(bad) = chunks.iter().find(|c| c.vector.len() != dimension) {
        return Err(ArrowError::InvalidArgumentError(format!(
            "chunk {} of {} has a {}-dim vector; the store holds {dimension}-dim vectors",
            bad.chunk_index,
            bad.doc_id,
            bad.vector.len()
        )));
    }
    let vectors = FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
        chunks
            .iter()
            .map(|c| Some(c.vector.iter().copied().map(Some))),
        dimension as i32,
    );
    RecordBatch::try_new(
        chunks_schema(dimension),
        vec![
            Arc::new(StringArray::from_iter_values(
                chunks.iter().map(|c| c.doc_id.as_str()),
            )),
            Arc::new(UInt32Array::from_iter_values(chunks.iter().map(|c| c.page))),
            Arc::new(UInt32Array::from_iter_values(
                chunks.iter().map(|c| c.chunk_index),
            )),
            Arc::new(UInt32Array::from_iter_values(
                chunks.iter().map(|c| c.char_start),
            )),
            Arc::new(UInt32Array::from_iter_values(
                chunks.iter().map(|c| c.char_end),
            )),
            Arc::new(StringArray::from_iter_values(
                chunks.iter().map(|c| c.text.as_str()),
            )),
            Arc::new(vectors),
            Arc::new(BooleanArray::from_iter(chunks.iter().map(|c| Some(c.ocr)))),
        ],
    )
}

fn column<'a, T: Array + 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T, ArrowError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| {
            ArrowError::SchemaError(format!("column {name} is missing or of the wrong type"))
        })
}

pub fn meta_from_batch(batch: &RecordBatch) -> Result<HashMap<String, String>, ArrowError> {
    let keys = column::<StringArray>(batch, "key")?;
    let values = column::<StringArray>(batch, "value")?;
    Ok((0..batch.num_rows())
        .map(|i| (keys.value(i).to_owned(), values.value(i).to_owned()))
        .collect())
}

/// Whether a documents table of this schema predates `paths` (schema version 1, one `path`).
pub fn documents_are_legacy(schema: &Schema) -> bool {
    schema.field_with_name("paths").is_err() && schema.field_with_name("path").is_ok()
}

/// The paths of each row: the `paths` list, or a version-1 table's one `path`.
fn paths_of(batch: &RecordBatch) -> Result<Vec<Vec<String>>, ArrowError> {
    let Ok(lists) = column::<ListArray>(batch, "paths") else {
        let path = column::<StringArray>(batch, "path")?;
        return Ok((0..batch.num_rows())
            .map(|i| vec![path.value(i).to_owned()])
            .collect());
    };
    let strings = lists
        .values()
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| ArrowError::SchemaError("paths is not a list of strings".into()))?;
    let offsets = lists.value_offsets();
    Ok((0..batch.num_rows())
        .map(|i| {
            (offsets[i] as usize..offsets[i + 1] as usize)
                .filter(|&j| !strings.is_null(j))
                .map(|j| strings.value(j).to_owned())
                .collect()
        })
        .collect())
}

pub fn documents_from_batch(batch: &RecordBatch) -> Result<Vec<DocumentRecord>, ArrowError> {
    let doc_id = column::<StringArray>(batch, "doc_id")?;
    let mut paths = paths_of(batch)?.into_iter();
    let title = column::<StringArray>(batch, "title")?;
    let size_bytes = column::<UInt64Array>(batch, "size_bytes")?;
    let pages = column::<UInt32Array>(batch, "pages")?;
    let chunks = column::<UInt32Array>(batch, "chunks")?;
    let pages_without_text = column::<UInt32Array>(batch, "pages_without_text")?;
    let ingested_at_ms = column::<Int64Array>(batch, "ingested_at_ms")?;
    Ok((0..batch.num_rows())
        .map(|i| DocumentRecord {
            doc_id: doc_id.value(i).to_owned(),
            paths: paths.next().unwrap_or_default(),
            title: (!title.is_null(i)).then(|| title.value(i).to_owned()),
            size_bytes: size_bytes.value(i),
            pages: pages.value(i),
            chunks: chunks.value(i),
            pages_without_text: pages_without_text.value(i),
            ingested_at_ms: ingested_at_ms.value(i),
        })
        .collect())
}

pub fn chunks_from_batch(batch: &RecordBatch) -> Result<Vec<ChunkRecord>, ArrowError> {
    let doc_id = column::<StringArray>(batch, "doc_id")?;
    let page = column::<UInt32Array>(batch, "page")?;
    let chunk_index = column::<UInt32Array>(batch, "chunk_index")?;
    let char_start = column::<UInt32Array>(batch, "char_start")?;
    let char_end = column::<UInt32Array>(batch, "char_end")?;
    let text = column::<StringArray>(batch, "text")?;
    // Absent from stores written before OCR existed, and from reads that do not select it.
    let ocr = column::<BooleanArray>(batch, "ocr").ok();
    Ok((0..batch.num_rows())
        .map(|i| ChunkRecord {
            doc_id: doc_id.value(i).to_owned(),
            page: page.value(i),
            chunk_index: chunk_index.value(i),
            char_start: char_start.value(i),
            char_end: char_end.value(i),
            text: text.value(i).to_owned(),
            vector: Vec::new(),
            ocr: ocr.is_some_and(|o| !o.is_null(i) && o.value(i)),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> DocumentRecord {
        DocumentRecord {
            doc_id: "ab".repeat(32),
            paths: vec!["/data/contracts/lease.pdf".into()],
            title: Some("Lease".into()),
            size_bytes: 1234,
            pages: 3,
            chunks: 7,
            pages_without_text: 1,
            ingested_at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn documents_round_trip_through_arrow() {
        let docs = vec![
            document(),
            DocumentRecord {
                title: None,
                paths: vec!["/b/copy.pdf".into(), "/a/lease.pdf".into()],
                ..document()
            },
        ];
        let batch = documents_batch(&docs).unwrap();
        assert_eq!(documents_from_batch(&batch).unwrap(), docs);
        assert_eq!(docs[0].file_name(), "lease.pdf");
        // The first path is the one named when nothing says which copy was meant.
        assert_eq!(docs[1].path(), "/b/copy.pdf");
        assert!(docs[1].has_path("/a/lease.pdf") && !docs[1].has_path("/a"));
    }

    #[test]
    fn a_document_without_a_path_is_refused() {
        let pathless = DocumentRecord {
            paths: Vec::new(),
            ..document()
        };
        assert!(documents_batch(&[pathless]).is_err());
    }

    #[test]
    fn version_1_rows_read_as_one_path() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("doc_id", DataType::Utf8, false),
            Field::new("path", DataType::Utf8, false),
            Field::new("title", DataType::Utf8, true),
            Field::new("size_bytes", DataType::UInt64, false),
            Field::new("pages", DataType::UInt32, false),
            Field::new("chunks", DataType::UInt32, false),
            Field::new("pages_without_text", DataType::UInt32, false),
            Field::new("ingested_at_ms", DataType::Int64, false),
        ]));
        assert!(documents_are_legacy(&schema));
        assert!(!documents_are_legacy(&documents_schema()));
        let d = document();
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![d.doc_id.clone()])),
                Arc::new(StringArray::from(vec![d.paths[0].clone()])),
                Arc::new(StringArray::from(vec![d.title.clone()])),
                Arc::new(UInt64Array::from(vec![d.size_bytes])),
                Arc::new(UInt32Array::from(vec![d.pages])),
                Arc::new(UInt32Array::from(vec![d.chunks])),
                Arc::new(UInt32Array::from(vec![d.pages_without_text])),
                Arc::new(Int64Array::from(vec![d.ingested_at_ms])),
            ],
        )
        .unwrap();
        assert_eq!(documents_from_batch(&batch).unwrap(), vec![d]);
    }

    #[test]
    fn chunks_round_trip_without_vectors_and_reject_wrong_dimensions() {
        let chunk = ChunkRecord {
            doc_id: "ab".into(),
            page: 2,
            chunk_index: 5,
            char_start: 10,
            char_end: 42,
            text: "The term is twelve months.".into(),
            vector: vec![0.5; 4],
            ocr: true,
        };
        let batch = chunks_batch(std::slice::from_ref(&chunk), 4).unwrap();
        let back = chunks_from_batch(&batch).unwrap();
        assert_eq!(
            back[0],
            ChunkRecord {
                vector: vec![],
                ..chunk.clone()
            }
        );
        assert!(chunks_batch(&[chunk], 3).is_err());
    }
}

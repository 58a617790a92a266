//! Question → ranked passages: embed the question, search the store, shape the hits.

use anyhow::{Context, Result};
use dossier_ingest::Embedder;
use dossier_store::{EmbeddingSpec, SearchOptions, Store};
use serde::Serialize;
use tokio::runtime::Runtime;

// The plain data type lives with the rules that read it, so that they need nothing else.
pub use dossier_answer::Passage;

/// A passage with its place in the ranking that found it.
#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    #[serde(flatten)]
    pub passage: Passage,
    /// What the results are ordered by: cosine (vector), BM25 (text) or the reciprocal-rank
    /// fusion of both (hybrid).
    pub relevance: f32,
    /// 1-based rank in the vector list, if it was among the candidates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector_rank: Option<usize>,
    /// 1-based rank in the full-text list, if it was among the candidates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_rank: Option<usize>,
}

/// The store and the embedder, checked to agree on the model, and how to rank.
pub struct Retriever {
    pub store: Store,
    pub embedder: Embedder,
    pub options: SearchOptions,
    /// Return only the best passage of each page (on by default: measured on the dev set, it
    /// lifts page hit@5 by showing more distinct pages; lexical re-scoring, MMR and
    /// near-duplicate removal were measured too and did not help: docs/benchmarks-history.md,
    /// "Ablation").
    pub one_per_page: bool,
}

impl Retriever {
    /// Opens retrieval over `store`, ranked as `ranking` says.
    pub fn open(
        runtime: &Runtime,
        store: Store,
        embedder: Embedder,
        ranking: &Ranking,
    ) -> Result<Self> {
        let spec = EmbeddingSpec {
            model: embedder.model_name().to_owned(),
            dimension: embedder.dimension(),
        };
        if let Some(stored) = runtime.block_on(store.embedding_spec())? {
            if stored != spec {
                anyhow::bail!(
                    "the store at {} was built with {} ({} dims) but this dossier embeds with {} ({} dims); re-ingest into a new --store",
                    store.uri(),
                    stored.model,
                    stored.dimension,
                    spec.model,
                    spec.dimension
                );
            }
        }
        Ok(Self {
            store,
            embedder,
            options: ranking.search.clone(),
            one_per_page: ranking.one_per_page,
        })
    }

    pub fn embed_question(&mut self, question: &str) -> Result<Vec<f32>> {
        self.embedder
            .embed_one(question)
            .context("embedding the question")
    }

    /// The `k` best passages for `question` (whose embedding is `vector`), best first.
    pub fn search(
        &self,
        runtime: &Runtime,
        question: &str,
        vector: &[f32],
        k: usize,
    ) -> Result<Vec<Passage>> {
        self.passages(runtime, question, vector, k, self.one_per_page)
    }

    /// The `k` best chunks for `question`, best first, several of a page if they rank so
    /// (whatever [`Retriever::one_per_page`] says).
    pub fn search_all_chunks(
        &self,
        runtime: &Runtime,
        question: &str,
        vector: &[f32],
        k: usize,
    ) -> Result<Vec<Passage>> {
        self.passages(runtime, question, vector, k, false)
    }

    fn passages(
        &self,
        runtime: &Runtime,
        question: &str,
        vector: &[f32],
        k: usize,
        one_per_page: bool,
    ) -> Result<Vec<Passage>> {
        let ranked = self.rank_pages(runtime, question, vector, k, one_per_page)?;
        Ok(ranked.into_iter().map(|r| r.passage).collect())
    }

    /// [`Retriever::search`] with each passage's ranking.
    pub fn rank(
        &self,
        runtime: &Runtime,
        question: &str,
        vector: &[f32],
        k: usize,
    ) -> Result<Vec<Ranked>> {
        self.rank_pages(runtime, question, vector, k, self.one_per_page)
    }

    fn rank_pages(
        &self,
        runtime: &Runtime,
        question: &str,
        vector: &[f32],
        k: usize,
        one_per_page: bool,
    ) -> Result<Vec<Ranked>> {
        // Room for the chunks that share a page with a better one.
        let pool = if one_per_page { k * 2 + 10 } else { k };
        let hits = runtime.block_on(self.store.search(vector, question, pool, &self.options))?;
        let ranked: Vec<Ranked> = hits
            .into_iter()
            .map(|ranked| {
                let hit = ranked.hit;
                let path = hit
                    .document
                    .paths
                    .get(cited_path(&hit.document.paths, question))
                    .cloned()
                    .unwrap_or_default();
                Ranked {
                    passage: Passage {
                        file_name: dossier_store::file_name(&path).to_owned(),
                        path,
                        paths: hit.document.paths.clone(),
                        doc_id: hit.document.doc_id.clone(),
                        page: hit.chunk.page,
                        chunk_index: hit.chunk.chunk_index,
                        char_start: hit.chunk.char_start,
                        char_end: hit.chunk.char_end,
                        score: hit.score,
                        ocr: hit.chunk.ocr,
                        text: hit.chunk.text,
                    },
                    relevance: ranked.relevance,
                    vector_rank: ranked.vector_rank,
                    text_rank: ranked.text_rank,
                }
            })
            .collect();
        let mut ranked = if one_per_page {
            best_per_page(ranked)
        } else {
            ranked
        };
        ranked.truncate(k);
        Ok(ranked)
    }
}

/// Which of a document's paths a citation names: the one whose file name the question
/// names (with or without its extension; the longest such name wins, so "lease-copy" beats
/// "lease"), else the first. A stem shorter than 4 letters counts only with its extension,
/// so that "a.pdf" is not named by every "a" of a question.
pub fn cited_path(paths: &[String], question: &str) -> usize {
    let question = question.to_lowercase();
    let mut best: Option<(usize, usize)> = None;
    for (i, path) in paths.iter().enumerate() {
        let name = dossier_store::file_name(path).to_lowercase();
        let stem = name
            .rsplit_once('.')
            .map(|(stem, _)| stem)
            .filter(|stem| !stem.is_empty())
            .unwrap_or(&name);
        let named = if names(&question, &name) {
            Some(name.chars().count())
        } else if stem.chars().count() >= 4 && names(&question, stem) {
            Some(stem.chars().count())
        } else {
            None
        };
        if let Some(length) = named {
            if best.is_none_or(|(_, longest)| length > longest) {
                best = Some((i, length));
            }
        }
    }
    best.map_or(0, |(i, _)| i)
}

/// `text` has `word` with no letter or digit right before or after it.
fn names(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The first (best) passage of each page, in order.
fn best_per_page(ranked: Vec<Ranked>) -> Vec<Ranked> {
    let mut seen = std::collections::HashSet::new();
    ranked
        .into_iter()
        .filter(|r| seen.insert((r.passage.doc_id.clone(), r.passage.page)))
        .collect()
}

/// How retrieval ranks: the store's search options, and whether a page gives one passage.
#[derive(Debug, Clone)]
pub struct Ranking {
    pub search: SearchOptions,
    /// Only the best passage of each page (see [`Retriever::one_per_page`]).
    pub one_per_page: bool,
}

impl Default for Ranking {
    fn default() -> Self {
        Self {
            search: SearchOptions::default(),
            one_per_page: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cited_path;

    #[test]
    fn a_citation_names_the_copy_the_question_names_else_the_first() {
        let paths = vec!["/w/a.pdf".to_owned(), "/w/b.pdf".to_owned()];
        assert_eq!(cited_path(&paths, "What is the notice period?"), 0);
        assert_eq!(cited_path(&paths, "What does B.pdf say about notice?"), 1);
        assert_eq!(cited_path(&paths, "In a.pdf, what is the fee?"), 0);
        // A short stem alone is an ordinary word.
        assert_eq!(cited_path(&paths, "Is there a b clause?"), 0);
        // "ab.pdf" does not name "b.pdf".
        assert_eq!(cited_path(&paths, "What does ab.pdf say?"), 0);

        let leases = vec![
            "/w/lease.pdf".to_owned(),
            "/w/lease-copy.pdf".to_owned(),
            "/x/exhibit-7.pdf".to_owned(),
        ];
        assert_eq!(cited_path(&leases, "the rent in the lease"), 0);
        assert_eq!(cited_path(&leases, "the rent in lease-copy"), 1);
        assert_eq!(cited_path(&leases, "What does Exhibit-7 say?"), 2);
        assert_eq!(cited_path(&[], "anything"), 0);
    }
}

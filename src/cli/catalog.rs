//! Which paths each stored document is listed under, as a writer (`ingest`, `rm`) changes
//! them.
//!
//! A document is its bytes; its paths are every name those bytes were found under. A path
//! names at most one document, the one holding the bytes the file had when last seen, so a
//! path that turns up with other bytes leaves the document that listed it. The changes are
//! collected here and written by the caller: the rewritten rows in one commit, then the
//! documents left without a path removed (rows first, then chunks). A kill between the two
//! leaves a path listed under two documents, the state a replacement interrupted before its
//! old version was removed has always left; the next run that sees the file settles it.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use dossier_store::DocumentRecord;

use super::outcome::{How, Seen};

pub struct Catalog {
    docs: HashMap<String, DocumentRecord>,
    /// Ids whose rows must be rewritten (paths gained or lost).
    changed: BTreeSet<String>,
    /// Ids that lost their last path (kept with it): their documents go at the next
    /// `take_changes`. Kept here until then, so that a copy seen later in the run can still
    /// claim the document.
    emptied: HashMap<String, (DocumentRecord, String)>,
}

/// The writes that bring the store to the catalog.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    /// Rows to rewrite (`Store::update_documents`), in id order.
    pub update: Vec<DocumentRecord>,
    /// Documents to remove (`Store::remove_documents`), in id order.
    pub remove: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.update.is_empty() && self.remove.is_empty()
    }
}

impl Catalog {
    pub fn new(documents: Vec<DocumentRecord>) -> Self {
        Self {
            docs: documents
                .into_iter()
                .map(|d| (d.doc_id.clone(), d))
                .collect(),
            changed: BTreeSet::new(),
            emptied: HashMap::new(),
        }
    }

    pub fn get(&self, doc_id: &str) -> Option<&DocumentRecord> {
        self.docs.get(doc_id)
    }

    pub fn documents(&self) -> impl Iterator<Item = &DocumentRecord> {
        self.docs.values()
    }

    /// A file at `path` holds the bytes of the stored document `doc_id`. `exists` says
    /// whether a stored path still has a file (a moved file's old path has none). `None`
    /// when the catalog has no such document.
    pub fn seen(
        &mut self,
        doc_id: &str,
        path: &str,
        exists: impl Fn(&str) -> bool,
    ) -> Option<Seen> {
        if let Some((mut revived, last)) = self.emptied.remove(doc_id) {
            // Its last path took other bytes earlier in this run; its bytes are here now.
            let replaced = self.release(path, Some(doc_id));
            revived.paths = vec![path.to_owned()];
            self.docs.insert(doc_id.to_owned(), revived);
            self.changed.insert(doc_id.to_owned());
            return Some(Seen {
                how: How::MovedFrom(last),
                replaced,
            });
        }
        if !self.docs.contains_key(doc_id) {
            return None;
        }
        let replaced = self.release(path, Some(doc_id));
        let doc = self.docs.get_mut(doc_id)?;
        let how = if doc.has_path(path) {
            How::Unchanged
        } else {
            // A gone path of the same file name first: a folder renamed or moved.
            let gone = doc
                .paths
                .iter()
                .position(|p| !exists(p) && file_name(p) == file_name(path))
                .or_else(|| doc.paths.iter().position(|p| !exists(p)));
            let how = match gone {
                Some(i) => How::MovedFrom(std::mem::replace(&mut doc.paths[i], path.to_owned())),
                None => {
                    doc.paths.push(path.to_owned());
                    How::SameContentAs(doc.paths[0].clone())
                }
            };
            self.changed.insert(doc_id.to_owned());
            how
        };
        Some(Seen { how, replaced })
    }

    /// A document just written (its row lists `record.paths`): the documents that listed any
    /// of those paths lose them. Returns those paths.
    pub fn stored(&mut self, record: DocumentRecord) -> Vec<String> {
        let replaced: Vec<String> = record
            .paths
            .iter()
            .filter(|path| self.release(path, Some(record.doc_id.as_str())))
            .cloned()
            .collect();
        self.emptied.remove(&record.doc_id);
        self.docs.insert(record.doc_id.clone(), record);
        replaced
    }

    /// Takes `path` from every document but `keep` that lists it; whether any did.
    pub fn release(&mut self, path: &str, keep: Option<&str>) -> bool {
        let holders: Vec<String> = self
            .docs
            .values()
            .filter(|d| Some(d.doc_id.as_str()) != keep && d.has_path(path))
            .map(|d| d.doc_id.clone())
            .collect();
        for id in &holders {
            let Some(doc) = self.docs.get_mut(id) else {
                continue;
            };
            doc.paths.retain(|p| p != path);
            if doc.paths.is_empty() {
                self.changed.remove(id);
                if let Some(doc) = self.docs.remove(id) {
                    self.emptied.insert(id.clone(), (doc, path.to_owned()));
                }
            } else {
                self.changed.insert(id.clone());
            }
        }
        !holders.is_empty()
    }

    /// Removes a document whatever its paths (`rm` by id).
    pub fn forget(&mut self, doc_id: &str) {
        self.changed.remove(doc_id);
        if let Some(doc) = self.docs.remove(doc_id) {
            let last = doc.path().to_owned();
            self.emptied.insert(doc_id.to_owned(), (doc, last));
        }
    }

    /// The rows to rewrite since the last call, without the removals: `ingest` removes the
    /// documents left without a path only at the end of its run, so that a copy of their
    /// bytes found later in the run still finds them stored.
    pub fn take_updates(&mut self) -> Vec<DocumentRecord> {
        std::mem::take(&mut self.changed)
            .into_iter()
            .filter_map(|id| self.docs.get(&id).cloned())
            .collect()
    }

    /// Every write collected since the last call; forgets the removed documents.
    pub fn take_changes(&mut self) -> Changes {
        let update = self.take_updates();
        let mut remove: Vec<String> = self.emptied.drain().map(|(id, _)| id).collect();
        remove.sort();
        Changes { update, remove }
    }
}

fn file_name(path: &str) -> &str {
    dossier_store::file_name(path)
}

/// Whether a stored path has a file now.
pub fn exists(path: &str) -> bool {
    Path::new(path).exists()
}

/// A document row with these paths and placeholder figures, for the CLI's unit tests.
#[cfg(test)]
pub(crate) fn test_document(id: &str, paths: &[&str]) -> DocumentRecord {
    DocumentRecord {
        doc_id: id.to_owned(),
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        title: None,
        size_bytes: 1,
        pages: 1,
        chunks: 1,
        pages_without_text: 0,
        ingested_at_ms: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, paths: &[&str]) -> DocumentRecord {
        test_document(id, paths)
    }

    fn paths(catalog: &Catalog, id: &str) -> Vec<String> {
        catalog.get(id).map(|d| d.paths.clone()).unwrap_or_default()
    }

    fn everything_exists(_: &str) -> bool {
        true
    }

    #[test]
    fn a_second_name_for_stored_bytes_joins_the_document() {
        let mut catalog = Catalog::new(vec![doc("a", &["/w/a.pdf"])]);
        let seen = catalog.seen("a", "/w/b.pdf", everything_exists).unwrap();
        assert_eq!(seen.how, How::SameContentAs("/w/a.pdf".into()));
        assert!(!seen.replaced);
        assert_eq!(paths(&catalog, "a"), vec!["/w/a.pdf", "/w/b.pdf"]);
        // Seen again: nothing to do.
        let again = catalog.seen("a", "/w/b.pdf", everything_exists).unwrap();
        assert_eq!(again.how, How::Unchanged);
        let changes = catalog.take_changes();
        assert_eq!(changes.update.len(), 1);
        assert_eq!(changes.update[0].paths, vec!["/w/a.pdf", "/w/b.pdf"]);
        assert!(changes.remove.is_empty());
        assert!(catalog.take_changes().is_empty());
        assert!(catalog
            .seen("nope", "/w/c.pdf", everything_exists)
            .is_none());
    }

    #[test]
    fn a_moved_file_takes_the_place_of_its_gone_path_preferring_the_same_name() {
        let mut catalog = Catalog::new(vec![doc("a", &["/old/x.pdf", "/old/a.pdf", "/w/b.pdf"])]);
        let exists = |p: &str| !p.starts_with("/old/");
        let seen = catalog.seen("a", "/new/a.pdf", exists).unwrap();
        assert_eq!(seen.how, How::MovedFrom("/old/a.pdf".into()));
        assert_eq!(
            paths(&catalog, "a"),
            vec!["/old/x.pdf", "/new/a.pdf", "/w/b.pdf"]
        );
        // Another name, and only one gone path left: that one.
        let seen = catalog.seen("a", "/new/y.pdf", exists).unwrap();
        assert_eq!(seen.how, How::MovedFrom("/old/x.pdf".into()));
        assert_eq!(
            paths(&catalog, "a"),
            vec!["/new/y.pdf", "/new/a.pdf", "/w/b.pdf"]
        );
    }

    #[test]
    fn new_bytes_at_a_path_take_it_from_the_old_document_which_goes_with_its_last_path() {
        let mut catalog = Catalog::new(vec![
            doc("old", &["/w/a.pdf"]),
            doc("shared", &["/w/b.pdf", "/w/c.pdf"]),
        ]);
        let replaced = catalog.stored(doc("new", &["/w/a.pdf", "/w/b.pdf"]));
        assert_eq!(replaced, vec!["/w/a.pdf", "/w/b.pdf"]);
        assert!(catalog.get("old").is_none());
        assert_eq!(paths(&catalog, "shared"), vec!["/w/c.pdf"]);
        let changes = catalog.take_changes();
        // The new row is written by the put itself; only the one that lost a path changes.
        assert_eq!(changes.update.len(), 1);
        assert_eq!(changes.update[0].doc_id, "shared");
        assert_eq!(changes.remove, vec!["old"]);
    }

    #[test]
    fn a_file_overwritten_with_other_stored_bytes_moves_to_that_document() {
        let mut catalog = Catalog::new(vec![doc("d", &["/w/p.pdf"]), doc("e", &["/w/e.pdf"])]);
        let seen = catalog.seen("e", "/w/p.pdf", everything_exists).unwrap();
        assert_eq!(seen.how, How::SameContentAs("/w/e.pdf".into()));
        assert!(seen.replaced);
        let changes = catalog.take_changes();
        assert_eq!(changes.update.len(), 1);
        assert_eq!(changes.update[0].paths, vec!["/w/e.pdf", "/w/p.pdf"]);
        assert_eq!(changes.remove, vec!["d"]);
    }

    #[test]
    fn a_document_emptied_earlier_in_the_run_is_kept_by_a_copy_seen_later() {
        // p.pdf changed; a copy of its old bytes was made under q.pdf before it did.
        let mut catalog = Catalog::new(vec![doc("old", &["/w/p.pdf"])]);
        catalog.stored(doc("new", &["/w/p.pdf"]));
        assert!(catalog.get("old").is_none());
        let seen = catalog.seen("old", "/w/q.pdf", everything_exists).unwrap();
        assert_eq!(seen.how, How::MovedFrom("/w/p.pdf".into()));
        let changes = catalog.take_changes();
        assert!(changes.remove.is_empty(), "{changes:?}");
        assert_eq!(changes.update[0].paths, vec!["/w/q.pdf"]);
    }

    #[test]
    fn releasing_one_of_two_paths_keeps_the_document() {
        let mut catalog = Catalog::new(vec![doc("a", &["/w/a.pdf", "/w/b.pdf"])]);
        assert!(catalog.release("/w/a.pdf", None));
        assert!(!catalog.release("/w/nothing.pdf", None));
        assert_eq!(paths(&catalog, "a"), vec!["/w/b.pdf"]);
        let changes = catalog.take_changes();
        assert_eq!(changes.update[0].paths, vec!["/w/b.pdf"]);
        assert!(changes.remove.is_empty());
        assert!(catalog.release("/w/b.pdf", None));
        assert_eq!(
            catalog.take_changes(),
            Changes {
                update: Vec::new(),
                remove: vec!["a".into()]
            }
        );
        catalog.forget("a");
        assert!(catalog.take_changes().is_empty());
    }
}

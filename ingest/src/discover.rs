//! Paths given on the command line → the files to ingest.

use std::path::{Path, PathBuf};

/// A path that could not be walked, with the reason.
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub path: PathBuf,
    pub reason: String,
}

/// Files named directly are taken whatever their extension (the PDF parser then says what
/// they are); folders are walked recursively for `*.pdf` (any case), following no symlinked
/// folders, in a stable order so that runs and reports are reproducible.
pub fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Unreadable>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => files.push(path.clone()),
            Ok(meta) if meta.is_dir() => walk(path, &mut files, &mut problems),
            Ok(_) => problems.push(Unreadable {
                path: path.clone(),
                reason: "not a regular file or folder".into(),
            }),
            Err(e) => problems.push(Unreadable {
                path: path.clone(),
                reason: e.to_string(),
            }),
        }
    }
    files.sort();
    files.dedup();
    (files, problems)
}

fn walk(root: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<Unreadable>) {
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        match entry {
            Ok(entry) if entry.file_type().is_file() && is_pdf_name(entry.path()) => {
                files.push(entry.into_path())
            }
            Ok(_) => {}
            Err(e) => problems.push(Unreadable {
                path: e
                    .path()
                    .map(Path::to_owned)
                    .unwrap_or_else(|| root.to_owned()),
                reason: e.to_string(),
            }),
        }
    }
}

fn is_pdf_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("pdf"))
}

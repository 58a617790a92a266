//! `dossier extract`: the text dossier would index, page by page, without touching a store.
//!
//! For checking what a PDF gives before ingesting it, and for the extraction benchmark
//! (`bench/extract/`), which compares it with pdftotext and pypdf.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use dossier_ingest::pdf::{self, PageStatus};
use serde::Serialize;
use tokio::runtime::Runtime;

use super::args::OcrArg;
use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct ExtractArgs {
    /// PDF files to read.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// User password for encrypted files (the empty password is always tried first).
    #[arg(long, env = "DOSSIER_PDF_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// OCR pages that have no text layer: auto (when `tesseract` is installed), never, always.
    #[arg(long, value_enum, default_value_t = OcrArg::Auto)]
    ocr: OcrArg,
    /// Keep running headers, footers and page numbers, which indexing drops.
    #[arg(long)]
    keep_furniture: bool,
    /// Print one JSON object per file (one per line) instead of plain text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ExtractedFile {
    file: String,
    title: Option<String>,
    /// Set when the whole file failed; `pages` is then empty.
    error: Option<String>,
    pages: Vec<ExtractedPage>,
    millis: f64,
}

#[derive(Serialize)]
struct ExtractedPage {
    page: u32,
    /// "text", "no_text" or "failed".
    status: &'static str,
    /// Why a page failed, or why a page without a text layer was not OCR'd.
    reason: Option<String>,
    /// The text was recognised by OCR.
    ocr: bool,
    text: String,
}

pub fn run(_runtime: &Runtime, _global: &GlobalArgs, args: ExtractArgs) -> Result<u8> {
    let options = pdf::ExtractOptions {
        password: args.password.clone(),
        ocr: args.ocr.into(),
        keep_furniture: args.keep_furniture,
    };
    let mut code = crate::exit::OK;
    for path in &args.files {
        let shown = path.display().to_string();
        let started = Instant::now();
        let outcome = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| pdf::extract(&bytes, &options).map_err(|e| e.to_string()));
        let millis = dossier::report::millis(started.elapsed());
        let file = match outcome {
            Ok(text) => ExtractedFile {
                file: shown.clone(),
                title: text.title,
                error: None,
                pages: text
                    .pages
                    .into_iter()
                    .map(|p| {
                        let (status, reason) = match p.status {
                            PageStatus::Text => ("text", None),
                            PageStatus::NoText => ("no_text", p.note),
                            PageStatus::Failed(reason) => ("failed", Some(reason)),
                        };
                        ExtractedPage {
                            page: p.number,
                            status,
                            reason,
                            ocr: p.ocr,
                            text: p.text,
                        }
                    })
                    .collect(),
                millis,
            },
            Err(reason) => {
                code = crate::exit::PARTIAL;
                ExtractedFile {
                    file: shown.clone(),
                    title: None,
                    error: Some(reason),
                    pages: Vec::new(),
                    millis,
                }
            }
        };
        // A closed pipe (`dossier extract ... | head`) ends the output quietly.
        if print_file(&file, args.json).is_err() {
            return Ok(code);
        }
    }
    Ok(code)
}

fn print_file(file: &ExtractedFile, json: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let shown = &file.file;
    if json {
        let line = serde_json::to_string(file).map_err(std::io::Error::other)?;
        return writeln!(out, "{line}");
    }
    if let Some(error) = &file.error {
        eprintln!("{shown}: {error}");
        return Ok(());
    }
    for page in &file.pages {
        match page.status {
            "text" if page.ocr => writeln!(
                out,
                "=== {shown} page {} (OCR) ===\n{}\n",
                page.page, page.text
            )?,
            "text" => writeln!(out, "=== {shown} page {} ===\n{}\n", page.page, page.text)?,
            "no_text" => writeln!(
                out,
                "=== {shown} page {}: no text layer (scanned?){} ===\n",
                page.page,
                page.reason
                    .as_deref()
                    .map(|r| format!("; not OCR'd: {r}"))
                    .unwrap_or_default()
            )?,
            _ => writeln!(
                out,
                "=== {shown} page {}: failed: {} ===\n",
                page.page,
                page.reason.as_deref().unwrap_or("unknown")
            )?,
        }
    }
    Ok(())
}

//! `dossier ls`: the documents in the store.

use anyhow::Result;
use clap::Args;
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Print JSON (an array of documents) instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
pub struct Listed {
    doc_id: String,
    /// The first path's file name, and the first path: the one a citation names when
    /// nothing says which copy was meant.
    file: String,
    path: String,
    /// Every path the document's bytes were found under (same content, stored once), the
    /// first one first, and their file names.
    paths: Vec<String>,
    files: Vec<String>,
    title: Option<String>,
    pages: u32,
    chunks: u32,
    pages_without_text: u32,
    size_bytes: u64,
    ingested_at_ms: i64,
    /// "complete", or "complete, N pages without text" (listed documents are always whole:
    /// a document row is written after all its chunks).
    status: String,
    /// The ingest time, UTC, ISO 8601.
    ingested_at: String,
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: LsArgs) -> Result<u8> {
    let store = super::open_store(runtime, global, false)?;
    let documents = runtime.block_on(store.documents())?;
    let listed = listing(documents);
    if args.json {
        super::print_json(&listed)?;
        return Ok(crate::exit::OK);
    }
    if listed.is_empty() {
        println!("no documents in {}", global.store);
        return Ok(crate::exit::OK);
    }
    println!(
        "{:<12}  {:>5}  {:>6}  {:<20}  {:<10}  path",
        "id", "pages", "chunks", "ingested (UTC)", "status"
    );
    for d in &listed {
        let status = if d.pages_without_text == 0 {
            "complete".to_owned()
        } else {
            format!("{} no text", d.pages_without_text)
        };
        println!(
            "{:<12}  {:>5}  {:>6}  {:<20}  {:<10}  {}",
            &d.doc_id[..12.min(d.doc_id.len())],
            d.pages,
            d.chunks,
            d.ingested_at.trim_end_matches('Z').replace('T', " "),
            status,
            d.path
        );
        // The other names of the same bytes, each on a line of its own under the first.
        for other in d.paths.iter().skip(1) {
            println!("{:<61}  {other} (same content)", "");
        }
    }
    Ok(crate::exit::OK)
}

/// Unix milliseconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC), without a date library.
pub fn utc_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The documents as `ls --json` (and the HTTP API) lists them.
pub fn listing(documents: Vec<dossier_store::DocumentRecord>) -> Vec<Listed> {
    documents
        .into_iter()
        .map(|d| Listed {
            status: if d.pages_without_text == 0 {
                "complete".to_owned()
            } else {
                format!("complete, {} pages without text", d.pages_without_text)
            },
            ingested_at: utc_time(d.ingested_at_ms),
            file: d.file_name().to_owned(),
            path: d.path().to_owned(),
            files: d
                .paths
                .iter()
                .map(|p| dossier_store::file_name(p).to_owned())
                .collect(),
            doc_id: d.doc_id,
            paths: d.paths,
            title: d.title,
            pages: d.pages,
            chunks: d.chunks,
            pages_without_text: d.pages_without_text,
            size_bytes: d.size_bytes,
            ingested_at_ms: d.ingested_at_ms,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_times_are_formatted() {
        assert_eq!(super::utc_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc_time(1_795_000_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(super::utc_time(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}

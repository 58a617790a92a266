//! Prints the text dossier extracts from each page of a PDF, page by page.
//!
//! cargo run -p dossier-ingest --example pages -- samples/employee-handbook.pdf [PASSWORD]

use dossier_ingest::pdf::{self, PageStatus};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: pages FILE.pdf [PASSWORD]");
        std::process::exit(2);
    };
    let password = args.next();
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    });
    match pdf::extract(
        &bytes,
        &pdf::ExtractOptions {
            password,
            ..Default::default()
        },
    ) {
        Ok(text) => {
            println!("title: {}", text.title.as_deref().unwrap_or("-"));
            for page in &text.pages {
                match &page.status {
                    PageStatus::Text => println!("--- page {} ---\n{}", page.number, page.text),
                    PageStatus::NoText => println!("--- page {}: no text layer ---", page.number),
                    PageStatus::Failed(reason) => {
                        println!("--- page {}: failed: {reason} ---", page.number)
                    }
                }
            }
        }
        Err(error) => {
            eprintln!("{path}: {error}");
            std::process::exit(1);
        }
    }
}

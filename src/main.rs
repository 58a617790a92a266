//! dossier: ask questions of private PDFs with a local LLM. Nothing leaves the machine.
//!
//! This binary is the only part that talks to the terminal: it parses the command line into
//! the `dossier` library's plain settings, runs the command and prints results.

#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cli::args::GlobalArgs;

/// Exit codes, so that scripts can tell outcomes apart.
pub mod exit {
    /// Everything asked for was done (a refusal to answer is a successful answer).
    pub const OK: u8 = 0;
    /// The command could not run: missing models or store, unreadable input, internal error.
    pub const ERROR: u8 = 1;
    /// The command line is wrong (clap's own code).
    pub const USAGE: u8 = 2;
    /// `ingest`: some files could not be ingested; the others were.
    pub const PARTIAL: u8 = 3;
    /// Another process is writing to the store (ingest, rm, optimize); `--wait` waits.
    pub const BUSY: u8 = 4;
    /// Interrupted with Ctrl-C; the store is consistent.
    pub const INTERRUPTED: u8 = 130;
}

const EXIT_CODES: &str = "\
Exit codes: 0 success (including \"the documents do not say\"), 1 error, 2 bad usage,
3 some files failed to ingest (the rest landed), 4 another process is writing to the
store, 130 interrupted.";

const OFFLINE: &str =
    "Nothing is sent over the network: models are read from --models, data stays in --store.";

/// `-h`: the exit codes; `--help` adds every environment setting (`cli::env`).
fn after_help() -> String {
    format!("{EXIT_CODES}\n\nEnvironment settings: see --help.\n\n{OFFLINE}")
}

fn after_long_help() -> String {
    format!("{EXIT_CODES}\n\n{}\n{OFFLINE}", cli::env::help())
}

#[derive(Parser, Debug)]
#[command(
    name = "dossier",
    version,
    about,
    after_help = after_help(),
    after_long_help = after_long_help()
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Ingest PDFs (files, or folders searched recursively for *.pdf) into the store.
    ///
    /// Unchanged files (same bytes) are skipped; a changed file replaces its old version.
    /// A file that cannot be read gets one line on stderr and the batch goes on.
    Ingest(cli::ingest::IngestArgs),
    /// Find the passages that best match a question, without the LLM.
    Search(cli::search::SearchArgs),
    /// Answer a question from the documents with the local LLM, citing file and page.
    Ask(cli::ask::AskArgs),
    /// A conversation: questions from stdin, one a line; follow-ups ("what size was it?")
    /// are searched with the previous question's terms. `exit` or end of input ends it.
    Chat(cli::chat::ChatArgs),
    /// List the documents in the store.
    Ls(cli::ls::LsArgs),
    /// Remove documents from the store, by path (file or folder) or id prefix.
    Rm(cli::rm::RmArgs),
    /// Compact the store, drop old versions and leftovers of interrupted writes.
    Optimize(cli::optimize::OptimizeArgs),
    /// Build or rebuild the vector (ANN) index; ingest builds it by itself past a size.
    Index(cli::index::IndexArgs),
    /// Check that every document in the store is whole (chunk rows against records).
    Check(cli::check::CheckArgs),
    /// Score retrieval (and, with --answers, answers) against a QA file.
    Eval(cli::eval::EvalArgs),
    /// Print the text dossier extracts from PDFs, page by page (no store needed).
    Extract(cli::extract::ExtractArgs),
    /// Serve the store over HTTP: a JSON API, an OpenAI-compatible chat endpoint and a small
    /// web page at `/`. Loopback only unless a bearer token is set.
    Serve(cli::serve::ServeArgs),
    /// Measure each stage's throughput on this machine against a reference run.
    Bench(cli::bench::BenchArgs),
    /// The embedder alone on a corpus's chunks: the reference of ingest's throughput.
    #[command(hide = true)]
    BenchIngest(cli::bench_ingest::BenchIngestArgs),
    /// The local LLM's prompt and generation speed on a fixed prompt: the dossier side of
    /// bench/llm/llamacpp.py.
    #[command(hide = true)]
    BenchLlm(cli::bench_llm::BenchLlmArgs),
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        // The PDF libraries warn about every malformed file; dossier reports those itself,
        // one line per file, so their chatter is only shown with -v.
        0 => "warn,lopdf=off,pdf_extract=off",
        1 => "dossier=info,dossier_ingest=info,dossier_store=info,dossier_llm=info,warn",
        _ => "dossier=debug,dossier_ingest=debug,dossier_store=debug,dossier_llm=debug,info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
}

/// Panics inside the PDF parsers are caught and reported as that file's error; only those
/// are kept off the terminal. Any other panic is a bug and prints as usual.
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if dossier_ingest::pdf::panic_is_contained() {
            tracing::debug!("contained parser panic: {info}");
        } else {
            default(info);
        }
    }));
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    init_logging(cli.global.verbose);
    install_panic_hook();
    if let Some(threads) = cli.global.threads {
        cli::env::set_rayon_threads(threads);
    }
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| match cli.command {
            Command::Ingest(args) => cli::ingest::run(&runtime, &cli.global, args),
            Command::Search(args) => cli::search::run(&runtime, &cli.global, args),
            Command::Ask(args) => cli::ask::run(&runtime, &cli.global, args),
            Command::Chat(args) => cli::chat::run(&runtime, &cli.global, args),
            Command::Ls(args) => cli::ls::run(&runtime, &cli.global, args),
            Command::Rm(args) => cli::rm::run(&runtime, &cli.global, args),
            Command::Optimize(args) => cli::optimize::run(&runtime, &cli.global, args),
            Command::Index(args) => cli::index::run(&runtime, &cli.global, args),
            Command::Check(args) => cli::check::run(&runtime, &cli.global, args),
            Command::Eval(args) => cli::eval::run(&runtime, &cli.global, args),
            Command::Extract(args) => cli::extract::run(&runtime, &cli.global, args),
            Command::Serve(args) => cli::serve::run(&runtime, &cli.global, args),
            Command::Bench(args) => cli::bench::run(&runtime, &cli.global, args),
            Command::BenchIngest(args) => cli::bench_ingest::run(&runtime, &cli.global, args),
            Command::BenchLlm(args) => cli::bench_llm::run(&cli.global, args),
        });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

//! Helpers for end-to-end tests: they run the real `dossier` binary with the real models
//! (from models/, filled by `make models`) against real LanceDB directories.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// The checkout the tests run in. Read at run time (cargo sets it when it runs a test), so
/// that two clones sharing one target directory never read each other's files.
pub fn repo() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub fn models() -> PathBuf {
    let models = std::env::var_os("DOSSIER_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("models"));
    assert!(
        models.join("MANIFEST").is_file(),
        "no models in {} — run `make models` (make test does it)",
        models.display()
    );
    models
}

pub fn samples() -> PathBuf {
    repo().join("samples")
}

pub fn fixtures() -> PathBuf {
    repo().join("tests").join("fixtures")
}

/// `dossier` with the models folder and a store set, and nothing inherited that could
/// change its behaviour.
pub fn dossier(store: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dossier"));
    command
        .env("DOSSIER_MODELS", models())
        .env("DOSSIER_STORE", store)
        .env_remove("DOSSIER_MODEL")
        .env_remove("RUST_LOG")
        // Tests run side by side on few cores: one LLM thread each, so that generating
        // processes do not compete for the cores with more threads than there are.
        .env("CANDLE_NUM_THREADS", "1");
    command
}

pub fn run(command: &mut Command) -> Output {
    command.output().expect("dossier runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); status {:?}\nstdout:\n{}\nstderr:\n{}",
            output.status,
            stdout(output),
            stderr(output)
        )
    })
}

/// The citation of `file`, page `page`, in a list of citations (`ask --json`'s
/// `citations`, the audit log's `cited`), wherever it stands in the list: a sentence that
/// states figures from several quotes cites each of them.
pub fn citation_on<'a>(citations: &'a Value, file: &str, page: u64) -> Option<&'a Value> {
    citations
        .as_array()?
        .iter()
        .find(|c| c["file"] == file && c["page"] == page)
}

/// Runs a command that must succeed, and returns its output.
pub fn ok(command: &mut Command) -> Output {
    let output = run(command);
    assert!(
        output.status.success(),
        "dossier failed with {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(&output),
        stderr(&output)
    );
    output
}

/// One store with samples/ ingested, shared by the read-only tests of a test binary.
pub fn sample_store() -> &'static Path {
    static STORE: OnceLock<tempfile::TempDir> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            // The three samples only: samples/eval/pdfs/ (fetched by `make eval-data`) is a
            // separate, larger corpus.
            ok(dossier(dir.path()).arg("ingest").args(sample_pdfs()));
            dir
        })
        .path()
}

#[derive(Debug, Clone)]
pub struct QaItem {
    pub id: String,
    pub question: String,
    pub answers: Vec<String>,
    pub file: Option<String>,
    pub page: Option<u64>,
    pub unanswerable: bool,
}

pub fn qa_items() -> Vec<QaItem> {
    let text = std::fs::read_to_string(samples().join("qa.jsonl")).expect("samples/qa.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("qa line is JSON");
            QaItem {
                id: v["id"].as_str().unwrap().to_owned(),
                question: v["question"].as_str().unwrap().to_owned(),
                answers: v["answers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_owned())
                    .collect(),
                file: v["file"].as_str().map(str::to_owned),
                page: v["page"].as_u64(),
                unanswerable: v["kind"].as_str() == Some("unanswerable"),
            }
        })
        .collect()
}

/// The three top-level sample PDFs (not the larger eval set under samples/eval/).
pub fn sample_pdfs() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(samples())
        .expect("samples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    files.sort();
    files
}

/// `copies` distinct documents per sample PDF in `dir`, named `<stem>-<i>.pdf`: the sample's
/// bytes plus a comment line after `%%EOF`, so each has its own sha256 and the same text.
pub fn variants(dir: &Path, copies: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("corpus dir");
    let mut out = Vec::new();
    for file in sample_pdfs() {
        let bytes = std::fs::read(&file).expect("sample");
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        for i in 0..copies {
            let mut variant = bytes.clone();
            variant.extend_from_slice(format!("\n%dossier-copy {i}\n").as_bytes());
            let path = dir.join(format!("{stem}-{i}.pdf"));
            std::fs::write(&path, variant).expect("write variant");
            out.push(path);
        }
    }
    out
}

/// The sample a variant was made from: `service-agreement-3.pdf` → `service-agreement`.
pub fn variant_stem(file: &str) -> String {
    let stem = file.trim_end_matches(".pdf");
    stem.rsplit_once('-')
        .filter(|(_, n)| n.chars().all(|c| c.is_ascii_digit()))
        .map(|(s, _)| s.to_owned())
        .unwrap_or_else(|| stem.to_owned())
}

/// The development corpus fetched by `samples/eval/fetch.sh` (`make eval-data`).
pub fn eval_pdfs() -> PathBuf {
    samples().join("eval").join("pdfs")
}

/// The three PDFs of `samples/eval/qa-small.jsonl`.
pub const EVAL_SUBSET: [&str; 3] = ["vst3-license.pdf", "cvs-paper.pdf", "rcpp-faq.pdf"];

/// One store with the [`EVAL_SUBSET`] of the development corpus ingested, shared by the
/// tests of a test binary. A missing PDF fails the test with what to run: the corpus is not
/// in git, and `make test` fetches it.
pub fn eval_subset_store() -> &'static Path {
    static STORE: OnceLock<tempfile::TempDir> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let files: Vec<PathBuf> = EVAL_SUBSET.iter().map(|f| eval_pdfs().join(f)).collect();
            for file in &files {
                assert!(
                    file.is_file(),
                    "{} is missing: run `make eval-data` (samples/eval/fetch.sh; make test does it)",
                    file.display()
                );
            }
            let dir = tempfile::tempdir().expect("temp dir");
            ok(dossier(dir.path()).arg("ingest").args(&files));
            dir
        })
        .path()
}

/// A running `dossier serve`, stopped when dropped.
pub struct Server {
    child: std::process::Child,
    pub base: String,
    pub store: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `dossier serve` on a free loopback port with `extra` flags and waits until it
/// listens (it prints the address it bound).
pub fn start_server(store: &Path, extra: &[&str]) -> Server {
    let mut child = dossier(store)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("dossier serve starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let mut seen = Vec::new();
    let base = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("dossier serve ended before listening:\n{}", seen.join("\n"));
        };
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        seen.push(line);
    };
    // Keep draining stderr so that the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Server {
        child,
        base,
        store: store.to_owned(),
    }
}

/// The `data:` payloads of a Server-Sent Events body, with their event names.
pub fn sse_events(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut event = "message".to_owned();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_owned();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.strip_prefix(' ').unwrap_or(d));
                }
            }
            (!data.is_empty()).then_some((event, data))
        })
        .collect()
}

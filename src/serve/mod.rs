//! `dossier serve`: the store over HTTP, to many users and tools at once.
//!
//! - `/v1/search`, `/v1/ask` (JSON or Server-Sent Events), `/v1/documents` (list, upload,
//!   delete, the PDF itself) and `/healthz` answer with the same JSON as the CLI's `--json`.
//! - `/v1/chat/completions` and `/v1/models` speak OpenAI's protocol, so existing clients can
//!   use dossier as a grounded model; responses carry the citations in an extra field.
//! - `/` is a small page (shipped inside the binary, nothing fetched from elsewhere).
//!
//! One model answers one question at a time; askers wait in a bounded queue (503 with
//! Retry-After when it is full) while searches run side by side on a pool of retrievers.
//! Uploads and deletions run `dossier ingest` / `dossier rm` as child processes: they take the
//! store's write lock like any other writer, and a PDF that crashes or hangs the parser takes
//! down the child, not the server.

mod api;
mod audit;
mod guard;
mod openai;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::Router;
use dossier_ingest::Embedder;
use dossier_llm as llm;
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

use crate::pipeline::{Asker, ModelChoice};
use crate::retrieve::{Ranking, Retriever};
use crate::Settings;

/// How the server runs: `dossier serve`'s options, as plain values.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address and port to listen on; anything but loopback needs a token.
    pub addr: SocketAddr,
    /// Bearer token every request must carry, except the static page at `/`.
    pub token: Option<String>,
    /// Read the bearer token from this file (first line) when `token` is not given.
    pub token_file: Option<PathBuf>,
    /// Which model answers.
    pub model: ModelChoice,
    /// The answer path (passages per question, refusal, generation); a request may ask for
    /// fewer tokens than its `options.max_tokens`.
    pub asker: Asker,
    /// Questions that may wait for the model, counting the one being answered.
    pub max_queue: usize,
    /// Retrievers (embedder + store handle) serving searches side by side.
    pub searchers: usize,
    /// Requests per minute one client address may make; 0: no limit.
    pub rate_limit: u32,
    /// Largest PDF upload, in MiB.
    pub max_upload_mb: u64,
    /// Where uploaded PDFs are kept (default: STORE/uploads for a store directory).
    pub uploads: Option<PathBuf>,
    /// The audit log (default: STORE/audit.jsonl for a store directory).
    pub audit_log: Option<PathBuf>,
    /// Keep no audit log.
    pub no_audit: bool,
    /// How retrieval ranks.
    pub ranking: Ranking,
}

/// [`run`] refuses to listen beyond loopback without a token: the store is confidential.
#[derive(Debug)]
pub struct ExposedWithoutToken(pub SocketAddr);

impl std::fmt::Display for ExposedWithoutToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "listening on {} would expose the store beyond this machine; give --token or --token-file (or listen on 127.0.0.1)",
            self.0
        )
    }
}

impl std::error::Error for ExposedWithoutToken {}

/// What every request handler shares.
pub(crate) struct AppState {
    settings: Settings,
    asker: Asker,
    ranking: Ranking,
    /// Store work runs on its own runtime: the retrieval code blocks on it from worker
    /// threads, which the server's runtime must not do.
    store_runtime: Arc<Runtime>,
    retrievers: Arc<guard::Pool<Retriever>>,
    generator: Arc<tokio::sync::Mutex<Generator>>,
    /// Permits for questions that need the model: the one answered plus those waiting.
    ask_slots: Arc<Semaphore>,
    max_queue: usize,
    model_name: String,
    token: Option<String>,
    limiter: guard::RateLimiter,
    max_upload_bytes: usize,
    uploads: Option<PathBuf>,
    audit: Option<audit::AuditLog>,
    /// Serialises uploads and deletions: each waits for the store's write lock anyway.
    writes: tokio::sync::Mutex<()>,
    started: Instant,
    /// Seconds the last answers took, to estimate Retry-After.
    recent_answer_seconds: Mutex<f64>,
}

/// The model and an embedder of its own for the answer check, used by one question at a time.
pub(crate) struct Generator {
    model: llm::Generator,
    embedder: Embedder,
}

/// Serves `settings`' store until Ctrl-C. Listening beyond loopback without a token is the
/// error [`ExposedWithoutToken`].
pub fn run(runtime: &Runtime, settings: &Settings, args: ServeConfig) -> Result<()> {
    let token = match (&args.token, &args.token_file) {
        (Some(t), _) => Some(t.trim().to_owned()),
        (None, Some(path)) => Some(read_token(path)?),
        (None, None) => None,
    };
    if token.as_deref().is_some_and(|t| t.len() < 16) {
        bail!("the token is shorter than 16 characters; use a long random one (e.g. `openssl rand -hex 32`)");
    }
    if !args.addr.ip().is_loopback() && token.is_none() {
        return Err(ExposedWithoutToken(args.addr).into());
    }

    let store_runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dossier-store")
            .enable_all()
            .build()
            .context("starting the store runtime")?,
    );
    // A new server may start on an empty store and fill it by uploads.
    let local_store = !settings.store.contains("://");
    let mut retrievers = Vec::new();
    for _ in 0..args.searchers.max(1) {
        let store = settings.open_store(&store_runtime, local_store)?;
        let embedder = settings.load_embedder()?;
        let retriever = Retriever::open(&store_runtime, store, embedder, &args.ranking)?;
        retrievers.push(retriever);
    }
    let model = args.model.load(&store_runtime, settings)?;
    let model_name = llm::ChatModel::name(&model).to_owned();
    let generator = Generator {
        model,
        embedder: settings.load_embedder()?,
    };

    let uploads = match (&args.uploads, local_store) {
        (Some(dir), _) => Some(dir.clone()),
        (None, true) => Some(Path::new(&settings.store).join("uploads")),
        (None, false) => None,
    };
    if let Some(dir) = &uploads {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the uploads folder {}", dir.display()))?;
    }
    let audit = if args.no_audit {
        None
    } else {
        match (&args.audit_log, local_store) {
            (Some(path), _) => Some(audit::AuditLog::open(path)?),
            (None, true) => Some(audit::AuditLog::open(
                &Path::new(&settings.store).join("audit.jsonl"),
            )?),
            (None, false) => {
                tracing::warn!("no --audit-log given for an object-store URI: nothing is audited");
                None
            }
        }
    };

    let state = Arc::new(AppState {
        settings: settings.clone(),
        asker: Asker {
            k: args.asker.k.max(1),
            ..args.asker.clone()
        },
        ranking: args.ranking.clone(),
        store_runtime,
        retrievers: Arc::new(guard::Pool::new(retrievers)),
        generator: Arc::new(tokio::sync::Mutex::new(generator)),
        ask_slots: Arc::new(Semaphore::new(args.max_queue.max(1))),
        max_queue: args.max_queue.max(1),
        model_name,
        token,
        limiter: guard::RateLimiter::new(args.rate_limit),
        max_upload_bytes: usize::try_from(args.max_upload_mb.saturating_mul(1 << 20))
            .unwrap_or(usize::MAX),
        uploads,
        audit,
        writes: tokio::sync::Mutex::new(()),
        started: Instant::now(),
        recent_answer_seconds: Mutex::new(10.0),
    });

    runtime.block_on(serve(state, args.addr))
}

fn read_token(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the token file {}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    if token.is_empty() {
        bail!("the token file {} is empty", path.display());
    }
    Ok(token)
}

/// JSON bodies are questions: a few KiB. Uploads have their own, larger limit.
const JSON_BODY_LIMIT: usize = 64 * 1024;

pub(crate) fn router(state: Arc<AppState>) -> Router {
    let uploads = Router::new()
        .route("/v1/documents", post(api::upload))
        .layer(DefaultBodyLimit::max(state.max_upload_bytes));
    let api = Router::new()
        .route("/healthz", get(api::health))
        .route("/v1/search", post(api::search))
        .route("/v1/ask", post(api::ask))
        .route("/v1/documents", get(api::list_documents))
        .route("/v1/documents/{id}", delete(api::delete_document))
        .route("/v1/documents/{id}/file", get(api::document_file))
        .route("/v1/models", get(openai::models))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .merge(uploads)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::authorize,
        ));
    Router::new()
        .route("/", get(api::page))
        .merge(api)
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::rate_limit,
        ))
        .with_state(state)
}

async fn serve(state: Arc<AppState>, addr: SocketAddr) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let bound = listener.local_addr()?;
    eprintln!(
        "dossier serve: listening on http://{bound} (store {}, model {}{})",
        state.settings.store,
        state.model_name,
        if state.token.is_some() {
            ", bearer token required"
        } else {
            ""
        }
    );
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("dossier serve: stopping");
        })
        .await
        .context("serving HTTP")?;
    Ok(())
}

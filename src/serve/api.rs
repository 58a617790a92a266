//! dossier's own endpoints: the CLI's `--json` shapes over HTTP.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Multipart, Path as UrlPath, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use futures::Stream;
use serde::Deserialize;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use super::AppState;
use crate::pipeline::Response as Answer;
use crate::report::{self, millis, AnswerReport, Hits, SearchTimings, Timings};
use crate::retrieve::Passage;

/// An error as JSON (`{"error": {"message", "type"}}`, the shape OpenAI clients expect).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!("request failed: {error}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = match self.status.as_u16() {
            400 | 413 | 415 | 422 => "invalid_request_error",
            401 | 403 => "authentication_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            503 => "overloaded_error",
            _ => "server_error",
        };
        let body = serde_json::json!({"error": {"message": self.message, "type": kind}});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        Self::new(rejection.status(), rejection.body_text())
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Questions longer than this are not questions.
const MAX_QUESTION_CHARS: usize = 2000;

pub(crate) fn check_question(question: &str) -> ApiResult<String> {
    let question = question.trim();
    if question.is_empty() {
        return Err(ApiError::bad_request("the question is empty"));
    }
    if question.chars().count() > MAX_QUESTION_CHARS {
        return Err(ApiError::bad_request(format!(
            "the question is longer than {MAX_QUESTION_CHARS} characters"
        )));
    }
    Ok(question.to_owned())
}

pub async fn page() -> Response {
    let mut response = Html(include_str!("page.html")).into_response();
    let headers = response.headers_mut();
    // Everything the page needs is in it: forbid anything from elsewhere.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-src blob:; object-src blob:",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")
}

pub async fn health(State(state): State<Arc<AppState>>) -> ApiResult<Json<serde_json::Value>> {
    let documents = documents(&state).await?;
    let waiting = state.max_queue - state.ask_slots.available_permits();
    Ok(Json(serde_json::json!({
        "status": "ok",
        "store": state.settings.store,
        "documents": documents.len(),
        "chunks": documents.iter().map(|d| u64::from(d.chunks)).sum::<u64>(),
        "model": state.model_name,
        "queue": {"asking": waiting, "capacity": state.max_queue},
        "uptime_s": state.started.elapsed().as_secs(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The question or keywords.
    query: String,
    /// Passages to return (default 5, at most 50).
    #[serde(default)]
    k: Option<usize>,
    /// vector, text or hybrid (default: the server's `--mode`).
    #[serde(default)]
    mode: Option<String>,
}

pub async fn search(
    State(state): State<Arc<AppState>>,
    body: Result<Json<SearchRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Json(request) = body?;
    let query = check_question(&request.query)?;
    let k = request.k.unwrap_or(5).clamp(1, 50);
    let mut options = state.ranking.search.clone();
    if let Some(mode) = &request.mode {
        options.mode = mode.parse().map_err(ApiError::bad_request)?;
    }
    let started = Instant::now();
    let mut retriever = state.retrievers.take().await;
    let runtime = state.store_runtime.clone();
    let json = tokio::task::spawn_blocking(move || -> anyhow::Result<serde_json::Value> {
        let saved = std::mem::replace(&mut retriever.options, options);
        let t = Instant::now();
        let vector = retriever.embed_question(&query);
        let embed = t.elapsed();
        let t = Instant::now();
        let ranked = vector.and_then(|v| retriever.rank(&runtime, &query, &v, k));
        let search = t.elapsed();
        let mode = retriever.options.mode.to_string();
        retriever.options = saved;
        let timings = SearchTimings {
            load_ms: None,
            embed_ms: millis(embed),
            search_ms: millis(search),
            total_ms: millis(started.elapsed()),
        };
        Ok(report::json(&Hits::new(&query, &mode, ranked?, timings)))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(Json(json))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    question: String,
    /// Server-Sent Events: `token` events as the model writes, then one `answer` event
    /// with the checked answer and its citations.
    #[serde(default)]
    stream: bool,
    /// Cap on the answer's length (at most the server's `--max-tokens`).
    #[serde(default)]
    max_tokens: Option<usize>,
}

pub async fn ask(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    body: Result<Json<AskRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(request) = body?;
    let question = check_question(&request.question)?;
    let slot = ask_slot(&state)?;
    let asked = Asking {
        state: state.clone(),
        question,
        max_tokens: request.max_tokens,
        client: client.ip().to_string(),
        endpoint: "/v1/ask",
    };
    if !request.stream {
        let answered = asked.run(slot, None).await?;
        return Ok(Json(report::json(&answered.report)).into_response());
    }
    let events = asked.stream(slot, |token| {
        Event::default()
            .event("token")
            .data(serde_json::json!({ "text": token }).to_string())
    });
    let events = futures::StreamExt::map(events, |item| {
        Ok::<_, Infallible>(match item {
            Streamed::Token(event) => event,
            Streamed::Done(Ok(answered)) => Event::default()
                .event("answer")
                .data(report::json(&answered.report).to_string()),
            Streamed::Done(Err(e)) => Event::default()
                .event("error")
                .data(serde_json::json!({"error": {"message": e.message}}).to_string()),
        })
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// A place in the queue for the model, or 503 with an estimate of when to come back.
pub(crate) fn ask_slot(state: &AppState) -> ApiResult<OwnedSemaphorePermit> {
    state.ask_slots.clone().try_acquire_owned().map_err(|_| {
        let seconds = *state
            .recent_answer_seconds
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} questions are already waiting for the model; try again later",
                state.max_queue
            ),
        );
        error.retry_after = Some((seconds * state.max_queue as f64).ceil().max(1.0) as u64);
        error
    })
}

/// One question on its way through retrieval, the model and the check.
pub(crate) struct Asking {
    pub state: Arc<AppState>,
    pub question: String,
    pub max_tokens: Option<usize>,
    pub client: String,
    pub endpoint: &'static str,
}

/// A question's outcome: the `ask --json` object, and the answer when the model wrote one.
pub(crate) struct Answered {
    pub report: AnswerReport,
    pub answer: Option<Answer>,
}

// Not boxed: a stream carries many small tokens and a single `Done`, and both arms of the
// consumers match on the result by value.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Streamed<T> {
    Token(T),
    Done(ApiResult<Answered>),
}

impl Asking {
    /// Retrieves, decides on refusal, generates (streaming pieces to `tokens`) and checks.
    pub async fn run(
        self,
        slot: OwnedSemaphorePermit,
        tokens: Option<mpsc::Sender<String>>,
    ) -> ApiResult<Answered> {
        let state = self.state.clone();
        let started = Instant::now();
        let mut retriever = state.retrievers.take().await;
        let runtime = state.store_runtime.clone();
        let (question, asker) = (self.question.clone(), state.asker.clone());
        let retrieved = tokio::task::spawn_blocking(move || {
            asker.retrieve(&runtime, &mut retriever, &question)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;

        let (report, answer) = if let Some(reason) = &retrieved.refusal {
            let timings = Timings {
                total_ms: Some(millis(started.elapsed())),
                ..Timings::of(&retrieved)
            };
            (
                AnswerReport::refused(&self.question, &retrieved.passages, reason, timings),
                None,
            )
        } else {
            let mut generator = state.generator.clone().lock_owned().await;
            let mut asker = state.asker.clone();
            if let Some(cap) = self.max_tokens {
                asker.options.max_tokens = asker.options.max_tokens.min(cap.max(1));
            }
            let question = self.question.clone();
            let passages = retrieved.passages.clone();
            let generated_at = Instant::now();
            let response = tokio::task::spawn_blocking(move || {
                let generator = &mut *generator;
                asker.generate(
                    &mut generator.model,
                    &question,
                    &passages,
                    Some(&mut generator.embedder),
                    // A closed stream means the client went away: stop generating.
                    // Only checked sentences are sent; "" asks whether to go on.
                    |piece| {
                        tokens.as_ref().is_none_or(|tx| {
                            if piece.is_empty() {
                                !tx.is_closed()
                            } else {
                                tx.blocking_send(piece.to_owned()).is_ok()
                            }
                        })
                    },
                )
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
            self.note_answer_time(generated_at.elapsed().as_secs_f64());
            let timings = Timings {
                total_ms: Some(millis(started.elapsed())),
                ..Timings::of(&retrieved)
            };
            let report =
                AnswerReport::generated(&self.question, &retrieved.passages, &response, timings);
            (report, Some(response))
        };
        drop(slot);
        self.audit(&report, &retrieved.passages);
        Ok(Answered { report, answer })
    }

    /// [`Asking::run`] as a stream: each checked piece of the answer as `token(piece)` makes
    /// it (never the model's unchecked draft), then the outcome. Dropping the stream stops the generation.
    pub fn stream<T: Send + 'static>(
        self,
        slot: OwnedSemaphorePermit,
        token: impl Fn(String) -> T + Send + 'static,
    ) -> impl Stream<Item = Streamed<T>> {
        let (out_tx, out_rx) = mpsc::channel::<Streamed<T>>(64);
        tokio::spawn(async move {
            let (piece_tx, mut piece_rx) = mpsc::channel::<String>(256);
            let answering = self.run(slot, Some(piece_tx));
            tokio::pin!(answering);
            let outcome = loop {
                tokio::select! {
                    Some(piece) = piece_rx.recv() => {
                        if out_tx.send(Streamed::Token(token(piece))).await.is_err() {
                            // Closing our end makes the generator's next send fail.
                            piece_rx.close();
                        }
                    }
                    outcome = &mut answering => break outcome,
                }
            };
            while let Ok(piece) = piece_rx.try_recv() {
                let _ = out_tx.send(Streamed::Token(token(piece))).await;
            }
            let _ = out_tx.send(Streamed::Done(outcome)).await;
        });
        futures::stream::unfold(out_rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
    }

    fn note_answer_time(&self, seconds: f64) {
        let mut recent = self
            .state
            .recent_answer_seconds
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *recent = 0.7 * *recent + 0.3 * seconds;
    }

    fn audit(&self, report: &AnswerReport, passages: &[Passage]) {
        let Some(audit) = &self.state.audit else {
            return;
        };
        let cited: Vec<serde_json::Value> = report
            .citations()
            .iter()
            .map(|c| serde_json::json!({"file": c.file, "page": c.page}))
            .collect();
        let closest: Vec<serde_json::Value> = passages
            .iter()
            .take(3)
            .map(|p| serde_json::json!({"file": p.file_name, "page": p.page}))
            .collect();
        audit.record(
            &self.client,
            serde_json::json!({
                "event": "ask",
                "endpoint": self.endpoint,
                "question": self.question,
                "refused": report.is_refused(),
                "cited": cited,
                "retrieved": closest,
            }),
        );
    }
}

async fn documents(state: &Arc<AppState>) -> ApiResult<Vec<dossier_store::DocumentRecord>> {
    let retriever = state.retrievers.take().await;
    let runtime = state.store_runtime.clone();
    tokio::task::spawn_blocking(move || runtime.block_on(retriever.store.documents()))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

pub async fn list_documents(
    State(state): State<Arc<AppState>>,
) -> ApiResult<Json<Vec<crate::report::Listed>>> {
    Ok(Json(crate::report::listing(documents(&state).await?)))
}

/// A document id as the store writes them (hex digits); anything else never reaches it.
fn check_doc_id(id: &str) -> ApiResult<&str> {
    if (8..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id)
    } else {
        Err(ApiError::bad_request(
            "a document id is hex digits, as GET /v1/documents lists them",
        ))
    }
}

async fn document(state: &Arc<AppState>, id: &str) -> ApiResult<dossier_store::DocumentRecord> {
    let id = check_doc_id(id)?;
    documents(state)
        .await?
        .into_iter()
        .find(|d| d.doc_id == id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no document {id}")))
}

/// The PDF of a document, for the page's "open at page N" links. The path is one the store
/// recorded at ingest, never one from the request: the first that can still be read (the
/// copies of a document hold the same bytes).
pub async fn document_file(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Response> {
    let doc = document(&state, &id).await?;
    let mut read = Err(std::io::Error::from(std::io::ErrorKind::NotFound));
    for path in &doc.paths {
        read = tokio::fs::read(path).await;
        if read.is_ok() {
            break;
        }
    }
    let bytes = read.map_err(|e| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{} is no longer readable: {e}", doc.file_name()),
        )
    })?;
    let name: String = doc
        .file_name()
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\' || *c == ' ')
        .collect();
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// An uploaded file's name, if it is a plain `*.pdf` name: no folders, no `..`, nothing a
/// file system or shell would read specially.
fn check_upload_name(name: &str) -> ApiResult<&str> {
    let plain = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && !name.contains(['/', '\\', ':'])
        && !name.contains("..")
        && !name.chars().any(char::is_control);
    if !plain {
        return Err(ApiError::bad_request(format!(
            "the file name {name:?} is not a plain file name (no folders or '..')"
        )));
    }
    if !name.to_ascii_lowercase().ends_with(".pdf") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("{name}: only PDF files (*.pdf) can be uploaded"),
        ));
    }
    Ok(name)
}

/// `POST /v1/documents`, multipart with one `file` field: saved under the uploads folder
/// and ingested by a `dossier ingest` child process. The reply is `ingest --json`'s report.
pub async fn upload(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    mut multipart: Multipart,
) -> ApiResult<Response> {
    let Some(uploads) = state.uploads.clone() else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "uploads are off: the server was started without --uploads",
        ));
    };
    let multipart_error = |e: axum::extract::multipart::MultipartError| {
        ApiError::new(e.status(), format!("reading the upload: {}", e.body_text()))
    };
    let mut saved: Option<(String, PathBuf)> = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = check_upload_name(field.file_name().unwrap_or(""))?.to_owned();
        let bytes = field.bytes().await.map_err(multipart_error)?;
        if !bytes
            .get(..1024.min(bytes.len()))
            .is_some_and(|head| head.windows(5).any(|w| w == b"%PDF-"))
        {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("{name} is not a PDF (no %PDF- header)"),
            ));
        }
        let path = uploads.join(&name);
        write_atomically(&path, &bytes)
            .await
            .map_err(ApiError::internal)?;
        saved = Some((name, path));
        break;
    }
    let Some((name, path)) = saved else {
        return Err(ApiError::bad_request(
            "no `file` field in the multipart body",
        ));
    };

    let _writing = state.writes.lock().await;
    let output = child(&state, &["ingest", "--json", "--wait"], &path).await?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    let file = &report["files"][0];
    let outcome = file["outcome"].as_str().unwrap_or("failed").to_owned();
    if let Some(audit) = &state.audit {
        audit.record(
            &client.ip().to_string(),
            serde_json::json!({
                "event": "upload", "file": name, "outcome": outcome,
                "doc_id": file["doc_id"], "error": file["error"],
            }),
        );
    }
    if outcome == "failed" || !output.status.success() {
        let _ = tokio::fs::remove_file(&path).await;
        let reason = file["error"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&output.stderr).trim().to_owned());
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{name}: {reason}"),
        ));
    }
    reopen_stores(&state).await?;
    let status = if outcome == "unchanged" {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(report)).into_response())
}

/// `DELETE /v1/documents/{id}`: `dossier rm` on that exact id; an uploaded file goes too.
pub async fn delete_document(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let doc = document(&state, &id).await?;
    let _writing = state.writes.lock().await;
    let output = child(&state, &["rm", "--json", "--wait"], Path::new(&doc.doc_id)).await?;
    if !output.status.success() {
        return Err(ApiError::internal(
            String::from_utf8_lossy(&output.stderr).trim(),
        ));
    }
    if let Some(uploads) = &state.uploads {
        for path in doc.paths.iter().map(Path::new) {
            if path.parent() == Some(uploads.as_path()) {
                let _ = tokio::fs::remove_file(path).await;
            }
        }
    }
    if let Some(audit) = &state.audit {
        audit.record(
            &client.ip().to_string(),
            serde_json::json!({"event": "delete", "doc_id": doc.doc_id, "file": doc.file_name()}),
        );
    }
    reopen_stores(&state).await?;
    Ok(Json(
        serde_json::from_slice(&output.stdout).unwrap_or_default(),
    ))
}

/// Runs this dossier binary on the same store and models, e.g. `ingest --json FILE`.
async fn child(
    state: &AppState,
    command: &[&str],
    target: &Path,
) -> ApiResult<std::process::Output> {
    // The running binary itself, even if a newer build has since replaced the file on disk.
    let exe = if cfg!(target_os = "linux") {
        PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe().map_err(ApiError::internal)?
    };
    let mut run = tokio::process::Command::new(exe);
    run.arg("--store")
        .arg(&state.settings.store)
        .arg("--models")
        .arg(&state.settings.models);
    if let Some(threads) = state.settings.threads {
        run.arg("--threads").arg(threads.to_string());
    }
    run.args(command)
        .arg("--")
        .arg(target)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    run.output().await.map_err(ApiError::internal)
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let partial = path.with_extension(format!("part-{}", std::process::id()));
    tokio::fs::write(&partial, bytes).await?;
    tokio::fs::rename(&partial, path).await
}

/// New store handles for the retrievers: a store created empty by this server has a chunks
/// table only after the first upload.
async fn reopen_stores(state: &Arc<AppState>) -> ApiResult<()> {
    let count = state.retrievers.len();
    let runtime = state.store_runtime.clone();
    let uri = state.settings.store.clone();
    let mut stores = tokio::task::spawn_blocking(move || {
        (0..count)
            .map(|_| runtime.block_on(dossier_store::Store::open(&uri, false)))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    state
        .retrievers
        .for_each(|retriever| {
            if let Some(store) = stores.pop() {
                retriever.store = store;
            }
        })
        .await;
    Ok(())
}

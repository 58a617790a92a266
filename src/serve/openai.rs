//! OpenAI's chat protocol, so that existing clients (the `openai` package, editors, curl
//! scripts) can use dossier as a model that answers from the documents. The last user
//! message is the question (a follow-up is searched with the previous one's terms, as in
//! `dossier chat`); the reply's content is the checked answer with its sources, and the
//! extra `citations` field carries them as data.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dossier_answer as answer;
use serde::Deserialize;

use super::api::{ask_slot, check_question, Answered, ApiError, Asking, Streamed};
use super::AppState;
use crate::report::{self, FinishReason};

/// The one model this server offers, whatever GGUF answers behind it.
const MODEL_ID: &str = "dossier";

pub async fn models(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "object": "list",
        "data": [{
            "id": MODEL_ID,
            "object": "model",
            "created": unix_now(),
            "owned_by": "dossier",
            "description": format!("answers only from the documents in the store, with citations (generation: {})", state.model_name),
        }],
    }))
}

#[derive(Deserialize)]
pub struct ChatRequest {
    messages: Vec<Message>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    max_tokens: Option<usize>,
    #[serde(default)]
    max_completion_tokens: Option<usize>,
    /// Accepted and ignored, like the other sampling settings clients send: answers are
    /// greedy so that they are reproducible.
    #[serde(default)]
    #[allow(dead_code)]
    model: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    /// A string, or a list of parts of which the text ones count.
    #[serde(default)]
    content: serde_json::Value,
}

impl Message {
    fn text(&self) -> String {
        match &self.content {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        }
    }
}

pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    body: Result<Json<ChatRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let users: Vec<String> = request
        .messages
        .iter()
        .filter(|m| m.role == "user")
        .map(Message::text)
        .collect();
    let Some(question) = users.last() else {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "no user message to answer",
        ));
    };
    let question = check_question(question)?;
    let previous = users.len().checked_sub(2).map(|i| users[i].as_str());
    let query = answer::standalone_query(&question, previous);
    let slot = ask_slot(&state)?;
    let asking = Asking {
        state: state.clone(),
        question: query,
        max_tokens: request.max_completion_tokens.or(request.max_tokens),
        client: client.ip().to_string(),
        endpoint: "/v1/chat/completions",
    };
    let id = format!("chatcmpl-{:x}", unix_nanos());
    let created = unix_now();
    if !request.stream {
        let answered = asking.run(slot, None).await?;
        let (content, finish) = final_content(&answered);
        return Ok(Json(serde_json::json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": MODEL_ID,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }],
            "usage": usage(&answered),
            "citations": report::json(&answered.report.citations()),
            "dossier": report::json(&answered.report),
        }))
        .into_response());
    }

    let chunk = move |delta: serde_json::Value, finish: Option<&str>| {
        serde_json::json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    };
    let first = chunk.clone()(
        serde_json::json!({"role": "assistant", "content": ""}),
        None,
    );
    let token_chunk = chunk.clone();
    let pieces = asking.stream(slot, move |piece| {
        token_chunk(serde_json::json!({ "content": piece }), None)
    });
    let events = futures::StreamExt::flat_map(pieces, move |item| {
        let events: Vec<serde_json::Value> = match item {
            Streamed::Token(json) => vec![json],
            Streamed::Done(Ok(answered)) => {
                // The stream showed checked sentences only; a revision or note and the
                // sources follow them, and the last chunk carries the citations as data.
                let (tail, finish) = streamed_tail(&answered);
                let mut last = chunk(serde_json::json!({}), Some(finish));
                last["citations"] = report::json(&answered.report.citations());
                last["dossier"] = report::json(&answered.report);
                let mut events = Vec::new();
                if !tail.is_empty() {
                    events.push(chunk(serde_json::json!({ "content": tail }), None));
                }
                events.push(last);
                events
            }
            Streamed::Done(Err(e)) => {
                vec![serde_json::json!({"error": {"message": e.message, "type": "server_error"}})]
            }
        };
        futures::stream::iter(events)
    });
    // OpenAI's streams open with the role, then the content.
    let events = futures::StreamExt::chain(futures::stream::once(async move { first }), events);
    let events = futures::StreamExt::map(events, |json| {
        Ok::<_, Infallible>(Event::default().data(json.to_string()))
    });
    let done = futures::stream::once(async { Ok(Event::default().data("[DONE]")) });
    Ok(Sse::new(futures::StreamExt::chain(events, done))
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The whole reply for a non-streamed completion: the checked answer with citation marks
/// and its sources, or the refusal.
fn final_content(answered: &Answered) -> (String, &'static str) {
    match &answered.answer {
        Some(response) if !response.refused => (
            format!("{}{}", response.cited_answer(), sources(answered)),
            finish_reason(response.finish()),
        ),
        _ => (refusal_text(answered), "stop"),
    }
}

/// What follows the streamed answer (checked sentences only): a revision when the whole
/// answer's check changed what was shown, a note on what was left out, then the sources; or
/// the refusal.
fn streamed_tail(answered: &Answered) -> (String, &'static str) {
    match &answered.answer {
        Some(response) if !response.refused => {
            let note = if response.revised {
                format!(
                    "\n\n(Revised after checking the whole answer:)\n{}",
                    response.cited_answer()
                )
            } else if !response.supported {
                "\n\n(The model's own answer is not backed by the sources; the answer above is their text.)".to_owned()
            } else if response.dropped() > 0 {
                format!(
                    "\n\n({} sentence(s) of the model's answer left out: the sources do not back them.)",
                    response.dropped()
                )
            } else {
                String::new()
            };
            (
                format!("{note}{}", sources(answered)),
                finish_reason(response.finish()),
            )
        }
        Some(response) if !response.shown.is_empty() => (
            format!(
                "\n\n(On checking the whole answer:) {}",
                refusal_text(answered)
            ),
            "stop",
        ),
        _ => (refusal_text(answered), "stop"),
    }
}

fn refusal_text(answered: &Answered) -> String {
    match answered.report.refusal_reason() {
        Some(reason) => format!("{} ({reason})", answer::REFUSAL),
        None => answer::REFUSAL.to_owned(),
    }
}

fn sources(answered: &Answered) -> String {
    let lines: Vec<String> = answered
        .report
        .citations()
        .iter()
        .map(|c| format!("[{}] {}, p. {} — \"{}\"", c.n, c.file, c.page, c.quote))
        .collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!("\n\nSources:\n{}", lines.join("\n"))
    }
}

/// OpenAI's finish reasons: an interrupted answer was stopped, as one at its end token.
fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "length",
        FinishReason::Stop | FinishReason::Interrupted => "stop",
    }
}

fn usage(answered: &Answered) -> serde_json::Value {
    let (prompt, completion) = answered
        .answer
        .as_ref()
        .map(|r| (r.stats.prompt_tokens, r.stats.generated_tokens))
        .unwrap_or((0, 0));
    serde_json::json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

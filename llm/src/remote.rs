//! Generation on an OpenAI-compatible server the user runs (llama.cpp's `llama-server`,
//! vLLM, …), for `--llm-url`. Retrieval, evidence selection and the answer check stay in
//! this process; only the prompt messages (system text, question and evidence sentences)
//! go to the server, and its streamed text comes back into the same check as the local
//! model's.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use futures::StreamExt;
use serde::Deserialize;
use tokio::runtime::Handle;

use super::{ChatMessage, GenerationParams, GenerationStats};

/// A chat-completions endpoint and the model name to ask it for.
pub struct RemoteLlm {
    client: reqwest::Client,
    endpoint: String,
    base: String,
    api_key: Option<String>,
    /// The served model's id (vLLM wants it in every request; llama.cpp ignores it).
    pub name: String,
    handle: Handle,
}

/// How long to wait for a connection; generation itself is not timed out (a long answer on
/// a busy server is slow, not broken).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl RemoteLlm {
    /// Connects to the server at `url` (`http://host:port`, with or without a trailing
    /// `/v1`) and asks it which model it serves. A server that cannot be reached is an error
    /// here, before any generation; one without `/v1/models` is asked for `model` "default".
    /// `api_key`, when given, is sent as a bearer token (vLLM's `--api-key`).
    pub fn connect(url: &str, api_key: Option<String>, handle: Handle) -> Result<Self> {
        let base = base_url(url)?;
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        let mut remote = Self {
            client,
            endpoint: format!("{base}/v1/chat/completions"),
            base,
            api_key,
            name: String::new(),
            handle,
        };
        remote.name = remote.handle.block_on(remote.served_model())?;
        Ok(remote)
    }

    /// The first model `GET /v1/models` lists, or "default" when the server has no such
    /// route (the chat endpoint is all that generation needs).
    async fn served_model(&self) -> Result<String> {
        let url = format!("{}/v1/models", self.base);
        let response = self
            .authorized(self.client.get(&url))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            bail!(
                "the LLM server at {} refused the request ({status}); set DOSSIER_LLM_API_KEY",
                self.base
            );
        }
        if !status.is_success() {
            return Ok("default".to_owned());
        }
        let models: ModelList = match response.json().await {
            Ok(models) => models,
            Err(_) => return Ok("default".to_owned()),
        };
        Ok(models
            .data
            .into_iter()
            .next()
            .map(|m| m.id)
            .unwrap_or_else(|| "default".to_owned()))
    }

    /// Sends `messages` with streaming on and calls `on_text` with each piece of the answer
    /// as it arrives; `on_text` returning false stops reading (the server sees the
    /// connection close and stops generating).
    pub fn chat(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerationParams,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(String, GenerationStats)> {
        let messages: Vec<serde_json::Value> = messages
            .iter()
            .map(|m| serde_json::json!({"role": m.role, "content": m.content}))
            .collect();
        let body = serde_json::json!({
            "model": self.name,
            "messages": messages,
            "stream": true,
            // Servers that support it end the stream with the token counts.
            "stream_options": {"include_usage": true},
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature.unwrap_or(0.0),
            "seed": params.seed,
        });
        self.handle.block_on(self.stream(body, on_text))
    }

    async fn stream(
        &self,
        body: serde_json::Value,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(String, GenerationStats)> {
        let started = Instant::now();
        let response = self
            .authorized(self.client.post(&self.endpoint))
            .json(&body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = response.status();
        if !status.is_success() {
            let detail = response.text().await.unwrap_or_default();
            bail!(
                "the LLM server at {} answered {status}: {}",
                self.base,
                excerpt(&detail, 200)
            );
        }
        let mut events = SseLines::default();
        let mut bytes = response.bytes_stream();
        let mut text = String::new();
        let mut first_piece: Option<Instant> = None;
        let mut pieces = 0usize;
        let mut usage: Option<Usage> = None;
        let mut finish_reason = crate::FinishReason::Length;
        'read: while let Some(chunk) = bytes.next().await {
            let chunk = chunk.with_context(|| format!("reading the answer from {}", self.base))?;
            for data in events.push(&chunk) {
                if data == "[DONE]" {
                    break 'read;
                }
                let event: StreamChunk = serde_json::from_str(&data).with_context(|| {
                    format!(
                        "the LLM server at {} sent an event that is not a chat-completion \
                         chunk: {}",
                        self.base,
                        excerpt(&data, 200)
                    )
                })?;
                if let Some(u) = event.usage {
                    usage = Some(u);
                }
                let Some(choice) = event.choices.into_iter().next() else {
                    continue;
                };
                if let Some(reason) = choice.finish_reason.as_deref() {
                    finish_reason = if reason == "length" {
                        crate::FinishReason::Length
                    } else {
                        crate::FinishReason::Stop
                    };
                }
                let Some(piece) = choice.delta.and_then(|d| d.content) else {
                    continue;
                };
                if piece.is_empty() {
                    continue;
                }
                first_piece.get_or_insert_with(Instant::now);
                pieces += 1;
                text.push_str(&piece);
                if !on_text(&piece) {
                    finish_reason = crate::FinishReason::Interrupted;
                    break 'read;
                }
            }
        }
        let first = first_piece.unwrap_or_else(Instant::now);
        Ok((
            text,
            GenerationStats {
                // The server's counts when it sends them; else pieces received, which servers
                // send one token at a time.
                prompt_tokens: usage.as_ref().map_or(0, |u| u.prompt_tokens),
                // Whatever the server caches, it does not say.
                reused_prompt_tokens: 0,
                generated_tokens: usage.as_ref().map_or(pieces, |u| u.completion_tokens),
                prompt_seconds: first.duration_since(started).as_secs_f64(),
                generation_seconds: first.elapsed().as_secs_f64(),
                finish_reason,
            },
        ))
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// One line that says which server could not be reached and why (the innermost cause:
    /// "Connection refused", a DNS failure, a timeout).
    fn unreachable(&self, error: reqwest::Error) -> anyhow::Error {
        let mut cause: &dyn std::error::Error = &error;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        let why = if error.is_timeout() {
            "timed out".to_owned()
        } else {
            cause.to_string()
        };
        anyhow!(
            "cannot reach the LLM server at {} ({why}); is it running? (--llm-url / DOSSIER_LLM_URL)",
            self.base
        )
    }
}

/// `http://host:port`, `http://host:port/`, `http://host:port/v1` → `http://host:port`.
fn base_url(url: &str) -> Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let base = trimmed
        .strip_suffix("/v1/chat/completions")
        .or_else(|| trimmed.strip_suffix("/v1"))
        .unwrap_or(trimmed);
    let parsed = reqwest::Url::parse(base)
        .with_context(|| format!("--llm-url {url:?} is not a URL (e.g. http://127.0.0.1:8080)"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!("--llm-url {url:?}: only http:// and https:// servers are supported");
    }
    Ok(base.to_owned())
}

/// What a server sent, on one line of at most `max` characters, for an error message: a
/// whole HTML error page or a long event would drown the reason.
fn excerpt(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().nth(max).is_none() {
        return flat;
    }
    let end = flat
        .char_indices()
        .nth(max.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    format!("{}…", &flat[..end])
}

/// Splits a Server-Sent Events byte stream into the payloads of its `data:` lines, whatever
/// the network's chunk boundaries (a line, or a UTF-8 character, may span two chunks).
#[derive(Default)]
struct SseLines {
    pending: Vec<u8>,
}

impl SseLines {
    fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut data = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            // Comments (": keep-alive"), event names and blank separators carry no text.
            if let Some(payload) = line.strip_prefix("data:") {
                data.push(payload.trim_start().to_owned());
            }
        }
        data
    }
}

#[derive(Deserialize)]
struct ModelList {
    #[serde(default)]
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
}

#[derive(Deserialize)]
struct StreamChunk {
    #[serde(default)]
    choices: Vec<StreamChoice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct StreamChoice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: usize,
    #[serde(default)]
    completion_tokens: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_url_drops_a_trailing_v1_or_endpoint() {
        for url in [
            "http://gpu:8080",
            "http://gpu:8080/",
            "http://gpu:8080/v1",
            "http://gpu:8080/v1/chat/completions",
        ] {
            assert_eq!(base_url(url).unwrap(), "http://gpu:8080", "{url}");
        }
        assert!(base_url("gpu:8080").is_err());
        assert!(base_url("ftp://gpu").is_err());
    }

    #[test]
    fn sse_payloads_survive_chunk_boundaries_inside_lines_and_characters() {
        let stream = "data: {\"a\":\"Ä\"}\r\n\n: keep-alive\n\ndata: [DONE]\n\n".as_bytes();
        // Cut inside the two-byte "Ä" and inside "data:".
        let cut_a = stream.iter().position(|&b| b == 0xC3).unwrap() + 1;
        let cut_b = cut_a + 20;
        let mut lines = SseLines::default();
        let mut got = lines.push(&stream[..cut_a]);
        got.extend(lines.push(&stream[cut_a..cut_b]));
        got.extend(lines.push(&stream[cut_b..]));
        assert_eq!(got, vec!["{\"a\":\"Ä\"}".to_owned(), "[DONE]".to_owned()]);
    }
}

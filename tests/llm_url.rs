//! `ask --llm-url`: generation on an OpenAI-compatible server the user runs, retrieval and
//! the answer check here. A small server on a loopback port stands in for the user's
//! llama.cpp or vLLM: it streams a fixed answer as Server-Sent Events and records what it was
//! sent. The real binary, models and sample store do the rest.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::*;

const QUESTION: &str =
    "If we simply want out of the Corvane contract without any breach, how much advance notice do we have to give?";
/// What the stand-in server answers, streamed in pieces: the sample's own sentence.
const ANSWER: &str = "Either Party may terminate this Agreement for convenience by giving the other Party at least 120 days' written notice.";

/// A draft that opens with a sentence the sources do not back (an invented penalty), then
/// the sample's own sentence: no surface may show the first.
const UNBACKED_FIRST: &str = "The customer must also pay an exit penalty of 900 dollars. Either Party may terminate this Agreement for convenience by giving the other Party at least 120 days' written notice.";

/// The stand-in for the user's server; `requests` collects the chat requests' JSON bodies.
struct ChatServer {
    url: String,
    requests: Arc<Mutex<Vec<serde_json::Value>>>,
}

fn start_chat_server() -> ChatServer {
    start_chat_server_saying(ANSWER)
}

/// A stand-in server that streams `answer` to every chat request.
fn start_chat_server_saying(answer: &'static str) -> ChatServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let _ = serve(stream, &seen, answer);
            });
        }
    });
    ChatServer { url, requests }
}

fn serve(
    stream: TcpStream,
    seen: &Mutex<Vec<serde_json::Value>>,
    answer: &str,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut out = stream;
    if request_line.starts_with("GET /v1/models") {
        let json = r#"{"object":"list","data":[{"id":"stand-in-model","object":"model"}]}"#;
        write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        )?;
        return Ok(());
    }
    if !request_line.starts_with("POST /v1/chat/completions") {
        write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        return Ok(());
    }
    seen.lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null));
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
    )?;
    // A few words per event, as servers stream tokens; a keep-alive comment in between.
    let words: Vec<&str> = answer.split_inclusive(' ').collect();
    for (i, piece) in words.chunks(3).enumerate() {
        let chunk = serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "stand-in-model",
            "choices": [{"index": 0, "delta": {"content": piece.concat()}, "finish_reason": null}],
        });
        write!(out, "data: {chunk}\n\n")?;
        if i == 1 {
            write!(out, ": keep-alive\n\n")?;
        }
        out.flush()?;
    }
    let done = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 321, "completion_tokens": 27, "total_tokens": 348},
    });
    write!(out, "data: {done}\n\ndata: [DONE]\n\n")?;
    out.flush()
}

#[test]
fn ask_with_llm_url_streams_the_servers_answer_through_the_check_with_citations() {
    let server = start_chat_server();
    let store = sample_store();
    let output = ok(dossier(store).args(["ask", "--llm-url", &server.url, QUESTION]));
    let text = stdout(&output);
    assert!(
        text.contains(ANSWER),
        "the streamed answer is shown:\n{text}"
    );
    assert!(text.contains("Sources:"), "{text}");
    assert!(
        text.contains("service-agreement.pdf, p. 4") && text.contains("120 days"),
        "a citation with file, page and quote:\n{text}"
    );

    // What went to the server: the evidence prompt, nothing more, asked for the served model.
    let requests = server.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request["model"], "stand-in-model");
    assert_eq!(request["stream"], true);
    let messages = request["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(messages.last().unwrap()["role"], "user");
    let prompt = messages.last().unwrap()["content"].as_str().unwrap();
    assert!(prompt.contains(QUESTION), "{prompt}");
    assert!(
        prompt.contains("120 days"),
        "the evidence is in the prompt: {prompt}"
    );
}

#[test]
fn llm_url_from_the_environment_gives_the_same_checked_json() {
    let server = start_chat_server();
    let store = sample_store();
    let output = ok(dossier(store)
        .env("DOSSIER_LLM_URL", format!("{}/v1", server.url))
        .args(["ask", "--json", QUESTION]));
    let result = json(&output);
    assert_eq!(result["refused"], false, "{result}");
    assert_eq!(result["supported"], true, "{result}");
    assert_eq!(result["model"], "stand-in-model");
    assert_eq!(result["model_answer"], ANSWER);
    assert_eq!(result["usage"]["generated_tokens"], 27);
    assert_eq!(result["usage"]["finish_reason"], "stop");
    let citation = &result["citations"][0];
    assert_eq!(citation["file"], "service-agreement.pdf");
    assert_eq!(citation["page"], 4);
    assert!(citation["quote"].as_str().unwrap().contains("120 days"));
}

#[test]
fn an_llm_url_nobody_listens_on_is_one_clear_error_line() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let store = sample_store();
    let output = run(dossier(store).args(["ask", "--llm-url", &url, QUESTION]));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr:\n{err}");
    let line = lines[0].to_lowercase();
    assert!(line.starts_with("error:"), "{err}");
    assert!(line.contains(&url) && line.contains("refused"), "{err}");
    assert!(stdout(&output).is_empty(), "no answer: {}", stdout(&output));
}

#[test]
fn serve_with_llm_url_answers_over_http_from_the_remote_model() {
    let chat = start_chat_server();
    let server = start_server(sample_store(), &["--no-audit", "--llm-url", &chat.url]);
    let base = server.base.clone();
    let answer: serde_json::Value = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            reqwest::Client::new()
                .post(format!("{base}/v1/ask"))
                .json(&serde_json::json!({ "question": QUESTION }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
    drop(server);
    assert_eq!(answer["refused"], false, "{answer:#}");
    assert_eq!(answer["model"], "stand-in-model", "{answer:#}");
    assert_eq!(answer["citations"][0]["file"], "service-agreement.pdf");
    assert_eq!(answer["citations"][0]["page"], 4, "{answer:#}");
    assert!(
        answer["answer"].as_str().unwrap().contains("120 days"),
        "{answer:#}"
    );
    assert_eq!(
        chat.requests.lock().unwrap().len(),
        1,
        "generation went to the remote server"
    );
}

#[test]
fn ask_and_chat_never_show_a_sentence_the_sources_do_not_back() {
    let server = start_chat_server_saying(UNBACKED_FIRST);
    let store = sample_store();
    let output = ok(dossier(store).args(["ask", "--llm-url", &server.url, QUESTION]));
    let text = stdout(&output);
    assert!(
        !text.contains("900"),
        "the unbacked sentence was shown:\n{text}"
    );
    assert!(
        text.contains("120 days' written notice. [1]"),
        "the backed one is, cited:\n{text}"
    );
    assert!(text.contains("-v shows them"), "{text}");

    // -v shows what was left out, marked as such, after the answer.
    let output = ok(dossier(store).args(["-v", "ask", "--llm-url", &server.url, QUESTION]));
    let text = stdout(&output);
    let marked = text
        .find("✗ The customer must also pay an exit penalty of 900 dollars.")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        marked > text.find("120 days' written notice. [1]").unwrap(),
        "{text}"
    );

    let mut chat = dossier(store);
    chat.args(["chat", "--llm-url", &server.url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = chat.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{QUESTION}\n").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        !text.contains("900"),
        "chat showed the unbacked sentence:\n{text}"
    );
    assert!(text.contains("120 days' written notice. [1]"), "{text}");
}

#[test]
fn serve_streams_never_carry_a_sentence_the_sources_do_not_back() {
    let chat = start_chat_server_saying(UNBACKED_FIRST);
    let server = start_server(sample_store(), &["--no-audit", "--llm-url", &chat.url]);
    let base = server.base.clone();
    let (ask_body, completion_body) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let client = reqwest::Client::new();
            let ask = client
                .post(format!("{base}/v1/ask"))
                .json(&serde_json::json!({ "question": QUESTION, "stream": true }))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let completion = client
                .post(format!("{base}/v1/chat/completions"))
                .json(&serde_json::json!({
                    "stream": true,
                    "messages": [{"role": "user", "content": QUESTION}],
                }))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            (ask, completion)
        });
    drop(server);

    // /v1/ask (what the web page shows): token events hold checked text only.
    let events = sse_events(&ask_body);
    let tokens: String = events
        .iter()
        .filter(|(e, _)| e == "token")
        .map(|(_, d)| {
            serde_json::from_str::<serde_json::Value>(d).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(!tokens.contains("900"), "{ask_body}");
    assert!(
        tokens.starts_with("Either Party may terminate"),
        "{tokens:?}"
    );
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "answer", "{ask_body}");
    let answer: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(answer["supported"], true, "{answer:#}");
    assert_eq!(answer["sentences"][0]["supported"], false, "{answer:#}");

    // /v1/chat/completions: no delta carries it either.
    let events = sse_events(&completion_body);
    let content: String = events
        .iter()
        .filter(|(_, d)| d != "[DONE]")
        .filter_map(|(_, d)| {
            let chunk: serde_json::Value = serde_json::from_str(d).unwrap();
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(!content.contains("900"), "{completion_body}");
    assert!(
        content.starts_with("Either Party may terminate"),
        "{content:?}"
    );
    assert!(content.contains("Sources:"), "{content}");
    assert_eq!(chat.requests.lock().unwrap().len(), 2);
}

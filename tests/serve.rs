//! `dossier serve` end to end: the real binary on a loopback port, the real models and a
//! real store; every endpoint, the OpenAI-compatible one, auth, limits and bad input.

mod common;

use common::*;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const NOTICE_QUESTION: &str =
    "How much advance notice must the customer give to terminate the Corvane agreement for convenience?";

/// A store of its own with the three samples, for a server that writes to it.
/// Whether an answer cites the page that holds the notice period.
fn cites_notice_page(answer: &Value) -> bool {
    citation_on(&answer["citations"], "service-agreement.pdf", 4).is_some()
}

fn fresh_sample_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(dossier(dir.path()).arg("ingest").args(sample_pdfs()));
    dir
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn post_json(client: &Client, url: &str, body: Value) -> (StatusCode, Value) {
    let response = client.post(url).json(&body).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get_json(client: &Client, url: &str) -> (StatusCode, Value) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A multipart/form-data body with one `file` field, written by hand so the test needs no
/// client feature the product does not use.
fn multipart(name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "dossier-test-boundary-7d1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(client: &Client, base: &str, name: &str, bytes: &[u8]) -> (StatusCode, Value) {
    let (content_type, body) = multipart(name, bytes);
    let response = client
        .post(format!("{base}/v1/documents"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// POSTs a JSON body and returns the whole streamed response body (Server-Sent Events).
async fn post_stream(client: &Client, url: &str, body: Value) -> String {
    let response = client.post(url).json(&body).send().await.unwrap();
    response.text().await.unwrap()
}

#[test]
fn api_search_ask_documents_and_bad_input() {
    let store = fresh_sample_store();
    let server = start_server(store.path(), &[]);
    let base = server.base.clone();
    runtime().block_on(async {
        let client = Client::new();

        let (status, health) = get_json(&client, &format!("{base}/healthz")).await;
        assert_eq!(status, StatusCode::OK, "{health}");
        assert_eq!(health["status"], "ok");
        assert_eq!(health["documents"], 3, "{health}");

        // Search: the CLI's `search --json` shape.
        let (status, found) = post_json(
            &client,
            &format!("{base}/v1/search"),
            json!({"query": NOTICE_QUESTION, "k": 3}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{found}");
        assert_eq!(
            found["hits"][0]["file"], "service-agreement.pdf",
            "{found:#}"
        );
        assert_eq!(found["hits"][0]["page"], 4, "{found:#}");
        assert_eq!(found["hits"].as_array().unwrap().len(), 3);

        // Bad bodies are 4xx with a JSON error, never a 500.
        let response = client
            .post(format!("{base}/v1/search"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let error: Value = response.json().await.unwrap();
        assert!(error["error"]["message"].as_str().is_some(), "{error}");
        let (status, _) = post_json(
            &client,
            &format!("{base}/v1/search"),
            json!({"query": "  "}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = post_json(
            &client,
            &format!("{base}/v1/search"),
            json!({"query": "x", "mode": "psychic"}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = get_json(&client, &format!("{base}/v1/nothing-here")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Ask, whole: the CLI's `ask --json` shape, cited to the right page.
        let (status, answer) = post_json(
            &client,
            &format!("{base}/v1/ask"),
            json!({"question": NOTICE_QUESTION}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["refused"], false, "{answer:#}");
        assert!(cites_notice_page(&answer), "{answer:#}");
        assert!(!answer["citations"][0]["quote"].as_str().unwrap().is_empty());

        // Ask, streamed: tokens, then the checked answer with its citations.
        let body = post_stream(
            &client,
            &format!("{base}/v1/ask"),
            json!({"question": NOTICE_QUESTION, "stream": true}),
        )
        .await;
        let events = sse_events(&body);
        assert!(events.iter().any(|(e, _)| e == "token"), "{body}");
        let (last, data) = events.last().unwrap();
        assert_eq!(last, "answer", "{body}");
        let streamed: Value = serde_json::from_str(data).unwrap();
        assert!(cites_notice_page(&streamed), "{streamed:#}");
        let token_text: String = events
            .iter()
            .filter(|(e, _)| e == "token")
            .map(|(_, d)| {
                serde_json::from_str::<Value>(d).unwrap()["text"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        // The stream carries checked sentences only: every supported one, no other.
        for sentence in streamed["sentences"].as_array().unwrap() {
            let text = sentence["text"].as_str().unwrap();
            assert_eq!(
                token_text.contains(text),
                sentence["supported"] == true,
                "{text:?} in the stream {token_text:?}"
            );
        }

        // A question the documents cannot answer is refused, with the closest passages.
        let (status, refused) = post_json(
            &client,
            &format!("{base}/v1/ask"),
            json!({"question": "What is the boiling point of liquid nitrogen in kelvin?"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(refused["refused"], true, "{refused:#}");
        assert!(refused["citations"].as_array().unwrap().is_empty());

        // OpenAI-compatible: models, a completion with citations, and its stream.
        let (status, models) = get_json(&client, &format!("{base}/v1/models")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(models["data"][0]["id"], "dossier");
        let (status, completion) = post_json(
            &client,
            &format!("{base}/v1/chat/completions"),
            json!({"model": "dossier", "messages": [
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": NOTICE_QUESTION},
            ]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{completion}");
        assert_eq!(completion["object"], "chat.completion");
        let content = completion["choices"][0]["message"]["content"]
            .as_str()
            .unwrap();
        assert!(content.contains("service-agreement.pdf, p. 4"), "{content}");
        assert!(cites_notice_page(&completion), "{completion:#}");
        assert!(completion["usage"]["completion_tokens"].as_u64().unwrap() > 0);

        let body = post_stream(
            &client,
            &format!("{base}/v1/chat/completions"),
            json!({"stream": true, "messages": [{"role": "user", "content": NOTICE_QUESTION}]}),
        )
        .await;
        let events = sse_events(&body);
        assert_eq!(events.last().unwrap().1, "[DONE]", "{body}");
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|(_, d)| serde_json::from_str(d).unwrap())
            .collect();
        assert!(chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk"));
        let last = chunks.last().unwrap();
        assert_eq!(last["choices"][0]["finish_reason"], "stop", "{last}");
        assert_eq!(
            last["citations"][0]["file"], "service-agreement.pdf",
            "{last}"
        );
        let streamed: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert!(streamed.contains("Sources:"), "{streamed}");

        // Documents: list, upload, fetch the PDF, delete.
        let (status, listed) = get_json(&client, &format!("{base}/v1/documents")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(listed.as_array().unwrap().len(), 3, "{listed:#}");
        let pdf = std::fs::read(fixtures().join("two-column.pdf")).unwrap();
        let (status, report) = upload(&client, &base, "two-column.pdf", &pdf).await;
        assert_eq!(status, StatusCode::CREATED, "{report:#}");
        assert_eq!(report["files"][0]["outcome"], "added", "{report:#}");
        let id = report["files"][0]["doc_id"].as_str().unwrap().to_owned();
        let (_, listed) = get_json(&client, &format!("{base}/v1/documents")).await;
        assert_eq!(listed.as_array().unwrap().len(), 4, "{listed:#}");
        let uploaded = server.store.join("uploads").join("two-column.pdf");
        assert!(uploaded.is_file(), "kept in the uploads folder");

        let response = client
            .get(format!("{base}/v1/documents/{id}/file"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/pdf");
        assert_eq!(response.bytes().await.unwrap().as_ref(), pdf.as_slice());

        // The uploaded document is searchable at once.
        let (_, found) = post_json(
            &client,
            &format!("{base}/v1/search"),
            json!({"query": "the left column continues", "k": 5}),
        )
        .await;
        assert!(
            found["hits"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["file"] == "two-column.pdf"),
            "{found:#}"
        );

        let response = client
            .delete(format!("{base}/v1/documents/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let (_, listed) = get_json(&client, &format!("{base}/v1/documents")).await;
        assert_eq!(listed.as_array().unwrap().len(), 3);
        assert!(
            !uploaded.exists(),
            "an uploaded file goes with its document"
        );

        // Path traversal, in an upload's name and in a document id: 400, nothing touched.
        let (status, error) = upload(&client, &base, "../../escaped.pdf", &pdf).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert!(!server.store.join("escaped.pdf").exists());
        assert!(!server.store.parent().unwrap().join("escaped.pdf").exists());
        for url in [
            format!("{base}/v1/documents/..%2F..%2F..%2Fetc%2Fpasswd/file"),
            format!("{base}/v1/documents/%2Fetc%2Fpasswd/file"),
        ] {
            let status = client.get(&url).send().await.unwrap().status();
            assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
        }
        let status = client
            .delete(format!("{base}/v1/documents/..%2Fmeta"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = get_json(
            &client,
            &format!("{base}/v1/documents/0123456789abcdef/file"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Not a PDF, whatever its name says: refused before it reaches the parser.
        let (status, error) = upload(&client, &base, "notes.pdf", b"#!/bin/sh\necho hi\n").await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{error}");
        let (status, _) = upload(&client, &base, "notes.txt", b"%PDF-1.4\n").await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        // A PDF that does not parse: 422 naming the file and the reason.
        let (status, error) = upload(
            &client,
            &base,
            "broken.pdf",
            b"%PDF-1.4\nthis is not a pdf body\n",
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("broken.pdf: "),
            "{error}"
        );
        let (_, listed) = get_json(&client, &format!("{base}/v1/documents")).await;
        assert_eq!(
            listed.as_array().unwrap().len(),
            3,
            "the store is unchanged"
        );
    });

    // The audit log holds every question, what was cited, and the upload and deletion.
    let audit = std::fs::read_to_string(server.store.join("audit.jsonl")).unwrap();
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let asks: Vec<&Value> = lines.iter().filter(|l| l["event"] == "ask").collect();
    assert_eq!(asks.len(), 5, "{audit}");
    assert!(asks
        .iter()
        .all(|l| l["time"].is_string() && l["client"] == "127.0.0.1"));
    assert_eq!(asks[0]["question"], NOTICE_QUESTION);
    assert!(
        citation_on(&asks[0]["cited"], "service-agreement.pdf", 4).is_some(),
        "{audit}"
    );
    assert!(lines
        .iter()
        .any(|l| l["event"] == "upload" && l["outcome"] == "added"));
    assert!(lines.iter().any(|l| l["event"] == "delete"));
}

#[test]
fn token_size_and_rate_limits() {
    let store = sample_store();
    let audit = tempfile::tempdir().unwrap();
    let audit_log = audit.path().join("audit.jsonl");
    let uploads = tempfile::tempdir().unwrap();
    let token = "correct-horse-battery-staple-42";
    let server = start_server(
        store,
        &[
            "--token",
            token,
            "--max-upload-mb",
            "1",
            "--rate-limit",
            "40",
            "--audit-log",
            audit_log.to_str().unwrap(),
            "--uploads",
            uploads.path().to_str().unwrap(),
        ],
    );
    let base = server.base.clone();
    runtime().block_on(async {
        let client = Client::new();
        let response = client
            .get(format!("{base}/v1/documents"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        for wrong in [
            "Bearer nope",
            "Bearer correct-horse-battery-staple-4",
            "correct-horse-battery-staple-42",
        ] {
            let status = client
                .get(format!("{base}/healthz"))
                .header("authorization", wrong)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong}");
        }
        let bearer = format!("Bearer {token}");
        let status = client
            .get(format!("{base}/v1/documents"))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::OK);
        // The page itself holds no data and asks for the token; the API it calls needs it.
        let page = client.get(format!("{base}/")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));

        // An upload over --max-upload-mb: 413, nothing written.
        let mut big = b"%PDF-1.4\n".to_vec();
        big.resize(1_200_000, b' ');
        let (content_type, body) = multipart("big.pdf", &big);
        let status = client
            .post(format!("{base}/v1/documents"))
            .header("authorization", &bearer)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(std::fs::read_dir(uploads.path()).unwrap().count(), 0);
        // An oversized JSON body too.
        let question = "x".repeat(100_000);
        let status = client
            .post(format!("{base}/v1/search"))
            .header("authorization", &bearer)
            .json(&json!({"query": question}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

        // Past 40 requests a minute from one address: 429 with Retry-After.
        let mut limited = None;
        for _ in 0..60 {
            let response = client
                .get(format!("{base}/v1/models"))
                .header("authorization", &bearer)
                .send()
                .await
                .unwrap();
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                limited = Some(response);
                break;
            }
        }
        let limited = limited.expect("the rate limit answers 429");
        let wait: u64 = limited.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
    });
}

#[test]
fn serving_beyond_loopback_needs_a_token() {
    let store = sample_store();
    let output = run(dossier(store).args(["serve", "--addr", "0.0.0.0:0"]));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("--token"), "{err}");
    let output = run(dossier(store).args(["serve", "--addr", "0.0.0.0:0", "--token", "short"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("shorter than 16"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let store = sample_store();
    let server = start_server(store, &["--max-queue", "1", "--no-audit"]);
    let base = server.base.clone();
    runtime().block_on(async {
        let client = Client::new();
        let asks = (0..3).map(|_| {
            let client = client.clone();
            let url = format!("{base}/v1/ask");
            async move {
                let response = client
                    .post(url)
                    .json(&json!({"question": NOTICE_QUESTION}))
                    .send()
                    .await
                    .unwrap();
                let retry = response
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                (response.status(), retry)
            }
        });
        let results = futures::future::join_all(asks).await;
        let answered = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
        let busy: Vec<_> = results
            .iter()
            .filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
            .collect();
        assert!(answered >= 1, "{results:?}");
        assert!(!busy.is_empty(), "one slot for three askers: {results:?}");
        assert!(busy.iter().all(|(_, retry)| retry.is_some()), "{results:?}");
        // Searches do not wait for the model.
        let (status, _) = post_json(
            &client,
            &format!("{base}/v1/search"),
            json!({"query": "hotel"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    });
}

//! A store in an S3-compatible object store: moto's server (installed into a venv by
//! scripts/setup-moto.sh, which `make test` runs) on a loopback port stands in for the bucket
//! a team would share. The real binary ingests into `s3://bucket/prefix` with credentials and
//! endpoint from the usual AWS environment variables, searches it, and two ingest processes
//! write to one table at once with no lock between them.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const BUCKET: &str = "dossier-test";

/// moto's server, killed when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server() -> Option<PathBuf> {
    let venv = std::env::var_os("DOSSIER_MOTO_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/dossier-moto"))
        })?;
    let server = venv.join("bin").join("moto_server");
    server.is_file().then_some(server)
}

/// Starts moto on a free loopback port and creates the test bucket; `None` (with a loud
/// message, and a failure under CI) when moto is not installed.
fn start_moto() -> Option<Moto> {
    let Some(server) = moto_server() else {
        let message = "\n\n*** tests/object_store.rs SKIPPED: moto_server not found; run \
                       scripts/setup-moto.sh (make test does) ***\n";
        eprintln!("{message}");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "moto is required under CI: {message}"
        );
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(status) = http(port, "PUT", &format!("/{BUCKET}")) {
            assert!(
                status.starts_with("HTTP/1.1 200"),
                "creating the bucket: {status}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "moto did not answer within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    Some(moto)
}

/// One plain HTTP request; returns the status line.
fn http(port: u16, method: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response.lines().next().unwrap_or_default().to_owned())
}

/// `dossier` against `s3://BUCKET/prefix` on moto, with nothing of the caller's AWS setup.
fn dossier_s3(moto: &Moto, prefix: &str) -> Command {
    let uri = format!("s3://{BUCKET}/{prefix}");
    let mut command = dossier(std::path::Path::new(&uri));
    for var in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ] {
        command.env_remove(var);
    }
    command
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", moto.port),
        )
        .env("AWS_ALLOW_HTTP", "true");
    command
}

#[test]
fn ingest_into_an_object_store_then_search_finds_the_page() {
    let Some(moto) = start_moto() else { return };
    let output = ok(dossier_s3(&moto, "store")
        .args(["ingest", "--json"])
        .args(sample_pdfs()));
    let report = json(&output);
    assert_eq!(report["summary"]["failed"].as_u64(), Some(0), "{report}");

    let listed = json(&ok(dossier_s3(&moto, "store").args(["ls", "--json"])));
    assert_eq!(listed.as_array().map(Vec::len), Some(sample_pdfs().len()));

    let item = qa_items()
        .into_iter()
        .find(|q| q.id == "sa-termination-notice")
        .expect("qa item");
    let result = json(&ok(dossier_s3(&moto, "store").args([
        "search",
        "-k",
        "3",
        "--json",
        &item.question,
    ])));
    let best = &result["hits"][0];
    assert_eq!(best["file"].as_str(), item.file.as_deref(), "{result}");
    assert_eq!(best["page"].as_u64(), item.page, "{result}");
    assert!(
        best["text"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .contains("120 days"),
        "{result}"
    );

    // Unchanged files are recognised in the object store too: nothing is re-embedded.
    let again = json(&ok(dossier_s3(&moto, "store")
        .args(["ingest", "--json"])
        .args(sample_pdfs())));
    assert_eq!(
        again["summary"]["unchanged"].as_u64(),
        Some(sample_pdfs().len() as u64),
        "{again}"
    );

    let check = ok(dossier_s3(&moto, "store").args(["check", "--json"]));
    assert_eq!(json(&check)["consistent"], true);
}

#[test]
fn two_ingests_write_to_one_object_store_table_at_once_and_both_land() {
    let Some(moto) = start_moto() else { return };
    let corpus = tempfile::tempdir().unwrap();
    let files = variants(corpus.path(), 4);
    let (a, b): (Vec<_>, Vec<_>) = files.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let spawn = |part: Vec<(usize, &PathBuf)>| {
        dossier_s3(&moto, "shared")
            // Small commits, so that the two processes' commits interleave.
            .args(["ingest", "--json", "--commit-chunks", "4"])
            .args(part.into_iter().map(|(_, f)| f))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dossier ingest starts")
    };
    // Both start on an empty prefix: they also race to create the tables.
    let first = spawn(a);
    let second = spawn(b);
    for child in [first, second] {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "a concurrent ingest failed with {:?}\nstdout:\n{}\nstderr:\n{}",
            output.status,
            stdout(&output),
            stderr(&output)
        );
        assert_eq!(json(&output)["summary"]["failed"].as_u64(), Some(0));
    }

    let listed = json(&ok(dossier_s3(&moto, "shared").args(["ls", "--json"])));
    let mut names: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    expected.sort();
    assert_eq!(
        names, expected,
        "every file of both processes is listed once"
    );

    let check = json(&ok(dossier_s3(&moto, "shared").args(["check", "--json"])));
    assert_eq!(check["consistent"], true, "{check}");
    assert_eq!(check["documents"].as_u64(), Some(files.len() as u64));
}

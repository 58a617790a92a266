//! The privacy promise, tested: ingest and ask work inside a network namespace that has no
//! interface but a downed loopback, so any attempt to reach the network would fail.

mod common;

use std::process::Command;

use common::*;

fn unshare_available() -> bool {
    Command::new("unshare")
        .args(["-n", "--", "true"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn ingest_and_ask_succeed_with_no_network_at_all() {
    assert!(
        unshare_available(),
        "`unshare -n` is needed for the offline test (run as root, as CI does, or with CAP_SYS_ADMIN)"
    );
    let store = tempfile::tempdir().unwrap();
    let binary = env!("CARGO_BIN_EXE_dossier");
    let in_netns = |args: &[&str]| {
        let mut command = Command::new("unshare");
        command
            .args(["-n", "--", binary])
            .args(args)
            .env("DOSSIER_MODELS", models())
            .env("DOSSIER_STORE", store.path());
        command
    };
    // Proof that the namespace really has no network: its only interface is a loopback.
    let probe = Command::new("unshare")
        .args(["-n", "--", "cat", "/proc/net/dev"])
        .output()
        .unwrap();
    let interfaces: Vec<String> = String::from_utf8_lossy(&probe.stdout)
        .lines()
        .skip(2)
        .filter_map(|line| line.split(':').next().map(|name| name.trim().to_owned()))
        .collect();
    assert_eq!(
        interfaces,
        vec!["lo".to_owned()],
        "the namespace has other interfaces"
    );

    let samples = sample_pdfs();
    let mut args = vec!["ingest"];
    args.extend(samples.iter().map(|p| p.to_str().unwrap()));
    let ingest = ok(&mut in_netns(&args));
    assert!(stderr(&ingest).contains("3 added"), "{}", stderr(&ingest));
    let ask = ok(&mut in_netns(&[
        "ask",
        "--json",
        "What weight limit applies to her right arm after the radial procedure?",
    ]));
    let result = json(&ask);
    // The whole path ran offline: retrieval found the page, and the local model generated.
    // Whether the 135M model's words then pass the answer check is not this test's
    // subject (tests/answers.rs holds answers to their evidence).
    assert!(
        result["usage"]["generated_tokens"].as_u64().unwrap_or(0) > 0,
        "{result:#}"
    );
    // A refusal shows the closest passages (the answer's page first); an answer cites.
    let source = if result["refused"] == true {
        assert_eq!(result["closest"][0]["page"], 3, "{result:#}");
        &result["closest"][0]
    } else {
        &result["citations"][0]
    };
    assert_eq!(source["file"], "discharge-summary.pdf", "{result:#}");
}

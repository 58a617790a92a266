//! `dossier eval QA.jsonl`: how often retrieval puts the right page in front of the model,
//! and (with --answers) how often the answer holds the gold string or rightly refuses.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use dossier_answer::RefusalPolicy;
use dossier_llm::{self as llm, Llm};
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

use dossier::pipeline::{AnswerOptions, Asker, EVIDENCE_COSINE};
use dossier::retrieve::{Passage, Retriever};

use super::args::RankArgs;
use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Questions, one JSON object a line: {id, question, answers[], file, page, kind?}.
    qa: PathBuf,
    /// Cut-offs for hit@k, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,3,5,10")]
    k: Vec<usize>,
    /// Also generate answers with the LLM (slow) and score them.
    #[arg(long)]
    answers: bool,
    /// A GGUF model for --answers.
    #[arg(long, env = "DOSSIER_MODEL")]
    model: Option<PathBuf>,
    /// Passages retrieved for the answer.
    #[arg(long, default_value_t = 4)]
    answer_k: usize,
    /// Weight of embedding cosine in evidence scoring (0: words only), for ablations.
    #[arg(long, hide = true, default_value_t = EVIDENCE_COSINE)]
    evidence_cosine: f32,
    /// Refuse on retrieval score only (not on numbers or acronyms the passages lack).
    #[arg(long, hide = true)]
    no_key_terms: bool,
    /// Print JSON (per kind and overall, plus per-question rows) instead of tables.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    rank: RankArgs,
}

#[derive(Deserialize, Debug, Clone)]
struct QaItem {
    id: String,
    question: String,
    #[serde(default)]
    answers: Vec<String>,
    file: Option<String>,
    page: Option<u32>,
    kind: Option<String>,
}

impl QaItem {
    fn unanswerable(&self) -> bool {
        self.kind.as_deref() == Some("unanswerable")
    }
}

#[derive(Serialize, Debug, Clone)]
struct Row {
    id: String,
    kind: String,
    /// 1-based rank of the first hit on the right page, if within the largest k.
    page_rank: Option<usize>,
    file_rank: Option<usize>,
    top_score: f32,
    /// Share of the question's content words found in the best of the top three passages.
    coverage: f32,
    /// The retrieval-only refusal decision (before any generation).
    retrieval_refused: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<String>,
    /// What the model said, before sentences the evidence does not back were left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    model_answer: Option<String>,
    /// Model sentences left out of the shown answer; `supported` false: none was kept and
    /// the best evidence sentence was shown instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    dropped: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    supported: Option<bool>,
    /// Why it was refused, before or after generation.
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer_correct: Option<bool>,
    embed_ms: f64,
    search_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    generate_ms: Option<f64>,
}

#[derive(Serialize, Debug, Default)]
struct Scores {
    questions: usize,
    page_hit_at: BTreeMap<usize, f64>,
    file_hit_at: BTreeMap<usize, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mrr: Option<f64>,
    /// Share of answerable questions whose answer contains a gold string.
    answer_contains_gold: Option<f64>,
    /// Share of unanswerable questions refused.
    refusal_rate: Option<f64>,
    /// Share of answerable questions refused.
    false_refusal_rate: Option<f64>,
    latency_ms: BTreeMap<String, Percentiles>,
}

#[derive(Serialize, Debug, Default, Clone, Copy)]
struct Percentiles {
    p50: f64,
    p95: f64,
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: EvalArgs) -> Result<u8> {
    let text = std::fs::read_to_string(&args.qa)
        .with_context(|| format!("reading {}", args.qa.display()))?;
    let items: Vec<QaItem> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}:{}: not a QA line", args.qa.display(), n + 1))
        })
        .collect::<Result<_>>()?;
    anyhow::ensure!(
        !items.is_empty(),
        "{} holds no questions",
        args.qa.display()
    );
    let mut ks = args.k.clone();
    ks.retain(|k| *k > 0);
    ks.sort_unstable();
    ks.dedup();
    let max_k = ks.last().copied().unwrap_or(10).max(args.answer_k);

    super::watch_interrupts();
    let settings = global.settings();
    let store = settings.open_store(runtime, false)?;
    let embedder = settings.load_embedder()?;
    let mut retriever = Retriever::open(runtime, store, embedder, &args.rank.ranking())?;
    let mut model = if args.answers {
        Some(Llm::load(
            &llm::model_path(args.model.as_deref(), &global.models),
            &global.llm_settings()?.llm,
        )?)
    } else {
        None
    };
    let asker = Asker {
        k: args.answer_k,
        policy: RefusalPolicy {
            key_terms: !args.no_key_terms,
            ..RefusalPolicy::default()
        },
        options: AnswerOptions {
            max_tokens: 160,
            temperature: 0.0,
            evidence_sentences: 6,
            evidence_cosine: args.evidence_cosine,
        },
    };

    let mut rows = Vec::new();
    for item in &items {
        if super::interrupted() {
            break;
        }
        let retrieved = asker.retrieve_top(runtime, &mut retriever, &item.question, max_k)?;
        let passages = &retrieved.passages;
        let retrieval_refusal = retrieved.refusal.as_ref();
        let retrieval_refused = retrieval_refusal.is_some();
        let mut row = Row {
            id: item.id.clone(),
            kind: item.kind.clone().unwrap_or_else(|| "answerable".into()),
            page_rank: rank(passages, |p| {
                is_file(p, item.file.as_deref()) && Some(p.page) == item.page
            }),
            file_rank: rank(passages, |p| is_file(p, item.file.as_deref())),
            top_score: passages.first().map(|p| p.score).unwrap_or(0.0),
            coverage: passages
                .iter()
                .take(3)
                .map(|p| dossier_answer::term_coverage(&item.question, &p.text))
                .fold(0.0, f32::max),
            retrieval_refused,
            refusal_reason: retrieval_refusal.map(|r| r.to_string()),
            refused: None,
            answer: None,
            model_answer: None,
            dropped: None,
            supported: None,
            answer_correct: None,
            embed_ms: dossier::report::millis(retrieved.embed_time),
            search_ms: dossier::report::millis(retrieved.search_time),
            generate_ms: None,
        };
        if let Some(model) = model.as_mut() {
            if retrieval_refused {
                row.refused = Some(true);
                row.answer_correct = Some(item.unanswerable());
            } else {
                let t = Instant::now();
                let top = &passages[..args.answer_k.min(passages.len())];
                let response = asker.generate(
                    model,
                    &item.question,
                    top,
                    Some(&mut retriever.embedder),
                    |_| !super::interrupted(),
                )?;
                row.generate_ms = Some(dossier::report::millis(t.elapsed()));
                row.refused = Some(response.refused);
                row.refusal_reason = response.refusal.as_ref().map(|r| r.to_string());
                row.answer_correct = Some(if item.unanswerable() {
                    response.refused
                } else {
                    !response.refused
                        && item
                            .answers
                            .iter()
                            .any(|gold| contains_normalised(&response.answer, gold))
                });
                row.dropped = Some(response.dropped());
                row.supported = Some(response.supported);
                row.model_answer = Some(response.model_text);
                row.answer = Some(response.answer);
            }
        }
        if !args.json {
            eprint!(".");
        }
        rows.push(row);
    }
    if !args.json {
        eprintln!();
    }

    let mut by_kind: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for row in &rows {
        by_kind.entry(row.kind.clone()).or_default().push(row);
    }
    let overall = score(&rows.iter().collect::<Vec<_>>(), &ks, &items);
    let per_kind: BTreeMap<String, Scores> = by_kind
        .iter()
        .map(|(k, rs)| (k.clone(), score(rs, &ks, &items)))
        .collect();

    if args.json {
        super::print_json(&serde_json::json!({
            "qa": args.qa, "mode": retriever.options.mode.to_string(), "k": ks, "overall": overall, "per_kind": per_kind, "rows": rows,
        }))?;
    } else {
        print_table(&ks, &overall, &per_kind);
    }
    Ok(crate::exit::OK)
}

/// The passage is of the file a question names, under any of the names its bytes were
/// found under.
fn is_file(passage: &Passage, file: Option<&str>) -> bool {
    file.is_some_and(|file| {
        passage
            .paths
            .iter()
            .any(|path| dossier_store::file_name(path) == file)
    })
}

fn rank(passages: &[Passage], is_right: impl Fn(&Passage) -> bool) -> Option<usize> {
    passages.iter().position(is_right).map(|i| i + 1)
}

/// Whether `needle` occurs in `haystack`, ignoring case and treating hyphens and runs of
/// whitespace alike ("three-year" contains "three year").
pub fn contains_normalised(haystack: &str, needle: &str) -> bool {
    let norm = |s: &str| {
        s.to_lowercase()
            .replace(['-', '\u{2010}', '\u{2011}', '\u{2013}'], " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let needle = norm(needle);
    !needle.is_empty() && norm(haystack).contains(&needle)
}

fn percentiles(mut values: Vec<f64>) -> Percentiles {
    if values.is_empty() {
        return Percentiles::default();
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    Percentiles {
        p50: at(0.5),
        p95: at(0.95),
    }
}

fn score(rows: &[&Row], ks: &[usize], items: &[QaItem]) -> Scores {
    let unanswerable = |row: &Row| items.iter().any(|i| i.id == row.id && i.unanswerable());
    let answerable: Vec<&&Row> = rows.iter().filter(|r| !unanswerable(r)).collect();
    let n = answerable.len().max(1) as f64;
    let mut scores = Scores {
        questions: rows.len(),
        ..Scores::default()
    };
    for &k in ks {
        scores.page_hit_at.insert(
            k,
            answerable
                .iter()
                .filter(|r| r.page_rank.is_some_and(|x| x <= k))
                .count() as f64
                / n,
        );
        scores.file_hit_at.insert(
            k,
            answerable
                .iter()
                .filter(|r| r.file_rank.is_some_and(|x| x <= k))
                .count() as f64
                / n,
        );
    }
    scores.mrr = (!answerable.is_empty()).then(|| {
        answerable
            .iter()
            .map(|r| r.page_rank.map(|x| 1.0 / x as f64).unwrap_or(0.0))
            .sum::<f64>()
            / n
    });

    let refused = |r: &Row| r.refused.unwrap_or(r.retrieval_refused);
    let unanswerables: Vec<&&Row> = rows.iter().filter(|r| unanswerable(r)).collect();
    if !unanswerables.is_empty() {
        scores.refusal_rate = Some(
            unanswerables.iter().filter(|r| refused(r)).count() as f64 / unanswerables.len() as f64,
        );
    }
    if !answerable.is_empty() {
        scores.false_refusal_rate =
            Some(answerable.iter().filter(|r| refused(r)).count() as f64 / n);
        if answerable.iter().any(|r| r.answer_correct.is_some()) {
            scores.answer_contains_gold = Some(
                answerable
                    .iter()
                    .filter(|r| r.answer_correct == Some(true))
                    .count() as f64
                    / n,
            );
        }
    }
    scores.latency_ms.insert(
        "embed".into(),
        percentiles(rows.iter().map(|r| r.embed_ms).collect()),
    );
    scores.latency_ms.insert(
        "search".into(),
        percentiles(rows.iter().map(|r| r.search_ms).collect()),
    );
    let generate: Vec<f64> = rows.iter().filter_map(|r| r.generate_ms).collect();
    if !generate.is_empty() {
        scores
            .latency_ms
            .insert("generate".into(), percentiles(generate));
    }
    scores
}

fn print_table(ks: &[usize], overall: &Scores, per_kind: &BTreeMap<String, Scores>) {
    let mut header = format!("{:<14} {:>4}", "kind", "n");
    for k in ks {
        header.push_str(&format!(" {:>7}", format!("page@{k}")));
    }
    for k in ks {
        header.push_str(&format!(" {:>7}", format!("file@{k}")));
    }
    header.push_str(&format!(
        " {:>6} {:>7} {:>7} {:>7}",
        "MRR", "gold", "refuse", "falsref"
    ));
    println!("{header}");
    let pct = |v: Option<f64>| v.map(|v| format!("{:.2}", v)).unwrap_or_else(|| "-".into());
    let line = |name: &str, s: &Scores| {
        let mut out = format!("{:<14} {:>4}", name, s.questions);
        for k in ks {
            out.push_str(&format!(" {:>7}", pct(s.page_hit_at.get(k).copied())));
        }
        for k in ks {
            out.push_str(&format!(" {:>7}", pct(s.file_hit_at.get(k).copied())));
        }
        out.push_str(&format!(
            " {:>6} {:>7} {:>7} {:>7}",
            s.mrr
                .map(|m| format!("{m:.3}"))
                .unwrap_or_else(|| "-".into()),
            pct(s.answer_contains_gold),
            pct(s.refusal_rate),
            pct(s.false_refusal_rate)
        ));
        out
    };
    for (kind, scores) in per_kind {
        println!("{}", line(kind, scores));
    }
    println!("{}", line("overall", overall));
    println!();
    for (stage, p) in &overall.latency_ms {
        println!(
            "latency {stage:<9} p50 {:>8.1} ms   p95 {:>8.1} ms",
            p.p50, p.p95
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gold_matching_ignores_case_hyphens_and_spacing() {
        assert!(contains_normalised(
            "Notice of 120 Days is required",
            "120 days"
        ));
        assert!(contains_normalised("a three-year term", "three year"));
        assert!(!contains_normalised("120 days", ""));
        assert!(!contains_normalised("12 days", "120 days"));
    }

    #[test]
    fn percentiles_pick_ranks() {
        let p = percentiles((1..=100).map(f64::from).collect());
        assert_eq!(p.p50, 51.0);
        assert_eq!(p.p95, 95.0);
    }
}

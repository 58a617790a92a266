//! The damage suite: every dev-corpus PDF (`samples/eval/pdfs/`, fetched by `make eval-data`)
//! damaged the ways real files are (cut short, `startxref` wrong, xref entries shifted, every
//! stream `/Length` too short or too long, junk appended, an incremental update whose trailer
//! is broken), then read by dossier and by poppler's `pdftotext`, words compared page by page.
//! On every damaged copy poppler reads, dossier must find at least 98 % of the words poppler
//! finds (relative to how much it finds on the intact file, so that what this suite measures is
//! the recovery, not the extractor); on a copy poppler cannot read, dossier may still read
//! text, and otherwise fails with a one-line reason.
//!
//! `--nocapture` prints a line per copy and the per-variant table (BENCHMARKS.md);
//! `DOSSIER_DAMAGE_TABLE=FILE` writes the table there as well, `DOSSIER_DAMAGE_KINDS=a,b`
//! limits the run to those kinds, `DOSSIER_DAMAGE_EXTRACTOR=PROGRAM` has another build's
//! `extract_json` example read the copies (the "before" column; then no goal is checked).
//! Without the corpus or without `pdftotext` the suite says so
//! and skips; the second test damages the sample PDFs in git the same way and compares
//! dossier with itself on the intact file, so it runs everywhere.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use dossier_ingest::pdf::{self, ExtractOptions, PageStatus};
use dossier_ingest::repair::Repair;
use dossier_ingest::OcrMode;
use lopdf::xref::XrefEntry;
use lopdf::{Document, Object};
use unicode_normalization::UnicodeNormalization;

/// Of poppler's words on a damaged copy, the share dossier must find, relative to the share
/// it finds on the intact file.
const GOAL: f64 = 0.98;

/// The ways a copy is damaged, in the order the table lists them.
const KINDS: &[&str] = &[
    "intact",
    "cut at 98%",
    "cut at 75%",
    "cut at 50%",
    "startxref wrong",
    "startxref to 0",
    "startxref to older section",
    "xref entries shifted",
    "xref frees page contents",
    "bytes inserted after header",
    "/Length 3 short",
    "/Length 3 long",
    "garbage appended",
    "update with broken trailer",
    "update in object stream with broken trailer",
];

fn corpus() -> Option<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/eval/pdfs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    files.sort();
    (!files.is_empty()).then_some(files)
}

fn have_pdftotext() -> bool {
    Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The damaged copy of `original` for `kind`; `None` where the damage does not apply (no
/// stream length that can be changed in place, for instance).
fn damaged(original: &[u8], kind: &str) -> Option<Vec<u8>> {
    let cut = |share: usize| original[..original.len() * share / 100].to_vec();
    match kind {
        "intact" => Some(original.to_vec()),
        "cut at 98%" => Some(cut(98)),
        "cut at 75%" => Some(cut(75)),
        "cut at 50%" => Some(cut(50)),
        "startxref wrong" => {
            let (_, _, value) = startxref(original)?;
            with_startxref(original, value / 2)
        }
        "startxref to 0" => with_startxref(original, 0),
        "startxref to older section" => {
            // Linearized files and incremental updates have several; the first is the
            // one that differs from the last in those.
            let (_, _, last) = startxref(original)?;
            let first = sections(original).into_iter().find(|&s| s != last)?;
            with_startxref(original, first)
        }
        "xref entries shifted" => new_xref(original, 7, &HashSet::new()),
        "xref frees page contents" => {
            // The content streams of every other page, from the first: poppler shows those
            // pages blank where it trusts the table (files with cross-reference streams);
            // dossier sees content named but missing and finds it by a scan.
            let document = Document::load_mem(original).ok()?;
            let freed: HashSet<u32> = document
                .get_pages()
                .iter()
                .filter(|(number, _)| *number % 2 == 1)
                .flat_map(|(_, &page)| document.get_page_contents(page))
                .map(|(number, _)| number)
                .collect();
            new_xref(original, 0, &freed)
        }
        "bytes inserted after header" => {
            let line_end = original.iter().position(|&b| b == b'\n')? + 1;
            let mut bytes = original[..line_end].to_vec();
            bytes.extend_from_slice(b"% added by a mail gateway\n");
            bytes.extend_from_slice(&original[line_end..]);
            Some(bytes)
        }
        "/Length 3 short" => with_lengths(original, -3),
        "/Length 3 long" => with_lengths(original, 3),
        "garbage appended" => {
            // More than the 1 KiB tail where readers look for `startxref`.
            let mut bytes = original.to_vec();
            let mut state = 0x2545_f491_u32;
            bytes.extend((0..4096).map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 24) as u8
            }));
            Some(bytes)
        }
        "update with broken trailer" => broken_update(original, false),
        "update in object stream with broken trailer" => broken_update(original, true),
        _ => unreachable!("unknown damage {kind}"),
    }
}

/// The digits of the last `startxref` (start, end, value).
fn startxref(bytes: &[u8]) -> Option<(usize, usize, usize)> {
    let keyword = bytes.windows(9).rposition(|w| w == b"startxref")?;
    let start = keyword
        + 9
        + bytes[keyword + 9..]
            .iter()
            .position(|b| !b.is_ascii_whitespace())?;
    let end = start + bytes[start..].iter().position(|b| !b.is_ascii_digit())?;
    let value = std::str::from_utf8(&bytes[start..end]).ok()?.parse().ok()?;
    Some((start, end, value))
}

/// Where cross-reference sections start: `xref` tables and cross-reference streams.
fn sections(bytes: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    for (i, w) in bytes.windows(5).enumerate() {
        // "xref" as a token ("startxref" is not one).
        if w[0].is_ascii_whitespace()
            && &w[1..] == b"xref"
            && bytes.get(i + 5).is_some_and(u8::is_ascii_whitespace)
        {
            found.push(i + 1);
        }
        if w == b"/XRef" && !bytes.get(i + 5).is_some_and(u8::is_ascii_alphanumeric) {
            // Back to the "N G obj" that starts the stream's object.
            let head = &bytes[i.saturating_sub(2048)..i];
            if let Some(obj) = head.windows(4).rposition(|w| w == b" obj") {
                let line = head[..obj].iter().rposition(|&b| b == b'\n' || b == b'\r');
                found.push(i.saturating_sub(2048) + line.map_or(0, |l| l + 1));
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    found
}

fn with_startxref(bytes: &[u8], value: usize) -> Option<Vec<u8>> {
    let (start, end, _) = startxref(bytes)?;
    let mut out = bytes[..start].to_vec();
    out.extend_from_slice(value.to_string().as_bytes());
    out.extend_from_slice(&bytes[end..]);
    Some(out)
}

/// A new last cross-reference section, in the file's own form (a table, or a stream when the
/// file has compressed objects), whose offsets are all `by` bytes too far and which lists the
/// objects `freed` as free; no /Prev.
fn new_xref(bytes: &[u8], by: u32, freed: &HashSet<u32>) -> Option<Vec<u8>> {
    let document = Document::load_mem(bytes).ok()?;
    let entries = &document.reference_table.entries;
    let size = entries.keys().max()? + 2;
    let mut out = bytes.to_vec();
    out.push(b'\n');
    let trailer = trailer_entries(&document.trailer);
    if entries
        .values()
        .any(|e| matches!(e, XrefEntry::Compressed { .. }))
    {
        let number = size - 1;
        let at = out.len() as u32;
        let mut data = Vec::new();
        for n in 0..size {
            let (kind, field, small) = match entries.get(&n).filter(|_| !freed.contains(&n)) {
                Some(XrefEntry::Normal { offset, generation }) => (1u8, offset + by, *generation),
                Some(XrefEntry::Compressed { container, index }) => (2, *container, *index),
                _ if n == number => (1, at, 0),
                _ => (0, 0, if n == 0 { 65535 } else { 0 }),
            };
            data.push(kind);
            data.extend_from_slice(&field.to_be_bytes());
            data.extend_from_slice(&small.to_be_bytes());
        }
        out.extend_from_slice(
            format!(
                "{number} 0 obj\n<< /Type /XRef /Size {size} /W [1 4 2] {trailer} /Length {} >>\nstream\n",
                data.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&data);
        out.extend_from_slice(format!("\nendstream\nendobj\nstartxref\n{at}\n%%EOF\n").as_bytes());
    } else {
        let at = out.len();
        let mut table = format!("xref\n0 {size}\n");
        for n in 0..size {
            match entries.get(&n).filter(|_| !freed.contains(&n)) {
                Some(XrefEntry::Normal { offset, generation }) => {
                    table.push_str(&format!("{:010} {generation:05} n\r\n", offset + by))
                }
                _ => table.push_str("0000000000 65535 f\r\n"),
            }
        }
        table.push_str(&format!(
            "trailer\n<< /Size {size} {trailer} >>\nstartxref\n{at}\n%%EOF\n"
        ));
        out.extend_from_slice(table.as_bytes());
    }
    Some(out)
}

/// /Root, /Info and /ID of a trailer, written out.
fn trailer_entries(trailer: &lopdf::Dictionary) -> String {
    let mut out = String::new();
    for key in ["Root", "Info", "ID"] {
        if let Ok(value) = trailer.get(key.as_bytes()) {
            out.push_str(&format!("/{key} {} ", write_object(value)));
        }
    }
    out
}

fn write_object(object: &Object) -> String {
    match object {
        Object::Null => "null".into(),
        Object::Boolean(b) => b.to_string(),
        Object::Integer(i) => i.to_string(),
        Object::Real(r) => format!("{r}"),
        Object::Name(name) => format!("/{}", String::from_utf8_lossy(name)),
        Object::String(bytes, _) => format!(
            "<{}>",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
        Object::Array(items) => format!(
            "[{}]",
            items.iter().map(write_object).collect::<Vec<_>>().join(" ")
        ),
        Object::Dictionary(dict) => format!(
            "<< {} >>",
            dict.iter()
                .map(|(k, v)| format!("/{} {}", String::from_utf8_lossy(k), write_object(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Object::Reference((n, g)) => format!("{n} {g} R"),
        Object::Stream(_) => "null".into(),
    }
}

/// Every stream's /Length (direct, or the integer object it refers to) changed by `delta`,
/// in place: a shorter number is padded with a space, a longer one takes the white space
/// after it; a number with no room is left as it is. `None` when none could be changed.
fn with_lengths(bytes: &[u8], delta: i64) -> Option<Vec<u8>> {
    let mut out = bytes.to_vec();
    let mut changed = 0;
    let mut indirect = Vec::new();
    let mut at = 0;
    while let Some(relative) = find(&bytes[at..], b"stream") {
        let keyword = at + relative;
        at = keyword + 6;
        // The keyword itself (not "endstream"), right after a dictionary.
        let before = bytes[..keyword].trim_ascii_end();
        if !before.ends_with(b">>") || bytes[..keyword].ends_with(b"end") {
            continue;
        }
        let Some(dict_start) = dictionary_start(bytes, before.len()) else {
            continue;
        };
        // The key itself, not /Length1 (a font program's).
        let dictionary = &bytes[dict_start..keyword];
        let Some(key) = dictionary
            .windows(8)
            .position(|w| &w[..7] == b"/Length" && w[7].is_ascii_whitespace())
            .map(|k| dict_start + k + 7)
        else {
            continue;
        };
        let Some(start) = bytes[key..]
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map(|p| key + p)
        else {
            continue;
        };
        let Some(end) = bytes[start..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map(|p| start + p)
        else {
            continue;
        };
        let rest = std::str::from_utf8(&bytes[end..(end + 12).min(bytes.len())]).unwrap_or("");
        let words: Vec<&str> = rest.split_ascii_whitespace().take(2).collect();
        if let [generation, r, ..] = words.as_slice() {
            if generation.parse::<u32>().is_ok() && r.starts_with('R') {
                indirect.push(String::from_utf8_lossy(&bytes[start..end]).into_owned());
                continue;
            }
        }
        changed += usize::from(change_number(&mut out, start, end, delta));
    }
    for number in indirect {
        // The last definition of the length object: "N 0 obj <ws> digits".
        let header = format!("\n{number} 0 obj");
        let Some(at) = bytes
            .windows(header.len())
            .rposition(|w| w == header.as_bytes())
        else {
            continue;
        };
        let after = at + header.len();
        let Some(start) = bytes[after..]
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map(|p| after + p)
        else {
            continue;
        };
        let Some(end) = bytes[start..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map(|p| start + p)
        else {
            continue;
        };
        changed += usize::from(change_number(&mut out, start, end, delta));
    }
    (changed > 0).then_some(out)
}

fn change_number(out: &mut [u8], start: usize, end: usize, delta: i64) -> bool {
    let Some(value) = std::str::from_utf8(&out[start..end])
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
    else {
        return false;
    };
    let new = (value + delta).max(0).to_string().into_bytes();
    let width = end - start;
    let delimiter =
        |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_whitespace() || b"/<>[]()%".contains(b));
    if new.len() <= width {
        out[start..start + new.len()].copy_from_slice(&new);
        out[start + new.len()..end].fill(b' ');
        true
    } else if new.len() == width + 1
        && out.get(end).is_some_and(u8::is_ascii_whitespace)
        && delimiter(out.get(end + 1))
    {
        out[start..=end].copy_from_slice(&new);
        true
    } else {
        false
    }
}

/// Where the dictionary that ends at `end` (just after its `>>`) begins.
fn dictionary_start(bytes: &[u8], end: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = end;
    while i >= 2 {
        match &bytes[i - 2..i] {
            b">>" => {
                depth += 1;
                i -= 2;
            }
            b"<<" => {
                depth -= 1;
                i -= 2;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => i -= 1,
        }
    }
    None
}

/// An incremental update that redefines the root of the page tree with its kids in reverse
/// order (so that a reader which keeps an older definition shows other pages than poppler),
/// directly or inside a new object stream, and ends in a trailer cut off before its `>>`.
fn broken_update(original: &[u8], in_object_stream: bool) -> Option<Vec<u8>> {
    let document = Document::load_mem(original).ok()?;
    let (_, _, previous) = startxref(original)?;
    let root = document.trailer.get(b"Root").ok()?.as_reference().ok()?;
    let pages = document
        .get_dictionary(root)
        .ok()?
        .get(b"Pages")
        .ok()?
        .as_reference()
        .ok()?;
    let mut tree = document.get_dictionary(pages).ok()?.clone();
    let mut kids = tree.get(b"Kids").ok()?.as_array().ok()?.clone();
    kids.reverse();
    tree.set("Kids", Object::Array(kids));
    let tree = write_object(&Object::Dictionary(tree));
    let mut out = original.to_vec();
    out.push(b'\n');
    let at = out.len();
    // The object the update's table lists: the tree itself, or the stream that holds it.
    let (listed, size) = if in_object_stream {
        let container = document.max_id + 1;
        let header = format!("{} 0 ", pages.0);
        out.extend_from_slice(
            format!(
                "{container} 0 obj\n<< /Type /ObjStm /N 1 /First {} /Length {} >>\nstream\n\
                 {header}{tree}\nendstream\nendobj\n",
                header.len(),
                header.len() + tree.len()
            )
            .as_bytes(),
        );
        ((container, 0), container + 1)
    } else {
        out.extend_from_slice(format!("{} {} obj\n{tree}\nendobj\n", pages.0, pages.1).as_bytes());
        (pages, document.max_id + 1)
    };
    let xref_at = out.len();
    out.extend_from_slice(
        format!(
            "xref\n0 1\n0000000000 65535 f\r\n{} 1\n{at:010} {:05} n\r\n\
             trailer\n<< /Size {size} /Root {} {} R /Prev {previous}\n\
             startxref\n{xref_at}\n%%EOF\n",
            listed.0, listed.1, root.0, root.1
        )
        .as_bytes(),
    );
    Some(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// compare.py's words: NFKC, lower case, runs of letters and digits.
fn words(text: &str) -> Vec<String> {
    let normal = text.nfkc().collect::<String>().to_lowercase();
    normal
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// How many of `reference`'s words `ours` has (multiset intersection).
fn found(reference: &[String], ours: &[String]) -> usize {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for w in ours {
        *counts.entry(w).or_default() += 1;
    }
    reference
        .iter()
        .filter(|w| {
            counts.get_mut(w.as_str()).is_some_and(|c| {
                *c > 0 && {
                    *c -= 1;
                    true
                }
            })
        })
        .count()
}

/// pdftotext's words per page, or `None` when it reads nothing.
fn poppler_pages(file: &Path) -> Option<Vec<Vec<String>>> {
    let output = Command::new("pdftotext")
        .args(["-q", "-enc", "UTF-8"])
        .arg(file)
        .arg("-")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut pages: Vec<Vec<String>> = text.split('\u{c}').map(words).collect();
    if pages.last().is_some_and(Vec::is_empty) {
        pages.pop();
    }
    (output.status.success() && pages.iter().any(|p| !p.is_empty())).then_some(pages)
}

/// One damaged copy, read by both.
struct Row {
    kind: &'static str,
    file: String,
    /// poppler's words (0 when it cannot read the copy).
    poppler: usize,
    /// Of those, the ones dossier found on the same page.
    dossier: usize,
    /// poppler's words on its first page, and its page count.
    first_page: Vec<String>,
    pages: usize,
    /// All of dossier's words, wherever poppler has them or not.
    own: usize,
    /// dossier's error, when it gave one.
    error: Option<String>,
    /// What dossier says it mended.
    repairs: Vec<Repair>,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.dossier as f64 / self.poppler.max(1) as f64
    }
}

fn read(kind: &'static str, file: &Path, bytes: &[u8], scratch: &Path) -> Row {
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let copy = scratch.join(format!(
        "{}-{name}",
        kind.replace(['/', ' ', '%', ','], "_")
    ));
    std::fs::write(&copy, bytes).unwrap();
    let poppler = poppler_pages(&copy);
    let options = ExtractOptions {
        ocr: OcrMode::Never,
        keep_furniture: true,
        ..ExtractOptions::default()
    };
    let ours = match external_extractor() {
        Some(program) => extract_with(&program, &copy),
        None => pdf::extract(bytes, &options)
            .map_err(|e| e.to_string())
            .map(|text| {
                let pages = text
                    .pages
                    .iter()
                    .filter(|p| p.status == PageStatus::Text)
                    .map(|p| (p.number, words(&p.text)))
                    .collect();
                (pages, text.repairs)
            }),
    };
    let _ = std::fs::remove_file(&copy);
    let poppler = poppler.unwrap_or_default();
    let (dossier, own, error, repairs) = match ours {
        Ok((by_page, repairs)) => {
            let dossier = poppler
                .iter()
                .enumerate()
                .map(|(i, reference)| {
                    by_page
                        .get(&(i as u32 + 1))
                        .map_or(0, |ours| found(reference, ours))
                })
                .sum();
            let own = by_page.values().map(Vec::len).sum();
            (dossier, own, None, repairs)
        }
        Err(error) => (0, 0, Some(error), Vec::new()),
    };
    Row {
        kind,
        file: name,
        poppler: poppler.iter().map(Vec::len).sum(),
        first_page: poppler.first().cloned().unwrap_or_default(),
        pages: poppler.len(),
        dossier,
        own,
        error,
        repairs,
    }
}

/// `DOSSIER_DAMAGE_EXTRACTOR`: another build's `extract_json` example (an older commit's, for
/// the before/after table), which reads the copies instead of this build's extractor.
fn external_extractor() -> Option<PathBuf> {
    std::env::var_os("DOSSIER_DAMAGE_EXTRACTOR").map(PathBuf::from)
}

type Extracted = (HashMap<u32, Vec<String>>, Vec<Repair>);

/// The words per page with text that `extract_json --keep-furniture FILE` prints. Its repairs
/// are not read back (an older build has none to name).
fn extract_with(program: &Path, file: &Path) -> Result<Extracted, String> {
    let output = Command::new(program)
        .arg("--keep-furniture")
        .arg(file)
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("extractor printed no JSON ({e}; {})", output.status))?;
    if let Some(error) = json["error"].as_str() {
        return Err(error.to_owned());
    }
    let pages = json["pages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["status"] == "text")
        .map(|p| {
            let number = p["page"].as_u64().unwrap_or(0) as u32;
            (number, words(p["text"].as_str().unwrap_or("")))
        })
        .collect();
    Ok((pages, Vec::new()))
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| damage | copies | poppler words | dossier words | ratio | worst file (ratio) | dossier, all words | poppler fails: dossier reads / errs |\n\
         |---|---:|---:|---:|---:|---|---:|---|\n",
    );
    for kind in KINDS {
        let of_kind: Vec<&Row> = rows.iter().filter(|r| r.kind == *kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let poppler: usize = of_kind.iter().map(|r| r.poppler).sum();
        let dossier: usize = of_kind.iter().map(|r| r.dossier).sum();
        let worst = of_kind
            .iter()
            .filter(|r| r.poppler > 0)
            .min_by(|a, b| a.ratio().total_cmp(&b.ratio()))
            .map_or("–".to_owned(), |r| {
                format!("{} ({:.2})", r.file, r.ratio())
            });
        let unread: Vec<&&Row> = of_kind.iter().filter(|r| r.poppler == 0).collect();
        let beyond = if unread.is_empty() {
            "–".to_owned()
        } else {
            let read = unread.iter().filter(|r| r.own > 0).count();
            let words: usize = unread.iter().map(|r| r.own).sum();
            let errors = unread.iter().filter(|r| r.error.is_some()).count();
            format!(
                "{} copies: {read} read ({words} words) / {errors} errors",
                unread.len()
            )
        };
        let own: usize = of_kind.iter().map(|r| r.own).sum();
        out.push_str(&format!(
            "| {kind} | {} | {poppler} | {dossier} | {:.3} | {worst} | {own} | {beyond} |\n",
            of_kind.len(),
            dossier as f64 / poppler.max(1) as f64
        ));
    }
    out
}

#[test]
fn damaged_copies_of_the_corpus_read_like_poppler_reads_them() {
    let Some(files) = corpus() else {
        eprintln!("damage suite skipped: no PDFs in samples/eval/pdfs (make eval-data)");
        return;
    };
    if !have_pdftotext() {
        eprintln!("damage suite skipped: pdftotext (poppler-utils) is not installed");
        return;
    }
    let kinds: Vec<&'static str> = match std::env::var("DOSSIER_DAMAGE_KINDS") {
        Ok(list) => KINDS
            .iter()
            .copied()
            .filter(|k| list.split(',').any(|l| l == *k))
            .collect(),
        Err(_) => KINDS.to_vec(),
    };
    // pdf-extract panics on some damaged pages; the extractor contains those, and their
    // messages would bury the table.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !pdf::panic_is_contained() {
            default_hook(info);
        }
    }));
    let scratch = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let mut rows = Vec::new();
    for file in &files {
        let original = std::fs::read(file).unwrap();
        for &kind in &kinds {
            if let Some(bytes) = damaged(&original, kind) {
                let row = read(kind, file, &bytes, scratch.path());
                eprintln!(
                    "{:<28} {:<24} poppler {:>6} dossier {:>6} {:.3} (own {:>6}) {:?}{}",
                    kind,
                    row.file,
                    row.poppler,
                    row.dossier,
                    row.ratio(),
                    row.own,
                    row.repairs,
                    row.error
                        .as_deref()
                        .map(|e| format!("  error: {e}"))
                        .unwrap_or_default()
                );
                rows.push(row);
            }
        }
    }
    let mut failures = Vec::new();
    let table = table(&rows);
    eprintln!(
        "\n{table}\n{} copies in {:.1?}",
        rows.len(),
        started.elapsed()
    );
    if let Ok(path) = std::env::var("DOSSIER_DAMAGE_TABLE") {
        std::fs::write(path, &table).unwrap();
    }

    if let Some(program) = external_extractor() {
        eprintln!(
            "read by {}: the table only, no goal checked",
            program.display()
        );
        return;
    }

    // The update reorders the pages: poppler, which keeps the newest definition, shows the
    // last page first. Otherwise the variant would not test what it is meant to. (Not so the
    // update inside an object stream: poppler's reconstruction lets no object stream
    // override a definition it has, and dossier reads those copies as poppler does.)
    let first_pages: HashMap<&str, &Vec<String>> = rows
        .iter()
        .filter(|r| r.kind == "intact")
        .map(|r| (r.file.as_str(), &r.first_page))
        .collect();
    for row in rows
        .iter()
        .filter(|r| r.kind == "update with broken trailer" && r.pages > 1)
    {
        if first_pages.get(row.file.as_str()) == Some(&&row.first_page) {
            failures.push(format!(
                "{} {}: poppler did not see the update",
                row.kind, row.file
            ));
        }
    }
    // poppler trusts the table's free entries; dossier, seeing pages whose content is named
    // but missing, reads the file through a rebuilt table, and has all of its words.
    let intact_words: HashMap<&str, usize> = rows
        .iter()
        .filter(|r| r.kind == "intact")
        .map(|r| (r.file.as_str(), r.own))
        .collect();
    for row in rows.iter().filter(|r| r.kind == "xref frees page contents") {
        let all = intact_words.get(row.file.as_str()).copied().unwrap_or(0);
        if (row.own as f64) < GOAL * all as f64 {
            failures.push(format!(
                "{} {}: {} words, {all} on the intact file",
                row.kind, row.file, row.own
            ));
        }
    }
    let intact: HashMap<&str, f64> = rows
        .iter()
        .filter(|r| r.kind == "intact")
        .map(|r| (r.file.as_str(), r.ratio()))
        .collect();
    for row in &rows {
        if let Some(error) = &row.error {
            if error.contains('\n') || error.is_empty() {
                failures.push(format!(
                    "{} {}: not a one-line error: {error:?}",
                    row.kind, row.file
                ));
            }
        }
        // The repair is reported, and only where there was damage to mend.
        let expected = match row.kind {
            "intact" => Some(false),
            "/Length 3 short" | "/Length 3 long" => Some(
                row.repairs
                    .iter()
                    .any(|r| matches!(r, Repair::StreamLengthsFixed { .. })),
            ),
            _ => None,
        };
        let reported = !row.repairs.is_empty();
        let wrong = match row.kind {
            "intact" => reported,
            _ if row.error.is_some() => false,
            _ => expected.is_some_and(|fixed| !fixed) || !reported,
        };
        if wrong {
            failures.push(format!(
                "{} {}: repairs reported: {:?}",
                row.kind, row.file, row.repairs
            ));
        }
        if row.poppler == 0 {
            continue;
        }
        let baseline = intact.get(row.file.as_str()).copied().unwrap_or(1.0);
        if row.ratio() < GOAL * baseline {
            failures.push(format!(
                "{} {}: {} of poppler's {} words ({:.3}; intact {baseline:.3}){}",
                row.kind,
                row.file,
                row.dossier,
                row.poppler,
                row.ratio(),
                row.error
                    .as_deref()
                    .map(|e| format!(", error: {e}"))
                    .unwrap_or_default()
            ));
        }
    }
    assert!(
        rows.iter().any(|r| r.kind != "intact" && r.poppler > 0),
        "no damaged copy was compared"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The same damage to the sample PDFs (in git, so this runs everywhere, with poppler or
/// without): dossier reads each damaged copy as it reads the intact file, and says what it
/// mended.
#[test]
fn damaged_copies_of_the_samples_read_like_the_intact_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples");
    let mut samples: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    samples.sort();
    assert!(!samples.is_empty(), "no PDFs in {}", dir.display());
    let options = ExtractOptions {
        ocr: OcrMode::Never,
        keep_furniture: true,
        ..ExtractOptions::default()
    };
    let pages_of = |text: &pdf::PdfText| -> Vec<Vec<String>> {
        text.pages.iter().map(|p| words(&p.text)).collect()
    };
    let mut failures = Vec::new();
    let mut compared = 0;
    for sample in &samples {
        let name = sample.file_name().unwrap().to_string_lossy();
        let original = std::fs::read(sample).unwrap();
        let intact = pdf::extract(&original, &options).unwrap();
        assert_eq!(intact.repairs, [], "{name}");
        let intact = pages_of(&intact);
        for &kind in &KINDS[1..] {
            let Some(bytes) = damaged(&original, kind) else {
                continue;
            };
            let text = match pdf::extract(&bytes, &options) {
                Ok(text) => text,
                Err(error) => {
                    let message = error.to_string();
                    if !kind.starts_with("cut") || message.contains('\n') {
                        failures.push(format!("{kind} {name}: {message:?}"));
                    }
                    continue;
                }
            };
            if kind.starts_with("cut") {
                // What is left of a cut file is whatever its first part held.
                continue;
            }
            if text.repairs.is_empty() {
                failures.push(format!("{kind} {name}: read without a repair reported"));
            }
            let ours = pages_of(&text);
            // The broken update reverses the page order: compare the whole text there.
            let (reference, ours) = if kind.starts_with("update") {
                (vec![intact.concat()], vec![ours.concat()])
            } else {
                (intact.clone(), ours)
            };
            let all: usize = reference.iter().map(Vec::len).sum();
            let found: usize = reference
                .iter()
                .zip(&ours)
                .map(|(reference, ours)| found(reference, ours))
                .sum();
            compared += 1;
            if (found as f64) < GOAL * all as f64 {
                failures.push(format!("{kind} {name}: {found} of {all} words"));
            }
        }
    }
    assert!(
        compared >= samples.len() * 8,
        "only {compared} copies compared"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! Recovery of PDFs whose cross-reference data or stream lengths are wrong, the way poppler,
//! pdf.js and MuPDF recover them.
//!
//! lopdf trusts the file: it reads objects at the offsets the cross-reference table gives and
//! takes exactly `/Length` bytes of stream data. A file whose `startxref` or xref offsets are
//! wrong, whose trailer is broken, or which is cut short, fails to load or loses objects; a
//! stream whose `/Length` is a few bytes off fails to parse, and its page goes blank.
//!
//! [`rebuild`] scans the file for `N G obj` headers instead (the last definition of each object
//! wins, as incremental updates require), takes the stream data up to `endstream` where the
//! declared `/Length` does not end there (or is an indirect object that does not resolve), and
//! writes a copy with those lengths corrected and a fresh cross-reference table and trailer
//! after everything else, which lopdf then parses. Objects that are not all there (a truncated
//! download) stay missing: the repair never invents content.
//!
//! Everything here reads untrusted bytes and indexes only within them: no input panics it
//! (`fuzz/fuzz_targets/repair.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

/// What had to be mended to read a file, for the report ("recovered (xref rebuilt)").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Repair {
    /// The cross-reference table was rebuilt from the object headers in the file: it was
    /// missing, `startxref` or its offsets were wrong, its trailer was broken, or objects it
    /// named did not parse.
    XrefRebuilt,
    /// Streams whose `/Length` disagreed with where their `endstream` is (or was an indirect
    /// object that did not resolve) were read up to `endstream`.
    StreamLengthsFixed { streams: usize },
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repair::XrefRebuilt => f.write_str("cross-reference table rebuilt"),
            Repair::StreamLengthsFixed { streams: 1 } => {
                f.write_str("1 stream length fixed by endstream")
            }
            Repair::StreamLengthsFixed { streams } => {
                write!(f, "{streams} stream lengths fixed by endstream")
            }
        }
    }
}

/// Why no cross-reference table could be rebuilt: what a scan of the file does not find.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebuildError {
    #[error("no %PDF- header in its first KiB")]
    NoHeader,
    #[error("no objects")]
    NoObjects,
    #[error("no document catalog among its {objects} objects (cut short?)")]
    NoCatalog { objects: usize },
}

/// A copy of a damaged file that lopdf can read.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub bytes: Vec<u8>,
    /// Streams whose length was taken from their `endstream`.
    pub fixed_lengths: usize,
    /// Object number → (generation, offset in the original file from its `%PDF-` header): the
    /// table the copy's cross-reference section was made from.
    pub table: BTreeMap<u32, (u16, usize)>,
}

/// A copy of `bytes` with stream lengths corrected and a rebuilt cross-reference section.
pub fn rebuild(bytes: &[u8]) -> Result<Rebuilt, RebuildError> {
    // lopdf reads offsets from the `%PDF-` header, so the copy starts there.
    let header = find(&bytes[..bytes.len().min(1024)], b"%PDF-").ok_or(RebuildError::NoHeader)?;
    let bytes = &bytes[header..];
    let objects = scan(bytes);
    if objects.is_empty() {
        return Err(RebuildError::NoObjects);
    }
    let fixes = stream_fixes(bytes, &objects);

    // The last complete definition of each object wins; an incomplete one (cut off inside its
    // stream) only where there is no other.
    let mut last: BTreeMap<u32, usize> = BTreeMap::new();
    for (index, object) in objects.iter().enumerate() {
        let replace = match last.get(&object.number) {
            None => true,
            Some(&previous) => {
                let previous = &objects[previous];
                object.generation >= previous.generation && (object.complete || !previous.complete)
            }
        };
        if replace {
            last.insert(object.number, index);
        }
    }
    let trailer = trailer(bytes, &objects, &last).ok_or(RebuildError::NoCatalog {
        objects: last.len(),
    })?;

    let mut out = Vec::with_capacity(bytes.len() + 64 * last.len() + 256);
    let mut copied = 0;
    // (original position, bytes added or removed up to and including there), in file order.
    let mut shifts: Vec<(usize, isize)> = Vec::with_capacity(fixes.len());
    let mut shifted = 0;
    let mut applied = 0;
    for fix in &fixes {
        // In file order by construction (each lies in its own stream's dictionary, and the
        // scan skips stream data); one that is not is left out rather than trusted.
        if fix.replace.start < copied {
            continue;
        }
        applied += 1;
        out.extend_from_slice(&bytes[copied..fix.replace.start]);
        out.extend_from_slice(&fix.with);
        copied = fix.replace.end;
        shifted += fix.with.len() as isize - fix.replace.len() as isize;
        shifts.push((fix.replace.start, shifted));
    }
    out.extend_from_slice(&bytes[copied..]);

    let size = last.keys().next_back().map_or(1, |&n| n + 1);
    let mut table = BTreeMap::new();
    // One subsection per run of consecutive numbers: a stray large object number costs one
    // line, not a line for every number below it.
    let mut section = String::with_capacity(20 * last.len() + 256);
    section.push_str("\nxref\n0 1\n0000000000 65535 f\r\n");
    let numbers: Vec<u32> = last.keys().copied().collect();
    for run in numbers.chunk_by(|a, b| a + 1 == *b) {
        section.push_str(&format!("{} {}\n", run[0], run.len()));
        for number in run {
            let object = &objects[last[number]];
            let before = shifts.partition_point(|(at, _)| *at < object.offset);
            let shift = before.checked_sub(1).map_or(0, |i| shifts[i].1);
            let offset = object.offset.saturating_add_signed(shift);
            table.insert(*number, (object.generation, object.offset));
            section.push_str(&format!("{offset:010} {:05} n\r\n", object.generation));
        }
    }
    let xref_at = out.len() + 1;
    section.push_str(&format!("trailer\n<< /Size {size} "));
    out.extend_from_slice(section.as_bytes());
    out.extend_from_slice(&trailer);
    out.extend_from_slice(format!(" >>\nstartxref\n{xref_at}\n%%EOF\n").as_bytes());
    Ok(Rebuilt {
        bytes: out,
        fixed_lengths: applied,
        table,
    })
}

/// One `N G obj` found by the scan.
#[derive(Debug)]
struct Found {
    number: u32,
    generation: u16,
    /// Where its header starts.
    offset: usize,
    /// The text of its dictionary (the stream dictionary for a stream), if it is one.
    dictionary: Option<Range<usize>>,
    stream: Option<StreamData>,
    /// The integer it is, if it is one (an indirect `/Length`).
    integer: Option<u64>,
    /// False for a stream without `endstream` (the file ends inside it).
    complete: bool,
}

#[derive(Debug)]
struct StreamData {
    /// The bytes of the `/Length` value in the dictionary, if there is one.
    length_value: Option<Range<usize>>,
    length: Length,
    /// The first byte of the data (after `stream` and its end of line).
    start: usize,
    /// Where the first `endstream` after `start` is.
    endstream: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
enum Length {
    Direct(u64),
    Indirect(u32, u16),
    Missing,
}

/// Every object header in the file, in file order. Stream data is skipped (to the end its
/// length gives when that ends at `endstream`, else to the first `endstream`), so that bytes
/// inside a stream are not taken for objects.
fn scan(bytes: &[u8]) -> Vec<Found> {
    let mut found = Vec::new();
    let mut next_endstream = NextEndstream::default();
    let mut budget = Budget::for_file(bytes);
    let mut at = 0;
    while let Some(relative) = find(&bytes[at..], b"obj") {
        let keyword = at + relative;
        at = keyword + 3;
        // "obj" ends a token: not "objects", not "/ObjStm" (case differs anyway).
        if bytes.get(keyword + 3).is_some_and(|&c| regular(c)) {
            continue;
        }
        let Some((number, generation, offset)) = header_before(bytes, keyword) else {
            continue;
        };
        let mut object = Found {
            number,
            generation,
            offset,
            dictionary: None,
            stream: None,
            integer: None,
            complete: true,
        };
        let body = skip_space(bytes, keyword + 3);
        if bytes[body..].starts_with(b"<<") {
            let window = &bytes[..budget.window(bytes.len(), body, DICTIONARY_WINDOW)];
            let parsed = skip_value(window, body, 0);
            budget.spend(parsed.unwrap_or(window.len()) - body);
            let Some(end) = parsed else {
                // Cut off or runaway (an unbalanced string): its first entries still say
                // what it is; the scan goes on right after its header.
                object.dictionary = Some(body..window.len());
                found.push(object);
                continue;
            };
            object.dictionary = Some(body..end);
            let after = skip_space(bytes, end);
            if bytes[after..].starts_with(b"stream") {
                let stream = stream_data(bytes, body..end, after + 6, &mut next_endstream);
                at = match (stream.length, stream.endstream) {
                    (Length::Direct(n), _) if ends_at_endstream(bytes, stream.start, n) => {
                        stream.start + n as usize
                    }
                    (_, Some(endstream)) => endstream + 9,
                    (_, None) => {
                        object.complete = false;
                        bytes.len()
                    }
                };
                object.stream = Some(stream);
            }
        } else if let Some(end) = skip_token(bytes, body) {
            object.integer = std::str::from_utf8(&bytes[body..end])
                .ok()
                .and_then(|s| s.parse().ok())
                .filter(|_| bytes[skip_space(bytes, end)..].starts_with(b"endobj"));
        }
        found.push(object);
    }
    found
}

/// Longer stream dictionaries than this are not expected.
const DICTIONARY_WINDOW: usize = 8 << 10;

/// Nor longer trailers.
const TRAILER_WINDOW: usize = 4 << 10;

/// What dictionary parsing may read once its budget is spent.
const SPENT_WINDOW: usize = 256;

/// Bytes that dictionary parsing may read in all. A sound file reads each dictionary once,
/// well within it; a hostile one (dictionaries that never end, a header every few bytes) would
/// read the same bytes again for every header, so once the budget is spent each dictionary
/// gets a short window: time stays linear in the file's size.
struct Budget(usize);

impl Budget {
    fn for_file(bytes: &[u8]) -> Budget {
        Budget(bytes.len().saturating_mul(4).saturating_add(1 << 20))
    }

    /// Where a dictionary starting at `start` must end, at most.
    fn window(&self, len: usize, start: usize, full: usize) -> usize {
        let window = if self.0 > 0 { full } else { SPENT_WINDOW };
        len.min(start.saturating_add(window))
    }

    fn spend(&mut self, read: usize) {
        self.0 = self.0.saturating_sub(read);
    }
}

/// The first `endstream` at or after a position, remembered: the scan asks for increasing
/// positions, so the file is searched once, not once per stream.
#[derive(Default)]
struct NextEndstream {
    /// Searched from `from`: found at `at` (`None`: nowhere after `from`).
    cached: Option<(usize, Option<usize>)>,
}

impl NextEndstream {
    fn after(&mut self, bytes: &[u8], start: usize) -> Option<usize> {
        match self.cached {
            Some((from, found)) if from <= start && found.is_none_or(|at| at >= start) => found,
            _ => {
                let found = find(&bytes[start.min(bytes.len())..], b"endstream").map(|e| start + e);
                self.cached = Some((start, found));
                found
            }
        }
    }
}

fn stream_data(
    bytes: &[u8],
    dictionary: Range<usize>,
    after_keyword: usize,
    next_endstream: &mut NextEndstream,
) -> StreamData {
    // As lopdf reads it: spaces or tabs, then one end of line.
    let mut start = after_keyword;
    while matches!(bytes.get(start), Some(b' ' | b'\t')) {
        start += 1;
    }
    if bytes[start..].starts_with(b"\r\n") {
        start += 2;
    } else if matches!(bytes.get(start), Some(b'\n' | b'\r')) {
        start += 1;
    }
    let (length_value, length) = match dictionary_value(bytes, dictionary, b"/Length") {
        Some(value) => {
            let length = reference_at(bytes, value.clone())
                .map(|(n, g)| Length::Indirect(n, g))
                .or_else(|| {
                    std::str::from_utf8(&bytes[value.clone()])
                        .ok()?
                        .parse()
                        .ok()
                        .map(Length::Direct)
                })
                .unwrap_or(Length::Missing);
            (Some(value), length)
        }
        None => (None, Length::Missing),
    };
    StreamData {
        length_value,
        length,
        start,
        endstream: next_endstream.after(bytes, start),
    }
}

/// Whether `length` bytes of data from `start` are followed by what lopdf requires: an
/// optional end of line and `endstream`.
fn ends_at_endstream(bytes: &[u8], start: usize, length: u64) -> bool {
    let Some(mut end) = usize::try_from(length)
        .ok()
        .and_then(|l| start.checked_add(l))
    else {
        return false;
    };
    if end > bytes.len() {
        return false;
    }
    if bytes[end..].starts_with(b"\r\n") {
        end += 2;
    } else if matches!(bytes.get(end), Some(b'\n' | b'\r')) {
        end += 1;
    }
    bytes[end..].starts_with(b"endstream")
}

/// A change to the copy: the `/Length` value (or the place for one) and what to put there.
struct Fix {
    replace: Range<usize>,
    with: Vec<u8>,
}

/// The length fixes of every stream whose declared length does not end at `endstream`, in
/// file order. An indirect length resolves to the last definition of its object.
fn stream_fixes(bytes: &[u8], objects: &[Found]) -> Vec<Fix> {
    let mut integers: BTreeMap<(u32, u16), u64> = BTreeMap::new();
    for object in objects.iter() {
        if let Some(value) = object.integer {
            integers.insert((object.number, object.generation), value);
        }
    }
    let mut fixes = Vec::new();
    for object in objects.iter() {
        let (Some(stream), Some(dictionary)) = (&object.stream, &object.dictionary) else {
            continue;
        };
        let declared = match stream.length {
            Length::Direct(n) => Some(n),
            Length::Indirect(n, g) => integers.get(&(n, g)).copied(),
            Length::Missing => None,
        };
        if declared.is_some_and(|n| ends_at_endstream(bytes, stream.start, n)) {
            continue;
        }
        let Some(endstream) = stream.endstream else {
            continue;
        };
        let mut end = endstream;
        if bytes[..end].ends_with(b"\r\n") {
            end -= 2;
        } else if bytes[..end].ends_with(b"\n") || bytes[..end].ends_with(b"\r") {
            end -= 1;
        }
        let length = end.saturating_sub(stream.start);
        fixes.push(match &stream.length_value {
            Some(value) => Fix {
                replace: value.clone(),
                with: length.to_string().into_bytes(),
            },
            None => Fix {
                replace: dictionary.start + 2..dictionary.start + 2,
                with: format!(" /Length {length} ").into_bytes(),
            },
        });
    }
    fixes
}

/// The trailer entries other than /Size: /Root (checked against the objects found), and
/// /Info, /Encrypt and /ID, from the newest trailer or cross-reference stream dictionary that
/// names a catalog found in the file; else /Root is the newest catalog object.
fn trailer(bytes: &[u8], objects: &[Found], last: &BTreeMap<u32, usize>) -> Option<Vec<u8>> {
    // (position, dictionary text range): `trailer` dictionaries, and the dictionaries of
    // cross-reference streams, which hold the trailer entries in files that have them.
    let mut candidates: Vec<Range<usize>> = Vec::new();
    // A `trailer` inside stream data (a PDF manual quoting one) is text, not a trailer.
    let data: Vec<Range<usize>> = objects
        .iter()
        .filter_map(|o| Some(o.stream.as_ref()?.start..o.stream.as_ref()?.endstream?))
        .collect();
    let mut budget = Budget::for_file(bytes);
    let mut at = 0;
    while let Some(relative) = find(&bytes[at..], b"trailer") {
        let keyword = at + relative;
        at = keyword + 7;
        let inside = data.partition_point(|d| d.start <= keyword);
        if inside > 0 && data[inside - 1].end > keyword {
            continue;
        }
        let start = skip_space(bytes, at);
        if !bytes[start..].starts_with(b"<<") {
            continue;
        }
        // A dictionary cut off (a broken update) still names its /Root: read up to where the
        // next keyword of the file's tail begins.
        let window = &bytes[..budget.window(bytes.len(), start, TRAILER_WINDOW)];
        let end = skip_value(window, start, 0).unwrap_or_else(|| {
            start + find(&window[start..], b"startxref").unwrap_or(window.len() - start)
        });
        budget.spend(end - start);
        candidates.push(start..end);
    }
    let object_streams = objects.iter().any(|o| {
        o.dictionary
            .as_ref()
            .is_some_and(|d| has_type(bytes, d.clone(), b"ObjStm"))
    });
    for object in objects {
        if let Some(dictionary) = &object.dictionary {
            if object.stream.is_some() && has_type(bytes, dictionary.clone(), b"XRef") {
                candidates.push(dictionary.clone());
            }
        }
    }
    candidates.sort_by_key(|c| c.start);

    let is_catalog = |(number, generation): (u32, u16)| match last.get(&number) {
        Some(&index) => {
            let object = &objects[index];
            object.generation == generation
                && object
                    .dictionary
                    .as_ref()
                    .is_some_and(|d| has_type(bytes, d.clone(), b"Catalog"))
        }
        // It may be inside an object stream, which the scan does not open.
        None => object_streams,
    };
    let root = candidates.iter().rev().find_map(|c| {
        let value = loose_value(bytes, c.clone(), b"/Root")?;
        reference_at(bytes, value).filter(|&r| is_catalog(r))
    });
    let root = root.or_else(|| {
        objects
            .iter()
            .rev()
            .filter(|o| {
                last.get(&o.number)
                    .is_some_and(|&i| objects[i].offset == o.offset)
            })
            .find(|o| {
                o.dictionary
                    .as_ref()
                    .is_some_and(|d| has_type(bytes, d.clone(), b"Catalog"))
            })
            .map(|o| (o.number, o.generation))
    })?;
    let mut entries = format!("/Root {} {} R", root.0, root.1).into_bytes();
    for key in [&b"/Info"[..], b"/Encrypt"] {
        let reference = candidates
            .iter()
            .rev()
            .find_map(|c| reference_at(bytes, loose_value(bytes, c.clone(), key)?));
        if let Some((number, generation)) = reference {
            entries.push(b' ');
            entries.extend_from_slice(key);
            entries.extend_from_slice(format!(" {number} {generation} R").as_bytes());
        }
    }
    let id = candidates
        .iter()
        .rev()
        .find_map(|c| loose_value(bytes, c.clone(), b"/ID"))
        .filter(|v| bytes.get(v.start) == Some(&b'['));
    if let Some(id) = id {
        // As written: a binary ID is part of an encrypted file's key.
        entries.extend_from_slice(b" /ID ");
        entries.extend_from_slice(&bytes[id]);
    }
    Some(entries)
}

/// Whether the dictionary's `/Type` is `name`.
fn has_type(bytes: &[u8], dictionary: Range<usize>, name: &[u8]) -> bool {
    dictionary_value(bytes, dictionary, b"/Type").is_some_and(|v| {
        let value = &bytes[v];
        value.len() == name.len() + 1 && value[0] == b'/' && &value[1..] == name
    })
}

/// The bytes of the value of `key` among the entries of the dictionary `<< ... >>` at
/// `dictionary` (top level only); a reference `N G R` is one value.
fn dictionary_value(bytes: &[u8], dictionary: Range<usize>, key: &[u8]) -> Option<Range<usize>> {
    let end = dictionary.end.min(bytes.len());
    let bytes = &bytes[..end];
    let mut i = skip_space(bytes, dictionary.start + 2);
    while i < bytes.len() && !bytes[i..].starts_with(b">>") {
        let key_end = skip_value(bytes, i, 1)?;
        let value_start = skip_space(bytes, key_end);
        let mut value_end = skip_value(bytes, value_start, 1)?;
        if let Some((_, reference_end)) = reference_tokens(bytes, value_start) {
            value_end = reference_end;
        }
        if &bytes[i..key_end] == key {
            return Some(value_start..value_end);
        }
        i = skip_space(bytes, value_end);
    }
    None
}

/// `dictionary_value` for a dictionary that may be cut off: the value after the first
/// occurrence of `key` followed by a delimiter.
fn loose_value(bytes: &[u8], dictionary: Range<usize>, key: &[u8]) -> Option<Range<usize>> {
    if let Some(value) = dictionary_value(bytes, dictionary.clone(), key) {
        return Some(value);
    }
    let text = &bytes[dictionary.clone()];
    let mut from = 0;
    while let Some(relative) = find(&text[from..], key) {
        let key_end = dictionary.start + from + relative + key.len();
        from += relative + key.len();
        if bytes.get(key_end).is_some_and(|&c| regular(c)) {
            continue;
        }
        let start = skip_space(bytes, key_end);
        let end = reference_tokens(bytes, start)
            .map(|(_, end)| end)
            .or_else(|| skip_value(bytes, start, 1))?;
        return Some(start..end);
    }
    None
}

/// The object id of a reference `N G R` that is exactly `value`.
fn reference_at(bytes: &[u8], value: Range<usize>) -> Option<(u32, u16)> {
    reference_tokens(bytes, value.start)
        .filter(|&(_, end)| end == value.end)
        .map(|(id, _)| id)
}

/// `N G R` starting at `at`: the object id and where the `R` ends.
fn reference_tokens(bytes: &[u8], at: usize) -> Option<((u32, u16), usize)> {
    let number_end = skip_token(bytes, at)?;
    let number = std::str::from_utf8(&bytes[at..number_end])
        .ok()?
        .parse()
        .ok()?;
    let generation_start = skip_space(bytes, number_end);
    let generation_end = skip_token(bytes, generation_start)?;
    let generation = std::str::from_utf8(&bytes[generation_start..generation_end])
        .ok()?
        .parse()
        .ok()?;
    let r = skip_space(bytes, generation_end);
    let r_end = skip_token(bytes, r)?;
    (&bytes[r..r_end] == b"R").then_some(((number, generation), r_end))
}

/// Whether `c` is a regular character (not white space, not a delimiter).
fn regular(c: u8) -> bool {
    !matches!(
        c,
        b'\0'
            | b'\t'
            | b'\n'
            | b'\x0c'
            | b'\r'
            | b' '
            | b'('
            | b')'
            | b'<'
            | b'>'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'/'
            | b'%'
    )
}

/// The first byte at or after `i` that is neither white space nor in a comment.
fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while let Some(&c) = bytes.get(i) {
        match c {
            b'\0' | b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' => i += 1,
            b'%' => {
                while bytes.get(i).is_some_and(|&c| c != b'\n' && c != b'\r') {
                    i += 1;
                }
            }
            _ => break,
        }
    }
    i
}

/// The end of the run of regular characters at `i` (a number or keyword), if there is one.
fn skip_token(bytes: &[u8], i: usize) -> Option<usize> {
    let length = bytes.get(i..)?.iter().take_while(|&&c| regular(c)).count();
    (length > 0).then_some(i + length)
}

/// Nesting beyond this is not a PDF anyone wrote; it ends the value (as lopdf's own limit
/// does), so that hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// The end of the PDF value starting at `i` (no white space before it): a dictionary, array,
/// string, name, number or keyword. `None` if it does not end within the bytes.
fn skip_value(bytes: &[u8], i: usize, depth: usize) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    match *bytes.get(i)? {
        b'<' if bytes.get(i + 1) == Some(&b'<') => {
            let mut j = skip_space(bytes, i + 2);
            while !bytes.get(j..)?.starts_with(b">>") {
                j = skip_space(bytes, skip_value(bytes, j, depth + 1)?);
            }
            Some(j + 2)
        }
        b'<' => Some(i + 1 + bytes.get(i + 1..)?.iter().position(|&c| c == b'>')? + 1),
        b'[' => {
            let mut j = skip_space(bytes, i + 1);
            while *bytes.get(j)? != b']' {
                j = skip_space(bytes, skip_value(bytes, j, depth + 1)?);
            }
            Some(j + 1)
        }
        b'(' => {
            let mut nesting = 0usize;
            let mut j = i;
            loop {
                match *bytes.get(j)? {
                    b'\\' => j += 1,
                    b'(' => nesting += 1,
                    b')' => {
                        nesting -= 1;
                        if nesting == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        b'/' => Some(i + 1 + bytes[i + 1..].iter().take_while(|&&c| regular(c)).count()),
        _ => skip_token(bytes, i),
    }
}

/// Parses "N G " backwards from the `obj` keyword at `keyword`; the number must start a
/// line (or follow white space), as poppler requires.
fn header_before(bytes: &[u8], keyword: usize) -> Option<(u32, u16, usize)> {
    let mut i = keyword;
    let skip_spaces = |i: &mut usize| {
        while *i > 0 && matches!(bytes[*i - 1], b' ' | b'\t' | b'\r' | b'\n' | b'\0') {
            *i -= 1;
        }
    };
    let digits = |i: &mut usize| -> Option<u32> {
        let end = *i;
        while *i > 0 && bytes[*i - 1].is_ascii_digit() && end - *i < 10 {
            *i -= 1;
        }
        std::str::from_utf8(&bytes[*i..end]).ok()?.parse().ok()
    };
    skip_spaces(&mut i);
    if i == keyword {
        return None;
    }
    let generation = u16::try_from(digits(&mut i)?).ok()?;
    let after_number = i;
    skip_spaces(&mut i);
    if i == after_number {
        return None;
    }
    let number = digits(&mut i)?;
    let line_start = i == 0 || matches!(bytes[i - 1], b'\n' | b'\r' | b' ' | b'\t');
    // Object numbers are small; a huge one would make the table huge.
    (line_start && number > 0 && number < 8_388_608).then_some((number, generation, i))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(relative) = haystack.get(from..)?.iter().position(|&c| c == first) {
        let at = from + relative;
        if haystack[at + 1..].starts_with(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdf(body: &str, trailer: &str) -> Vec<u8> {
        format!("%PDF-1.4\n{body}trailer\n{trailer}\nstartxref\n999999\n%%EOF\n").into_bytes()
    }

    const CATALOG: &str = "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
                           2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n";

    fn load(rebuilt: &Rebuilt) -> lopdf::Document {
        lopdf::Document::load_mem(&rebuilt.bytes).unwrap()
    }

    #[test]
    fn nothing_to_rebuild_from_noise() {
        assert_eq!(
            rebuild(b"%PDF-1.4\nhello world\n").unwrap_err(),
            RebuildError::NoObjects
        );
        assert_eq!(
            rebuild(b"no header 1 0 obj\n<< >>\nendobj\n").unwrap_err(),
            RebuildError::NoHeader
        );
        assert_eq!(
            rebuild(b"%PDF-1.4\n1 0 obj\n<< /Type /Page >>\nendobj\n").unwrap_err(),
            RebuildError::NoCatalog { objects: 1 }
        );
    }

    #[test]
    fn a_wrong_startxref_is_rebuilt_from_the_headers() {
        let bytes = pdf(
            &format!("{CATALOG}3 0 obj\n<< /Type /Page /Parent 2 0 R >>\nendobj\n"),
            "<< /Size 4 /Root 1 0 R /Info 9 0 R >>",
        );
        assert!(lopdf::Document::load_mem(&bytes).is_err());
        let rebuilt = rebuild(&bytes).unwrap();
        assert_eq!(rebuilt.fixed_lengths, 0);
        assert_eq!(rebuilt.table.keys().copied().collect::<Vec<_>>(), [1, 2, 3]);
        let text = String::from_utf8_lossy(&rebuilt.bytes);
        assert!(text.contains("/Size 4 /Root 1 0 R /Info 9 0 R"), "{text}");
        assert_eq!(load(&rebuilt).get_pages().len(), 1);
    }

    #[test]
    fn stream_lengths_come_from_endstream_when_they_disagree() {
        let content = "BT /F1 12 Tf (Hello) Tj ET";
        for length in ["23", "40", "99 0 R", "8 0 R"] {
            let bytes = pdf(
                &format!(
                    "{CATALOG}3 0 obj\n<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>\nendobj\n\
                     4 0 obj\n<< /Length {length} >>\nstream\n{content}\nendstream\nendobj\n\
                     8 0 obj\n26\nendobj\n"
                ),
                "<< /Size 9 /Root 1 0 R >>",
            );
            let rebuilt = rebuild(&bytes).unwrap();
            // "8 0 R" resolves to 26, which is right.
            assert_eq!(
                rebuilt.fixed_lengths,
                usize::from(length != "8 0 R"),
                "{length}"
            );
            let document = load(&rebuilt);
            let page = document.get_pages()[&1];
            assert_eq!(
                document.get_page_content(page).unwrap(),
                format!("{content}\n").as_bytes()
            );
        }
    }

    #[test]
    fn a_missing_length_is_added() {
        let bytes = pdf(
            &format!("{CATALOG}4 0 obj\n<<>>stream\r\nabc\r\nendstream\nendobj\n"),
            "<< /Root 1 0 R >>",
        );
        let rebuilt = rebuild(&bytes).unwrap();
        assert_eq!(rebuilt.fixed_lengths, 1);
        let document = load(&rebuilt);
        let stream = document.get_object((4, 0)).unwrap().as_stream().unwrap();
        assert_eq!(stream.content, b"abc");
    }

    #[test]
    fn the_last_definition_wins_and_a_broken_trailer_still_names_the_root() {
        let bytes = pdf(
            &format!(
                "{CATALOG}3 0 obj\n<< /Type /Page /Parent 2 0 R /Rotate 0 >>\nendobj\n\
                 trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n0\n%%EOF\n\
                 3 0 obj\n<< /Type /Page /Parent 2 0 R /Rotate 90 >>\nendobj\n\
                 xref\n0 1\n0000000000 65535 f\r\n"
            ),
            "<< /Size 4 /Root 1 0 R /Prev 9",
        );
        let rebuilt = rebuild(&bytes).unwrap();
        let document = load(&rebuilt);
        let page = document.get_dictionary((3, 0)).unwrap();
        assert_eq!(page.get(b"Rotate").unwrap().as_i64().unwrap(), 90);
    }

    #[test]
    fn without_a_trailer_the_catalog_is_found() {
        let bytes =
            format!("%PDF-1.4\n{CATALOG}3 0 obj\n<< /Type /Page /Parent 2 0 R >>\nendobj\n");
        let rebuilt = rebuild(bytes.as_bytes()).unwrap();
        assert_eq!(load(&rebuilt).get_pages().len(), 1);
        // A trailer naming something that is not a catalog is not believed.
        let bytes = pdf(
            &format!("{CATALOG}3 0 obj\n<< /Type /Page /Parent 2 0 R >>\nendobj\n"),
            "<< /Root 3 0 R >>",
        );
        let text = String::from_utf8(rebuild(&bytes).unwrap().bytes).unwrap();
        assert!(text.contains("/Root 1 0 R"), "{text}");
    }

    #[test]
    fn bytes_inside_streams_are_not_objects_and_junk_before_the_header_is_dropped() {
        let data = "\n7 0 obj\n<< /Type /Catalog >>\nendobj\n";
        let bytes = format!(
            "junk%PDF-1.4\n{CATALOG}5 0 obj\n<< /Length {} >>\nstream\n{data}\nendstream\nendobj\n",
            data.len()
        );
        let rebuilt = rebuild(bytes.as_bytes()).unwrap();
        assert!(rebuilt.bytes.starts_with(b"%PDF-1.4"));
        assert_eq!(rebuilt.table.keys().copied().collect::<Vec<_>>(), [1, 2, 5]);
        assert_eq!(rebuilt.table[&1].1, 9);
    }

    #[test]
    fn a_large_object_number_costs_one_line() {
        let bytes = format!("%PDF-1.4\n{CATALOG}8000000 0 obj\n<< >>\nendobj\n");
        let rebuilt = rebuild(bytes.as_bytes()).unwrap();
        assert!(rebuilt.bytes.len() < 600, "{}", rebuilt.bytes.len());
        let document = load(&rebuilt);
        assert!(document.get_object((8_000_000, 0)).is_ok());
        assert!(document.get_object((2, 0)).is_ok());
    }

    #[test]
    fn every_prefix_of_a_file_returns() {
        let bytes = pdf(
            &format!(
                "{CATALOG}4 0 obj\n<< /Length 3 /Filter [/A (x\\)) <0a>] >>\nstream\nabc\nendstream\nendobj\n"
            ),
            "<< /Size 5 /Root 1 0 R /ID [<01> <02>] >>",
        );
        for cut in 0..bytes.len() {
            let _ = rebuild(&bytes[..cut]);
        }
        let text = String::from_utf8(rebuild(&bytes).unwrap().bytes).unwrap();
        assert!(text.contains("/ID [<01> <02>]"), "{text}");
    }

    /// A few thousand mutations of real files (the samples and the fixtures, the fuzzer's
    /// findings among them): cut, flipped, spliced, with PDF keywords dropped in. `rebuild`
    /// returns on every one, and what it returns is a whole file (the fuzz target checks the
    /// same on whatever libFuzzer finds).
    #[test]
    fn mutated_files_return() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut seeds = Vec::new();
        for dir in ["samples", "tests/fixtures", "tests/fixtures/fuzz"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
                if path.is_file() && path.extension().is_none_or(|e| e != "py" && e != "md") {
                    seeds.push(std::fs::read(path).unwrap());
                }
            }
        }
        assert!(seeds.len() >= 5);
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |below: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % below.max(1) as u64) as usize
        };
        const WORDS: &[&[u8]] = &[
            b"obj",
            b" 0 obj",
            b"endobj",
            b"stream\n",
            b"endstream",
            b"<<",
            b">>",
            b"(",
            b")",
            b"[",
            b"/Length 99999 ",
            b"/Length 5 0 R",
            b"trailer",
            b"/Root 1 0 R",
            b"%",
            b"\\",
            b"1 0 obj <<",
            b"/Type /Catalog",
            b"/Type /XRef",
            b"/Type /ObjStm",
        ];
        for round in 0..3000 {
            let seed = &seeds[round % seeds.len()];
            let mut bytes = seed.clone();
            for _ in 0..1 + next(4) {
                let at = next(bytes.len() + 1);
                match next(5) {
                    0 => bytes.truncate(at),
                    1 => {
                        let end = (at + next(64)).min(bytes.len());
                        bytes[at..end].iter_mut().for_each(|b| *b ^= 0x5a);
                    }
                    2 => {
                        let end = (at + next(4096)).min(bytes.len());
                        bytes.drain(at..end);
                    }
                    3 => {
                        let from = next(bytes.len() + 1);
                        let end = (from + next(2048)).min(bytes.len());
                        let copy = bytes[from..end].to_vec();
                        bytes.splice(at..at, copy);
                    }
                    _ => {
                        let word = WORDS[next(WORDS.len())];
                        bytes.splice(at..at, word.iter().copied());
                    }
                }
            }
            if let Ok(rebuilt) = rebuild(&bytes) {
                assert!(rebuilt.bytes.starts_with(b"%PDF-"), "round {round}");
                assert!(rebuilt.bytes.ends_with(b"%%EOF\n"), "round {round}");
                assert!(rebuilt.table.values().all(|&(_, o)| o < bytes.len()));
            }
        }
    }

    /// Patterns that would make a naive scan quadratic: dictionaries and trailers that never
    /// end, streams without `endstream`, a header before every few bytes.
    #[test]
    fn hostile_repetitions_take_linear_time() {
        for unit in [
            &b" 1 0 obj<<("[..],
            b"\n1 0 obj<</Type/Catalog>>\ntrailer<</Root 1 0 R(",
            b"1 0 obj<</Length 9>>stream\n",
            b"\n1 0 obj ",
            b"1 0 obj<</Type/Catalog/Pages 1 0 R>>",
        ] {
            let mut bytes = b"%PDF-1.4\n".to_vec();
            bytes.extend(std::iter::repeat_n(unit, (1 << 20) / unit.len()).flatten());
            let started = std::time::Instant::now();
            let _ = rebuild(&bytes);
            let took = started.elapsed();
            assert!(
                took.as_secs() < 5,
                "{:?}: {took:?}",
                String::from_utf8_lossy(unit)
            );
        }
    }

    #[test]
    fn deep_nesting_ends_the_value_instead_of_the_stack() {
        let mut bytes = b"%PDF-1.4\n1 0 obj\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'[', 100_000));
        bytes.extend_from_slice(b"\nendobj\n");
        let _ = rebuild(&bytes);
        let mut bytes = b"%PDF-1.4\n1 0 obj\n".to_vec();
        bytes.extend(std::iter::repeat_n(&b"<< /A "[..], 100_000).flatten());
        let _ = rebuild(&bytes);
    }
}

//! Rebuilds the cross-reference table of a PDF whose xref or `startxref` is damaged.
//!
//! Readers such as poppler recover such files by scanning for `N G obj` headers; lopdf does
//! not. The repair appends a fresh xref section (or points `startxref` at the last xref
//! stream) to a copy of the bytes and lets lopdf parse that copy. Objects that are not all
//! there (a truncated download) simply stay missing: the repair never invents content.

/// A copy of `bytes` with a rebuilt cross-reference section, or `None` when nothing in the
/// file looks like a PDF object.
pub fn rebuild_xref(bytes: &[u8]) -> Option<Vec<u8>> {
    let objects = object_offsets(bytes);
    if objects.is_empty() {
        return None;
    }
    let mut repaired = bytes.to_vec();
    repaired.extend_from_slice(b"\n");

    // A file with cross-reference streams keeps its trailer in the newest of them; compressed
    // objects are only reachable through it, so point at it rather than list offsets.
    if let Some(&(_, _, offset)) = objects
        .iter()
        .rev()
        .find(|(_, _, offset)| is_xref_stream(bytes, *offset))
    {
        repaired.extend_from_slice(format!("startxref\n{offset}\n%%EOF\n").as_bytes());
        return Some(repaired);
    }

    let size = objects.iter().map(|(number, _, _)| number + 1).max()?;
    let mut table: Vec<Option<(u32, usize)>> = vec![None; size as usize];
    for &(number, generation, offset) in &objects {
        // Later definitions (incremental updates) win.
        table[number as usize] = Some((generation, offset));
    }
    let trailer = trailer_entries(bytes, &objects)?;
    let xref_at = repaired.len();
    let mut section = format!("xref\n0 {size}\n");
    for (number, entry) in table.iter().enumerate() {
        match entry {
            Some((generation, offset)) if number > 0 => {
                section.push_str(&format!("{offset:010} {generation:05} n\r\n"))
            }
            _ => section.push_str("0000000000 65535 f\r\n"),
        }
    }
    section.push_str(&format!(
        "trailer\n<< /Size {size} {trailer} >>\nstartxref\n{xref_at}\n%%EOF\n"
    ));
    repaired.extend_from_slice(section.as_bytes());
    Some(repaired)
}

/// `(number, generation, offset)` of every `N G obj` that starts a line, in file order.
fn object_offsets(bytes: &[u8]) -> Vec<(u32, u32, usize)> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(relative) = find(&bytes[at..], b"obj") {
        let keyword = at + relative;
        at = keyword + 3;
        // After "obj": whitespace, a delimiter or the end (not "objects" or "endobj").
        if bytes
            .get(keyword + 3)
            .is_some_and(|c| c.is_ascii_alphanumeric())
        {
            continue;
        }
        if let Some((number, generation, start)) = header_before(bytes, keyword) {
            let line_start = start == 0 || matches!(bytes[start - 1], b'\n' | b'\r' | b' ');
            if line_start && number > 0 && number < 10_000_000 {
                found.push((number, generation, start));
            }
        }
    }
    found
}

/// Parses "N G " backwards from the `obj` keyword at `keyword`.
fn header_before(bytes: &[u8], keyword: usize) -> Option<(u32, u32, usize)> {
    let mut i = keyword;
    let skip_spaces = |i: &mut usize| {
        while *i > 0 && matches!(bytes[*i - 1], b' ' | b'\t' | b'\r' | b'\n') {
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
    let generation = digits(&mut i)?;
    let after_number = i;
    skip_spaces(&mut i);
    if i == after_number {
        return None;
    }
    let number = digits(&mut i)?;
    Some((number, generation, i))
}

fn is_xref_stream(bytes: &[u8], offset: usize) -> bool {
    let window = &bytes[offset..bytes.len().min(offset + 512)];
    let Some(dict_end) = find(window, b"stream") else {
        return false;
    };
    let head = &window[..dict_end];
    find(head, b"/Type/XRef").is_some() || find(head, b"/Type /XRef").is_some()
}

/// The trailer entries other than /Size and /Prev: copied from the last `trailer`
/// dictionary in the file, or made from the catalog object when there is none.
fn trailer_entries(bytes: &[u8], objects: &[(u32, u32, usize)]) -> Option<String> {
    let mut entries = String::new();
    if let Some(at) = rfind(bytes, b"trailer") {
        let dict = dictionary_at(&bytes[at..])?;
        for key in ["/Root", "/Info", "/Encrypt"] {
            if let Some(value) = reference_after(&dict, key) {
                entries.push_str(&format!("{key} {value} "));
            }
        }
        if let Some(start) = dict.find("/ID") {
            if let (Some(open), Some(close)) = (dict[start..].find('['), dict[start..].find(']')) {
                if open < close {
                    entries.push_str(&format!("/ID {} ", &dict[start + open..=start + close]));
                }
            }
        }
    }
    if !entries.contains("/Root") {
        let &(number, generation, _) = objects.iter().rev().find(|(_, _, offset)| {
            let window = &bytes[*offset..bytes.len().min(offset + 256)];
            find(window, b"/Catalog").is_some()
        })?;
        entries.push_str(&format!("/Root {number} {generation} R "));
    }
    Some(entries.trim_end().to_owned())
}

/// The text of the first `<< ... >>` in `bytes`, nesting included.
fn dictionary_at(bytes: &[u8]) -> Option<String> {
    let start = find(bytes, b"<<")?;
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < bytes.len() {
        match &bytes[i..i + 2] {
            b"<<" => {
                depth += 1;
                i += 2;
            }
            b">>" => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(String::from_utf8_lossy(&bytes[start..i]).into_owned());
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// "12 0 R" after `key` in a dictionary's text.
fn reference_after(dict: &str, key: &str) -> Option<String> {
    let at = dict.find(key)? + key.len();
    let words: Vec<&str> = dict[at..].split_whitespace().take(3).collect();
    match words.as_slice() {
        [number, generation, r]
            if number.parse::<u32>().is_ok()
                && generation.parse::<u32>().is_ok()
                && r.starts_with('R') =>
        {
            Some(format!("{number} {generation} R"))
        }
        _ => None,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_rebuild_from_noise() {
        assert_eq!(rebuild_xref(b"%PDF-1.4\nhello world\n"), None);
    }

    #[test]
    fn finds_object_headers_and_the_root() {
        let pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
                    2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n\
                    trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n999\n%%EOF\n";
        let offsets = object_offsets(pdf);
        assert_eq!(offsets.iter().map(|o| o.0).collect::<Vec<_>>(), vec![1, 2]);
        let repaired = String::from_utf8(rebuild_xref(pdf).unwrap()).unwrap();
        assert!(repaired.contains("/Size 3 /Root 1 0 R"), "{repaired}");
        assert!(repaired.contains(&format!("{:010} 00000 n", offsets[0].2)));
    }
}

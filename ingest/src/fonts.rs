//! Font dictionaries made safe for pdf-extract's interpreter before a document's pages are
//! read. A font the interpreter cannot take makes it panic, and the page is lost although
//! its text is there (poppler reads it). Two cases seen in real files:
//!
//! - **ToUnicode maps adobe-cmap-parser rejects**: a `bfrange` whose destination is not
//!   one or two UTF-16 units (a ligature range, `<0066006600690>`-style), odd-length
//!   values, unpaired surrogates, or a map its grammar does not parse. Such a map is read
//!   here by a tolerant reader and written back as plain `bfchar` entries, which every
//!   reader takes; one that cannot be read at all is removed, so the font's encoding
//!   names the glyphs instead.
//! - **ZapfDingbats or Symbol without /Widths and with an /Encoding**: pdf-extract looks
//!   their glyph names up in the Latin glyph list and panics on the first dingbat. Such a
//!   font gets uniform widths, which send the interpreter down its ordinary path; the
//!   glyphs are symbols, so approximate advances cost no words.
//!
//! - **Type 3 fonts whose glyph space is not 1/1000 of text space**: pdf-extract divides
//!   their /Widths by 1000 as for Type 1, ignoring /FontMatrix. dvips' bitmap fonts have
//!   a FontMatrix near 0.01, so each glyph advanced a tenth of its width, glyphs piled up,
//!   repeated letters merged ("cell" read "cel") and others swapped. Their widths are
//!   rescaled here to thousandths of text space, which is what pdf-extract assumes.
//!
//! Fonts that pdf-extract reads as they are are left untouched: a map is rewritten only
//! when adobe-cmap-parser itself fails on it or returns values pdf-extract would panic on.

use std::collections::BTreeMap;

use lopdf::{Document, Object, ObjectId, Stream};

use crate::pdf::contained;

/// The most codes one `bfrange` entry may expand to, and the most entries a map may hold
/// (a CJK font's is some tens of thousands): a damaged or hostile map is cut here rather
/// than allocating without bound.
const MAX_RANGE: u32 = 0x1_0000;
const MAX_ENTRIES: usize = 1 << 18;

/// What [`prepare`] changed, for the debug log.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct FontRepairs {
    /// ToUnicode maps written back as plain `bfchar` entries.
    pub(crate) maps_rewritten: usize,
    /// ToUnicode entries removed (unreadable, or a kind pdf-extract does not take).
    pub(crate) maps_removed: usize,
    /// Symbol fonts given widths.
    pub(crate) widths_added: usize,
    /// Type 3 fonts whose widths were rescaled to thousandths of text space.
    pub(crate) type3_rescaled: usize,
}

/// Repairs the document's font dictionaries as the module doc says.
pub(crate) fn prepare(document: &mut Document) -> FontRepairs {
    let mut repairs = FontRepairs::default();
    let fonts: Vec<ObjectId> = document
        .objects
        .iter()
        .filter(|(_, object)| {
            object
                .as_dict()
                .ok()
                .and_then(|d| d.get(b"Type").ok())
                .and_then(|t| t.as_name().ok())
                == Some(b"Font".as_slice())
        })
        .map(|(&id, _)| id)
        .collect();
    for id in fonts {
        prepare_widths(document, id, &mut repairs);
        prepare_type3(document, id, &mut repairs);
        prepare_to_unicode(document, id, &mut repairs);
    }
    repairs
}

fn prepare_widths(document: &mut Document, id: ObjectId, repairs: &mut FontRepairs) {
    let Some(Object::Dictionary(font)) = document.objects.get_mut(&id) else {
        return;
    };
    let base = font
        .get(b"BaseFont")
        .ok()
        .and_then(|b| b.as_name().ok())
        .unwrap_or_default();
    let width = match base {
        b"ZapfDingbats" => 788,
        b"Symbol" => 600,
        _ => return,
    };
    if font.has(b"Widths") || !font.has(b"Encoding") {
        return;
    }
    font.set("FirstChar", 0);
    font.set("LastChar", 255);
    font.set(
        "Widths",
        Object::Array((0..256).map(|_| Object::Integer(width)).collect()),
    );
    repairs.widths_added += 1;
}

fn prepare_type3(document: &mut Document, id: ObjectId, repairs: &mut FontRepairs) {
    let Some(Object::Dictionary(font)) = document.objects.get(&id) else {
        return;
    };
    if font.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Type3".as_slice()) {
        return;
    }
    let number = |object: &Object| object.as_float().ok().map(f64::from);
    let array = |key: &[u8]| match font.get(key).map(|o| document.dereference(o)) {
        Ok(Ok((_, Object::Array(values)))) => Some(values),
        _ => None,
    };
    let Some(matrix) = array(b"FontMatrix") else {
        return;
    };
    let Some(scale) = matrix.first().and_then(number).map(|a| a * 1000.0) else {
        return;
    };
    // Already in thousandths (or degenerate): nothing to do.
    if !scale.is_finite() || scale == 0.0 || (scale.abs() - 1.0).abs() < 1e-6 {
        return;
    }
    let Some(widths) = array(b"Widths") else {
        return;
    };
    let rescaled: Vec<Object> = widths
        .iter()
        .map(|w| Object::Real((number(w).unwrap_or(0.0) * scale.abs()) as f32))
        .collect();
    // The matrix is scaled to match, so that a second pass finds thousandths (pdf-extract
    // itself never reads it).
    let matrix: Vec<Object> = matrix
        .iter()
        .map(|m| Object::Real((number(m).unwrap_or(0.0) / scale.abs()) as f32))
        .collect();
    if let Some(Object::Dictionary(font)) = document.objects.get_mut(&id) {
        font.set("Widths", Object::Array(rescaled));
        font.set("FontMatrix", Object::Array(matrix));
        repairs.type3_rescaled += 1;
    }
}

fn prepare_to_unicode(document: &mut Document, id: ObjectId, repairs: &mut FontRepairs) {
    let Some(Object::Dictionary(font)) = document.objects.get(&id) else {
        return;
    };
    let target = match font.get(b"ToUnicode") {
        Ok(Object::Reference(reference)) => Target::Stream(*reference),
        Ok(Object::Name(name)) if name == b"Identity-H" => return,
        // A name pdf-extract does not know, or an object of the wrong kind, panics there.
        Ok(Object::Name(_)) | Ok(Object::Dictionary(_)) | Ok(Object::Array(_)) => Target::Remove,
        Ok(Object::Stream(_)) => Target::Inline,
        _ => return,
    };
    let content = match target {
        Target::Stream(reference) => match document.objects.get(&reference) {
            Some(Object::Stream(stream)) => Some(plain(stream)),
            Some(_) => None,
            // A dangling reference: pdf-extract finds no map and uses the encoding.
            None => return,
        },
        Target::Inline => match font.get(b"ToUnicode") {
            Ok(Object::Stream(stream)) => Some(plain(stream)),
            _ => None,
        },
        Target::Remove => None,
    };
    let replacement = match content {
        Some(content) if adobe_reads(&content) => return,
        Some(content) => read_map(&content).map(|map| write_map(&map)),
        None => None,
    };
    match replacement {
        Some(bytes) => {
            let stream = Stream::new(lopdf::Dictionary::new(), bytes);
            match target {
                Target::Stream(reference) => {
                    document.objects.insert(reference, Object::Stream(stream));
                }
                _ => {
                    let new_id = document.add_object(stream);
                    if let Some(Object::Dictionary(font)) = document.objects.get_mut(&id) {
                        font.set("ToUnicode", Object::Reference(new_id));
                    }
                }
            }
            repairs.maps_rewritten += 1;
        }
        None => {
            if let Some(Object::Dictionary(font)) = document.objects.get_mut(&id) {
                font.remove(b"ToUnicode");
            }
            repairs.maps_removed += 1;
        }
    }
}

enum Target {
    Stream(ObjectId),
    Inline,
    Remove,
}

fn plain(stream: &Stream) -> Vec<u8> {
    stream
        .get_plain_content()
        .unwrap_or_else(|_| stream.content.clone())
}

/// Whether pdf-extract will read this map without panicking: adobe-cmap-parser parses it,
/// and every value is whole UTF-16 units that decode (pdf-extract skips a lone surrogate
/// unit and unwraps everything else).
fn adobe_reads(content: &[u8]) -> bool {
    let parsed = contained(|| adobe_cmap_parser::get_unicode_map(content));
    match parsed {
        Ok(Ok(map)) => map.values().all(|value| {
            if value.len() % 2 != 0 {
                return false;
            }
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            matches!(units.as_slice(), [0xd800..=0xdfff]) || String::from_utf16(&units).is_ok()
        }),
        _ => false,
    }
}

/// A code and the byte length it is written with.
type Code = (u32, usize);

/// Reads the `bfchar` and `bfrange` entries of a ToUnicode CMap, tolerating what
/// adobe-cmap-parser does not: any destination length, odd hex digits (padded with 0, as
/// PDF strings are), unknown tokens. `None` when no entry could be read.
fn read_map(content: &[u8]) -> Option<BTreeMap<Code, Vec<u16>>> {
    let tokens = tokens(content);
    let mut map = BTreeMap::new();
    let mut i = 0;
    while i < tokens.len() && map.len() < MAX_ENTRIES {
        match &tokens[i] {
            Token::Word(word) if word == b"beginbfchar" => {
                i += 1;
                while let (Some(Token::Hex(code)), Some(Token::Hex(value))) =
                    (tokens.get(i), tokens.get(i + 1))
                {
                    if map.len() >= MAX_ENTRIES {
                        break;
                    }
                    if let (Some(code), Some(units)) = (code_of(code), units_of(value)) {
                        map.insert(code, units);
                    }
                    i += 2;
                }
            }
            Token::Word(word) if word == b"beginbfrange" => {
                i += 1;
                while let (Some(Token::Hex(low)), Some(Token::Hex(high))) =
                    (tokens.get(i), tokens.get(i + 1))
                {
                    if map.len() >= MAX_ENTRIES {
                        break;
                    }
                    let (Some((low, width)), Some((high, _))) = (code_of(low), code_of(high))
                    else {
                        i += 3;
                        continue;
                    };
                    let last = high.min(low.saturating_add(MAX_RANGE - 1));
                    match tokens.get(i + 2) {
                        Some(Token::Hex(start)) => {
                            if let Some(start) = units_of(start) {
                                for (offset, code) in (low..=last).enumerate() {
                                    let mut units = start.clone();
                                    // The last unit counts up through the range.
                                    if let Some(unit) = units.last_mut() {
                                        *unit = unit.wrapping_add(offset as u16);
                                    }
                                    map.insert((code, width), units);
                                }
                            }
                            i += 3;
                        }
                        Some(Token::Array(values)) => {
                            for (code, value) in (low..=last).zip(values) {
                                if let Some(units) = units_of(value) {
                                    map.insert((code, width), units);
                                }
                            }
                            i += 3;
                        }
                        _ => i += 2,
                    }
                }
            }
            _ => i += 1,
        }
    }
    // Values that would not decode are dropped: the glyph then has no text, as in poppler.
    map.retain(|_, units| String::from_utf16(units).is_ok());
    (!map.is_empty()).then_some(map)
}

/// The map as a minimal CMap of `bfchar` blocks (at most 100 entries each, as the CMap
/// specification asks).
fn write_map(map: &BTreeMap<Code, Vec<u16>>) -> Vec<u8> {
    let mut out = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CMapName /dossier-repaired def\n/CMapType 2 def\n",
    );
    let entries: Vec<_> = map.iter().collect();
    for block in entries.chunks(100) {
        out.push_str(&format!("{} beginbfchar\n", block.len()));
        for ((code, width), units) in block {
            let code_hex = format!("{code:0w$X}", w = width * 2);
            let value_hex: String = units.iter().map(|u| format!("{u:04X}")).collect();
            out.push_str(&format!("<{code_hex}> <{value_hex}>\n"));
        }
        out.push_str("endbfchar\n");
    }
    out.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    out.into_bytes()
}

#[derive(Debug, PartialEq)]
enum Token {
    /// A hex string's bytes.
    Hex(Vec<u8>),
    Array(Vec<Vec<u8>>),
    Word(Vec<u8>),
}

/// The CMap's hex strings, arrays of hex strings and bare words; comments, literal strings
/// and other punctuation are skipped.
fn tokens(content: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut array: Option<Vec<Vec<u8>>> = None;
    while i < content.len() {
        let c = content[i];
        match c {
            b'%' => {
                while i < content.len() && content[i] != b'\n' && content[i] != b'\r' {
                    i += 1;
                }
            }
            b'<' if content.get(i + 1) == Some(&b'<') => i += 2,
            b'>' if content.get(i + 1) == Some(&b'>') => i += 2,
            b'<' => {
                let end = content[i + 1..]
                    .iter()
                    .position(|&b| b == b'>')
                    .map_or(content.len(), |p| i + 1 + p);
                let bytes = hex_bytes(&content[i + 1..end]);
                match array.as_mut() {
                    Some(values) => values.push(bytes),
                    None => tokens.push(Token::Hex(bytes)),
                }
                i = end + 1;
            }
            b'[' => {
                array = Some(Vec::new());
                i += 1;
            }
            b']' => {
                tokens.push(Token::Array(array.take().unwrap_or_default()));
                i += 1;
            }
            // Literal strings do not occur in the entries: skipped whole.
            b'(' => i = crate::pdf::after_literal_string(content, i),
            c if c.is_ascii_alphanumeric() || c == b'/' || c == b'.' || c == b'-' => {
                let start = i;
                while i < content.len()
                    && !content[i].is_ascii_whitespace()
                    && !b"<>[]()%/".contains(&content[i])
                    || i == start
                {
                    i += 1;
                }
                if array.is_none() {
                    tokens.push(Token::Word(content[start..i].to_vec()));
                }
            }
            _ => i += 1,
        }
    }
    tokens
}

fn hex_bytes(digits: &[u8]) -> Vec<u8> {
    let nibbles: Vec<u8> = digits
        .iter()
        .filter_map(|&d| (d as char).to_digit(16).map(|n| n as u8))
        .collect();
    nibbles
        .chunks(2)
        .map(|pair| pair[0] << 4 | pair.get(1).copied().unwrap_or(0))
        .collect()
}

fn code_of(bytes: &[u8]) -> Option<Code> {
    if bytes.is_empty() || bytes.len() > 4 {
        return None;
    }
    Some((
        bytes.iter().fold(0u32, |code, &b| code << 8 | b as u32),
        bytes.len(),
    ))
}

/// A destination's UTF-16 units; a trailing odd byte is dropped.
fn units_of(bytes: &[u8]) -> Option<Vec<u16>> {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect();
    (!units.is_empty()).then_some(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIGATURE_RANGE: &[u8] = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
        1 begincodespacerange <00> <FF> endcodespacerange\n\
        2 beginbfrange\n<41> <43> <0041>\n<1B> <1B> <006600660069>\nendbfrange\n\
        1 beginbfchar\n<20> <0020>\nendbfchar\nendcmap end end\n";

    #[test]
    fn adobe_cmap_parser_still_panics_on_a_ligature_range() {
        // The reason this module exists: if the parser learns such ranges, the rewrite is
        // no longer needed for them (and `adobe_reads` lets the map through untouched).
        assert!(!adobe_reads(LIGATURE_RANGE));
        let plain = b"1 beginbfchar\n<20> <0020>\nendbfchar\n";
        assert!(adobe_reads(plain));
    }

    #[test]
    fn a_ligature_range_is_read_and_written_as_plain_entries() {
        let map = read_map(LIGATURE_RANGE).unwrap();
        let text = |code: u32| String::from_utf16(&map[&(code, 1)]).unwrap();
        assert_eq!(text(0x41), "A");
        assert_eq!(text(0x43), "C");
        assert_eq!(text(0x1B), "ffi");
        assert_eq!(text(0x20), " ");
        let written = write_map(&map);
        assert!(adobe_reads(&written));
        let reread = adobe_cmap_parser::get_unicode_map(&written).unwrap();
        assert_eq!(reread[&0x1B], vec![0, 0x66, 0, 0x66, 0, 0x69]);
        assert_eq!(reread.len(), 5);
    }

    #[test]
    fn odd_digits_arrays_and_damage_do_not_stop_the_reader() {
        let map = read_map(
            b"beginbfrange <0001> <0002> [<0061> <062>] <FFFFFF00> <FFFFFFFF> <41> endbfrange \
              beginbfchar <05> <D800> <06> <00> endbfchar garbage ( a ) string",
        )
        .unwrap();
        assert_eq!(map[&(1, 2)], vec![0x61]);
        assert_eq!(map[&(2, 2)], vec![0x0620]);
        // A lone surrogate does not decode and is dropped; a one-byte value has no unit.
        assert!(!map.contains_key(&(5, 1)));
        assert!(!map.contains_key(&(6, 1)));
        assert!(read_map(b"no entries here").is_none());
    }

    /// A three-page PDF: page 1's font has a ToUnicode map with a ligature range, page 2
    /// draws a check mark in ZapfDingbats with an /Encoding and no /Widths, page 3 is set
    /// in a Type 3 font whose glyph space is 1/100 of text space.
    fn pdf_with_troublesome_fonts() -> Vec<u8> {
        use lopdf::{dictionary, Dictionary};
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let to_unicode = doc.add_object(Stream::new(Dictionary::new(), LIGATURE_RANGE.to_vec()));
        let mapped = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
            "Encoding" => "WinAnsiEncoding", "ToUnicode" => to_unicode,
        });
        let helvetica = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
            "Encoding" => "WinAnsiEncoding",
        });
        let dingbats = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "ZapfDingbats",
            "Encoding" => dictionary! { "Type" => "Encoding", "Differences" => vec![51.into(), Object::Name(b"a20".to_vec())] },
        });
        // A dvips-style bitmap font: glyph space of 1/100 text space, every glyph 50 wide.
        let letters: Vec<Object> = std::iter::once(Object::Integer(97))
            .chain((b'a'..=b'z').map(|c| Object::Name(vec![c])))
            .collect();
        let type3 = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type3",
            "FontMatrix" => vec![0.01.into(), 0.into(), 0.into(), 0.01.into(), 0.into(), 0.into()],
            "FontBBox" => vec![0.into(), 0.into(), 100.into(), 100.into()],
            "CharProcs" => dictionary! {},
            "Encoding" => dictionary! { "Type" => "Encoding", "Differences" => letters },
            "FirstChar" => 97, "LastChar" => 122,
            "Widths" => (0..26).map(|_| Object::Integer(50)).collect::<Vec<_>>(),
        });
        let mut kids = Vec::new();
        for content in [
            b"BT /F1 12 Tf 72 700 Td (AB\\033C) Tj ET".to_vec(),
            b"BT /F2 12 Tf 72 700 Td (3) Tj /F3 12 Tf 90 700 Td (Checked box) Tj ET".to_vec(),
            b"BT /F4 12 Tf 72 700 Td (illustrated) Tj 0 -20 Td (cells) Tj ET".to_vec(),
        ] {
            let content_id = doc.add_object(Stream::new(Dictionary::new(), content));
            let page = doc.add_object(dictionary! {
                "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
                "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
                "Resources" => dictionary! { "Font" => dictionary! { "F1" => mapped, "F2" => dingbats, "F3" => helvetica, "F4" => type3 } },
            });
            kids.push(Object::Reference(page));
        }
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! { "Type" => "Pages", "Count" => 3, "Kids" => kids }),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog);
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn pages_whose_fonts_made_the_interpreter_panic_are_read() {
        let bytes = pdf_with_troublesome_fonts();
        let options = crate::pdf::ExtractOptions {
            ocr: crate::OcrMode::Never,
            ..Default::default()
        };
        let text = crate::pdf::extract(&bytes, &options).unwrap();
        let pages: Vec<_> = text
            .pages
            .iter()
            .map(|p| (p.status.clone(), p.text.clone()))
            .collect();
        assert_eq!(pages[0].0, crate::PageStatus::Text, "{pages:?}");
        assert!(pages[0].1.contains("ABffiC"), "{pages:?}");
        assert_eq!(pages[1].0, crate::PageStatus::Text, "{pages:?}");
        assert!(pages[1].1.contains("Checked box"), "{pages:?}");
        assert_eq!(pages[2].1, "illustrated\ncells", "{pages:?}");
    }

    #[test]
    fn prepare_changes_only_the_fonts_that_need_it() {
        let mut doc = Document::load_mem(&pdf_with_troublesome_fonts()).unwrap();
        let repairs = prepare(&mut doc);
        assert_eq!(
            repairs,
            FontRepairs {
                maps_rewritten: 1,
                maps_removed: 0,
                widths_added: 1,
                type3_rescaled: 1,
            }
        );
        // A second pass finds nothing left to do.
        assert_eq!(prepare(&mut doc), FontRepairs::default());
    }

    /// The reader and writer are our own code on the file's bytes: no input may make them
    /// panic. Deterministic mutations of a real map (bytes flipped, cut, repeated) and
    /// random bytes drawn from the CMap syntax's alphabet, 20,000 inputs.
    #[test]
    fn a_hostile_map_is_cut_at_its_entry_limit() {
        let mut map = b"beginbfrange\n".to_vec();
        for block in 0..64u32 {
            map.extend(format!("<{:04X}0000> <{:04X}FFFF> <0041>\n", block, block).bytes());
        }
        map.extend(b"endbfrange\n");
        let read = read_map(&map).unwrap();
        assert!(
            read.len() <= MAX_ENTRIES + MAX_RANGE as usize,
            "{}",
            read.len()
        );
    }

    #[test]
    fn no_bytes_make_the_map_reader_panic() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        const ALPHABET: &[u8] = b"<>[]()%/\\ \n0123456789ABCDEFabcdef beginbfrange endbfchar";
        for round in 0..20_000 {
            let input: Vec<u8> = if round % 2 == 0 {
                let mut bytes = LIGATURE_RANGE.to_vec();
                for _ in 0..(next() % 8) {
                    let at = (next() as usize) % bytes.len();
                    match next() % 3 {
                        0 => bytes[at] = next() as u8,
                        1 => bytes.truncate(at.max(1)),
                        _ => {
                            let piece = bytes[at..].iter().take(12).copied().collect::<Vec<_>>();
                            bytes.splice(at..at, piece);
                        }
                    }
                }
                bytes
            } else {
                (0..(next() % 300))
                    .map(|_| ALPHABET[(next() as usize) % ALPHABET.len()])
                    .collect()
            };
            if let Some(map) = read_map(&input) {
                let written = write_map(&map);
                assert!(read_map(&written).is_some());
            }
        }
    }
}

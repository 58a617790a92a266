//! Page layout from glyph positions: words, lines, columns, tables, running headers.
//!
//! `pdf-extract` interprets the content stream (fonts, encodings, ToUnicode maps, TJ
//! offsets) and reports every glyph with its text matrix; this module decides what the
//! stream order cannot be trusted for:
//!
//! - **spaces** come from the gap between one glyph's end and the next one's start, not from
//!   space characters (many producers position words without them);
//! - **lines** are glyphs sharing a baseline, read left to right;
//! - **reading order** comes from a recursive XY cut: a region is split at a vertical
//!   whitespace gutter when both sides read as text columns, otherwise at its widest
//!   horizontal gap, so a two-column page reads column by column under its full-width title;
//! - **tables**: a region whose sides share baselines but are not text columns is read row
//!   by row, its cells joined by ` | `, so a row stays together and a column never
//!   interleaves with body text;
//! - **running headers and footers** (lines near the top or bottom edge that repeat on many
//!   pages, and bare page numbers) are dropped across the document by [`drop_furniture`].

use std::collections::HashMap;

use pdf_extract::{ColorSpace, MediaBox, OutputDev, OutputError, Path, PathOp, Transform};

/// Gap between glyphs, as a fraction of the font size, above which a space is inserted.
/// Word spaces are rarely narrower than a fifth of an em; kerning rarely wider than a tenth.
const WORD_GAP: f64 = 0.15;
/// Gap, in ems, that splits a line into separate segments (table cells, columns).
const SEGMENT_GAP: f64 = 1.0;
/// Width, in ems, that each side of a gutter needs to be read as a column.
const COLUMN_WIDTH: f64 = 12.0;
/// Share of the page height at the top and bottom where running headers and footers live.
const FURNITURE_ZONE: f64 = 0.1;

/// One glyph as drawn: position in page space with y growing downwards.
#[derive(Debug, Clone)]
struct Glyph {
    x: f64,
    baseline: f64,
    advance: f64,
    size: f64,
    text: GlyphText,
}

/// A glyph's text, held inline: nearly every glyph is one character and a ligature a few,
/// and a heap string per glyph made the allocator a quarter of the extraction time.
#[derive(Debug, Clone)]
enum GlyphText {
    Inline {
        len: u8,
        bytes: [u8; 22],
    },
    /// A ToUnicode map may give a glyph a longer string.
    Long(Box<str>),
}

impl GlyphText {
    fn new(text: &str) -> Self {
        let mut bytes = [0; 22];
        match bytes.get_mut(..text.len()) {
            Some(inline) => {
                inline.copy_from_slice(text.as_bytes());
                Self::Inline {
                    len: text.len() as u8,
                    bytes,
                }
            }
            None => Self::Long(text.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Copied whole from a `&str`, so the bytes up to `len` are UTF-8.
            Self::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..*len as usize]).unwrap_or_default()
            }
            Self::Long(text) => text,
        }
    }
}

/// Collects glyphs from pdf-extract's interpreter.
pub struct GlyphCollector {
    flip: Transform,
    width: f64,
    height: f64,
    glyphs: Vec<Glyph>,
    /// Rotated or vertical text, kept in drawing order and appended after the page body.
    rotated: Vec<Glyph>,
}

impl Default for GlyphCollector {
    fn default() -> Self {
        Self {
            flip: Transform::identity(),
            width: 612.0,
            height: 792.0,
            glyphs: Vec::new(),
            rotated: Vec::new(),
        }
    }
}

impl OutputDev for GlyphCollector {
    fn begin_page(
        &mut self,
        _page_num: u32,
        media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        self.width = (media_box.urx - media_box.llx).abs().max(1.0);
        self.height = (media_box.ury - media_box.lly).abs().max(1.0);
        self.flip = Transform::row_major(1., 0., 0., -1., 0., media_box.ury - media_box.lly);
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        _spacing: f64,
        font_size: f64,
        text: &str,
    ) -> Result<(), OutputError> {
        if text.chars().all(|c| c.is_whitespace() || c.is_control()) {
            return Ok(());
        }
        let position = trm.post_transform(&self.flip);
        let scaled = trm.transform_vector(euclid::vec2(font_size, font_size));
        let size = (scaled.x * scaled.y).abs().sqrt();
        let (x, y) = (position.m31, position.m32);
        if !(x.is_finite() && y.is_finite() && size.is_finite()) || size <= 0.0 {
            return Ok(());
        }
        let glyph = Glyph {
            x,
            baseline: y,
            advance: (width * size).max(0.0),
            size,
            text: GlyphText::new(text),
        };
        // A glyph matrix with shear or rotation (or a mirrored one) is not horizontal text.
        let skew = trm.m12.abs() + trm.m21.abs();
        if skew > 0.01 * (trm.m11.abs() + trm.m22.abs()) || trm.m11 <= 0.0 {
            self.rotated.push(glyph);
        } else {
            self.glyphs.push(glyph);
        }
        Ok(())
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}

/// x of the zero-size rectangle that [`BatchCollector`] reads as "the next glyphs belong to
/// page y of the batch". No real page fills a rectangle of no size at this x.
pub const PAGE_MARK: f64 = -31337.5;

/// Collects the glyphs of several pages drawn in one pass of pdf-extract's interpreter (see
/// `pdf.rs`: each page is a form drawn after a `PAGE_MARK x i 0 0 re f` marker), so that the
/// interpreter builds each font once per batch instead of once per page.
pub struct BatchCollector {
    pages: Vec<GlyphCollector>,
    current: Option<usize>,
}

impl BatchCollector {
    /// One collector per page, each with its own media box.
    pub fn new(media_boxes: &[MediaBox]) -> Self {
        let pages = media_boxes
            .iter()
            .map(|media_box| {
                let mut page = GlyphCollector::default();
                let _ = page.begin_page(0, media_box, None);
                page
            })
            .collect();
        Self {
            pages,
            current: None,
        }
    }

    pub fn into_pages(self) -> Vec<GlyphCollector> {
        self.pages
    }
}

impl OutputDev for BatchCollector {
    fn begin_page(
        &mut self,
        _page_num: u32,
        _media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        spacing: f64,
        font_size: f64,
        text: &str,
    ) -> Result<(), OutputError> {
        match self.current.and_then(|i| self.pages.get_mut(i)) {
            Some(page) => page.output_character(trm, width, spacing, font_size, text),
            None => Ok(()),
        }
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn fill(
        &mut self,
        _ctm: &Transform,
        _colorspace: &ColorSpace,
        _color: &[f64],
        path: &Path,
    ) -> Result<(), OutputError> {
        if let Some(&PathOp::Rect(x, y, w, h)) = path.ops.last() {
            if x == PAGE_MARK && w == 0.0 && h == 0.0 && y >= 0.0 {
                self.current = Some(y as usize);
            }
        }
        Ok(())
    }
}

/// A line of text as laid out on the page.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub baseline: f64,
    pub size: f64,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// Running text: lines of one column, top to bottom.
    Text,
    /// Rows of a table (or a form), each line's cells joined by ` | `.
    Table,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub kind: BlockKind,
    pub lines: Vec<Line>,
}

/// One page's text in reading order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageLayout {
    pub height: f64,
    pub blocks: Vec<Block>,
}

impl GlyphCollector {
    /// Lays out what was collected.
    pub fn into_layout(self) -> PageLayout {
        let glyphs = dedupe(self.glyphs);
        let segments = segments(&glyphs);
        for s in &segments {
            tracing::trace!(
                "segment x {:.1}..{:.1} baseline {:.1} size {:.1}: {}",
                s.x0,
                s.x1,
                s.baseline,
                s.size,
                s.text
            );
        }
        let median_size = median(segments.iter().map(|s| s.size)).unwrap_or(10.0);
        let mut blocks = Vec::new();
        let all: Vec<usize> = (0..segments.len()).collect();
        xy_cut(&segments, all, median_size, &mut blocks);
        let mut blocks = merge_tables(blocks);
        if let Some(rotated) = rotated_block(&self.rotated) {
            blocks.push(rotated);
        }
        PageLayout {
            height: self.height,
            blocks,
        }
    }
}

impl PageLayout {
    /// The page's text: blocks separated by a blank line, lines by a newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for block in &self.blocks {
            if block.lines.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            match block.kind {
                BlockKind::Table => {
                    let rows: Vec<&str> = block.lines.iter().map(|l| l.text.as_str()).collect();
                    out.push_str(&rows.join("\n"));
                }
                BlockKind::Text => out.push_str(&render_text_block(&block.lines)),
            }
        }
        out
    }
}

/// Lines of running text, with paragraph breaks where the line pitch jumps and words
/// hyphenated across a line end put back together.
fn render_text_block(lines: &[Line]) -> String {
    let pitches: Vec<f64> = lines
        .windows(2)
        .map(|w| w[1].baseline - w[0].baseline)
        .filter(|p| *p > 0.0)
        .collect();
    let pitch = median(pitches.iter().copied());
    let mut texts: Vec<String> = lines.iter().map(|l| l.text.clone()).collect();
    let mut out = String::new();
    for i in 0..texts.len() {
        if texts[i].is_empty() {
            continue;
        }
        if i + 1 < texts.len() {
            join_hyphenated(&mut texts, i);
        }
        if !out.is_empty() {
            let gap = lines[i].baseline - lines[i - 1].baseline;
            let paragraph = pitch.is_some_and(|p| gap > 1.45 * p)
                || (lines[i].size - lines[i - 1].size).abs() > 0.15 * lines[i].size;
            out.push_str(if paragraph { "\n\n" } else { "\n" });
        }
        out.push_str(&texts[i]);
    }
    out
}

/// `exam-` at the end of line `i` and `ple ...` at the start of the next become `example`
/// on line `i`. Only a letter, a hyphen and a lower-case continuation qualify, so "well-"
/// before "Known" or a dash before a number stays as it is.
fn join_hyphenated(texts: &mut [String], i: usize) {
    let current = &texts[i];
    let mut tail = current.chars().rev();
    let (Some('-' | '\u{ad}'), Some(before)) = (tail.next(), tail.next()) else {
        return;
    };
    if !before.is_alphabetic() {
        return;
    }
    let next = texts[i + 1].trim_start().to_owned();
    if !next.chars().next().is_some_and(char::is_lowercase) {
        return;
    }
    let (word, rest) = match next.find(' ') {
        Some(at) => (&next[..at], next[at + 1..].to_owned()),
        None => (next.as_str(), String::new()),
    };
    let mut joined = current.clone();
    joined.pop();
    joined.push_str(word);
    texts[i] = joined;
    texts[i + 1] = rest;
}

/// Fake bold and shadows draw the same glyph twice at (almost) the same place and size; the
/// first one drawn is kept.
fn dedupe(mut glyphs: Vec<Glyph>) -> Vec<Glyph> {
    // Equal keys are found by sorting (drawing order breaks ties): cheaper than hashing every
    // glyph's text. Glyphs with equal keys are duplicates if their text equals that of the
    // first one drawn there (the key holds only the start of a long text).
    let mut keys: Vec<(u128, usize)> = glyphs
        .iter()
        .enumerate()
        .map(|(i, g)| (dedupe_key(g), i))
        .collect();
    keys.sort_unstable();
    let mut keep = vec![true; glyphs.len()];
    let mut first = 0;
    for (j, &(key, index)) in keys.iter().enumerate().skip(1) {
        if key != keys[first].0 {
            first = j;
        } else if glyphs[index].text.as_str() == glyphs[keys[first].1].text.as_str() {
            keep[index] = false;
        }
    }
    drop(keys);
    let mut i = 0;
    glyphs.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    glyphs
}

/// Position bins, size and text of a glyph packed in one number. Positions are binned by a
/// fifth of an em of the size rounded to a tenth of a point, and the size is part of the key:
/// with bins of each glyph's own width, an "n" of 8.55 pt and one of 8.7 pt a line apart fell
/// into the same bin and one was lost. Out-of-range values saturate (absurd positions share
/// a bin, which at worst drops a glyph nobody sees).
fn dedupe_key(g: &Glyph) -> u128 {
    let size = (g.size * 10.0).round().max(1.0);
    let bin = 0.02 * size;
    let biased = |v: f64| ((v / bin).round() as i32 as u32 ^ 0x8000_0000) as u128;
    let text = g.text.as_str().as_bytes();
    let mut start = [0u8; 8];
    let head = text.len().min(5);
    start[..head].copy_from_slice(&text[..head]);
    start[5] = text.len().min(255) as u8;
    (biased(g.baseline) << 96)
        | (biased(g.x) << 64)
        | ((size.min(65535.0) as u128) << 48)
        | u64::from_le_bytes(start) as u128
}

/// Words on one baseline with no wide gap between them.
#[derive(Debug, Clone)]
struct Segment {
    x0: f64,
    x1: f64,
    baseline: f64,
    size: f64,
    text: String,
}

impl Segment {
    fn top(&self) -> f64 {
        self.baseline - 0.8 * self.size
    }
    fn bottom(&self) -> f64 {
        self.baseline + 0.2 * self.size
    }
}

/// Groups glyphs into lines by baseline, and lines into segments at wide gaps.
fn segments(glyphs: &[Glyph]) -> Vec<Segment> {
    let mut order: Vec<usize> = (0..glyphs.len()).collect();
    order.sort_by(|&a, &b| glyphs[a].baseline.total_cmp(&glyphs[b].baseline));
    let mut out = Vec::new();
    // A line is a run of `order` within reach of its first glyph's baseline, then sorted by x
    // in place.
    let mut start = 0;
    while start < order.len() {
        let anchor = &glyphs[order[start]];
        let end = order[start + 1..]
            .iter()
            .position(|&i| {
                let g = &glyphs[i];
                (g.baseline - anchor.baseline).abs() > 0.4 * g.size.max(anchor.size)
            })
            .map_or(order.len(), |n| start + 1 + n);
        let line = &mut order[start..end];
        start = end;
        line.sort_by(|&a, &b| glyphs[a].x.total_cmp(&glyphs[b].x));
        let mut current: Option<Segment> = None;
        for g in line.iter().map(|&i| &glyphs[i]) {
            if let Some(segment) = current.as_mut() {
                let gap = g.x - segment.x1;
                let em = g.size.max(segment.size);
                if gap > SEGMENT_GAP * em {
                    out.push(current.take().expect("segment is open"));
                } else {
                    if gap > WORD_GAP * em && !segment.text.ends_with(' ') {
                        segment.text.push(' ');
                    }
                    segment.text.push_str(g.text.as_str());
                    segment.x1 = segment.x1.max(g.x + g.advance);
                    segment.size = segment.size.max(g.size);
                    continue;
                }
            }
            current = Some(Segment {
                x0: g.x,
                x1: g.x + g.advance,
                baseline: g.baseline,
                size: g.size,
                text: g.text.as_str().to_owned(),
            });
        }
        out.extend(current);
    }
    out
}

/// Recursive XY cut; pushes blocks in reading order.
fn xy_cut(segments: &[Segment], region: Vec<usize>, em: f64, blocks: &mut Vec<Block>) {
    if region.is_empty() {
        return;
    }
    let Some(gutter) = widest_gap(
        region.iter().map(|&i| (segments[i].x0, segments[i].x1)),
        SEGMENT_GAP * em * 0.9,
    ) else {
        // No gutter runs the region's full height, but a table between paragraphs has
        // gutters of its own: runs of lines split into several pieces are laid out apart.
        let bands = split_bands(segments, &region);
        if bands.len() == 1 {
            blocks.push(Block {
                kind: BlockKind::Text,
                lines: lines_of(segments, &region, " "),
            });
        } else {
            for band in bands {
                xy_cut(segments, band, em, blocks);
            }
        }
        return;
    };
    let (left, right): (Vec<usize>, Vec<usize>) =
        region.iter().partition(|&&i| segments[i].x1 <= gutter);
    // A side may itself hold several columns (a three-column reference card): its lines
    // then line up with the other side twice as often by chance, so the two sides are
    // judged by the parts that face each other across the gutter.
    let facing_left = facing_part(segments, &left, em, true);
    let facing_right = facing_part(segments, &right, em, false);
    if reads_as_columns(segments, &facing_left, &facing_right, em) {
        xy_cut(segments, left, em, blocks);
        xy_cut(segments, right, em, blocks);
        return;
    }
    match widest_gap(
        region
            .iter()
            .map(|&i| (segments[i].top(), segments[i].bottom())),
        0.0,
    ) {
        Some(cut) => {
            let (top, bottom): (Vec<usize>, Vec<usize>) =
                region.iter().partition(|&&i| segments[i].bottom() <= cut);
            xy_cut(segments, top, em, blocks);
            xy_cut(segments, bottom, em, blocks);
        }
        None => blocks.push(Block {
            kind: BlockKind::Table,
            lines: lines_of(segments, &region, " | "),
        }),
    }
}

/// Splits a region into horizontal bands: runs of two or more lines that each hold several
/// pieces (table rows), and the runs of ordinary lines between them.
fn split_bands(segments: &[Segment], region: &[usize]) -> Vec<Vec<usize>> {
    let mut order = region.to_vec();
    order.sort_by(|&a, &b| segments[a].baseline.total_cmp(&segments[b].baseline));
    // Lines: (pieces, is_multi)
    let mut lines: Vec<Vec<usize>> = Vec::new();
    for i in order {
        let s = &segments[i];
        match lines.last_mut() {
            Some(line)
                if (s.baseline - segments[line[0]].baseline).abs()
                    <= 0.4 * s.size.max(segments[line[0]].size) =>
            {
                line.push(i)
            }
            _ => lines.push(vec![i]),
        }
    }
    let multi: Vec<bool> = lines.iter().map(|l| l.len() > 1).collect();
    let mut bands: Vec<Vec<usize>> = Vec::new();
    let mut band_is_table = false;
    for (k, line) in lines.into_iter().enumerate() {
        let run = multi[k] && ((k > 0 && multi[k - 1]) || (k + 1 < multi.len() && multi[k + 1]));
        match bands.last_mut() {
            Some(band) if band_is_table == run => band.extend(line),
            _ => {
                bands.push(line);
                band_is_table = run;
            }
        }
    }
    bands
}

/// The part of `side` beyond its last full-height gutter, looking from the gutter that cut
/// it off (`toward_right`: the side lies left of that gutter, so its rightmost part).
fn facing_part(segments: &[Segment], side: &[usize], em: f64, toward_right: bool) -> Vec<usize> {
    let mut spans: Vec<(f64, f64)> = side
        .iter()
        .map(|&i| (segments[i].x0, segments[i].x1))
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut gutters = Vec::new();
    let mut reach = f64::NEG_INFINITY;
    for (start, end) in spans {
        if reach.is_finite() && start - reach > SEGMENT_GAP * em * 0.9 {
            gutters.push((start + reach) / 2.0);
        }
        reach = reach.max(end);
    }
    match (toward_right, gutters.first(), gutters.last()) {
        (true, _, Some(&last)) => side
            .iter()
            .copied()
            .filter(|&i| segments[i].x0 >= last)
            .collect(),
        (false, Some(&first), _) => side
            .iter()
            .copied()
            .filter(|&i| segments[i].x1 <= first)
            .collect(),
        _ => side.to_vec(),
    }
}

/// The middle of the widest uncovered stretch between intervals, if one is wider than `min`.
fn widest_gap(intervals: impl Iterator<Item = (f64, f64)>, min: f64) -> Option<f64> {
    let mut spans: Vec<(f64, f64)> = intervals.collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut best: Option<(f64, f64)> = None;
    let mut reach = f64::NEG_INFINITY;
    for (start, end) in spans {
        if reach.is_finite() && start - reach > min && best.is_none_or(|(w, _)| start - reach > w) {
            best = Some((start - reach, (start + reach) / 2.0));
        }
        reach = reach.max(end);
    }
    best.map(|(_, middle)| middle)
}

/// Two sides of a gutter are read one after the other when both are wide enough to be
/// columns and either both hold running text (lines that fill the side) or their lines do
/// not line up (independent columns, as on a reference card). Narrow sides, or pieces that
/// share baselines across the gutter, are the cells of a table and are read row by row.
fn reads_as_columns(segments: &[Segment], left: &[usize], right: &[usize], em: f64) -> bool {
    let extent = |side: &[usize]| {
        let x0 = side
            .iter()
            .map(|&i| segments[i].x0)
            .fold(f64::INFINITY, f64::min);
        let x1 = side
            .iter()
            .map(|&i| segments[i].x1)
            .fold(f64::NEG_INFINITY, f64::max);
        x1 - x0
    };
    let (left_width, right_width) = (extent(left), extent(right));
    if left.len() < 2 || right.len() < 2 || left_width.min(right_width) < COLUMN_WIDTH * em {
        return false;
    }
    let running_text = |side: &[usize], width: f64| {
        median(side.iter().map(|&i| segments[i].x1 - segments[i].x0))
            .is_some_and(|w| w >= 0.6 * width)
    };
    if running_text(left, left_width) && running_text(right, right_width) {
        return true;
    }
    let (small, large) = if left.len() <= right.len() {
        (left, right)
    } else {
        (right, left)
    };
    let aligned = small
        .iter()
        .filter(|&&i| {
            large.iter().any(|&j| {
                // Cells of a row share their baseline to a fraction of a point; lines of
                // independent columns set on a similar leading come within a few tenths
                // of an em of each other by chance.
                (segments[i].baseline - segments[j].baseline).abs()
                    <= 0.1 * segments[i].size.max(segments[j].size)
            })
        })
        .count();
    (aligned as f64) < 0.6 * small.len() as f64
}

/// Segments grouped into lines by baseline, each line's pieces joined by `separator`.
fn lines_of(segments: &[Segment], region: &[usize], separator: &str) -> Vec<Line> {
    let mut order = region.to_vec();
    order.sort_by(|&a, &b| segments[a].baseline.total_cmp(&segments[b].baseline));
    let mut lines: Vec<(f64, f64, Vec<&Segment>)> = Vec::new();
    for i in order {
        let s = &segments[i];
        match lines.last_mut() {
            Some((baseline, size, pieces))
                if (s.baseline - *baseline).abs() <= 0.4 * s.size.max(*size) =>
            {
                pieces.push(s);
                *size = size.max(s.size);
            }
            _ => lines.push((s.baseline, s.size, vec![s])),
        }
    }
    lines
        .into_iter()
        .map(|(baseline, size, mut pieces)| {
            pieces.sort_by(|a, b| a.x0.total_cmp(&b.x0));
            let texts: Vec<&str> = pieces.iter().map(|p| p.text.trim()).collect();
            Line {
                baseline,
                size,
                text: texts.join(separator),
            }
        })
        .collect()
}

/// Consecutive table rows (cut apart by the row gaps) are one table.
fn merge_tables(blocks: Vec<Block>) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::with_capacity(blocks.len());
    for block in blocks {
        match out.last_mut() {
            Some(last) if last.kind == BlockKind::Table && block.kind == BlockKind::Table => {
                last.lines.extend(block.lines)
            }
            _ => out.push(block),
        }
    }
    out
}

/// Rotated text (margin notes, axis labels, stamps) in drawing order, a line per run.
fn rotated_block(glyphs: &[Glyph]) -> Option<Block> {
    let mut lines: Vec<Line> = Vec::new();
    let mut text = String::new();
    let mut last: Option<&Glyph> = None;
    for g in glyphs {
        if let Some(prev) = last {
            let distance = ((g.x - prev.x).powi(2) + (g.baseline - prev.baseline).powi(2)).sqrt();
            if distance > prev.advance + 1.5 * prev.size {
                lines.push(Line {
                    baseline: prev.baseline,
                    size: prev.size,
                    text: std::mem::take(&mut text),
                });
            } else if distance > prev.advance + WORD_GAP * prev.size {
                text.push(' ');
            }
        }
        text.push_str(g.text.as_str());
        last = Some(g);
    }
    if let Some(prev) = last {
        lines.push(Line {
            baseline: prev.baseline,
            size: prev.size,
            text,
        });
    }
    lines.retain(|l| !l.text.trim().is_empty());
    (!lines.is_empty()).then_some(Block {
        kind: BlockKind::Text,
        lines,
    })
}

fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// Drops running headers and footers: lines near the top or bottom edge whose text (with
/// digits masked) recurs on several pages, and bare page numbers there. A page keeps
/// everything else, including a heading that happens to sit near the top.
pub fn drop_furniture(pages: &mut [PageLayout]) {
    let in_zone = |page: &PageLayout, line: &Line| {
        line.baseline < FURNITURE_ZONE * page.height
            || line.baseline > (1.0 - FURNITURE_ZONE) * page.height
    };
    let mut pages_with: HashMap<String, usize> = HashMap::new();
    for page in pages.iter() {
        let mut keys: Vec<String> = page
            .blocks
            .iter()
            .flat_map(|b| &b.lines)
            .filter(|l| in_zone(page, l))
            .map(|l| furniture_key(&l.text))
            .collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            *pages_with.entry(key).or_default() += 1;
        }
    }
    let min_pages = ((pages.len() as f64) * 0.4).ceil().max(3.0) as usize;
    for page in pages.iter_mut() {
        let height = page.height;
        let zone = |line: &Line| {
            line.baseline < FURNITURE_ZONE * height
                || line.baseline > (1.0 - FURNITURE_ZONE) * height
        };
        for block in &mut page.blocks {
            block.lines.retain(|line| {
                if !zone(line) {
                    return true;
                }
                let key = furniture_key(&line.text);
                let repeated = pages_with.get(&key).is_some_and(|&n| n >= min_pages);
                !(repeated || is_page_number(&key))
            });
        }
        page.blocks.retain(|b| !b.lines.is_empty());
    }
}

/// Lower case, digits masked as `#`, whitespace collapsed: "Page 3 of 12" and "Page 4 of 12"
/// share a key.
fn furniture_key(text: &str) -> String {
    let mut key = String::with_capacity(text.len());
    let mut last_digit = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_digit() {
            if !last_digit {
                key.push('#');
            }
            last_digit = true;
            continue;
        }
        last_digit = false;
        if c.is_whitespace() {
            if !key.ends_with(' ') && !key.is_empty() {
                key.push(' ');
            }
        } else {
            key.push(c);
        }
    }
    key.trim_end().to_owned()
}

/// "#", "page #", "# of #", "- # -", "page # / #", roman numerals.
fn is_page_number(key: &str) -> bool {
    let stripped: String = key
        .trim_matches(|c: char| c == '-' || c == '–' || c == '—' || c.is_whitespace())
        .to_owned();
    let rest = stripped
        .strip_prefix("page")
        .map(str::trim)
        .unwrap_or(&stripped);
    let words: Vec<&str> = rest.split_whitespace().collect();
    match words.as_slice() {
        ["#"] => true,
        ["#", "of" | "/", "#"] | ["#/#"] => true,
        [word] => (1..=80).any(|n| roman_numeral(n) == *word),
        _ => false,
    }
}

/// Lower-case roman numeral, as front matter numbers its pages.
fn roman_numeral(mut n: u32) -> String {
    const DIGITS: [(u32, &str); 7] = [
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ];
    let mut out = String::new();
    for (value, digits) in DIGITS {
        while n >= value {
            out.push_str(digits);
            n -= value;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glyphs_for(words: &[(&str, f64, f64)], size: f64) -> Vec<Glyph> {
        // Each word at (x, baseline), glyphs half an em wide.
        let mut out = Vec::new();
        for &(word, x, baseline) in words {
            for (i, c) in word.chars().enumerate() {
                out.push(Glyph {
                    x: x + i as f64 * 0.5 * size,
                    baseline,
                    advance: 0.5 * size,
                    size,
                    text: GlyphText::new(&c.to_string()),
                });
            }
        }
        out
    }

    fn layout(glyphs: Vec<Glyph>) -> String {
        GlyphCollector {
            glyphs,
            ..GlyphCollector::default()
        }
        .into_layout()
        .render()
    }

    #[test]
    fn spaces_come_from_gaps() {
        // "Hello" ends at 25; "world" starts 3 units later (0.3 em): a space.
        let text = layout(glyphs_for(
            &[("Hello", 0.0, 100.0), ("world", 28.0, 100.0)],
            10.0,
        ));
        assert_eq!(text, "Hello world");
    }

    #[test]
    fn two_columns_read_column_by_column() {
        let mut words = Vec::new();
        let left = [
            "alpha one starts the left column",
            "alpha two continues it here",
            "alpha three ends the left column",
        ];
        let right = [
            "beta one starts the right column",
            "beta two continues it there",
            "beta three ends the right column",
        ];
        for (i, (l, r)) in left.iter().zip(right).enumerate() {
            let y = 100.0 + 12.0 * i as f64;
            words.push((*l, 50.0, y));
            words.push((r, 320.0, y));
        }
        let text = layout(glyphs_for(&words, 10.0));
        let alpha_three = text.find("alpha three").unwrap();
        let beta_one = text.find("beta one").unwrap();
        assert!(alpha_three < beta_one, "{text}");
    }

    #[test]
    fn table_rows_stay_together_with_separators() {
        let words = [
            ("Year", 50.0, 100.0),
            ("Revenue", 150.0, 100.0),
            ("Staff", 250.0, 100.0),
            ("2015", 50.0, 112.0),
            ("4.1", 150.0, 112.0),
            ("120", 250.0, 112.0),
            ("2016", 50.0, 124.0),
            ("5.3", 150.0, 124.0),
            ("131", 250.0, 124.0),
        ];
        let text = layout(glyphs_for(&words, 10.0));
        assert_eq!(
            text,
            "Year | Revenue | Staff\n2015 | 4.1 | 120\n2016 | 5.3 | 131"
        );
    }

    #[test]
    fn hyphenated_line_ends_are_joined() {
        let words = [("the exam-", 50.0, 100.0), ("ple shows", 50.0, 112.0)];
        assert_eq!(layout(glyphs_for(&words, 10.0)), "the example\nshows");
    }

    #[test]
    fn duplicate_glyphs_from_fake_bold_are_dropped() {
        let mut glyphs = glyphs_for(&[("Bold", 10.0, 50.0)], 10.0);
        glyphs.extend(glyphs_for(&[("Bold", 10.3, 50.0)], 10.0));
        assert_eq!(layout(glyphs), "Bold");
    }

    #[test]
    fn same_letters_of_other_sizes_on_other_lines_are_kept() {
        // From rcpp-faq.pdf p.4: "Section" lost its "n" to an "n" of a smaller font on the
        // line above, whose position divided by its own em fell into the same bin.
        let mut glyphs = glyphs_for(&[("n", 210.81, 601.90)], 8.55);
        glyphs.extend(glyphs_for(&[("n", 214.35, 612.82)], 8.7));
        assert_eq!(layout(glyphs), "n\nn");
    }

    #[test]
    fn running_headers_and_page_numbers_are_dropped() {
        let page = |n: u32| PageLayout {
            height: 800.0,
            blocks: vec![
                Block {
                    kind: BlockKind::Text,
                    lines: vec![Line {
                        baseline: 30.0,
                        size: 9.0,
                        text: "ACME Services Agreement - Confidential".into(),
                    }],
                },
                Block {
                    kind: BlockKind::Text,
                    lines: vec![Line {
                        baseline: 400.0,
                        size: 10.0,
                        text: format!("Body text of page {n}."),
                    }],
                },
                Block {
                    kind: BlockKind::Text,
                    lines: vec![Line {
                        baseline: 770.0,
                        size: 9.0,
                        text: format!("Page {n} of 4"),
                    }],
                },
            ],
        };
        let mut pages: Vec<PageLayout> = (1..=4).map(page).collect();
        drop_furniture(&mut pages);
        for (i, page) in pages.iter().enumerate() {
            assert_eq!(page.render(), format!("Body text of page {}.", i + 1));
        }
    }

    #[test]
    fn page_number_patterns() {
        for key in ["#", "page #", "# of #", "- # -", "page # / #", "xii"] {
            assert!(is_page_number(key), "{key}");
        }
        for key in ["section #", "# days", "civil"] {
            assert!(!is_page_number(key), "{key}");
        }
    }
}

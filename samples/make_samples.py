#!/usr/bin/env python3
"""Build dossier's demo PDFs from the committed text in samples/text/.

    python3 samples/make_samples.py            # writes samples/*.pdf
    python3 samples/make_samples.py --check    # exits 1 if a committed PDF is stale

Why a generator instead of committed binaries only: the demo and the
retrieval tests need documents whose every fact is known and placed on a known
page (samples/qa.jsonl points at them), and reviewers need to be able to read
and change that text in a diff. So the words live in plain text files and this
script lays them out into small, real, spec-conforming PDF 1.4 files.

Standard library only (zlib, hashlib) so that it runs anywhere Python 3 does.
The output is deterministic: no timestamps, fixed object order, a document ID
derived from the content, so rerunning the script gives byte-identical files
(given the same zlib build).

The PDFs are deliberately "easy but honest" for text extractors: standard
Helvetica / Helvetica-Bold with WinAnsiEncoding and explicit /Widths, one
BT/ET block and one Tj string per printed line, real space characters between
words, FlateDecode content streams, and a "Page N of M" footer on every page.

Source markup (one file per document, UTF-8, characters must exist in
Windows-1252):

    % comment                 ignored
    @title TEXT               /Title in the PDF's Info dictionary
    @author TEXT              /Author in the Info dictionary
    @running TEXT             small grey header printed on pages 2..M
    @footer TEXT              small grey footer text printed left of "Page N of M"
    @page                     starts a new physical page (pages never flow on
                              their own: a page that overflows is an error, so
                              the page numbers in qa.jsonl cannot drift)
    # TEXT                    document title (16 pt bold)
    ## TEXT                   section heading (11.5 pt bold)
    - TEXT                    bullet item (wrapped with a hanging indent)
    @table X0 X1 ... [plain]  table: cell x offsets (pt, from the left margin);
    a | b | c                   one row per line, cells separated by "|";
    @endtable                   the first row is a bold header with rules
                                unless "plain" is given
    anything else             paragraph text; consecutive lines are joined,
                              a blank line ends the paragraph
"""

import hashlib
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEXT_DIR = HERE / "text"
DOCUMENTS = ["service-agreement", "discharge-summary", "employee-handbook"]

# ---------------------------------------------------------------------------
# Font metrics
# ---------------------------------------------------------------------------

# Advance widths (1/1000 em) for WinAnsiEncoding codes 32..255, taken from
# Adobe's Helvetica.afm and Helvetica-Bold.afm (the Core 14 metrics) by glyph
# name. Codes that WinAnsi leaves undefined (127, 129, 141, 143, 144, 157) are
# given the bullet width, which is what readers substitute. Embedding the real
# metrics matters: extractors compute inter-glyph gaps from /Widths, and a
# wrong table makes them insert or drop spaces.
HELVETICA_WIDTHS = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,  # 32..47
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,  # 48..63
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,  # 64..79
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,  # 80..95
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,  # 96..111
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 350,  # 112..127
    556, 350, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 350, 611, 350,  # 128..143
    350, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 350, 500, 667,  # 144..159
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,  # 160..175
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,  # 176..191
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,  # 192..207
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,  # 208..223
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,  # 224..239
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,  # 240..255
]

HELVETICA_BOLD_WIDTHS = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,  # 32..47
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,  # 48..63
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,  # 64..79
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,  # 80..95
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,  # 96..111
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 350,  # 112..127
    556, 350, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 350, 611, 350,  # 128..143
    350, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 350, 500, 667,  # 144..159
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,  # 160..175
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,  # 176..191
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,  # 192..207
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,  # 208..223
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,  # 224..239
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,  # 240..255
]

assert len(HELVETICA_WIDTHS) == len(HELVETICA_BOLD_WIDTHS) == 224

# Resource names used in every content stream.
REGULAR, BOLD = "F1", "F2"
FONTS = {
    REGULAR: ("Helvetica", HELVETICA_WIDTHS),
    BOLD: ("Helvetica-Bold", HELVETICA_BOLD_WIDTHS),
}

# ---------------------------------------------------------------------------
# Page geometry (points; US Letter)
# ---------------------------------------------------------------------------

PAGE_W, PAGE_H = 612, 792
LEFT = 71                    # left margin
COLUMN = 470                 # text column width, so the right margin is at 541
RIGHT = LEFT + COLUMN
TOP = 722                    # first body baseline
BOTTOM = 70                  # no body baseline may go below this
RUNNING_Y = 756              # running header baseline (pages 2..M)
FOOTER_Y = 40                # footer baseline

BODY = 10.0                  # body font size
LEADING = 13.5               # body line spacing
PARA_GAP = 5.5               # extra space after a paragraph or list item
TITLE = 16.0
HEADING = 11.5
SMALL = 8.0                  # running header and footer
ROW = 15.0                   # table row pitch
CELL_GAP = 6.0               # minimum gap between a cell's text and the next column


def encode(text):
    """Encode text as WinAnsi (Windows-1252) bytes, refusing what the font lacks.

    Failing loudly here is better than letting a character silently turn into
    '?' in a document that tests compare against."""
    try:
        return text.encode("cp1252")
    except UnicodeEncodeError as e:
        raise SystemExit(f"character {text[e.start]!r} is not in WinAnsiEncoding: {text!r}")


def text_width(text, font, size):
    """Width in points of text set in font (F1/F2) at size, from the AFM table."""
    widths = FONTS[font][1]
    return sum(widths[b - 32] for b in encode(text)) * size / 1000.0


def wrap(text, font, size, width):
    """Greedy word wrap by measured width: the way a word processor fills a line.

    Words are separated by single real spaces, which end up inside the Tj
    string, so extractors never have to guess where a word ends."""
    lines, current = [], ""
    for word in text.split():
        candidate = word if not current else current + " " + word
        if text_width(candidate, font, size) <= width:
            current = candidate
            continue
        if not current:
            raise SystemExit(f"word too wide for the column: {word!r}")
        lines.append(current)
        current = word
    if current:
        lines.append(current)
    return lines


# ---------------------------------------------------------------------------
# Minimal PDF object model and serializer
# ---------------------------------------------------------------------------

class Name(str):
    """A PDF name object (/Foo)."""


class Ref(int):
    """An indirect reference (N 0 R) to object number N."""


class HexString(bytes):
    """A string that is written in hex (<...>), for binary values such as the
    /O and /U entries of an /Encrypt dictionary."""


class Stream:
    """A stream object: a dictionary plus already-encoded (e.g. deflated) data."""

    def __init__(self, dictionary, data):
        self.dictionary = dict(dictionary)
        self.data = data


def fmt_number(x):
    """Format a number the same way on every run and platform (no exponent,
    no trailing zeros), so that output stays byte-identical."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    s = f"{x:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def pdf_string(data):
    """A PDF literal string, escaping \\ ( ) and the characters that would be
    mangled by end-of-line normalisation; other bytes go in raw."""
    out = bytearray(b"(")
    for b in data:
        if b in (0x5C, 0x28, 0x29):
            out += b"\\" + bytes([b])
        elif b == 0x0D:
            out += b"\\r"
        elif b == 0x0A:
            out += b"\\n"
        else:
            out.append(b)
    out += b")"
    return bytes(out)


def serialize(obj, crypt=None):
    """Serialize a Python value as PDF syntax.

    bytes are strings, str must be a Name, dict/list/int/float/Ref map to the
    obvious PDF types. crypt, when given, encrypts every string (the Standard
    security handler encrypts strings and streams, nothing else); encrypted
    strings are written in hex because they are arbitrary binary."""
    if isinstance(obj, Ref):
        return b"%d 0 R" % obj
    if isinstance(obj, Name):
        return b"/" + obj.encode("ascii")
    if isinstance(obj, (bool, int, float)):
        return fmt_number(obj).encode("ascii")
    if isinstance(obj, bytes):
        if isinstance(obj, HexString) and crypt is None:
            return b"<" + obj.hex().upper().encode("ascii") + b">"
        if crypt is not None:
            return b"<" + crypt(obj).hex().upper().encode("ascii") + b">"
        return pdf_string(obj)
    if isinstance(obj, list):
        return b"[" + b" ".join(serialize(o, crypt) for o in obj) + b"]"
    if isinstance(obj, dict):
        parts = [b"/" + k.encode("ascii") + b" " + serialize(v, crypt) for k, v in obj.items()]
        return b"<< " + b" ".join(parts) + b" >>"
    raise TypeError(f"cannot serialize {type(obj).__name__}: {obj!r}")


class PdfFile:
    """Collects numbered objects and writes a classic PDF 1.4 file:
    header, objects, one cross-reference section, trailer.

    Object numbers are assigned in creation order, which keeps the output
    deterministic. The writer records the real byte offset of every object as
    it writes it, so the xref table is correct by construction."""

    def __init__(self):
        self.objects = []          # index i holds object number i + 1

    def reserve(self):
        """Allocate an object number now and fill it in later (parents that
        must be referenced by their children, such as the page tree)."""
        self.objects.append(None)
        return Ref(len(self.objects))

    def set(self, ref, obj):
        self.objects[ref - 1] = obj

    def add(self, obj):
        ref = self.reserve()
        self.set(ref, obj)
        return ref

    def to_bytes(self, root, info, file_id=None, encrypt=None):
        """Serialize everything. encrypt, if given, is an object with
        .dictionary (the /Encrypt dictionary), .file_id and
        .crypt(objnum, data); it is applied to every string and stream except
        those of the /Encrypt dictionary itself."""
        encrypt_ref = self.add(encrypt.dictionary) if encrypt else None
        if encrypt:
            file_id = encrypt.file_id
        if file_id is None:
            digest = hashlib.md5()
            for obj in self.objects:
                digest.update(serialize(obj.dictionary) + obj.data if isinstance(obj, Stream)
                              else serialize(obj))
            file_id = digest.digest()

        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, obj in enumerate(self.objects, start=1):
            offsets.append(len(out))
            crypt = None
            if encrypt and number != encrypt_ref:
                crypt = (lambda n: lambda data: encrypt.crypt(n, data))(number)
            out += b"%d 0 obj\n" % number
            if isinstance(obj, Stream):
                data = crypt(obj.data) if crypt else obj.data
                dictionary = dict(obj.dictionary, Length=len(data))
                out += serialize(dictionary, crypt) + b"\nstream\n" + data + b"\nendstream"
            else:
                out += serialize(obj, crypt)
            out += b"\nendobj\n"

        xref = len(out)
        out += b"xref\n0 %d\n" % (len(self.objects) + 1)
        out += b"0000000000 65535 f \n"
        for offset in offsets:
            out += b"%010d 00000 n \n" % offset
        trailer = {"Size": len(self.objects) + 1, "Root": root, "Info": info}
        if encrypt_ref:
            trailer["Encrypt"] = encrypt_ref
        hex_id = b"<" + file_id.hex().upper().encode("ascii") + b">"
        out += b"trailer\n" + serialize(trailer)[:-3] + b" /ID [" + hex_id + b" " + hex_id + b"] >>\n"
        out += b"startxref\n%d\n%%%%EOF\n" % xref
        return bytes(out)


def flate_stream(data, **entries):
    """A FlateDecode stream. Level 9 and a fixed zlib build give fixed bytes."""
    return Stream(dict(entries, Filter=Name("FlateDecode")), zlib.compress(data, 9))


def font_objects(pdf):
    """Add the two font resources and return the /Font resource dictionary.

    Standard-14 Type1 fonts (not embedded) with WinAnsiEncoding and explicit
    FirstChar/LastChar/Widths, so extractors do not have to rely on built-in
    metrics to measure glyph advances."""
    resources = {}
    for key, (base, widths) in FONTS.items():
        resources[key] = pdf.add({
            "Type": Name("Font"),
            "Subtype": Name("Type1"),
            "BaseFont": Name(base),
            "Encoding": Name("WinAnsiEncoding"),
            "FirstChar": 32,
            "LastChar": 255,
            "Widths": widths,
        })
    return resources


def assemble(pages, title, author, encrypt=None, extra_resources=None):
    """Turn a list of page content streams (uncompressed bytes) into a PDF.

    Every page shares one resource dictionary with the two fonts (plus any
    extra_resources, e.g. image XObjects). Returns the file's bytes."""
    pdf = PdfFile()
    catalog = pdf.reserve()
    page_tree = pdf.reserve()
    resources = {"ProcSet": [Name("PDF"), Name("Text")], "Font": font_objects(pdf)}
    if extra_resources:
        resources.update(extra_resources)
    kids = []
    for content in pages:
        contents = pdf.add(flate_stream(content))
        kids.append(pdf.add({
            "Type": Name("Page"),
            "Parent": page_tree,
            "MediaBox": [0, 0, PAGE_W, PAGE_H],
            "Resources": resources,
            "Contents": contents,
        }))
    pdf.set(page_tree, {"Type": Name("Pages"), "Kids": kids, "Count": len(kids)})
    pdf.set(catalog, {"Type": Name("Catalog"), "Pages": page_tree})
    info = pdf.add({
        "Title": encode(title),
        "Author": encode(author),
        "Creator": b"dossier samples/make_samples.py",
        "Producer": b"dossier samples/make_samples.py",
    })
    return pdf.to_bytes(catalog, info, encrypt=encrypt)


# ---------------------------------------------------------------------------
# Source parsing
# ---------------------------------------------------------------------------

class Document:
    """Parsed source: metadata plus a list of pages, each a list of blocks.

    A block is a tuple: ("title", text), ("heading", text), ("para", text),
    ("bullet", text) or ("table", column_offsets, rows, plain)."""

    def __init__(self):
        self.meta = {"title": "", "author": "", "running": "", "footer": ""}
        self.pages = []


def parse(source, name="<source>"):
    """Parse the markup described in the module docstring."""
    doc = Document()
    paragraph = []
    table = None

    def flush():
        if paragraph:
            current_page().append(("para", " ".join(paragraph)))
            paragraph.clear()

    def current_page():
        if not doc.pages:
            raise SystemExit(f"{name}: content before the first @page")
        return doc.pages[-1]

    for number, raw in enumerate(source.splitlines(), start=1):
        line = raw.strip()
        if table is not None:
            if line == "@endtable":
                current_page().append(("table",) + table)
                table = None
            elif line:
                table[1].append([cell.strip() for cell in line.split("|")])
            continue
        if line.startswith("%"):
            continue
        if not line:
            flush()
            continue
        if line.startswith("@"):
            flush()
            keyword, _, rest = line[1:].partition(" ")
            if keyword in doc.meta:
                doc.meta[keyword] = rest.strip()
            elif keyword == "page":
                doc.pages.append([])
            elif keyword == "table":
                args = rest.split()
                plain = "plain" in args
                columns = [float(a) for a in args if a != "plain"]
                table = (columns, [], plain)
            else:
                raise SystemExit(f"{name}:{number}: unknown directive @{keyword}")
            continue
        if line.startswith("## "):
            flush()
            current_page().append(("heading", line[3:].strip()))
        elif line.startswith("# "):
            flush()
            current_page().append(("title", line[2:].strip()))
        elif line.startswith("- "):
            flush()
            current_page().append(("bullet", line[2:].strip()))
        else:
            paragraph.append(line)
    flush()
    if table is not None:
        raise SystemExit(f"{name}: @table without @endtable")
    return doc


# ---------------------------------------------------------------------------
# Layout: blocks -> content stream operators
# ---------------------------------------------------------------------------

def show(font, size, x, y, text, gray=None):
    """One line of text as its own BT/ET block with a single Tj.

    Absolute positioning through Td (from the origin, since BT resets the
    text matrix) keeps each line independent, which is what simple
    extractors handle best."""
    op = b"BT /%s %s Tf %s %s Td %s Tj ET\n" % (
        font.encode(), fmt_number(size).encode(), fmt_number(x).encode(),
        fmt_number(y).encode(), pdf_string(encode(text)))
    if gray is not None:
        op = b"q %s g " % fmt_number(gray).encode() + op[:-1] + b" Q\n"
    return op


def rule(x1, x2, y, width=0.5, gray=0.55):
    """A thin horizontal rule (table borders, header separator)."""
    return b"q %s w %s G %s %s m %s %s l S Q\n" % tuple(
        fmt_number(v).encode() for v in (width, gray, x1, y, x2, y))


class PageOverflow(Exception):
    pass


def layout_page(blocks, page_no, page_count, meta):
    """Lay out one page's blocks top to bottom and return its content stream.

    Raises PageOverflow instead of spilling onto another page, so that the
    page numbers promised by qa.jsonl can only change when the source's
    @page markers do."""
    ops = bytearray()
    y = TOP

    def need(what):
        if y < BOTTOM:
            raise PageOverflow(f"page {page_no} overflows at: {what[:60]!r}")

    first = True
    for block in blocks:
        kind = block[0]
        if kind == "title":
            need(block[1])
            ops += show(BOLD, TITLE, LEFT, y, block[1])
            y -= TITLE + 6
        elif kind == "heading":
            if not first:
                y -= 7
            need(block[1])
            ops += show(BOLD, HEADING, LEFT, y, block[1])
            y -= HEADING + 5
        elif kind in ("para", "bullet"):
            # A bullet item is one Tj per line too: the bullet (WinAnsi 0x95)
            # and a space start the first line; later lines hang under the text.
            bullet = "\u2022 " if kind == "bullet" else ""
            indent = 8 + text_width(bullet, REGULAR, BODY) if bullet else 0.0
            lines = wrap(block[1], REGULAR, BODY, COLUMN - indent)
            for i, line in enumerate(lines):
                need(line)
                if bullet and i == 0:
                    ops += show(REGULAR, BODY, LEFT + 8, y, bullet + line)
                else:
                    ops += show(REGULAR, BODY, LEFT + indent, y, line)
                y -= LEADING
            y -= PARA_GAP if kind == "para" else 1.5
        elif kind == "table":
            _, columns, rows, plain = block
            if not plain:
                ops += rule(LEFT, RIGHT, y + 11)
            for r, cells in enumerate(rows):
                if len(cells) != len(columns):
                    raise SystemExit(f"table row has {len(cells)} cells, expected {len(columns)}: {cells}")
                header = r == 0 and not plain
                font = BOLD if header else REGULAR
                need(" | ".join(cells))
                for c, cell in enumerate(cells):
                    limit = (columns[c + 1] if c + 1 < len(columns) else COLUMN) - columns[c] - CELL_GAP
                    if text_width(cell, font, BODY) > limit:
                        raise SystemExit(f"table cell too wide for its column: {cell!r}")
                    ops += show(font, BODY, LEFT + columns[c], y, cell)
                if header:
                    ops += rule(LEFT, RIGHT, y - 4.5)
                y -= ROW if not plain else LEADING + 1
            if not plain:
                ops += rule(LEFT, RIGHT, y + ROW - 4.5)
            y -= PARA_GAP + 2
        else:
            raise AssertionError(kind)
        first = False

    # Running header (pages after the first) goes first in the stream and the
    # footer (every page) last, so that extractors that follow stream order
    # read the page top to bottom.
    if page_no > 1 and meta["running"]:
        ops[0:0] = (show(REGULAR, SMALL, LEFT, RUNNING_Y, meta["running"], gray=0.4)
                    + rule(LEFT, RIGHT, RUNNING_Y - 5, width=0.4))
    ops += rule(LEFT, RIGHT, FOOTER_Y + 11, width=0.4)
    if meta["footer"]:
        ops += show(REGULAR, SMALL, LEFT, FOOTER_Y, meta["footer"], gray=0.4)
    label = f"Page {page_no} of {page_count}"
    ops += show(REGULAR, SMALL, RIGHT - text_width(label, REGULAR, SMALL), FOOTER_Y, label, gray=0.4)
    return bytes(ops)


def build(source, name="<source>", encrypt=None):
    """Markup text -> PDF bytes. Also used by tests/fixtures/make_fixtures.py."""
    doc = parse(source, name)
    try:
        pages = [layout_page(blocks, i, len(doc.pages), doc.meta)
                 for i, blocks in enumerate(doc.pages, start=1)]
    except PageOverflow as e:
        raise SystemExit(f"{name}: {e}")
    return assemble(pages, doc.meta["title"], doc.meta["author"], encrypt=encrypt)


def write_or_check(outputs, check, script):
    """Write each (path, data) pair; with `check`, write nothing and report the files whose
    bytes differ instead. Returns the exit code. Shared with tests/fixtures/make_fixtures.py."""
    root = HERE.parent
    stale = []
    for path, data in outputs:
        if check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(path.name)
            continue
        path.write_bytes(data)
        print(f"wrote {path.relative_to(root)} ({len(data)} bytes)")
    if stale:
        print(f"stale (rerun {script}):", ", ".join(stale))
        return 1
    return 0


def main(argv):
    """Regenerate every sample; with --check, only report stale files."""
    outputs = (
        (HERE / f"{stem}.pdf",
         build((TEXT_DIR / f"{stem}.txt").read_text(encoding="utf-8"), name=str(TEXT_DIR / f"{stem}.txt")))
        for stem in DOCUMENTS
    )
    return write_or_check(outputs, "--check" in argv, "samples/make_samples.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

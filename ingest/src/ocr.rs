//! OCR for pages without a text layer, through the `tesseract` command when it is installed.
//!
//! A scanned page is almost always one image drawn over the page. The largest image on the
//! page is handed to tesseract as it is stored when tesseract can read that format (JPEG,
//! JPEG 2000) or as a PNM written from its decoded pixels (8-bit grey or RGB, 1-bit). Other
//! encodings (CCITT fax, JBIG2, indexed colour) are rendered with poppler's `pdftoppm` when
//! that is installed. Nothing here talks to the network; tesseract reads its language data
//! from the local installation.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use lopdf::{Document, Object, ObjectId};

/// When to OCR a page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OcrMode {
    /// Pages without a text layer, when `tesseract` is on PATH.
    #[default]
    Auto,
    /// Never; such pages are reported as having no text.
    Never,
    /// Pages without a text layer; a missing `tesseract` is an error.
    Always,
}

/// Why a page could not be OCR'd; shown after "page N: no text layer".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcrError {
    #[error("tesseract is not installed (Debian: apt-get install tesseract-ocr)")]
    NoTesseract,
    #[error("no image on the page")]
    NoImage,
    #[error("image encoding {0} is not supported for OCR without pdftoppm (poppler-utils)")]
    UnsupportedImage(String),
    #[error("OCR failed: {0}")]
    Failed(String),
    #[error("OCR found no words")]
    NoWords,
}

/// Whether `tesseract` can be run (checked once per process).
pub fn tesseract_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| runs("tesseract", &["--version"]))
}

fn pdftoppm_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| runs("pdftoppm", &["-v"]))
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// OCRs one page. `pdf_bytes` is the whole file, used only when the page must be rendered.
pub fn ocr_page(
    document: &Document,
    page_id: ObjectId,
    page_number: u32,
    pdf_bytes: &[u8],
    password: Option<&str>,
) -> Result<String, OcrError> {
    if !tesseract_available() {
        return Err(OcrError::NoTesseract);
    }
    let scratch = tempfile::tempdir().map_err(|e| OcrError::Failed(e.to_string()))?;
    let image_path = match largest_image(document, page_id)? {
        PageImage::File { extension, bytes } => {
            let path = scratch.path().join(format!("page.{extension}"));
            std::fs::write(&path, bytes).map_err(|e| OcrError::Failed(e.to_string()))?;
            path
        }
        PageImage::Unsupported(encoding) => {
            if !pdftoppm_available() {
                return Err(OcrError::UnsupportedImage(encoding));
            }
            render_page(scratch.path(), pdf_bytes, page_number, password)?
        }
    };
    let text = tesseract(&image_path)?;
    let words = text
        .split_whitespace()
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
        .count();
    if words < 3 {
        return Err(OcrError::NoWords);
    }
    Ok(text)
}

fn tesseract(image: &Path) -> Result<String, OcrError> {
    let output = Command::new("tesseract")
        .arg(image)
        .arg("stdout")
        .args(["--psm", "3"])
        .env("OMP_THREAD_LIMIT", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| OcrError::Failed(e.to_string()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .last()
            .unwrap_or("tesseract exited with an error");
        return Err(OcrError::Failed(reason.to_owned()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Renders one page to a grey PNG at 300 dpi with poppler, for image encodings we do not
/// decode ourselves.
fn render_page(
    dir: &Path,
    pdf_bytes: &[u8],
    page_number: u32,
    password: Option<&str>,
) -> Result<std::path::PathBuf, OcrError> {
    let input = dir.join("input.pdf");
    let mut file = std::fs::File::create(&input).map_err(|e| OcrError::Failed(e.to_string()))?;
    file.write_all(pdf_bytes)
        .map_err(|e| OcrError::Failed(e.to_string()))?;
    drop(file);
    let page = page_number.to_string();
    let mut command = Command::new("pdftoppm");
    command.args([
        "-r",
        "300",
        "-gray",
        "-png",
        "-singlefile",
        "-f",
        &page,
        "-l",
        &page,
    ]);
    if let Some(password) = password {
        command.args(["-upw", password]);
    }
    let status = command
        .arg(&input)
        .arg(dir.join("page"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| OcrError::Failed(e.to_string()))?;
    let output = dir.join("page.png");
    if !status.success() || !output.exists() {
        return Err(OcrError::Failed(
            "pdftoppm could not render the page".into(),
        ));
    }
    Ok(output)
}

enum PageImage {
    File {
        extension: &'static str,
        bytes: Vec<u8>,
    },
    Unsupported(String),
}

/// The page's largest image, in a form tesseract reads.
fn largest_image(document: &Document, page_id: ObjectId) -> Result<PageImage, OcrError> {
    let images = document
        .get_page_images(page_id)
        .map_err(|_| OcrError::NoImage)?;
    let image = images
        .iter()
        .max_by_key(|i| i.width.saturating_mul(i.height))
        .ok_or(OcrError::NoImage)?;
    let filters: Vec<&str> = image.filters.iter().flatten().map(String::as_str).collect();
    match filters.as_slice() {
        ["DCTDecode"] => {
            return Ok(PageImage::File {
                extension: "jpg",
                bytes: image.content.to_vec(),
            })
        }
        ["JPXDecode"] => {
            return Ok(PageImage::File {
                extension: "jp2",
                bytes: image.content.to_vec(),
            })
        }
        [] | ["FlateDecode"] | ["LZWDecode"] | ["RunLengthDecode"] => {}
        other => return Ok(PageImage::Unsupported(other.join("+"))),
    }
    let stream = document
        .get_object(image.id)
        .and_then(Object::as_stream)
        .map_err(|e| OcrError::Failed(e.to_string()))?;
    let pixels = if filters.is_empty() {
        stream.content.clone()
    } else {
        stream
            .decompressed_content()
            .map_err(|e| OcrError::Failed(format!("image data: {e}")))?
    };
    let (width, height) = (image.width.max(0) as usize, image.height.max(0) as usize);
    let bits = image.bits_per_component.unwrap_or(8);
    let image_mask = stream
        .dict
        .get(b"ImageMask")
        .and_then(Object::as_bool)
        .unwrap_or(false);
    let channels = match image.color_space.as_deref() {
        Some("DeviceGray" | "CalGray") => 1,
        Some("DeviceRGB" | "CalRGB") => 3,
        None if image_mask => 1,
        other => {
            return Ok(PageImage::Unsupported(format!(
                "colour space {}",
                other.unwrap_or("unknown")
            )))
        }
    };
    // An inverted decode array flips black and white.
    let inverted = stream
        .dict
        .get(b"Decode")
        .and_then(Object::as_array)
        .ok()
        .and_then(|a| a.first())
        .and_then(|v| v.as_float().ok())
        .is_some_and(|first| first > 0.5);
    match (bits, channels) {
        (8, 1) | (8, 3) => {
            let expected = width * height * channels;
            if pixels.len() < expected {
                return Err(OcrError::Failed(
                    "image data is shorter than its size".into(),
                ));
            }
            let magic = if channels == 1 { "P5" } else { "P6" };
            let mut pnm = format!("{magic}\n{width} {height}\n255\n").into_bytes();
            if inverted {
                pnm.extend(pixels[..expected].iter().map(|p| 255 - p));
            } else {
                pnm.extend_from_slice(&pixels[..expected]);
            }
            Ok(PageImage::File {
                extension: if channels == 1 { "pgm" } else { "ppm" },
                bytes: pnm,
            })
        }
        (1, 1) => {
            // PBM's 1 is black; a PDF grey sample of 1 is white (and an image mask paints 0s).
            let row_bytes = width.div_ceil(8);
            let expected = row_bytes * height;
            if pixels.len() < expected {
                return Err(OcrError::Failed(
                    "image data is shorter than its size".into(),
                ));
            }
            let flip = !inverted;
            let mut pbm = format!("P4\n{width} {height}\n").into_bytes();
            pbm.extend(
                pixels[..expected]
                    .iter()
                    .map(|b| if flip { !b } else { *b }),
            );
            Ok(PageImage::File {
                extension: "pbm",
                bytes: pbm,
            })
        }
        _ => Ok(PageImage::Unsupported(format!(
            "{bits}-bit samples with {channels} channel(s)"
        ))),
    }
}

//! OCR for pages without a text layer, through the `tesseract` command when it is installed.

/// When to OCR a page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum OcrMode {
    /// Pages without a text layer, when `tesseract` is on PATH.
    #[default]
    Auto,
    /// Never; such pages are reported as having no text.
    Never,
    /// Pages without a text layer; a missing `tesseract` is an error.
    Always,
}

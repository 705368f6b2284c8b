//! QR codes for the terminal: two modules per character with half blocks, and
//! an explicit foreground and background colour on every cell, so the code
//! scans on light and dark themes alike.

use qrcode::{Color, EcLevel, QrCode};

/// Dark modules: black; light modules: bright white (foreground, background).
const DARK: (u8, u8) = (30, 40);
const LIGHT: (u8, u8) = (97, 107);
/// The upper half block: its foreground is the top module, its background the bottom one.
const HALF: char = '▀';

/// Why a code was not drawn.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// The terminal is narrower than the code.
    #[error("the QR code needs {needed} columns and the terminal has {available}")]
    TooWide {
        /// Columns the code takes.
        needed: usize,
        /// Columns there are.
        available: usize,
    },
    /// The text does not fit in any QR code.
    #[error("the text is too long for a QR code")]
    TooLong,
}

/// Draws `text` as a QR code at most `max_width` columns wide.
///
/// Prefers medium error correction and a 4-module quiet zone; when that does
/// not fit it tries low correction, then a 2-module quiet zone.
pub fn render(text: &str, max_width: usize) -> Result<String, QrError> {
    let mut needed = usize::MAX;
    for (level, quiet) in [(EcLevel::M, 4), (EcLevel::L, 4), (EcLevel::M, 2), (EcLevel::L, 2)] {
        let code = QrCode::with_error_correction_level(text, level).map_err(|_| QrError::TooLong)?;
        let width = code.width() + 2 * quiet;
        if width <= max_width {
            return Ok(draw(&code, quiet));
        }
        needed = needed.min(width);
    }
    Err(QrError::TooWide { needed, available: max_width })
}

fn draw(code: &QrCode, quiet: usize) -> String {
    let n = code.width();
    let colors = code.to_colors();
    let size = n + 2 * quiet;
    let dark = |x: usize, y: usize| -> bool {
        x >= quiet
            && y >= quiet
            && x < quiet + n
            && y < quiet + n
            && colors[(y - quiet) * n + (x - quiet)] == Color::Dark
    };
    let mut out = String::new();
    for y in (0..size).step_by(2) {
        for x in 0..size {
            let top = if dark(x, y) { DARK } else { LIGHT };
            // An odd size leaves the last row's lower half in the quiet zone: light.
            let bottom = if y + 1 < size && dark(x, y + 1) { DARK } else { LIGHT };
            out.push_str(&format!("\x1b[{};{}m{HALF}", top.0, bottom.1));
        }
        out.push_str("\x1b[0m\n");
    }
    out
}

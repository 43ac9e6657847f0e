//! The bundled font: DejaVu Sans (Bitstream Vera licence, see
//! `harness/assets/fonts/LICENSE-DejaVu.txt`), compiled into the binary.
//!
//! plotters is built with its `ab_glyph` text backend and without `ttf`, so
//! it never asks the system for a font (no font-kit, no fontconfig, no
//! `/usr/share/fonts`): text is laid out and rasterised by `ab_glyph` from the
//! bytes registered here. Until a family is registered, drawing text in a PNG
//! fails with `FontUnavailable`, hence [`register_bundled_font`].

use std::sync::OnceLock;

use plotters::style::{FontStyle, register_font};

/// DejaVu Sans, regular, as shipped in `harness/assets/fonts/`.
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family names plotters' own defaults and our styles ask for
/// (`FontFamily::{SansSerif, Serif, Monospace}` and criterion's plots use
/// `"sans-serif"`); each gets the same face, so no default text style can
/// miss.
const FAMILIES: [&str; 4] = ["sans-serif", "serif", "monospace", "DejaVu Sans"];

/// Registers the bundled font with plotters under every family name its
/// default styles use, once per process; later calls are free.
///
/// Call it before anything draws text with plotters' `ab_glyph` backend, e.g.
/// first thing in a criterion bench's `main` (criterion's plots would
/// otherwise fail for want of a font, since cargo's feature unification turns
/// `ab_glyph` on for every user of plotters in the build). The plot functions
/// of this module call it themselves.
///
/// Returns whether the font is registered: `false` only if the bundled bytes
/// were not a font, which the tests rule out.
pub fn register_bundled_font() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        // Other styles (bold, italic) fall back to `Normal` in plotters.
        FAMILIES
            .iter()
            .all(|family| register_font(family, FontStyle::Normal, DEJAVU_SANS).is_ok())
    })
}

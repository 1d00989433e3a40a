//! PNG charts: the confusion matrix and the anomaly scores of `wasp
//! evaluate --png`, the scatter plot of `wasp plot`, and the end-to-end
//! benchmark's sweeps.
//!
//! Drawn with `plotters` on its in-memory bitmap backend and encoded by the
//! `png` crate. Text is set in DejaVu Sans, whose TTF files the `dejavu`
//! crate compiles in, rasterised by plotters' `ab_glyph` backend: no font
//! discovery, fontconfig or system library, so a chart renders the same on
//! every machine that builds wasp (docs/decisions.md, "Plots").

use anyhow::{Context, Result};
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

pub mod command;
pub mod confusion;
pub mod scatter;
pub mod scores;
pub mod sweep;

/// The font family every chart uses (registered by [`Image::draw`]).
pub const FONT: &str = "sans-serif";

/// Dark text and axes.
pub const INK: RGBColor = RGBColor(33, 37, 41);
/// Secondary text: subtitles, axis descriptions.
pub const MUTED: RGBColor = RGBColor(95, 102, 110);
/// Grid lines.
pub const GRID: RGBColor = RGBColor(225, 228, 232);

/// Distinct colours for categories, in order: blue, green, red, orange,
/// purple, brown, pink, olive, cyan, grey (the Tableau 10 hues). Sorted
/// Iris species get setosa blue, versicolor green, virginica red.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(127, 127, 127),
];

fn register_fonts() {
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        // The bytes are DejaVu's own TTF files; a failure here is a broken build.
        let ok = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
            .is_ok()
            && plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok();
        assert!(ok, "the DejaVu Sans fonts compiled into wasp do not parse");
    });
}

/// A text style of the chart font.
pub fn text(size: f64, colour: RGBColor) -> TextStyle<'static> {
    (FONT, size).into_font().color(&colour)
}

/// A bold text style of the chart font.
pub fn bold(size: f64, colour: RGBColor) -> TextStyle<'static> {
    (FONT, size).into_font().style(FontStyle::Bold).color(&colour)
}

/// The drawing area a chart draws on.
pub type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// An 8-bit RGB raster: a drawn chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Image {
    /// Draw a `width` x `height` chart on a white background.
    pub fn draw(width: u32, height: u32, f: impl FnOnce(&Area<'_>) -> Result<()>) -> Result<Image> {
        register_fonts();
        let mut rgb = vec![255u8; width as usize * height as usize * 3];
        {
            let area = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
            f(&area)?;
            area.present().context("finishing the chart")?;
        }
        Ok(Image { width, height, rgb })
    }

    /// Width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The colour of a pixel.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// The PNG file's bytes.
    pub fn png(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let mut enc = png::Encoder::new(&mut bytes, self.width, self.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().context("writing the PNG header")?;
        writer.write_image_data(&self.rgb).context("encoding the PNG")?;
        writer.finish().context("finishing the PNG")?;
        Ok(bytes)
    }

    /// Write the PNG file, creating its directory.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the directory {}", dir.display()))?;
        }
        std::fs::write(path, self.png()?).with_context(|| format!("writing {}", path.display()))
    }
}

/// A title and a muted subtitle across the top of `area`; returns the area
/// below them.
pub fn header<'a>(area: &Area<'a>, title: &str, subtitle: &str) -> Result<Area<'a>> {
    let (top, rest) = area.split_vertically(if subtitle.is_empty() { 48 } else { 78 });
    top.draw(&Text::new(title.to_string(), (24, 14), bold(24.0, INK)))?;
    if !subtitle.is_empty() {
        top.draw(&Text::new(subtitle.to_string(), (24, 48), text(17.0, MUTED)))?;
    }
    Ok(rest)
}

/// The chart's series legend in the house style (light box, muted border,
/// ink text), at `position`.
pub fn legend<'a, 'b: 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, BitMapBackend<'b>, CT>,
    position: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.92))
        .border_style(MUTED)
        .label_font(text(16.0, INK))
        .draw()?;
    Ok(())
}

/// An `f64` axis whose ticks are exactly the given points: cell centres,
/// or the settings a benchmark measured. (plotters' `with_key_points` on
/// an `f64` range loses the label formatting `configure_mesh` needs.)
#[derive(Debug, Clone)]
pub struct Ticks {
    range: std::ops::Range<f64>,
    at: Vec<f64>,
}

impl Ticks {
    /// The axis over `range` with ticks `at`.
    pub fn new(range: std::ops::Range<f64>, at: Vec<f64>) -> Ticks {
        Ticks { range, at }
    }
}

impl Ranged for Ticks {
    type ValueType = f64;
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        plotters::coord::types::RangedCoordf64::from(self.range.clone()).map(value, limit)
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, _hint: H) -> Vec<f64> {
        self.at.clone()
    }
}

/// `label` cut to `max` characters, ending in `…` when cut.
pub fn clip(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        return label.to_string();
    }
    let mut s: String = label.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// Test helpers: decode a PNG and count colours, as a person checking the
/// file would.
#[cfg(test)]
pub(crate) mod check {
    /// A decoded PNG: width, height and RGB pixels.
    pub struct Decoded {
        pub width: u32,
        pub height: u32,
        pub rgb: Vec<[u8; 3]>,
    }

    /// A plotters colour as the decoded pixel it paints.
    pub fn rgb(c: plotters::style::RGBColor) -> [u8; 3] {
        [c.0, c.1, c.2]
    }

    /// Decode PNG bytes with the `png` crate (RGB or RGBA, 8 bits).
    pub fn decode(bytes: &[u8]) -> Decoded {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let channels = info.color_type.samples();
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let rgb = buf[..info.buffer_size()].chunks(channels).map(|p| [p[0], p[1], p[2]]).collect();
        Decoded { width: info.width, height: info.height, rgb }
    }

    impl Decoded {
        /// Pixels within `tolerance` (per channel) of `colour`.
        pub fn count(&self, colour: [u8; 3], tolerance: u8) -> usize {
            self.rgb
                .iter()
                .filter(|p| (0..3).all(|i| p[i].abs_diff(colour[i]) <= tolerance))
                .count()
        }

        /// Dark pixels (text and axes are drawn in near-black).
        pub fn dark(&self) -> usize {
            self.rgb.iter().filter(|p| p.iter().all(|c| *c < 90)).count()
        }
    }
}

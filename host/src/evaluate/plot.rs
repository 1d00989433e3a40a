//! PNG plots for `wasp evaluate --png`: a confusion-matrix heatmap, and
//! anomaly scores over the stream with the anomalies marked.
//!
//! Drawn on a plain RGB raster with text from the public-domain 8x8 bitmap
//! font compiled into the `font8x8` crate, and written by the pure-Rust
//! `png` encoder: no system fonts, fontconfig or graphics libraries, so a
//! plot renders the same on any machine that builds wasp.

use super::{Classification, Detection};
use anyhow::{Context, Result};
use std::path::Path;

/// An RGB colour.
pub type Rgb = [u8; 3];

const WHITE: Rgb = [255, 255, 255];
const INK: Rgb = [33, 37, 41];
const MUTED: Rgb = [110, 117, 125];
const GRID: Rgb = [228, 231, 235];
const WARMUP: Rgb = [238, 238, 238];
const NORMAL_DOT: Rgb = [150, 156, 163];
const HIT: Rgb = [214, 39, 40];
const FALSE_ALARM: Rgb = [255, 150, 20];
const MISSED: Rgb = [31, 119, 180];
const THRESHOLD: Rgb = [140, 20, 20];

/// A raster image being drawn.
pub struct Canvas {
    w: i64,
    h: i64,
    px: Vec<u8>,
}

impl Canvas {
    /// A `w` x `h` canvas filled with white.
    pub fn new(w: u32, h: u32) -> Canvas {
        Canvas { w: w.into(), h: h.into(), px: vec![255; w as usize * h as usize * 3] }
    }

    /// Width and height.
    pub fn size(&self) -> (i64, i64) {
        (self.w, self.h)
    }

    /// The colour at a pixel (tests).
    pub fn at(&self, x: i64, y: i64) -> Rgb {
        let i = ((y * self.w + x) * 3) as usize;
        [self.px[i], self.px[i + 1], self.px[i + 2]]
    }

    fn put(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && x < self.w && y < self.h {
            let i = ((y * self.w + x) * 3) as usize;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    /// A filled rectangle.
    pub fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        for yy in y.max(0)..(y + h).min(self.h) {
            for xx in x.max(0)..(x + w).min(self.w) {
                self.put(xx, yy, c);
            }
        }
    }

    /// A rectangle outline of thickness `t`.
    pub fn frame(&mut self, x: i64, y: i64, w: i64, h: i64, t: i64, c: Rgb) {
        self.rect(x, y, w, t, c);
        self.rect(x, y + h - t, w, t, c);
        self.rect(x, y, t, h, c);
        self.rect(x + w - t, y, t, h, c);
    }

    /// A horizontal line, dashed when `dash` > 0.
    pub fn hline(&mut self, x0: i64, x1: i64, y: i64, t: i64, dash: i64, c: Rgb) {
        for x in x0..=x1 {
            if dash == 0 || ((x - x0) / dash) % 2 == 0 {
                self.rect(x, y - t / 2, 1, t.max(1), c);
            }
        }
    }

    /// A filled disc.
    pub fn disc(&mut self, cx: i64, cy: i64, r: i64, c: Rgb) {
        for dy in -r..=r {
            for dx in -r..=r {
                if dx * dx + dy * dy <= r * r + r / 2 {
                    self.put(cx + dx, cy + dy, c);
                }
            }
        }
    }

    /// A ring of thickness `t`.
    pub fn ring(&mut self, cx: i64, cy: i64, r: i64, t: i64, c: Rgb) {
        let (outer, inner) = (r * r + r / 2, (r - t) * (r - t));
        for dy in -r..=r {
            for dx in -r..=r {
                let d = dx * dx + dy * dy;
                if d <= outer && d > inner {
                    self.put(cx + dx, cy + dy, c);
                }
            }
        }
    }

    fn glyph(ch: char) -> [u8; 8] {
        let i = ch as usize;
        let i = if i < 128 { i } else { '?' as usize };
        font8x8::legacy::BASIC_LEGACY[i]
    }

    /// Width of `s` in pixels at `scale`.
    pub fn text_width(s: &str, scale: i64) -> i64 {
        s.chars().count() as i64 * 8 * scale
    }

    /// Text with its top-left corner at (x, y); each font pixel becomes a
    /// `scale` x `scale` square. Returns the width drawn.
    pub fn text(&mut self, x: i64, y: i64, s: &str, scale: i64, c: Rgb) -> i64 {
        for (n, ch) in s.chars().enumerate() {
            let g = Self::glyph(ch);
            let ox = x + n as i64 * 8 * scale;
            for (row, bits) in g.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        self.rect(ox + col * scale, y + row as i64 * scale, scale, scale, c);
                    }
                }
            }
        }
        Self::text_width(s, scale)
    }

    /// Text centred on `cx`.
    pub fn text_centered(&mut self, cx: i64, y: i64, s: &str, scale: i64, c: Rgb) {
        self.text(cx - Self::text_width(s, scale) / 2, y, s, scale, c);
    }

    /// Text ending at `right`.
    pub fn text_right(&mut self, right: i64, y: i64, s: &str, scale: i64, c: Rgb) {
        self.text(right - Self::text_width(s, scale), y, s, scale, c);
    }

    /// Text reading bottom to top, centred on `cy`, its left edge at `x`.
    pub fn text_up(&mut self, x: i64, cy: i64, s: &str, scale: i64, c: Rgb) {
        let bottom = cy + Self::text_width(s, scale) / 2;
        for (n, ch) in s.chars().enumerate() {
            let g = Self::glyph(ch);
            for (row, bits) in g.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        let px = x + row as i64 * scale;
                        let py = bottom - (n as i64 * 8 + col + 1) * scale;
                        self.rect(px, py, scale, scale, c);
                    }
                }
            }
        }
    }

    /// Write the canvas as an 8-bit RGB PNG.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the directory {}", dir.display()))?;
        }
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut enc =
            png::Encoder::new(std::io::BufWriter::new(file), self.w as u32, self.h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().context("writing the PNG header")?;
        writer.write_image_data(&self.px).context("writing the PNG")?;
        writer.finish().context("finishing the PNG")?;
        Ok(())
    }
}

/// `label` cut to `max_px` at `scale`, ending in `..` when cut.
fn fit(label: &str, scale: i64, max_px: i64) -> String {
    if Canvas::text_width(label, scale) <= max_px {
        return label.to_string();
    }
    let keep = (max_px / (8 * scale) - 2).max(1) as usize;
    let mut s: String = label.chars().take(keep).collect();
    s.push_str("..");
    s
}

/// Scikit-learn's blue ramp (white to dark blue) at `t` in [0, 1].
fn blues(t: f64) -> Rgb {
    let (a, b) = ([247.0, 251.0, 255.0], [8.0, 48.0, 107.0]);
    let t = t.clamp(0.0, 1.0);
    [0, 1, 2].map(|i| (a[i] + (b[i] - a[i]) * t).round() as u8)
}

/// Draw the confusion matrix: counts in each cell, shaded by the share of
/// the true label's records (the row), as recall reads it.
pub fn confusion_matrix_canvas(c: &Classification, source: &str) -> Canvas {
    let n = c.labels.len().max(1) as i64;
    let longest = c.labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as i64;
    // Wide enough for the column labels at scale 2 when there are few.
    let cell: i64 = if n <= 6 { (longest * 16 + 20).clamp(150, 280) } else { (900 / n).max(48) };
    let row_scale = if longest * 16 <= 320 { 2 } else { 1 };
    let row_labels = (longest * 8 * row_scale).min(320);
    let col_scale = if longest * 16 <= cell - 10 { 2 } else { 1 };
    let left = 24 + 16 + 20 + row_labels + 16;
    let top = 110;
    let grid = cell * n;
    let title = "Confusion matrix";
    let subtitle = format!(
        "{source}: {} records, accuracy {:.3}, macro F1 {:.3}",
        c.evaluated, c.accuracy, c.macro_avg.f1
    );
    let w = (left + grid + 60).max(Canvas::text_width(&subtitle, 2) + 60).max(520);
    let h = top + grid + 24 + 16 * col_scale + 60;
    let mut cv = Canvas::new(w as u32, h as u32);
    cv.text(30, 24, title, 3, INK);
    cv.text(30, 64, &subtitle, 2, MUTED);
    for (t, row) in c.matrix.iter().enumerate() {
        let total: u64 = row.iter().sum();
        let y = top + t as i64 * cell;
        for (p, &count) in row.iter().enumerate() {
            let x = left + p as i64 * cell;
            let share = if total > 0 { count as f64 / total as f64 } else { 0.0 };
            cv.rect(x, y, cell, cell, blues(share));
            let ink = if share > 0.5 { WHITE } else { INK };
            let count_text = count.to_string();
            let big = if cell >= 100 { 3 } else { 2 };
            let cy = y + cell / 2 - if cell >= 100 { 20 } else { 8 };
            cv.text_centered(x + cell / 2, cy, &count_text, big, ink);
            if cell >= 100 && total > 0 {
                let pct = format!("{:.0}%", 100.0 * share);
                cv.text_centered(x + cell / 2, cy + 34, &pct, 2, ink);
            }
        }
    }
    for i in 0..=n {
        cv.rect(left + i * cell, top, 1, grid, WHITE);
        cv.rect(left, top + i * cell, grid, 1, WHITE);
    }
    cv.frame(left - 1, top - 1, grid + 2, grid + 2, 1, MUTED);
    for (i, l) in c.labels.iter().enumerate() {
        let y = top + i as i64 * cell + cell / 2 - 4 * row_scale;
        cv.text_right(left - 12, y, &fit(l, row_scale, row_labels), row_scale, INK);
        let x = left + i as i64 * cell + cell / 2;
        cv.text_centered(x, top + grid + 12, &fit(l, col_scale, cell - 8), col_scale, INK);
    }
    cv.text_centered(
        left + grid / 2,
        top + grid + 24 + 16 * col_scale,
        "predicted label",
        2,
        MUTED,
    );
    cv.text_up(24, top + grid / 2, "true label", 2, MUTED);
    cv
}

/// Draw the confusion matrix into a PNG file.
pub fn confusion_matrix(c: &Classification, source: &str, path: &Path) -> Result<()> {
    confusion_matrix_canvas(c, source).save(path)
}

/// A step of 1, 2, 2.5 or 5 times a power of ten giving about `target`
/// intervals over `span`.
fn nice_step(span: f64, target: f64) -> f64 {
    let raw = (span / target).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag)
}

fn tick_label(v: f64, step: f64) -> String {
    // As many decimals as the step needs: 0.25 -> 2, 0.1 -> 1, 1000 -> 0.
    let decimals = (0..6)
        .find(|&d| {
            let x = step * 10f64.powi(d);
            (x - x.round()).abs() < 1e-9 * x.max(1.0)
        })
        .unwrap_or(6) as usize;
    format!("{v:.decimals$}")
}

/// Draw the scores over the stream: every scored record as a grey dot,
/// flagged anomalies red (orange when the truth says normal), missed true
/// anomalies as blue rings; warm-up records shaded; the threshold as a
/// dashed line when the flagged and normal scores are separated by one.
pub fn anomaly_scores_canvas(d: &Detection, source: &str, score_field: &str) -> Canvas {
    let (w, h) = (1400i64, 640i64);
    let (left, right, top, bottom) = (110i64, 40i64, 150i64, 80i64);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let mut cv = Canvas::new(w as u32, h as u32);
    let n = d.points.len().max(1);
    let scores: Vec<f64> = d.points.iter().filter_map(|p| p.score).collect();
    let (mut lo, mut hi) =
        scores.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &s| (a.min(s), b.max(s)));
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        (lo, hi) = (lo - 0.5, hi + 0.5);
    }
    let pad = (hi - lo) * 0.06;
    let (lo, hi) = (lo - pad, hi + pad);
    let x_of = |i: usize| left + ((i as f64 + 0.5) / n as f64 * pw as f64) as i64;
    let y_of = |s: f64| top + ph - ((s - lo) / (hi - lo) * ph as f64).round() as i64;

    // Title and metrics.
    cv.text(30, 22, "Anomaly scores over the stream", 3, INK);
    let sub = format!(
        "{}: {} records, {} scored, {} flagged",
        fit(source, 2, 600),
        d.points.len(),
        d.scored,
        d.flagged
    );
    cv.text(30, 60, &sub, 2, MUTED);
    if d.labelled > 0 {
        let metrics = format!(
            "precision {:.3}   recall {:.3}   F1 {:.3}   ({} true anomalies among the scored)",
            d.precision(),
            d.recall(),
            d.f1(),
            d.actual
        );
        cv.text(30, 84, &metrics, 2, INK);
    }

    // Warm-up (not scored) stretches.
    let mut i = 0;
    while i < d.points.len() {
        if d.points[i].flagged.is_none() {
            let start = i;
            while i < d.points.len() && d.points[i].flagged.is_none() {
                i += 1;
            }
            let (x0, x1) = (x_of(start) - 1, x_of(i - 1) + 1);
            cv.rect(x0, top, x1 - x0 + 1, ph, WARMUP);
            for label in ["warm-up (not scored)", "warm-up"] {
                if x1 - x0 > Canvas::text_width(label, 2) + 12 {
                    cv.text_centered((x0 + x1) / 2, top + 10, label, 2, MUTED);
                    break;
                }
            }
        } else {
            i += 1;
        }
    }

    // Axes and ticks.
    let ystep = nice_step(hi - lo, 6.0);
    let mut v = (lo / ystep).ceil() * ystep;
    while v <= hi + 1e-12 {
        let y = y_of(v);
        cv.rect(left, y, pw, 1, GRID);
        cv.rect(left - 6, y, 6, 1, INK);
        cv.text_right(left - 10, y - 7, &tick_label(v, ystep), 2, INK);
        v += ystep;
    }
    let xstep = nice_step(n as f64, 8.0).max(1.0);
    let mut t = 0.0;
    while t < n as f64 {
        let x = x_of(t as usize);
        cv.rect(x, top + ph, 1, 6, INK);
        cv.text_centered(x, top + ph + 12, &format!("{t:.0}"), 2, INK);
        t += xstep;
    }
    cv.frame(left, top, pw, ph, 1, MUTED);
    cv.text_centered(left + pw / 2, h - 36, "record (in stream order)", 2, MUTED);
    cv.text_up(20, top + ph / 2, score_field, 2, MUTED);

    // The threshold, when one score separates flagged from normal.
    let max_normal = d
        .points
        .iter()
        .filter(|p| p.flagged == Some(false))
        .filter_map(|p| p.score)
        .fold(f64::NEG_INFINITY, f64::max);
    let min_flagged = d
        .points
        .iter()
        .filter(|p| p.flagged == Some(true))
        .filter_map(|p| p.score)
        .fold(f64::INFINITY, f64::min);
    let threshold = (max_normal.is_finite() && min_flagged.is_finite() && max_normal < min_flagged)
        .then(|| (max_normal + min_flagged) / 2.0);

    // Points: normal first, marks on top.
    for (i, p) in d.points.iter().enumerate() {
        if let (Some(s), Some(false)) = (p.score, p.flagged) {
            if p.truth != Some(true) {
                cv.rect(x_of(i) - 1, y_of(s) - 1, 2, 2, NORMAL_DOT);
            }
        }
    }
    if let Some(th) = threshold {
        let y = y_of(th);
        cv.hline(left + 1, left + pw - 2, y, 2, 10, THRESHOLD);
        let label = format!("threshold ~{th:.3}");
        let lw = Canvas::text_width(&label, 2);
        cv.rect(left + 6, y - 26, lw + 8, 20, WHITE);
        cv.text(left + 10, y - 23, &label, 2, THRESHOLD);
    }
    for (i, p) in d.points.iter().enumerate() {
        let Some(s) = p.score else { continue };
        let (x, y) = (x_of(i), y_of(s));
        match (p.flagged, p.truth) {
            (Some(true), Some(false)) => cv.disc(x, y, 4, FALSE_ALARM),
            (Some(true), _) => cv.disc(x, y, 4, HIT),
            (Some(false), Some(true)) => cv.ring(x, y, 6, 2, MISSED),
            _ => {}
        }
    }

    // Legend, for what appears.
    let mut items: Vec<(&str, u8)> = vec![("normal", 0)];
    let fp = d.points.iter().any(|p| p.flagged == Some(true) && p.truth == Some(false));
    let missed = d.points.iter().any(|p| p.flagged == Some(false) && p.truth == Some(true));
    let labelled = d.labelled > 0;
    items.push((if labelled { "anomaly (true)" } else { "anomaly" }, 1));
    if fp {
        items.push(("false alarm", 2));
    }
    if missed {
        items.push(("missed anomaly", 3));
    }
    if threshold.is_some() {
        items.push(("threshold", 4));
    }
    let mut x = 30;
    let y = 116;
    for (label, kind) in items {
        match kind {
            0 => cv.rect(x + 4, y + 6, 4, 4, NORMAL_DOT),
            1 => cv.disc(x + 6, y + 7, 5, HIT),
            2 => cv.disc(x + 6, y + 7, 5, FALSE_ALARM),
            3 => cv.ring(x + 6, y + 7, 7, 2, MISSED),
            _ => cv.hline(x - 4, x + 18, y + 7, 2, 5, THRESHOLD),
        }
        x += 22 + cv.text(x + 22, y, label, 2, INK) + 30;
    }
    cv
}

/// Draw the anomaly scores into a PNG file.
pub fn anomaly_scores(d: &Detection, source: &str, score_field: &str, path: &Path) -> Result<()> {
    anomaly_scores_canvas(d, source, score_field).save(path)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{handmade_classifier, handmade_detector, handmade_fields};
    use super::super::{classification, detection};
    use super::*;

    #[test]
    fn nice_steps_and_tick_labels() {
        assert_eq!(nice_step(1.0, 5.0), 0.2);
        assert_eq!(nice_step(0.37, 6.0), 0.1);
        assert_eq!(nice_step(5000.0, 8.0), 1000.0);
        assert_eq!(tick_label(0.5, 0.1), "0.5");
        assert_eq!(tick_label(0.55, 0.05), "0.55");
        assert_eq!(tick_label(0.25, 0.25), "0.25");
        assert_eq!(tick_label(2000.0, 1000.0), "2000");
    }

    #[test]
    fn text_draws_ink_inside_its_box() {
        let mut cv = Canvas::new(40, 20);
        assert_eq!(cv.text(2, 2, "A", 2, INK), 16);
        let ink =
            (0..20).flat_map(|y| (0..40).map(move |x| (x, y))).filter(|&(x, y)| cv.at(x, y) == INK);
        for (x, y) in ink {
            assert!((2..18).contains(&x) && (2..18).contains(&y), "ink at {x},{y}");
        }
    }

    #[test]
    fn plots_are_written_as_png_files() {
        let dir = std::env::temp_dir().join(format!("wasp-plot-{}", std::process::id()));
        let c = classification(&handmade_classifier(), "y", "pred");
        let cm = dir.join("cm.png");
        confusion_matrix(&c, "handmade", &cm).unwrap();
        let f = handmade_fields();
        let d = detection(&handmade_detector(), &f);
        let sc = dir.join("scores.png");
        anomaly_scores(&d, "handmade", "anomaly_score", &sc).unwrap();
        for p in [&cm, &sc] {
            let bytes = std::fs::read(p).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", p.display());
        }
        // The diagonal cell of 'a' (3 of 4 records) is darker than the
        // empty cell beside it.
        let cv = confusion_matrix_canvas(&c, "handmade");
        let (dark, light) = (cv.at(200, 115), cv.at(200 + 300, 115));
        assert!(dark[0] < light[0], "{dark:?} vs {light:?}");
        let _ = std::fs::remove_dir_all(dir);
    }
}

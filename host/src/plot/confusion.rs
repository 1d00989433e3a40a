//! The confusion matrix as a heatmap: counts in each cell, shaded by the
//! share of the true label's records (the row), as recall reads it, with a
//! colour bar for the shading.

use super::{bold, clip, header, text, Image, Ticks, INK, MUTED};
use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The lightest colour of the ramp (an empty row share).
pub const EMPTY: RGBColor = RGBColor(247, 251, 255);
/// The darkest colour of the ramp (the whole row).
pub const FULL: RGBColor = RGBColor(8, 48, 107);

/// scikit-learn's blue ramp (`Blues`, white to dark blue) at `t` in [0, 1].
pub fn blues(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
    RGBColor(mix(EMPTY.0, FULL.0), mix(EMPTY.1, FULL.1), mix(EMPTY.2, FULL.2))
}

/// Draw `matrix[t][p]` (records of true label `labels[t]` predicted
/// `labels[p]`) under the title "Confusion matrix" and `subtitle`.
pub fn draw(labels: &[String], matrix: &[Vec<u64>], subtitle: &str) -> Result<Image> {
    let n = labels.len().max(1);
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1).min(28);
    let cell: u32 = if n <= 6 { 130 } else { (900 / n as u32).max(44) };
    let left = (longest as u32 * 10 + 60).clamp(110, 340);
    let bottom = 70;
    let grid = cell * n as u32;
    let bar = 120;
    let width = (left + grid + 52 + bar).max(subtitle.chars().count() as u32 * 9 + 60).max(560);
    let height = 78 + 20 + grid + bottom;
    // Labels are not rotated (plotters' ab_glyph text does not rotate
    // cleanly), so a long one is cut to its column.
    let max_chars = ((cell as usize) / 9).max(3);
    Image::draw(width, height, |root| {
        let body = header(root, "Confusion matrix", subtitle)?;
        let (heat, scale) = body.split_horizontally(left + grid + 52);
        let n_f = n as f64;
        let centres: Vec<f64> = (0..n).map(|i| i as f64 + 0.5).collect();
        let mut chart = ChartBuilder::on(&heat)
            .margin_top(20)
            .margin_left(12)
            .margin_right(40)
            .x_label_area_size(bottom)
            .y_label_area_size(left)
            .build_cartesian_2d(
                Ticks::new(0.0..n_f, centres.clone()),
                Ticks::new(0.0..n_f, centres),
            )?;
        let at = |v: f64| (v.floor().max(0.0) as usize).min(n - 1);
        let x_label = |v: &f64| clip(labels.get(at(*v)).map_or("", String::as_str), max_chars);
        let y_label = |v: &f64| clip(labels.get(n - 1 - at(*v)).map_or("", String::as_str), 28);
        let mut mesh = chart.configure_mesh();
        mesh.disable_mesh()
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .x_desc("predicted label")
            .y_desc("true label")
            .label_style(text(16.0, INK))
            .axis_desc_style(text(17.0, MUTED));
        if n > 6 {
            mesh.x_label_style(text(14.0, INK));
        }
        mesh.draw()?;
        let mut cells = Vec::new();
        for (t, row) in matrix.iter().enumerate() {
            let total: u64 = row.iter().sum();
            for (p, &count) in row.iter().enumerate() {
                let share = if total > 0 { count as f64 / total as f64 } else { 0.0 };
                cells.push((t, p, count, share));
            }
        }
        let y0 = |t: usize| n_f - t as f64;
        chart.draw_series(cells.iter().map(|&(t, p, _, share)| {
            Rectangle::new(
                [(p as f64, y0(t)), (p as f64 + 1.0, y0(t) - 1.0)],
                blues(share).filled(),
            )
        }))?;
        chart.draw_series(cells.iter().map(|&(t, p, _, _)| {
            Rectangle::new(
                [(p as f64, y0(t)), (p as f64 + 1.0, y0(t) - 1.0)],
                WHITE.stroke_width(1),
            )
        }))?;
        let centre = Pos::new(HPos::Center, VPos::Center);
        let big = if cell >= 100 { 30.0 } else { 16.0 };
        for &(t, p, count, share) in &cells {
            let ink = if share > 0.5 { WHITE } else { INK };
            let (x, y) = (p as f64 + 0.5, y0(t) - 0.5);
            let lift = if cell >= 100 { 0.12 } else { 0.0 };
            chart.draw_series(std::iter::once(Text::new(
                count.to_string(),
                (x, y + lift),
                bold(big, ink).pos(centre),
            )))?;
            let total: u64 = matrix[t].iter().sum();
            if cell >= 100 && total > 0 {
                chart.draw_series(std::iter::once(Text::new(
                    format!("{:.0}%", 100.0 * share),
                    (x, y - 0.2),
                    text(16.0, ink).pos(centre),
                )))?;
            }
        }
        colour_bar(&scale, grid)
    })
}

/// The ramp from 0 % to 100 % of a row, beside the matrix.
fn colour_bar(area: &super::Area<'_>, grid: u32) -> Result<()> {
    let (_, h) = area.dim_in_pixel();
    let spare = h.saturating_sub(20 + grid) as i32;
    let mut chart = ChartBuilder::on(area)
        .margin_top(20)
        .margin_bottom(spare.max(0) as u32)
        .margin_right(10)
        .right_y_label_area_size(60)
        .build_cartesian_2d(0.0..1.0, 0.0..100.0)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(5)
        .y_label_formatter(&|v| format!("{v:.0}%"))
        .label_style(text(14.0, INK))
        .draw()?;
    chart.draw_series((0..100).map(|i| {
        let v = i as f64;
        Rectangle::new([(0.0, v), (1.0, v + 1.0)], blues(v / 100.0).filled())
    }))?;
    chart.draw_series(std::iter::once(Rectangle::new([(0.0, 0.0), (1.0, 100.0)], MUTED)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::check::{decode, rgb};

    #[test]
    fn cells_are_shaded_by_their_row_share_with_counts_and_labels() {
        let labels: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        // Row shares: a 3/4 1/4 0, b 1/3 2/3 0, c 1/3 0 2/3.
        let matrix = vec![vec![3, 1, 0], vec![1, 2, 0], vec![1, 0, 2]];
        let image = draw(&labels, &matrix, "handmade: 10 records").unwrap();
        let png = decode(&image.png().unwrap());
        assert_eq!((png.width, png.height), image.size());
        assert!(png.width >= 560 && png.height >= 450, "{}x{}", png.width, png.height);
        // A 130-pixel cell is about 16 900 pixels of its shade, less its
        // text; the colour bar holds each shade on a few rows only.
        let cell = |share: f64| png.count(rgb(blues(share)), 0);
        assert!(cell(0.75) > 12_000, "the 3/4 cell: {}", cell(0.75));
        assert!(cell(0.25) > 12_000, "the 1/4 cell: {}", cell(0.25));
        assert!(cell(1.0 / 3.0) > 2 * 12_000, "the two 1/3 cells: {}", cell(1.0 / 3.0));
        assert!(cell(2.0 / 3.0) > 2 * 12_000, "the two 2/3 cells: {}", cell(2.0 / 3.0));
        assert!(cell(0.0) > 3 * 12_000, "the three empty cells: {}", cell(0.0));
        // Counts, percentages, labels, titles: thousands of dark pixels;
        // white counts on the dark cells.
        assert!(png.dark() > 1_500, "text: {}", png.dark());
        assert!(png.count([255, 255, 255], 0) > 50_000);
    }

    #[test]
    fn the_ramp_runs_from_near_white_to_dark_blue() {
        assert_eq!(blues(0.0), EMPTY);
        assert_eq!(blues(1.0), FULL);
        assert_eq!(blues(7.0), FULL);
        let mid = blues(0.5);
        assert!(mid.2 > mid.0 && mid.0 < EMPTY.0 && mid.0 > FULL.0, "{mid:?}");
    }
}

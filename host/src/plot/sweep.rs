//! Line charts of a measurement swept over a setting, side by side: the
//! end-to-end benchmark's throughput against batch size and against
//! workers, each point the median of its repetitions with a bar from the
//! lowest to the highest.

use super::{header, text, Image, Ticks, GRID, INK, MUTED, PALETTE};
use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One measured setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The setting (e.g. batch size).
    pub x: f64,
    /// The median measurement.
    pub median: f64,
    /// The lowest repetition.
    pub low: f64,
    /// The highest repetition.
    pub high: f64,
}

/// One chart of the figure.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Its title.
    pub title: String,
    /// What the setting is.
    pub x_desc: String,
    /// What the measurement is.
    pub y_desc: String,
    /// Spread the settings on a base-2 logarithmic axis (1, 16, 256, ...).
    pub log2: bool,
    /// The points, in setting order.
    pub samples: Vec<Sample>,
    /// The text beside each point.
    pub annotate: fn(f64) -> String,
}

/// Draw the panels side by side under `title`.
pub fn draw(title: &str, subtitle: &str, panels: &[Panel]) -> Result<Image> {
    let width = 620 * panels.len().max(1) as u32;
    Image::draw(width, 520, |root| {
        let body = header(root, title, subtitle)?;
        let areas = body.split_evenly((1, panels.len().max(1)));
        for (area, panel) in areas.iter().zip(panels) {
            draw_panel(area, panel)?;
        }
        Ok(())
    })
}

fn draw_panel(area: &super::Area<'_>, p: &Panel) -> Result<()> {
    let pos = |x: f64| if p.log2 { x.max(f64::MIN_POSITIVE).log2() } else { x };
    let xs: Vec<f64> = p.samples.iter().map(|s| pos(s.x)).collect();
    let (x_lo, x_hi) =
        xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let (x_lo, x_hi) = if x_lo.is_finite() { (x_lo, x_hi.max(x_lo + 1.0)) } else { (0.0, 1.0) };
    let pad = (x_hi - x_lo) * 0.12;
    let top = p.samples.iter().map(|s| s.high.max(s.median)).fold(0.0, f64::max);
    let top = if top > 0.0 { top * 1.2 } else { 1.0 };
    let labels: Vec<(f64, f64)> = p.samples.iter().map(|s| (pos(s.x), s.x)).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, text(19.0, INK))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(80)
        .build_cartesian_2d(Ticks::new(x_lo - pad..x_hi + pad, xs.clone()), 0.0..top)?;
    let x_label = |v: &f64| {
        labels
            .iter()
            .find(|(at, _)| (at - v).abs() < 1e-9)
            .map_or(String::new(), |(_, x)| format!("{x}"))
    };
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .x_label_formatter(&x_label)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .x_desc(&p.x_desc)
        .y_desc(&p.y_desc)
        .label_style(text(15.0, INK))
        .axis_desc_style(text(15.0, MUTED))
        .draw()?;
    if p.samples.is_empty() {
        let centre = ((x_lo + x_hi) / 2.0, top / 2.0);
        let style = text(18.0, MUTED).pos(Pos::new(HPos::Center, VPos::Center));
        chart.draw_series(std::iter::once(Text::new("not run", centre, style)))?;
        return Ok(());
    }
    let line = PALETTE[0];
    let points: Vec<(f64, f64)> = p.samples.iter().map(|s| (pos(s.x), s.median)).collect();
    chart.draw_series(LineSeries::new(points.clone(), line.stroke_width(2)))?;
    chart.draw_series(p.samples.iter().map(|s| {
        ErrorBar::new_vertical(pos(s.x), s.low, s.median, s.high, line.stroke_width(2), 12)
    }))?;
    chart.draw_series(points.iter().map(|&c| Circle::new(c, 5, line.filled())))?;
    let note = text(15.0, INK).pos(Pos::new(HPos::Left, VPos::Bottom));
    chart.draw_series(p.samples.iter().map(|s| {
        let (x, y) = (pos(s.x), s.median);
        EmptyElement::at((x, y)) + Text::new((p.annotate)(s.median), (8, -8), note.clone())
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::check::decode;

    fn thousands(v: f64) -> String {
        format!("{v:.0}k")
    }

    #[test]
    fn panels_side_by_side_with_points_and_spread() {
        let s = |x: f64, median: f64| Sample { x, median, low: median - 10.0, high: median + 10.0 };
        let panel = |log2, samples| Panel {
            title: "t".into(),
            x_desc: "setting".into(),
            y_desc: "thousand records/s".into(),
            log2,
            samples,
            annotate: thousands,
        };
        let image = draw(
            "wasp end to end",
            "2 cores",
            &[
                panel(true, vec![s(1.0, 70.0), s(16.0, 200.0), s(256.0, 300.0)]),
                panel(false, vec![]),
            ],
        )
        .unwrap();
        let png = decode(&image.png().unwrap());
        assert_eq!((png.width, png.height), (1240, 520));
        let line = [PALETTE[0].0, PALETTE[0].1, PALETTE[0].2];
        assert!(png.count(line, 0) > 3 * 60, "three points, a line and bars");
        assert!(png.dark() > 1_000, "axes and labels");
        // The empty panel says so instead of drawing: all the blue is left
        // of the middle.
        let right_blue = png
            .rgb
            .iter()
            .enumerate()
            .filter(|(i, p)| (*i as u32 % png.width) > 640 && **p == line)
            .count();
        assert_eq!(right_blue, 0);
    }
}

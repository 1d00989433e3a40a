//! Anomaly scores over the stream: every scored record as a grey dot,
//! flagged anomalies red (orange when the truth says normal), missed true
//! anomalies as blue rings, warm-up records shaded, and the threshold as a
//! dashed line when one score separates the flagged from the normal.

use super::{header, legend, text, Image, GRID, INK, MUTED};
use crate::evaluate::Point;
use anyhow::Result;
use plotters::prelude::*;

/// Scored records judged normal.
pub const NORMAL: RGBColor = RGBColor(150, 156, 163);
/// Flagged records (true anomalies, or without truth).
pub const HIT: RGBColor = RGBColor(214, 39, 40);
/// Flagged records the truth says are normal.
pub const FALSE_ALARM: RGBColor = RGBColor(255, 140, 0);
/// True anomalies judged normal.
pub const MISSED: RGBColor = RGBColor(31, 119, 180);
/// The threshold line.
pub const THRESHOLD: RGBColor = RGBColor(140, 20, 20);
/// The warm-up stretches (not scored).
pub const WARMUP: RGBColor = RGBColor(236, 236, 236);

/// The score between the highest normal and the lowest flagged one, when
/// every flagged score is above every normal one.
pub fn threshold(points: &[Point]) -> Option<f64> {
    let scores =
        |flag: bool| points.iter().filter(move |p| p.flagged == Some(flag)).filter_map(|p| p.score);
    let max_normal = scores(false).fold(f64::NEG_INFINITY, f64::max);
    let min_flagged = scores(true).fold(f64::INFINITY, f64::min);
    (max_normal.is_finite() && min_flagged.is_finite() && max_normal < min_flagged)
        .then(|| (max_normal + min_flagged) / 2.0)
}

/// Runs of records that were not scored (warm-up), as index ranges.
fn warmups(points: &[Point]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, p) in points.iter().enumerate() {
        match (p.flagged.is_none(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, points.len()));
    }
    runs
}

/// Draw the points (in stream order) of the score field `score_field`.
pub fn draw(points: &[Point], score_field: &str, subtitle: &str) -> Result<Image> {
    let n = points.len().max(1) as f64;
    let scores: Vec<f64> = points.iter().filter_map(|p| p.score).collect();
    let (mut lo, mut hi) =
        scores.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &s| (a.min(s), b.max(s)));
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        (lo, hi) = (lo - 0.5, hi + 0.5);
    }
    let pad = (hi - lo) * 0.08;
    let (lo, hi) = (lo - pad, hi + pad * 3.0);
    let th = threshold(points);
    Image::draw(1400, 680, |root| {
        let body = header(root, "Anomaly scores over the stream", subtitle)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(20)
            .margin_right(40)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..n, lo..hi)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .x_desc("record (in stream order)")
            .y_desc(score_field)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .label_style(text(16.0, INK))
            .axis_desc_style(text(17.0, MUTED))
            .draw()?;
        let runs = warmups(points);
        chart
            .draw_series(
                runs.iter().map(|&(a, b)| {
                    Rectangle::new([(a as f64, lo), (b as f64, hi)], WARMUP.filled())
                }),
            )?
            .label("warm-up (not scored)")
            .legend(|(x, y)| Rectangle::new([(x - 8, y - 6), (x + 8, y + 6)], WARMUP.filled()));
        let at = |i: usize, s: f64| (i as f64 + 0.5, s);
        let pick = |f: &dyn Fn(&Point) -> bool| -> Vec<(f64, f64)> {
            points
                .iter()
                .enumerate()
                .filter(|(_, p)| f(p))
                .filter_map(|(i, p)| p.score.map(|s| at(i, s)))
                .collect()
        };
        let normal = pick(&|p| p.flagged == Some(false) && p.truth != Some(true));
        chart
            .draw_series(normal.iter().map(|&c| Circle::new(c, 2, NORMAL.filled())))?
            .label("normal")
            .legend(|(x, y)| Circle::new((x, y), 3, NORMAL.filled()));
        if let Some(th) = th {
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, th), (n, th)],
                    10,
                    6,
                    THRESHOLD.stroke_width(2),
                ))?
                .label(format!("threshold ≈ {th:.3}"))
                .legend(|(x, y)| {
                    PathElement::new([(x - 10, y), (x + 10, y)], THRESHOLD.stroke_width(2))
                });
        }
        let labelled = points.iter().any(|p| p.truth.is_some());
        let hits = pick(&|p| p.flagged == Some(true) && p.truth != Some(false));
        chart
            .draw_series(hits.iter().map(|&c| Circle::new(c, 5, HIT.filled())))?
            .label(if labelled { "flagged, true anomaly" } else { "flagged" })
            .legend(|(x, y)| Circle::new((x, y), 5, HIT.filled()));
        let false_alarms = pick(&|p| p.flagged == Some(true) && p.truth == Some(false));
        if !false_alarms.is_empty() {
            chart
                .draw_series(false_alarms.iter().map(|&c| Circle::new(c, 5, FALSE_ALARM.filled())))?
                .label("flagged, truly normal (false alarm)")
                .legend(|(x, y)| Circle::new((x, y), 5, FALSE_ALARM.filled()));
        }
        let missed = pick(&|p| p.flagged == Some(false) && p.truth == Some(true));
        if !missed.is_empty() {
            chart
                .draw_series(missed.iter().map(|&c| Circle::new(c, 6, MISSED.stroke_width(2))))?
                .label("missed true anomaly")
                .legend(|(x, y)| Circle::new((x, y), 6, MISSED.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::check::{decode, rgb};

    fn point(score: f64, flagged: bool, truth: bool) -> Point {
        Point { score: Some(score), flagged: Some(flagged), truth: Some(truth) }
    }

    /// 20 warm-up records, then 3 hits, 1 false alarm, 2 misses and 30
    /// normal records.
    fn stream(false_alarm: bool) -> Vec<Point> {
        let mut p = vec![Point { score: None, flagged: None, truth: Some(false) }; 20];
        p.extend((0..30).map(|i| point(0.40 + f64::from(i) / 300.0, false, false)));
        p.extend([point(0.8, true, true), point(0.85, true, true), point(0.75, true, true)]);
        p.extend([point(0.45, false, true), point(0.42, false, true)]);
        if false_alarm {
            p.push(point(0.7, true, false));
        }
        p
    }

    #[test]
    fn marks_each_kind_of_record_in_its_colour() {
        let image = draw(&stream(true), "anomaly_score", "handmade").unwrap();
        let png = decode(&image.png().unwrap());
        assert_eq!((png.width, png.height), (1400, 680));
        // Each disc of radius 5 is about 80 pixels; the legend has one more.
        let hits = png.count(rgb(HIT), 0);
        assert!(hits > 3 * 60, "red discs: {hits}");
        let fa = png.count(rgb(FALSE_ALARM), 0);
        assert!(fa > 60, "orange disc: {fa}");
        let missed = png.count(rgb(MISSED), 0);
        assert!(missed > 2 * 30, "blue rings: {missed}");
        assert!(png.count(rgb(NORMAL), 0) > 30 * 8, "grey dots");
        // The warm-up stretch: 20 of 56 records across a ~1250-pixel-wide
        // plot, the full height.
        assert!(png.count(rgb(WARMUP), 0) > 100_000, "warm-up {}", png.count(rgb(WARMUP), 0));
        assert!(png.count(rgb(THRESHOLD), 0) > 500, "the dashed threshold line");
        assert!(png.dark() > 2_000, "axes and text");
    }

    #[test]
    fn draws_no_false_alarm_colour_when_there_is_none() {
        let png = decode(&draw(&stream(false), "s", "").unwrap().png().unwrap());
        assert_eq!(png.count(rgb(FALSE_ALARM), 0), 0);
        assert!(png.count(rgb(HIT), 0) > 3 * 60);
    }

    #[test]
    fn threshold_only_when_one_score_separates_the_verdicts() {
        let max_normal = 0.40 + f64::from(29) / 300.0;
        assert_eq!(threshold(&stream(false)), Some((max_normal + 0.75) / 2.0));
        let mut mixed = stream(false);
        mixed.push(point(0.9, false, false));
        assert_eq!(threshold(&mixed), None);
        assert_eq!(warmups(&stream(false)), vec![(0, 20)]);
    }
}

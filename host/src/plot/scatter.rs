//! A scatter plot of two numeric fields coloured by a third (a class), with
//! a legend: what `wasp plot` draws from JSON records.

use super::{header, legend, text, Image, GRID, INK, MUTED, PALETTE};
use anyhow::{bail, Result};
use plotters::prelude::*;

/// One point: x, y and its class.
#[derive(Debug, Clone, PartialEq)]
pub struct Dot {
    /// Horizontal value.
    pub x: f64,
    /// Vertical value.
    pub y: f64,
    /// The class it is coloured by.
    pub class: String,
}

/// Colour names `--colors` accepts, each the [`PALETTE`] entry of that hue.
pub const NAMED: [(&str, usize); 11] = [
    ("blue", 0),
    ("green", 1),
    ("red", 2),
    ("orange", 3),
    ("purple", 4),
    ("brown", 5),
    ("pink", 6),
    ("olive", 7),
    ("cyan", 8),
    ("grey", 9),
    ("gray", 9),
];

/// A colour by name (see [`NAMED`]) or as `#rrggbb`.
pub fn colour(name: &str) -> Result<RGBColor> {
    let name = name.trim().to_ascii_lowercase();
    if let Some((_, i)) = NAMED.iter().find(|(n, _)| *n == name) {
        return Ok(PALETTE[*i]);
    }
    let hex = name.strip_prefix('#').filter(|h| h.len() == 6);
    if let Some(c) = hex.and_then(|h| u32::from_str_radix(h, 16).ok()) {
        return Ok(RGBColor((c >> 16) as u8, (c >> 8) as u8, c as u8));
    }
    let names: Vec<&str> = NAMED.iter().map(|(n, _)| *n).collect();
    bail!("unknown colour '{name}': use one of {} or #rrggbb", names.join(", "))
}

/// The colour of each class: `chosen` ones as given, the others from the
/// palette in sorted class order, skipping colours already chosen.
pub fn class_colours(dots: &[Dot], chosen: &[(String, RGBColor)]) -> Vec<(String, RGBColor)> {
    let mut classes: Vec<&str> = dots.iter().map(|d| d.class.as_str()).collect();
    classes.sort_unstable();
    classes.dedup();
    let mut free = PALETTE.iter().filter(|c| !chosen.iter().any(|(_, k)| k == *c)).cycle();
    classes
        .into_iter()
        .map(|class| {
            let given = chosen.iter().find(|(c, _)| c == class).map(|(_, k)| *k);
            let c = given.unwrap_or_else(|| *free.next().unwrap_or(&PALETTE[9]));
            (class.to_string(), c)
        })
        .collect()
}

/// The range of `values` with some room either side.
fn span(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) =
        values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = if hi - lo < 1e-9 { 0.5 } else { (hi - lo) * 0.06 };
    lo - pad..hi + pad
}

/// Draw `dots` with `x_name` across and `y_name` up, coloured as `colours`
/// says (see [`class_colours`]), the legend titled `colour_name`.
pub fn draw(
    dots: &[Dot],
    names: (&str, &str, &str),
    colours: &[(String, RGBColor)],
    subtitle: &str,
) -> Result<Image> {
    let (x_name, y_name, colour_name) = names;
    let title = format!("{y_name} against {x_name}, by {colour_name}");
    Image::draw(1000, 760, |root| {
        let body = header(root, &title, subtitle)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(20)
            .margin_right(40)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(span(dots.iter().map(|d| d.x)), span(dots.iter().map(|d| d.y)))?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .x_desc(x_name)
            .y_desc(y_name)
            .label_style(text(16.0, INK))
            .axis_desc_style(text(17.0, MUTED))
            .draw()?;
        for (class, c) in colours {
            let count = dots.iter().filter(|d| &d.class == class).count();
            let c = *c;
            chart
                .draw_series(
                    dots.iter()
                        .filter(|d| &d.class == class)
                        .map(move |d| Circle::new((d.x, d.y), 6, c.filled())),
                )?
                .label(format!("{class} ({count})"))
                .legend(move |(x, y)| Circle::new((x, y), 6, c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::check::{decode, rgb};

    /// `n` dots of `class` on a row at height `y`, far enough apart not to
    /// overlap.
    fn row(class: &str, n: usize, y: f64) -> Vec<Dot> {
        (0..n).map(|i| Dot { x: i as f64, y, class: class.into() }).collect()
    }

    #[test]
    fn each_class_gets_its_colour_in_proportion_to_its_points() {
        let dots =
            [row("virginica", 20, 0.0), row("setosa", 5, 1.0), row("versicolor", 10, 2.0)].concat();
        let colours = class_colours(&dots, &[]);
        let by = |c: &str| colours.iter().find(|(k, _)| k == c).unwrap().1;
        // The seed's colours, from the palette's order over sorted classes.
        assert_eq!(by("setosa"), colour("blue").unwrap());
        assert_eq!(by("versicolor"), colour("green").unwrap());
        assert_eq!(by("virginica"), colour("red").unwrap());
        let png = decode(&draw(&dots, ("x", "y", "species"), &colours, "").unwrap().png().unwrap());
        assert_eq!((png.width, png.height), (1000, 760));
        // A disc of radius 6 is about 110 pixels; the legend adds one per class.
        let count = |c: &str| png.count(rgb(by(c)), 0);
        let (blue, green, red) = (count("setosa"), count("versicolor"), count("virginica"));
        for (n, px) in [(5, blue), (10, green), (20, red)] {
            let per_dot = px as f64 / (n + 1) as f64;
            assert!((80.0..160.0).contains(&per_dot), "{n} dots: {px} pixels");
        }
        assert!(blue < green && green < red);
        // No fourth class colour.
        assert_eq!(png.count(rgb(PALETTE[3]), 0), 0);
    }

    #[test]
    fn chosen_colours_win_and_the_rest_skip_them() {
        let dots = [row("a", 1, 0.0), row("b", 1, 1.0), row("c", 1, 2.0)].concat();
        let chosen = vec![("c".to_string(), colour("BLUE").unwrap())];
        let c = class_colours(&dots, &chosen);
        assert_eq!(c[2], ("c".to_string(), PALETTE[0]));
        assert_eq!((c[0].1, c[1].1), (PALETTE[1], PALETTE[2]));
        assert_eq!(colour("#ff0080").unwrap(), RGBColor(255, 0, 128));
        let err = colour("mauve").unwrap_err().to_string();
        assert!(err.contains("'mauve'") && err.contains("#rrggbb"), "{err}");
    }
}

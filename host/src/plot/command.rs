//! `wasp plot`: a scatter plot of two fields of JSON records coloured by a
//! third, from a JSON-lines file or a topic, as a PNG.

use super::scatter::{self, Dot};
use crate::evaluate::{label_text, Input};
use anyhow::{bail, Result};
use serde_json::Value;
use std::path::PathBuf;

/// Arguments of `wasp plot`.
#[derive(Debug, Clone, clap::Args)]
pub struct PlotArgs {
    /// A JSON-lines file (`-` for stdin): one record value per line, or the
    /// lines of `wasp test` / `wasp consume`, whose `value` is used.
    #[arg(conflicts_with = "topic", required_unless_present = "topic")]
    pub input: Option<PathBuf>,
    /// Read this topic from the beginning until it is quiet instead.
    #[arg(long)]
    pub topic: Option<String>,
    /// With a file: use only the lines whose `topic` is this.
    #[arg(long)]
    pub only_topic: Option<String>,
    /// The numeric field across.
    #[arg(long)]
    pub x: String,
    /// The numeric field up.
    #[arg(long)]
    pub y: String,
    /// The field whose value (the class) colours each point.
    #[arg(long)]
    pub color: String,
    /// Colours of chosen classes, e.g. `virginica=red,setosa=blue`
    /// (blue, green, red, orange, purple, brown, pink, olive, cyan, grey or
    /// #rrggbb); other classes take the palette in sorted order, which
    /// starts blue, green, red.
    #[arg(long, value_delimiter = ',')]
    pub colors: Vec<String>,
    /// The PNG file to write.
    #[arg(short, long)]
    pub output: PathBuf,
    /// With --topic: stop reading after this many seconds without a record.
    #[arg(long, default_value_t = 3.0)]
    pub idle: f64,
    /// Broker list.
    #[arg(long, env = "WASP_BOOTSTRAP_SERVERS", default_value = "127.0.0.1:9092")]
    pub bootstrap_servers: String,
}

/// The points of `records`, and how many records lacked a usable field.
pub fn dots(records: &[Value], x: &str, y: &str, colour: &str) -> (Vec<Dot>, usize) {
    let mut dots = Vec::new();
    let mut skipped = 0;
    for v in records {
        let point = (
            v.get(x).and_then(Value::as_f64),
            v.get(y).and_then(Value::as_f64),
            v.get(colour).and_then(label_text),
        );
        match point {
            (Some(x), Some(y), Some(class)) => dots.push(Dot { x, y, class }),
            _ => skipped += 1,
        }
    }
    (dots, skipped)
}

/// `wasp plot`: load, draw, write; returns what it wrote, for the user.
pub fn run(args: &PlotArgs) -> Result<String> {
    let mut chosen = Vec::new();
    for pair in &args.colors {
        let Some((class, name)) = pair.split_once('=') else {
            bail!("--colors takes CLASS=COLOUR pairs, e.g. virginica=red; got '{pair}'");
        };
        chosen.push((class.trim().to_string(), scatter::colour(name)?));
    }
    let loaded = Input {
        topic: args.topic.as_deref(),
        input: args.input.as_deref(),
        only_topic: args.only_topic.as_deref(),
        bootstrap_servers: &args.bootstrap_servers,
        idle: args.idle,
    }
    .load()?;
    let values: Vec<Value> = loaded.records.into_iter().map(|(_, v)| v).collect();
    let (dots, skipped) = dots(&values, &args.x, &args.y, &args.color);
    if dots.is_empty() {
        let first = values
            .first()
            .and_then(Value::as_object)
            .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
            .unwrap_or_else(|| "none".into());
        bail!(
            "none of the {} records of {} has numbers in '{}' and '{}' and a value in '{}'; \
             fields of the first record: {first}",
            values.len(),
            loaded.source,
            args.x,
            args.y,
            args.color
        );
    }
    let colours = scatter::class_colours(&dots, &chosen);
    let mut subtitle = format!("{}: {} records", super::clip(&loaded.source, 60), dots.len());
    if skipped > 0 {
        subtitle.push_str(&format!(" ({skipped} without the fields, left out)"));
    }
    scatter::draw(&dots, (&args.x, &args.y, &args.color), &colours, &subtitle)?
        .save(&args.output)?;
    let classes: Vec<String> = colours.iter().map(|(c, _)| c.clone()).collect();
    Ok(format!(
        "wrote {}: {} points in {} classes ({}){}",
        args.output.display(),
        dots.len(),
        classes.len(),
        classes.join(", "),
        if skipped > 0 { format!("; {skipped} records without the fields") } else { String::new() }
    ))
}

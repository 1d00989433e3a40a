//! `wasp plot`: the scatter plot of seed 002 (sepal length against sepal
//! width, coloured by species: virginica red, setosa blue, versicolor
//! green), decoded and counted as a person checking the PNG would.

use crate::common::{assert_clean_failure, iris_rows, temp_dir, text, wasp};
use serde_json::json;
use std::path::{Path, PathBuf};

const BLUE: [u8; 3] = [31, 119, 180];
const GREEN: [u8; 3] = [44, 160, 44];
const RED: [u8; 3] = [214, 39, 40];
const ORANGE: [u8; 3] = [255, 127, 14];

/// The 150 Iris flowers as a JSON-lines file.
fn iris_jsonl(dir: &Path) -> PathBuf {
    let lines: String = iris_rows().iter().map(|r| format!("{r}\n")).collect();
    let p = dir.join("iris.jsonl");
    std::fs::write(&p, lines).unwrap();
    p
}

/// Width, height and the pixels of a PNG file.
fn decode(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let n = info.color_type.samples();
    let px = buf[..info.buffer_size()].chunks(n).map(|p| [p[0], p[1], p[2]]).collect();
    (info.width, info.height, px)
}

fn count(px: &[[u8; 3]], c: [u8; 3]) -> usize {
    px.iter().filter(|p| **p == c).count()
}

#[test]
fn plot_draws_iris_in_the_seed_colours() {
    let dir = temp_dir("plot-iris");
    let input = iris_jsonl(&dir);
    let out = dir.join("iris.png");
    let o = wasp(&[
        "plot",
        "--x",
        "sepal_length",
        "--y",
        "sepal_width",
        "--color",
        "species",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let (_, err) = text(&o);
    assert!(o.status.success(), "wasp plot failed: {err}");
    assert!(err.contains("150 points in 3 classes"), "{err}");
    let (w, h, px) = decode(&out);
    assert_eq!((w, h), (1000, 760));
    // 50 flowers a class, discs of radius 6 (~110 pixels), some on the
    // same spot: well over 15 discs' worth of each colour.
    let (blue, green, red) = (count(&px, BLUE), count(&px, GREEN), count(&px, RED));
    for (name, n) in [("setosa blue", blue), ("versicolor green", green), ("virginica red", red)] {
        assert!(n > 15 * 110, "{name}: {n} pixels");
    }
    assert_eq!(count(&px, ORANGE), 0, "no fourth class");
    assert!(px.iter().filter(|p| p.iter().all(|c| *c < 90)).count() > 1_000, "axes and text");

    // Chosen colours: setosa red, virginica blue.
    let swapped = dir.join("swapped.png");
    let o = wasp(&[
        "plot",
        input.to_str().unwrap(),
        "--x=sepal_length",
        "--y=sepal_width",
        "--color=species",
        "--colors=Iris-setosa=red,Iris-virginica=blue",
        "-o",
        swapped.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let (_, _, px) = decode(&swapped);
    assert_eq!((count(&px, RED), count(&px, BLUE)), (blue, red), "the two colours trade places");
    assert_eq!(count(&px, GREEN), green);
}

#[test]
fn plot_names_a_missing_field_and_a_bad_colour() {
    let dir = temp_dir("plot-errors");
    let input = dir.join("rows.jsonl");
    std::fs::write(&input, format!("{}\n", json!({"a": 1, "b": 2, "c": "x"}))).unwrap();
    let out = dir.join("x.png");
    let args = |extra: &[&str]| {
        let mut a = vec!["plot", input.to_str().unwrap(), "-o", out.to_str().unwrap()];
        a.extend_from_slice(extra);
        wasp(&a)
    };
    let o = args(&["--x", "a", "--y", "bb", "--color", "c"]);
    assert_clean_failure(&o, &["'bb'", "fields of the first record: a, b, c"]);
    let o = args(&["--x", "a", "--y", "b", "--color", "c", "--colors", "x=mauve"]);
    assert_clean_failure(&o, &["unknown colour 'mauve'", "#rrggbb"]);
    assert!(!out.exists());
}

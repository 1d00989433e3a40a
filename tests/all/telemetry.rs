//! `wasp run --metrics`: the Prometheus endpoint scraped during a run over
//! the broker, its counters compared with what reached each topic.

use crate::broker::*;
use crate::common::temp_dir;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// A free loopback port (bound, then released for wasp to take).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET path` over HTTP/1.0: the status line, headers and body, or None
/// while nothing listens yet.
pub(crate) fn get(port: u16, path: &str) -> Option<(String, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.to_string(), body.to_string()))
}

/// Samples of the text format: `name{labels}` -> value.
pub(crate) fn samples(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[test]
fn metrics_scraped_during_a_run_equal_what_reached_each_topic() {
    let [input, output, feedback, dlq, alerts] =
        ["mx-in", "mx-out", "mx-fb", "mx-dlq", "mx-alerts"].map(unique);
    create(&[&input, &output, &feedback, &dlq, &alerts], 2);
    // 60 records: every 6th of each kind (pass, feedback, drop, reject,
    // named topic, output).
    let routes = ["", "feedback", "drop", "reject:no", alerts.as_str(), "next"];
    let recs: Vec<(String, Vec<u8>)> = (0..60)
        .map(|i| {
            let r = routes[i % routes.len()];
            let v = if r.is_empty() {
                format!(r#"{{"id":{i}}}"#)
            } else {
                format!(r#"{{"id":{i},"route":"{r}"}}"#)
            };
            (format!("k{i}"), v.into_bytes())
        })
        .collect();
    produce(&input, &recs, None);
    let dir = temp_dir("metrics");
    let extra = format!("feedback = \"{feedback}\"\nallowed = [\"{alerts}\"]");
    let topics =
        format!("input = [\"{input}\"]\noutput = \"{output}\"\ndead_letter = \"{dlq}\"\n{extra}");
    let p = pipeline(&dir, "metrics", &topics, &stage("route", "router", ""));
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let wasp = Wasp::start(&p, &["--metrics", &address, "--until-idle", "60"], "run");

    // Scrape until every record is delivered and the offsets committed
    // (librdkafka reports committed offsets in its statistics, each second).
    let start = Instant::now();
    let m = loop {
        assert!(start.elapsed() < Duration::from_secs(90), "never settled:\n{}", wasp.log());
        std::thread::sleep(Duration::from_millis(500));
        let Some((head, body)) = get(port, "/metrics") else { continue };
        assert!(head.starts_with("HTTP/1.") && head.contains(" 200 "), "{head}");
        assert!(head.contains("text/plain; version=0.0.4"), "{head}");
        let m = samples(&body);
        let committed: f64 =
            m.iter().filter(|(k, _)| k.starts_with("wasp_committed_offset{")).map(|(_, v)| v).sum();
        if m.get("wasp_delivered_records_total") == Some(&50.0) && committed == 60.0 {
            break m;
        }
    };
    let read_n = |t: &str| read(t, Duration::from_secs(2)).len() as f64;
    let out = |d: &str| m[&format!("wasp_output_records_total{{destination=\"{d}\"}}")];
    assert_eq!(out("output"), read_n(&output));
    assert_eq!(out("feedback"), read_n(&feedback));
    assert_eq!(out("named"), read_n(&alerts));
    assert_eq!(out("dead_letter"), read_n(&dlq));
    // And those are the numbers the routes above make.
    assert_eq!(
        [out("output"), out("feedback"), out("named"), out("dead_letter")],
        [20.0, 10.0, 10.0, 10.0]
    );
    assert_eq!(m["wasp_input_records_total"], 60.0);
    assert_eq!(m["wasp_dropped_records_total"], 10.0);
    assert_eq!(m["wasp_delivery_errors_total"], 0.0);
    assert_eq!(m["wasp_stage_records_in_total{stage=\"route\"}"], 60.0);
    assert_eq!(m["wasp_stage_dead_letters_total{stage=\"route\"}"], 10.0);
    assert_eq!(m["wasp_stage_faults_total{stage=\"route\",kind=\"rejected\"}"], 10.0);
    assert_eq!(m["wasp_stage_faults_total{stage=\"route\",kind=\"trap\"}"], 0.0);
    assert_eq!(m["wasp_instance_recycles_total{stage=\"route\"}"], 0.0);
    for p in 0..2 {
        let lag = format!("wasp_consumer_lag_records{{topic=\"{input}\",partition=\"{p}\"}}");
        assert!(m.contains_key(&lag), "no lag for partition {p}: {m:?}");
    }
    // Every batch was timed: the histogram counts them and its +Inf bucket
    // holds them all.
    let batches = m["wasp_batch_duration_seconds_count"];
    assert!(batches >= 1.0, "{m:?}");
    assert_eq!(m["wasp_batch_duration_seconds_bucket{le=\"+Inf\"}"], batches);
    // One stage, no failed calls: one plugin call per batch, and the time
    // inside the plugin is part of the batches' time.
    assert_eq!(m["wasp_plugin_calls_total{stage=\"route\"}"], batches);
    let call_seconds = m["wasp_plugin_call_seconds_total{stage=\"route\"}"];
    assert!(call_seconds > 0.0 && call_seconds <= m["wasp_batch_duration_seconds_sum"], "{m:?}");
    // The router keeps no state.
    assert_eq!(m["wasp_state_bytes{stage=\"route\"}"], 0.0);
    let (head, _) = get(port, "/nothing").unwrap();
    assert!(head.contains(" 404 "), "{head}");

    wasp.sigterm();
    wasp.wait_ok(Duration::from_secs(60));
    assert!(get(port, "/metrics").is_none(), "the endpoint stops with the run");
}

#[test]
fn a_busy_metrics_address_is_refused_with_what_to_do() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = temp_dir("metrics-busy");
    let p = pipeline(
        &dir,
        "busy",
        "input = [\"x\"]\noutput = \"y\"\ndead_letter = \"z\"",
        &stage("route", "router", ""),
    );
    let o = crate::common::wasp(&["run", p.to_str().unwrap(), "--metrics", &address]);
    crate::common::assert_clean_failure(
        &o,
        &[&format!("cannot serve metrics on {address}"), "--metrics"],
    );
}

/// Chromium from Debian's packages (scripts/setup --all installs it).
fn chromium() -> &'static str {
    let found = ["chromium", "chromium-browser"].into_iter().find(|c| {
        std::process::Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success())
    });
    found.expect("headless Chromium is missing: run scripts/setup --all (apt-get install chromium)")
}

/// Load `url` in headless Chromium, let its scripts run for `virtual_ms`
/// of page time, and return the DOM it ends with.
fn dump_dom(url: &str, virtual_ms: u32) -> String {
    let o = std::process::Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        .arg(format!("--virtual-time-budget={virtual_ms}"))
        .args(["--dump-dom", url])
        .output()
        .expect("running chromium");
    assert!(o.status.success(), "chromium failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The text of the element with `id` in a dumped DOM (the first tag's
/// content up to its closing tag, tags stripped).
fn text_of(dom: &str, id: &str) -> String {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {dom}"));
    let open_end = start + dom[start..].find('>').unwrap() + 1;
    let tag_start = dom[..start].rfind('<').unwrap();
    let tag = dom[tag_start + 1..start].split_whitespace().next().unwrap();
    let close = open_end + dom[open_end..].find(&format!("</{tag}>")).unwrap();
    let mut out = String::new();
    let mut in_tag = false;
    for c in dom[open_end..close].chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn status_page_in_headless_chromium_shows_the_run_and_keeps_updating() {
    let [input, output, dlq] = ["st-in", "st-out", "st-dlq"].map(unique);
    create(&[&input, &output, &dlq], 2);
    let batch = |from: usize| -> Vec<(String, Vec<u8>)> {
        (from..from + 30)
            .map(|i| {
                let v = if i % 10 == 3 {
                    format!(r#"{{"id":{i},"route":"reject:id {i} is not wanted"}}"#)
                } else {
                    format!(r#"{{"id":{i}}}"#)
                };
                (format!("k{i}"), v.into_bytes())
            })
            .collect()
    };
    produce(&input, &batch(0), None);
    let dir = temp_dir("status");
    let topics = format!("input = [\"{input}\"]\noutput = \"{output}\"\ndead_letter = \"{dlq}\"");
    let p = pipeline(&dir, "status", &topics, &stage("route", "router", ""));
    let port = free_port();
    let wasp =
        Wasp::start(&p, &["--metrics", &format!("127.0.0.1:{port}"), "--until-idle", "90"], "run");
    let delivered = |n: f64| {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(90) {
            if let Some((_, body)) = get(port, "/metrics") {
                if samples(&body).get("wasp_delivered_records_total") == Some(&n) {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        panic!("{n} records never delivered:\n{}", wasp.log());
    };
    delivered(30.0);

    let url = format!("http://127.0.0.1:{port}/");
    let dom = dump_dom(&url, 5_000);
    let name = text_of(&dom, "pipeline");
    assert!(name.starts_with("status"), "pipeline name: {name}");
    assert_eq!(text_of(&dom, "state"), "live");
    // The page fetched and redrew several times on its own (one per
    // second of page time), without being reloaded.
    let updates: u32 = text_of(&dom, "updates").parse().unwrap();
    assert!(updates >= 3, "the page updated {updates} times in 5 s");
    let totals = text_of(&dom, "totals");
    assert!(totals.contains("input 30") && totals.contains("dead_letter 3"), "{totals}");
    let stages = text_of(&dom, "stages");
    assert!(stages.starts_with("route router.wasm "), "{stages}");
    assert!(stages.contains("records_in=30") && stages.contains("rejected=3"), "{stages}");
    // The plugin version and the config hash are shown (hex).
    let words: Vec<&str> = stages.split(' ').collect();
    assert!(words[2].len() >= 12 && words[2].chars().all(|c| c.is_ascii_hexdigit()), "{stages}");
    assert!(words[3].len() == 12 && words[3].chars().all(|c| c.is_ascii_hexdigit()), "{stages}");
    let dead = text_of(&dom, "dead");
    for id in [3, 13, 23] {
        assert!(dead.contains(&format!("route rejected id {id} is not wanted {input}/")), "{dead}");
    }
    let partitions = text_of(&dom, "partitions");
    assert!(
        partitions.contains(&format!("{input} 0")) && partitions.contains(&format!("{input} 1")),
        "{partitions}"
    );

    // More records: a new load of the page shows the new totals.
    produce(&input, &batch(30), None);
    delivered(60.0);
    let dom = dump_dom(&url, 3_000);
    let totals = text_of(&dom, "totals");
    assert!(totals.contains("input 60") && totals.contains("dead_letter 6"), "{totals}");

    // A screenshot, kept as the test's artifact.
    let shot = crate::common::root().join("target/test-artifacts/status-page.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&shot);
    let o = std::process::Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        .args(["--hide-scrollbars", "--window-size=1100,900", "--virtual-time-budget=3000"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = std::io::BufReader::new(std::fs::File::open(&shot).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1100, 900));
    let dark =
        buf.chunks(info.color_type.samples()).filter(|p| p[..3].iter().all(|c| *c < 90)).count();
    assert!(dark > 2_000, "the screenshot shows text ({dark} dark pixels)");

    wasp.sigterm();
    wasp.wait_ok(Duration::from_secs(60));
}

//! Rows per second into PostgreSQL: wasp's table sink (batched, and with
//! `batch_rows = 1`) against seed 003's way, a Python consumer inserting
//! and committing each record with psycopg2 (`scripts/peers/pg_insert.py`),
//! and the same consumer batching its inserts (`--batched`).
//!
//! ```sh
//! export WASP_BOOTSTRAP_SERVERS=$(scripts/broker start)
//! export WASP_POSTGRES_URL=$(scripts/postgres start) WASP_POSTGRES_PASSWORD_FILE=$(scripts/postgres password-file)
//! cargo xtask plugins --rust-only
//! cargo bench -p wasp --bench postgres       # -- --help lists the knobs
//! ```
//!
//! Every system reads the same pre-filled topic (3 partitions, like seed
//! 003's `login-events`) under its own consumer group and writes the same
//! rows into a fresh table of the same layout (`examples/logins.sql`'s
//! `events`, plus a column stamped by the server's clock at each insert).
//! Rows per second are the rows written after the first transaction over
//! the time from its end to the last insert, so process start-up (plugin
//! compilation, group join) is left out for every system alike, and a
//! system writing a batch per statement is not credited with its first
//! batch in no time; the wall time from start to the last row is reported
//! too. Results go to `target/bench/postgres.md`;
//! docs/benchmarks.md discusses them. Under `cargo test` (no `--bench`
//! argument) nothing is measured.

#[path = "e2e/peers.rs"]
mod peers;

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// PostgreSQL sink bench.
#[derive(Debug, Parser)]
#[command(name = "postgres")]
struct Options {
    /// Events in the topic, hence rows per run. A commit per row runs at a
    /// few hundred rows/s, so the per-row systems take most of the time.
    #[arg(long, default_value_t = 5_000)]
    records: usize,
    /// Runs of each system; the median is reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// The `wasp` binary to measure (default: the one this bench was built with).
    #[arg(long)]
    wasp: Option<PathBuf>,
    /// Where the report goes.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq)]
enum System {
    /// wasp, identity plugin, the table sink with `batch_rows` rows per INSERT.
    Wasp { batch_rows: usize },
    /// kafka-python + psycopg2, one INSERT and commit per record, or
    /// (`batched`) one multi-row INSERT and commit per poll.
    Python { batched: bool },
}

impl System {
    fn label(self) -> String {
        match self {
            System::Wasp { batch_rows: 1 } => "wasp, one row per INSERT (`batch_rows = 1`)".into(),
            System::Wasp { batch_rows } => format!("wasp, batched (`batch_rows = {batch_rows}`)"),
            System::Python { batched: false } => {
                "Python: kafka-python + psycopg2, INSERT + commit per record (seed 003)".into()
            }
            System::Python { batched: true } => {
                "Python: kafka-python + psycopg2 `execute_values`, INSERT + commit per poll".into()
            }
        }
    }
    fn tag(self) -> String {
        match self {
            System::Wasp { batch_rows } => format!("wasp{batch_rows}"),
            System::Python { batched } => {
                format!("python{}", if batched { "_batched" } else { "" })
            }
        }
    }
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
struct Measured {
    rows_per_s: f64,
    wall: Duration,
}

struct Env {
    root: PathBuf,
    bootstrap: String,
    url: String,
    password_file: PathBuf,
    wasp: PathBuf,
    python: PathBuf,
    topic: String,
    records: usize,
}

fn var(name: &str, how: &str) -> Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set: {how}"))
}

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    format!("{tag}_{}_{}", std::process::id(), nanos.as_nanos() % 1_000_000_000_000)
}

impl Env {
    fn db(&self) -> Result<postgres::Client> {
        let pw = std::fs::read_to_string(&self.password_file)?;
        let mut cfg: postgres::Config = self.url.parse()?;
        cfg.password(pw.trim_end());
        Ok(cfg.connect(postgres::NoTls)?)
    }

    /// A fresh table of examples/logins.sql's `events` layout, plus `at`.
    fn table(&self, system: System) -> Result<String> {
        let name = unique(&format!("pgbench_{}", system.tag()));
        self.db()?.batch_execute(&format!(
            "create table {name} (id serial primary key, username varchar(15) not null, \
             event_type text not null, timestamp timestamptz not null, source_topic text, \
             source_partition integer, source_offset bigint, \
             at timestamptz not null default clock_timestamp(), \
             unique (source_topic, source_partition, source_offset))"
        ))?;
        Ok(name)
    }

    fn start(&self, system: System, table: &str, dir: &Path) -> Result<Child> {
        let group = unique("pgbench");
        let child = match system {
            System::Wasp { batch_rows } => {
                let pipeline = dir.join(format!("{table}.toml"));
                std::fs::write(
                    &pipeline,
                    format!(
                        "name = \"{group}\"\n[topics]\ninput = [\"{topic}\"]\noutput = \"events\"\n\
                         dead_letter = \"{topic}-dlq\"\n\
                         [kafka.consumer]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n\
                         [tables.events]\nurl = \"{url}\"\npassword_file = \"{pw}\"\ntable = \"{table}\"\n\
                         batch_rows = {batch_rows}\n\
                         [tables.events.columns]\nusername = \"username\"\nevent_type = \"event_type\"\n\
                         timestamp = \"timestamp\"\n\
                         [[stage]]\nname = \"pass\"\nplugin = \"{plugin}\"\n",
                        topic = self.topic,
                        url = self.url,
                        pw = self.password_file.display(),
                        plugin = self.root.join("plugins/dist/identity.wasm").display(),
                    ),
                )?;
                Command::new(&self.wasp)
                    .arg("run")
                    .arg(&pipeline)
                    .args(["--no-watch", "--max-records", &self.records.to_string()])
                    .env("WASP_LOG", "warn")
                    .env("WASP_BOOTSTRAP_SERVERS", &self.bootstrap)
                    .stdout(Stdio::null())
                    .stderr(std::fs::File::create(pipeline.with_extension("log"))?)
                    .spawn()?
            }
            System::Python { batched } => Command::new(&self.python)
                .arg(self.root.join("scripts/peers/pg_insert.py"))
                .args(batched.then_some("--batched"))
                .args(["--bootstrap", &self.bootstrap, "--input", &self.topic, "--group", &group])
                .args([
                    "--url",
                    &self.url,
                    "--table",
                    table,
                    "--records",
                    &self.records.to_string(),
                ])
                .arg("--password-file")
                .arg(&self.password_file)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join(format!("{table}.log")))?)
                .spawn()?,
        };
        Ok(child)
    }

    fn measure(&self, system: System, dir: &Path) -> Result<Measured> {
        let table = self.table(system)?;
        let mut db = self.db()?;
        let start = Instant::now();
        let mut child = self.start(system, &table, dir)?;
        let count = format!("select count(*) from {table}");
        loop {
            let n: i64 = db.query_one(&count, &[])?.get(0);
            if n as usize >= self.records {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{} exited ({status}) with {n} rows stored; log in {}",
                    system.label(),
                    dir.display()
                );
            }
            if start.elapsed() > Duration::from_secs(900) {
                let _ = child.kill();
                bail!("{} stored {n} of {} rows in 15 minutes", system.label(), self.records);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let wall = start.elapsed();
        // The rows after the first transaction, over the time from its
        // end to the last row: a system that writes a batch per statement
        // is not credited with its first batch's rows in no time.
        let row = db.query_one(
            &format!(
                "with first as (select xmin::text as x from {table} order by at limit 1), \
                 first_end as (select max(at) as at from {table}, first where xmin::text = first.x) \
                 select count(*) filter (where xmin::text <> (select x from first)), \
                 extract(epoch from max(at) - (select at from first_end))::float8 from {table}"
            ),
            &[],
        )?;
        let (after_first, span): (i64, f64) = (row.get(0), row.get(1));
        let status = child.wait()?;
        if !status.success() {
            bail!("{} failed ({status}); log in {}", system.label(), dir.display());
        }
        if after_first == 0 || span <= 0.0 {
            bail!(
                "{} wrote every row in one transaction: raise --records to get a rate",
                system.label()
            );
        }
        Ok(Measured { rows_per_s: after_first as f64 / span, wall })
    }
}

fn fill(bootstrap: &str, topic: &str, n: usize) -> Result<()> {
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    wasp::kafka::admin::create_topics(bootstrap, &[topic.to_string()], 3)?;
    let producer: ThreadedProducer<DefaultProducerContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .create()?;
    for i in 0..n {
        let key = format!("user{i:05}");
        let value = format!(
            r#"{{"event_type":"incorrect_password","username":"{key}","timestamp":"2024-10-29T21:{:02}:{:02}Z"}}"#,
            (i / 60) % 60,
            i % 60
        );
        wasp::kafka::admin::send(&producer, BaseRecord::to(topic).key(&key).payload(&value))?;
    }
    producer.flush(Duration::from_secs(120))?;
    Ok(())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn median(mut v: Vec<Measured>) -> Measured {
    v.sort_by(|a, b| a.rows_per_s.total_cmp(&b.rows_per_s));
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let opts = Options::parse();
    if !opts.bench {
        println!("postgres bench: nothing measured under `cargo test`; run `cargo bench -p wasp --bench postgres`");
        return Ok(());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let env = Env {
        bootstrap: var("WASP_BOOTSTRAP_SERVERS", "start the broker: `scripts/broker start`")?,
        url: var("WASP_POSTGRES_URL", "start PostgreSQL: `scripts/postgres start`")?,
        password_file: var(
            "WASP_POSTGRES_PASSWORD_FILE",
            "`scripts/postgres password-file` prints it",
        )?
        .into(),
        wasp: opts.wasp.clone().unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_wasp"))),
        python: peers::setup(&root)?,
        topic: unique("pgbench-in").replace('_', "-"),
        records: opts.records,
        root,
    };
    let dir = env.root.join(&opts.out).join("postgres");
    std::fs::create_dir_all(&dir)?;
    let load_before = load_average();
    fill(&env.bootstrap, &env.topic, env.records)?;
    // The seed's way last: the ratios are against it.
    let systems = [
        System::Wasp { batch_rows: 500 },
        System::Wasp { batch_rows: 1 },
        System::Python { batched: true },
        System::Python { batched: false },
    ];
    let mut runs: Vec<Vec<Measured>> = vec![Vec::new(); systems.len()];
    for rep in 0..opts.repeats {
        for (i, s) in systems.iter().enumerate() {
            let m = env.measure(*s, &dir)?;
            println!(
                "run {}: {}: {:.0} rows/s, {:.1} s to the last row",
                rep + 1,
                s.label(),
                m.rows_per_s,
                m.wall.as_secs_f64()
            );
            runs[i].push(m);
        }
    }
    let load_after = load_average();
    let medians: Vec<Measured> = runs.into_iter().map(median).collect();
    let python = medians[systems.len() - 1].rows_per_s;
    let mut md = String::new();
    writeln!(
        md,
        "{} events (3 partitions) into PostgreSQL, median of {} runs; `wasp` = {}; {}; load average (1/5/15 min) {load_before} before, {load_after} after; {} cores.\n",
        env.records,
        opts.repeats,
        env.wasp.display(),
        peers::versions(&env.python),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    )?;
    writeln!(md, "| system | rows/s | vs Python | start to last row |")?;
    writeln!(md, "| --- | ---: | ---: | ---: |")?;
    for (s, m) in systems.iter().zip(&medians) {
        writeln!(
            md,
            "| {} | {:.0} | {:.1}× | {:.1} s |",
            s.label(),
            m.rows_per_s,
            m.rows_per_s / python,
            m.wall.as_secs_f64()
        )?;
    }
    std::fs::write(env.root.join(&opts.out).join("postgres.md"), &md)?;
    println!("\n{md}");
    Ok(())
}

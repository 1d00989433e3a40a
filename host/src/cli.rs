//! Command-line interface.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// wasp: run WebAssembly plugins over Kafka streams.
#[derive(Debug, Parser)]
#[command(name = "wasp", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline over a JSON-lines file or stdin, without a broker.
    /// Each line is one record value; each result is printed as JSON.
    Test {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// Input file, one record value per line; `-` or absent reads stdin.
        #[arg(short, long)]
        input: Option<PathBuf>,
    },
    /// Run a pipeline against Kafka: consume its input topics in a consumer
    /// group, one worker per partition, until stopped (SIGINT/SIGTERM) or
    /// an end condition below is met; then drain, flush and commit. Exit
    /// code 2: the stop's timeout passed with records not delivered (their
    /// inputs are not committed).
    /// Several pipeline files (or a stack file, `pipelines = [...]`) run
    /// together in one process: one shutdown, one progress view, one exit
    /// status; each keeps its own consumer group, state and reload.
    Run {
        /// The pipeline files (TOML), or a stack file listing them.
        #[arg(required = true)]
        pipeline: Vec<PathBuf>,
        /// Stop after this many input records (per pipeline).
        #[arg(long)]
        max_records: Option<u64>,
        /// Stop when no record arrived for this many seconds.
        #[arg(long)]
        until_idle: Option<f64>,
        /// Serve Prometheus metrics at http://ADDRESS/metrics, e.g.
        /// `127.0.0.1:9464` (loopback: this machine only). Off by default.
        #[arg(long, value_name = "ADDRESS")]
        metrics: Option<String>,
        /// Do not watch the pipeline and plugin files for changes (hot
        /// reload still works with `wasp reload`).
        #[arg(long)]
        no_watch: bool,
        /// Do not open the reload socket beside the pipeline file (for a
        /// read-only directory; file watching still reloads).
        #[arg(long)]
        no_reload_socket: bool,
    },
    /// Ask the running `wasp run` processes of a pipeline to reload its
    /// plugins and stage configs now; prints what each stage did.
    Reload {
        /// The pipeline file the processes were started with.
        pipeline: PathBuf,
        /// Seconds to wait for each process's answer (a reload compiles
        /// the changed plugins first).
        #[arg(long, default_value_t = 120.0)]
        timeout: f64,
    },
    /// Create topics (existing ones are left alone).
    CreateTopics {
        /// Topic names.
        #[arg(required = true)]
        topics: Vec<String>,
        /// Partitions per topic.
        #[arg(short, long, default_value_t = 1)]
        partitions: i32,
        /// Broker list.
        #[arg(long, env = "WASP_BOOTSTRAP_SERVERS", default_value = "127.0.0.1:9092")]
        bootstrap_servers: String,
    },
    /// Produce each line of a file (or stdin) as one record.
    Produce {
        /// Topic to write.
        topic: String,
        /// Input file; `-` or absent reads stdin.
        #[arg(short, long)]
        input: Option<PathBuf>,
        /// Use this JSON field of each line as the record key.
        #[arg(long)]
        key_field: Option<String>,
        /// Broker list.
        #[arg(long, env = "WASP_BOOTSTRAP_SERVERS", default_value = "127.0.0.1:9092")]
        bootstrap_servers: String,
    },
    /// Print records of topics as JSON lines (topic, partition, offset,
    /// key, value, headers), as they arrive, until the topics are quiet.
    Consume {
        /// Topics to read.
        #[arg(required = true)]
        topics: Vec<String>,
        /// Read only this partition (of each topic).
        #[arg(long)]
        partition: Option<i32>,
        /// Start at the first record still held (the default).
        #[arg(long, conflicts_with_all = ["from_offset", "from_end"])]
        from_beginning: bool,
        /// Start at this offset in each partition read.
        #[arg(long, value_name = "OFFSET")]
        from_offset: Option<i64>,
        /// Start after the last record: print only records produced from now on.
        #[arg(long, conflicts_with = "from_offset")]
        from_end: bool,
        /// Stop after this many seconds without a new record.
        #[arg(long, default_value_t = 3.0)]
        idle: f64,
        /// Stop after this many records.
        #[arg(long)]
        max: Option<usize>,
        /// Broker list.
        #[arg(long, env = "WASP_BOOTSTRAP_SERVERS", default_value = "127.0.0.1:9092")]
        bootstrap_servers: String,
    },
    /// Evaluate a finished run's output (a topic or a JSON-lines file):
    /// a classification report and confusion matrix for a classifier, or
    /// precision/recall/F1 for an anomaly detector; `--png` draws it.
    Evaluate(Box<crate::evaluate::EvaluateArgs>),
    /// Draw a scatter plot of two fields coloured by a third, from a
    /// JSON-lines file or a topic, as a PNG.
    Plot(Box<crate::plot::command::PlotArgs>),
    /// Check that a file is a valid wasp plugin, and optionally that it
    /// accepts a config.
    Check {
        /// The plugin component (.wasm).
        plugin: PathBuf,
        /// Stage config as JSON, passed to the plugin's `init`.
        #[arg(long)]
        config: Option<String>,
    },
    /// Create a plugin project that builds and passes its tests out of the
    /// box: `./build.sh` then `./test.sh` in the new directory.
    New {
        /// Plugin name: lowercase letters, digits and '-'.
        name: String,
        /// Language of the plugin.
        #[arg(long, value_enum)]
        lang: crate::scaffold::Lang,
        /// Directory to create; default `./NAME`.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

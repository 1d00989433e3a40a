//! Hot reload: replace a stage's plugin (or its config) while records flow.
//!
//! A new version is compiled and validated here, off the hot path: it must
//! be a component of the right world and its `init` must accept the stage
//! config. Only then is it swapped into the stage's slot; each partition
//! worker switches at its next batch boundary, so no record is processed
//! twice or skipped, and state, owned by the host, carries over. A version
//! that fails validation is reported and the old one keeps serving.
//!
//! A stage's files (`[stage.files]`) are part of its version: a changed
//! file reloads the stage exactly like a changed plugin.
//!
//! Triggers: a watcher polling the pipeline file, every plugin file and
//! every stage file
//! (debounced: a file must be unchanged for one more poll), and an admin
//! socket that `wasp reload` talks to.

use crate::config::PipelineConfig;
use crate::pipeline::Pipeline;
use crate::runtime::{Engine, Plugin, StageFiles};
use anyhow::{Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// What a reload did to one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The stage now runs another version.
    Swapped {
        /// Stage name.
        stage: String,
        /// Previous content hash.
        from: String,
        /// New content hash.
        to: String,
    },
    /// The new version was refused; the old one keeps serving.
    Refused {
        /// Stage name (or `pipeline` for a bad pipeline file).
        stage: String,
        /// Why.
        error: String,
    },
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Swapped { stage, from, to } => {
                write!(f, "ok: stage {stage} now runs {to} (was {from})")
            }
            Outcome::Refused { stage, error } => {
                write!(f, "refused: stage {stage} keeps its current version: {error}")
            }
        }
    }
}

/// A file's identity for change detection without reading it.
type Stamp = Option<(u64, SystemTime)>;

fn stamp(p: &Path) -> Stamp {
    let m = std::fs::metadata(p).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// Reloads the stages of one running pipeline. A stage whose files did not
/// change is left alone, unless it was disabled by its fault policy: then a
/// reload restarts it, which is how an operator re-enables it after a fix.
pub struct Reloader {
    engine: Engine,
    pipeline: Arc<Pipeline>,
    config_path: PathBuf,
    config: Mutex<PipelineConfig>,
    lock: Mutex<()>,
    /// Successful swaps.
    pub reloads: AtomicU64,
    /// Refused versions.
    pub refusals: AtomicU64,
    history: Mutex<std::collections::VecDeque<(SystemTime, String)>>,
}

/// Reload outcomes [`Reloader::history`] keeps.
pub const RELOAD_HISTORY: usize = 20;

impl Reloader {
    /// A reloader for `pipeline`, loaded from `config` at `config_path`.
    pub fn new(
        engine: Engine,
        pipeline: Arc<Pipeline>,
        config_path: &Path,
        config: PipelineConfig,
    ) -> Self {
        Reloader {
            engine,
            pipeline,
            config_path: config_path.into(),
            config: Mutex::new(config),
            lock: Mutex::new(()),
            reloads: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
            history: Mutex::default(),
        }
    }

    /// Re-read the pipeline file and every plugin file; swap each stage
    /// whose plugin bytes, config or limits changed. Unchanged stages are
    /// not mentioned.
    pub fn reload(&self) -> Vec<Outcome> {
        let _one_at_a_time = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let outcomes = self.reload_inner();
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        for o in &outcomes {
            if history.len() == RELOAD_HISTORY {
                history.pop_front();
            }
            history.push_back((SystemTime::now(), o.to_string()));
            match o {
                Outcome::Swapped { .. } => {
                    self.reloads.fetch_add(1, Ordering::Relaxed);
                    tracing::info!("reload {o}");
                }
                Outcome::Refused { .. } => {
                    self.refusals.fetch_add(1, Ordering::Relaxed);
                    tracing::error!("reload {o}");
                }
            }
        }
        outcomes
    }

    /// The latest reload outcomes with their time, oldest first.
    pub fn history(&self) -> Vec<(SystemTime, String)> {
        self.history.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    fn reload_inner(&self) -> Vec<Outcome> {
        let refused = |stage: &str, error: String| Outcome::Refused { stage: stage.into(), error };
        let cfg = match PipelineConfig::load(&self.config_path) {
            Ok(c) => c,
            Err(e) => return vec![refused("pipeline", format!("{e:#}"))],
        };
        let names: Vec<&str> = cfg.stages.iter().map(|s| s.name.as_str()).collect();
        let running: Vec<String> =
            self.pipeline.stages.iter().map(|s| s.current().name.clone()).collect();
        if names != running {
            return vec![refused(
                "pipeline",
                format!("stages changed from {running:?} to {names:?}; adding, removing or reordering stages needs a restart"),
            )];
        }
        let mut out = Vec::new();
        for (stage_cfg, slot) in cfg.stages.iter().zip(&self.pipeline.stages) {
            let current = slot.current();
            let path = cfg.resolve(&stage_cfg.plugin);
            let plugin = match Plugin::load(&self.engine, &path) {
                Ok(p) => p,
                Err(e) => {
                    out.push(refused(&stage_cfg.name, e.to_string()));
                    continue;
                }
            };
            let named = cfg.stage_files(stage_cfg);
            let files =
                match StageFiles::load(&stage_cfg.name, &named, stage_cfg.limits.files_bytes()) {
                    Ok(f) => Arc::new(f),
                    Err(e) => {
                        out.push(refused(&stage_cfg.name, e.to_string()));
                        continue;
                    }
                };
            let config_json = stage_cfg.config_json();
            let same = files.version(plugin.version()) == *current.version
                && config_json == current.config_json
                && stage_cfg.limits == current.limits
                && stage_cfg.faults == current.faults;
            if same && !current.health.is_disabled() {
                continue;
            }
            let spec = current.with(plugin, files, config_json, stage_cfg.limits, stage_cfg.faults);
            // Validation: the new version must start and accept its config.
            if let Err(e) = spec.validate() {
                out.push(refused(&stage_cfg.name, e.to_string()));
                continue;
            }
            let from = current.version.to_string();
            let to = spec.version.to_string();
            slot.swap(spec);
            out.push(Outcome::Swapped { stage: stage_cfg.name.clone(), from, to });
        }
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = cfg;
        out
    }

    /// Files whose change triggers a reload: the pipeline file, plugins
    /// and the files given to stages.
    fn watched(&self) -> Vec<PathBuf> {
        let cfg = self.config.lock().unwrap_or_else(|p| p.into_inner());
        let mut files = vec![self.config_path.clone()];
        for s in &cfg.stages {
            files.push(cfg.resolve(&s.plugin));
            files.extend(cfg.stage_files(s).into_values());
        }
        files
    }
}

/// Poll the watched files every `interval` until `stop`; reload once a
/// changed file has stayed the same for one more poll (so a file being
/// copied is not loaded half-written).
pub fn watch(
    reloader: Arc<Reloader>,
    interval: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("wasp-watch".into())
        .spawn(move || {
            let mut seen: Vec<(PathBuf, Stamp)> =
                reloader.watched().into_iter().map(|p| (p.clone(), stamp(&p))).collect();
            let mut pending: Option<Vec<Stamp>> = None;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(interval);
                let now: Vec<Stamp> = seen.iter().map(|(p, _)| stamp(p)).collect();
                let changed = now.iter().zip(&seen).any(|(n, (_, s))| n != s);
                match &pending {
                    Some(prev) if *prev == now && changed => {
                        reloader.reload();
                        seen = reloader
                            .watched()
                            .into_iter()
                            .map(|p| (p.clone(), stamp(&p)))
                            .collect();
                        pending = None;
                    }
                    _ if changed => pending = Some(now),
                    _ => pending = None,
                }
            }
        })
        .expect("spawning the file watcher")
}

/// The admin socket of a running pipeline: one per process, beside the
/// pipeline file, named after the pipeline and the process id.
pub fn socket_path(config_path: &Path, name: &str) -> PathBuf {
    socket_dir(config_path).join(format!(".wasp-{name}-{}.sock", std::process::id()))
}

fn socket_dir(config_path: &Path) -> &Path {
    config_path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// The process id in the file name of one of `name`'s sockets, if `file`
/// is one (`.wasp-a-1-77.sock` belongs to pipeline `a-1`, not `a`).
fn socket_pid(file: &str, name: &str) -> Option<u32> {
    let pid = file.strip_prefix(&format!(".wasp-{name}-"))?.strip_suffix(".sock")?;
    pid.bytes().all(|b| b.is_ascii_digit()).then(|| pid.parse().ok()).flatten()
}

/// The user this process runs as (the owner of its `/proc` entry).
fn my_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Longest request line read; a reload request is one short word.
const MAX_REQUEST: u64 = 1024;
/// How long a client may take to send its request or read the reply.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Clients served at once; more are turned away, so a flood of
/// connections costs a few threads, not the process.
const MAX_CLIENTS: usize = 8;

/// Serve `reload` requests on a Unix socket until the process exits. Each
/// request gets one line per outcome, then `done`. The socket is the
/// owner's only (mode 0600, set before it gets its name, so no other user
/// can ever connect); each client is served on a thread of its own with a
/// size limit and timeouts, so a silent or flooding client blocks no other.
pub fn serve(reloader: Arc<Reloader>, path: PathBuf) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let temp = path.with_file_name(format!("{file}.new"));
    let _ = std::fs::remove_file(&temp);
    let listener = UnixListener::bind(&temp)
        .with_context(|| format!("creating the admin socket {}", path.display()))?;
    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&temp, &path))
        .with_context(|| format!("creating the admin socket {}", path.display()))?;
    let active = Arc::new(AtomicU64::new(0));
    std::thread::Builder::new().name("wasp-admin".into()).spawn(move || {
        for conn in listener.incoming().flatten() {
            let _ = conn.set_read_timeout(Some(CLIENT_TIMEOUT));
            let _ = conn.set_write_timeout(Some(CLIENT_TIMEOUT));
            if active.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS as u64 {
                active.fetch_sub(1, Ordering::AcqRel);
                let _ = (&conn).write_all(b"refused: too many clients at once, try again\ndone\n");
                continue;
            }
            let (reloader, active) = (reloader.clone(), active.clone());
            let spawned =
                std::thread::Builder::new().name("wasp-admin-client".into()).spawn(move || {
                    answer(&reloader, &conn);
                    active.fetch_sub(1, Ordering::AcqRel);
                });
            if spawned.is_err() {
                tracing::warn!("cannot start a thread for a reload client; turned away");
            }
        }
    })?;
    Ok(())
}

/// Read one request line (bounded in size and time) and answer it.
fn answer(reloader: &Reloader, conn: &std::os::unix::net::UnixStream) {
    use std::io::Read;
    let mut line = String::new();
    if BufReader::new(conn.take(MAX_REQUEST)).read_line(&mut line).is_err() {
        return;
    }
    let reply = match line.trim() {
        "reload" => {
            let outcomes = reloader.reload();
            if outcomes.is_empty() {
                "ok: nothing changed\n".to_string()
            } else {
                outcomes.iter().map(|o| format!("{o}\n")).collect()
            }
        }
        other => {
            let shown: String = other.chars().take(64).collect();
            format!("refused: unknown request '{shown}': expected reload\n")
        }
    };
    let mut w = conn;
    let _ = w.write_all(reply.as_bytes()).and_then(|_| w.write_all(b"done\n"));
}

/// Ask every running process of the pipeline at `config_path` to reload,
/// waiting up to `timeout` for each. Returns their replies; an error when
/// none is running or one does not answer in time.
pub fn request(config_path: &Path, name: &str, timeout: Duration) -> Result<Vec<String>> {
    let dir = socket_dir(config_path);
    let mut replies = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let Some(pid) = socket_pid(&file, name) else { continue };
        let Ok(conn) = std::os::unix::net::UnixStream::connect(&path) else {
            remove_if_stale(&path, pid);
            continue;
        };
        conn.set_read_timeout(Some(timeout))?;
        conn.set_write_timeout(Some(timeout))?;
        let no_answer = || {
            format!(
                "the wasp process {pid} did not answer on {} within {} s",
                path.display(),
                timeout.as_secs_f64()
            )
        };
        (&conn).write_all(b"reload\n").with_context(no_answer)?;
        for line in BufReader::new(conn).lines() {
            let line = line.with_context(no_answer)?;
            if line == "done" {
                break;
            }
            replies.push(line);
        }
    }
    if replies.is_empty() {
        anyhow::bail!(
            "no running `wasp run` for pipeline '{name}' was found beside {}",
            config_path.display()
        );
    }
    Ok(replies)
}

/// A socket nobody listens on is left by a process that was killed: remove
/// it, but only when it is ours and its process is gone. Another user's
/// socket is never touched.
fn remove_if_stale(path: &Path, pid: u32) {
    use std::os::unix::fs::MetadataExt;
    let ours = std::fs::symlink_metadata(path).ok().map(|m| m.uid()) == my_uid();
    let gone = !Path::new(&format!("/proc/{pid}")).exists();
    if ours && gone {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_belongs_to_exactly_one_pipeline_name() {
        assert_eq!(socket_pid(".wasp-a-12.sock", "a"), Some(12));
        assert_eq!(socket_pid(".wasp-a-1-12.sock", "a"), None);
        assert_eq!(socket_pid(".wasp-a-1-12.sock", "a-1"), Some(12));
        assert_eq!(socket_pid(".wasp-a-12.sock.new", "a"), None);
    }
}

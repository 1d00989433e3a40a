//! The metrics endpoint and live status page of `wasp run`: Prometheus
//! text format on `GET /metrics`, a page on `GET /` that redraws itself
//! from `GET /status.json` every second; all served from the counters the
//! run already keeps.
//!
//! Off unless `wasp run --metrics ADDRESS` is given (e.g. `127.0.0.1:9464`;
//! a loopback address keeps it off the network). The registry holds one
//! collector ([`collector::RunCollector`]) that reads the run's atomic
//! counters at scrape time, so serving metrics costs the record path
//! nothing. The HTTP server is `tiny_http` on one thread of its own: the
//! run loop is synchronous and a scrape is a few kilobytes.

use anyhow::{Context, Result};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::thread::JoinHandle;

pub mod collector;
pub mod status;

use status::StatusSource;

/// The content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A running endpoint; stopped when dropped.
pub struct Server {
    http: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    address: std::net::SocketAddr,
}

impl Server {
    /// Serve `registry` and `status` on `address` (`HOST:PORT`; port 0
    /// picks one).
    pub fn start(address: &str, registry: Registry, status: StatusSource) -> Result<Server> {
        let http = tiny_http::Server::http(address)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| {
                format!("cannot serve metrics on {address}: give a free HOST:PORT to --metrics, e.g. 127.0.0.1:9464")
            })?;
        let address = http
            .server_addr()
            .to_ip()
            .context("the metrics server is not listening on an IP address")?;
        let http = Arc::new(http);
        let server = http.clone();
        let thread = std::thread::Builder::new()
            .name("wasp-metrics".into())
            .spawn(move || {
                for request in server.incoming_requests() {
                    respond(request, &registry, &status);
                }
            })
            .context("starting the metrics thread")?;
        Ok(Server { http, thread: Some(thread), address })
    }

    /// Where it listens.
    pub fn address(&self) -> std::net::SocketAddr {
        self.address
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.http.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
        .expect("static header names and values are valid")
}

fn respond(request: tiny_http::Request, registry: &Registry, status: &StatusSource) {
    let path = request.url().split('?').next().unwrap_or("");
    let response = match (request.method(), path) {
        (tiny_http::Method::Get, "/metrics") => {
            let mut body = String::new();
            match prometheus_client::encoding::prometheus_text::encode(&mut body, registry) {
                Ok(()) => tiny_http::Response::from_string(body)
                    .with_header(header("Content-Type", CONTENT_TYPE)),
                Err(e) => tiny_http::Response::from_string(format!("encoding metrics: {e}\n"))
                    .with_status_code(500),
            }
        }
        (tiny_http::Method::Get, "/") => tiny_http::Response::from_string(status::PAGE)
            .with_header(header("Content-Type", "text/html; charset=utf-8")),
        (tiny_http::Method::Get, "/status.json") => {
            tiny_http::Response::from_string(status.json().to_string())
                .with_header(header("Content-Type", "application/json"))
        }
        _ => tiny_http::Response::from_string(
            "wasp serves GET /metrics, GET / (status page) and GET /status.json here\n",
        )
        .with_status_code(404),
    };
    if let Err(e) = request.respond(response) {
        tracing::debug!("metrics client went away: {e}");
    }
}

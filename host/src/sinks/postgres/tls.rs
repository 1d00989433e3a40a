//! TLS for table connections, chosen by the URL's `sslmode`: `require`
//! encrypts and verifies the server's certificate chain and host name
//! (what libpq calls `verify-full`; rust-postgres parses no other mode
//! names) against the system's roots and `ssl_root_cert`; `disable` and
//! `prefer` (the default) connect without TLS, so a server that only
//! accepts TLS needs `sslmode=require`. rustls does the work, in pure Rust
//! (no system OpenSSL to build against or ship): docs/decisions.md.

use super::TableConfig;
use anyhow::{bail, Context, Result};
use postgres::config::SslMode;
use postgres::{Client, NoTls};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::Path;
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How a table's connections are made.
pub enum Tls {
    /// Plain TCP (`sslmode=disable` or `prefer`).
    Off,
    /// TLS through this connector (`sslmode=require`).
    On(MakeRustlsConnect),
}

impl Tls {
    /// The TLS setting of `[tables.NAME]` with its parsed URL.
    pub fn for_table(
        name: &str,
        cfg: &TableConfig,
        url: &postgres::Config,
        base_dir: &Path,
    ) -> Result<Self> {
        match url.get_ssl_mode() {
            SslMode::Require => {}
            SslMode::Disable | SslMode::Prefer => {
                if cfg.ssl_root_cert.is_some() {
                    bail!("[tables.{name}] sets ssl_root_cert, which only TLS uses: add sslmode=require to its url");
                }
                return Ok(Tls::Off);
            }
            other => bail!(
                "[tables.{name}] sslmode {other:?} is not supported: use require, prefer or disable"
            ),
        }
        let mut roots = rustls::RootCertStore::empty();
        // Unreadable system certificates are skipped: ssl_root_cert may be
        // all that is needed.
        let (added, _) =
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if let Some(p) = &cfg.ssl_root_cert {
            let path = TableConfig::resolve(p, base_dir);
            let certs = CertificateDer::pem_file_iter(&path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .with_context(|| {
                    format!("[tables.{name}] cannot read ssl_root_cert {}", path.display())
                })?;
            if certs.is_empty() {
                bail!("[tables.{name}] ssl_root_cert {} holds no PEM certificate", path.display());
            }
            for cert in certs {
                roots.add(cert).with_context(|| {
                    format!(
                        "[tables.{name}] ssl_root_cert {}: a certificate is refused",
                        path.display()
                    )
                })?;
            }
        } else if added == 0 {
            bail!("[tables.{name}] sslmode=require but this system has no root certificates: install ca-certificates, or set ssl_root_cert");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls::On(MakeRustlsConnect::new(config)))
    }

    /// Connect with `url` through this setting.
    pub fn connect(&self, url: &postgres::Config) -> Result<Client, postgres::Error> {
        match self {
            Tls::Off => url.connect(NoTls),
            Tls::On(c) => url.connect(c.clone()),
        }
    }
}

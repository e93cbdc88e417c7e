//! TLS to the database, asked for by the URL's `sslmode`: rustls (the TLS stack the operator
//! already uses) through `tokio-postgres-rustls`, with the server's certificate always verified:
//! its chain against `--database-ca-file` (else the system's roots) and its name against the
//! host of the URL. That is libpq's `verify-full`; `require`, `verify-ca` and `verify-full` all
//! mean it here, since TLS without checking who answers stops only passive eavesdroppers.
//! `disable`, `prefer` (libpq's default) or no `sslmode`: plain TCP, as before TLS was
//! supported, so that a URL that worked keeps working (CloudNativePG's `uri` has no `sslmode`
//! and its server's certificate comes from its own CA).
//!
//! Not here: client certificates (`sslcert`/`sslkey`, which tokio-postgres's URL parser does not
//! read either).

use std::{path::Path, sync::Arc};

use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, pem::PemObject},
};
use tokio_postgres::{Config, config::SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::availability::error_text;
use crate::emulator::store::StoreError;

/// Parses a database URL (or `key=value` string). tokio-postgres knows `sslmode` `disable`,
/// `prefer` and `require` only; `verify-ca` and `verify-full` (which the docs of managed
/// databases give) are read as `require`, which verifies as `verify-full` does.
pub(super) fn parse_url(url: &str) -> Result<Config, StoreError> {
    let url = url
        .replace("sslmode=verify-full", "sslmode=require")
        .replace("sslmode=verify-ca", "sslmode=require");
    url.parse()
        .map_err(|e: tokio_postgres::Error| StoreError::DatabaseUrl(error_text(&e)))
}

/// The connector for `config`'s connections, every one of them (pool, listener, migrations).
/// With `sslmode=require`: TLS, verified against the certificates of `ca_file` (PEM) or, without
/// one, the system's roots. Otherwise `config` is set to plain TCP (never TLS it cannot verify),
/// and a CA file given anyway is refused.
pub(super) fn connector(
    config: &mut Config,
    ca_file: Option<&Path>,
) -> Result<MakeRustlsConnect, StoreError> {
    let mut roots = RootCertStore::empty();
    if config.get_ssl_mode() == SslMode::Require {
        match ca_file {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| StoreError::Tls(format!("{}: {e}", path.display())))?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(StoreError::Tls(format!(
                        "{}: no CA certificate in it",
                        path.display()
                    )));
                }
            }
            None => {
                let system = rustls_native_certs::load_native_certs();
                for e in &system.errors {
                    tracing::warn!(error = %e, "a system CA certificate could not be read");
                }
                roots.add_parsable_certificates(system.certs);
                if roots.is_empty() {
                    return Err(StoreError::Tls(
                        "sslmode=require and no --database-ca-file, but the system has no CA \
                         certificates to verify the database's with"
                            .into(),
                    ));
                }
            }
        }
    } else if let Some(path) = ca_file {
        // A CA file says the user wants TLS; plain TCP would ignore it without a word.
        return Err(StoreError::Tls(format!(
            "--database-ca-file {} is set but the database URL asks for no TLS: add \
             sslmode=require (or verify-full) to the URL, or drop the CA file",
            path.display()
        )));
    } else {
        config.ssl_mode(SslMode::Disable);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(tls))
}

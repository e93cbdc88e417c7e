//! What the long-running subcommands share: logging (JSON or compact lines, filtered by
//! `RUST_LOG`-style directives), the Prometheus text format of their `/metrics`, and the
//! shutdown signal. Credentials never pass through here: nothing logs request
//! headers or the AWS configuration.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line (for log collectors).
    Json,
    /// Human-readable single lines.
    Compact,
}

/// How to log.
#[derive(Debug, Clone)]
pub struct Settings {
    pub format: Format,
    /// `EnvFilter` directives, e.g. `info,launch_operator=debug`.
    pub filter: String,
}

/// Installs the global subscriber. Call once, from `main`.
pub fn init(settings: &Settings) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&settings.filter)
        .map_err(|e| anyhow::anyhow!("invalid --log-filter {:?}: {e}", settings.filter))?;
    let registry = tracing_subscriber::registry().with(filter);
    match settings.format {
        Format::Json => registry
            .with(fmt::layer().json().with_current_span(true))
            .try_init()?,
        Format::Compact => registry.with(fmt::layer().compact()).try_init()?,
    }
    Ok(())
}

/// Content type of every `/metrics` answer (the Prometheus text format, 0.0.4).
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The Prometheus text exposition of `registry`.
pub fn encode_metrics(registry: &prometheus_client::registry::Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, registry);
    out
}

/// Completes on SIGTERM or SIGINT. The handlers are installed when this is called, not when
/// the future is first polled: from then on those signals no longer end the process at once,
/// so a server that binds its port after this call is ready for them once it listens.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let [interrupt, terminate] = {
        use tokio::signal::unix::{SignalKind, signal};
        [
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::terminate(), "SIGTERM"),
        ]
        .map(|(kind, name)| {
            let handler = signal(kind);
            async move {
                match handler {
                    Ok(mut s) => {
                        s.recv().await;
                        tracing::info!("{name} received, shutting down");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for {name}");
                        std::future::pending::<()>().await;
                    }
                }
            }
        })
    };
    #[cfg(not(unix))]
    let (interrupt, terminate) = (
        async {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("SIGINT received, shutting down");
            } else {
                std::future::pending::<()>().await;
            }
        },
        std::future::pending::<()>(),
    );
    async move {
        tokio::select! {
            () = interrupt => {}
            () = terminate => {}
        }
    }
}

//! Logging setup shared by the long-running subcommands: JSON or compact lines, filtered by
//! `RUST_LOG`-style directives. Credentials never pass through here: nothing logs request
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

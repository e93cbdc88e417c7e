//! Logging setup shared by the long-running subcommands: JSON or compact lines, filtered by
//! `RUST_LOG`-style directives. Credentials never pass through here: nothing logs request
//! headers or the AWS configuration.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::cli::{LogArgs, LogFormat};

/// Installs the global subscriber. Call once, from `main`.
pub fn init(args: &LogArgs) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&args.log_filter)
        .map_err(|e| anyhow::anyhow!("invalid --log-filter {:?}: {e}", args.log_filter))?;
    let registry = tracing_subscriber::registry().with(filter);
    match args.log_format {
        LogFormat::Json => registry
            .with(fmt::layer().json().with_current_span(true))
            .try_init()?,
        LogFormat::Compact => registry.with(fmt::layer().compact()).try_init()?,
    }
    Ok(())
}

//! The Evidently emulator (`launch-operator emulator`). Under construction.

use crate::cli::EmulatorArgs;

/// Runs the emulator until SIGTERM/SIGINT.
pub async fn run(_args: EmulatorArgs) -> anyhow::Result<()> {
    anyhow::bail!("the emulator is not implemented yet")
}

//! The controller (`launch-operator controller`). Under construction.

use crate::cli::ControllerArgs;

/// Runs the controller until SIGTERM/SIGINT.
pub async fn run(_args: ControllerArgs) -> anyhow::Result<()> {
    anyhow::bail!("the controller is not implemented yet")
}

//! Command-line interface: one binary, one subcommand per role. Every flag can also be set
//! through the environment variable named in its help.
//!
//! Parsing only; what each subcommand does lives in its own module.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "launch-operator",
    version,
    about = "Reconciles Launch resources against CloudWatch Evidently"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the Launch CustomResourceDefinition (YAML), as committed under crds/.
    Crds,
    /// Check Launch manifests offline with the same rules as the API server and the controller.
    ///
    /// Prints one line per problem (`file:document: field: rule`) and exits 1 if there is any.
    Validate(ValidateArgs),
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Files or directories (searched recursively for *.yaml, *.yml and *.json) to check;
    /// `-` reads standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

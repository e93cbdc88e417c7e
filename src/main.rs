//! Entry point: parse the command line and dispatch. Nothing else lives here.

use std::process::ExitCode;

use clap::Parser;
use launch_operator::{
    cli::{Cli, Command},
    crd::schema::launch_crd_yaml,
    manifests,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds => {
            print!("{}", launch_crd_yaml());
            ExitCode::SUCCESS
        }
        Command::Validate(args) => manifests::run(&args.paths),
    }
}

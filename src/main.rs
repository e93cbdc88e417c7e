//! Entry point: parse the command line, set up logging, dispatch. Nothing else lives here.

use std::process::ExitCode;

use clap::Parser;
use launch_operator::{
    cli::{Cli, Command},
    controller,
    crd::all_crds_yaml,
    emulator, manifests, telemetry,
};

/// mimalloc instead of glibc's malloc: see Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds => {
            print!("{}", all_crds_yaml());
            ExitCode::SUCCESS
        }
        Command::Validate(args) => manifests::run(&args.paths),
        Command::Emulator(args) => serve(&args.log.settings(), emulator::run(args.settings())),
        Command::Controller(args) => serve(&args.log.settings(), controller::run(args.settings())),
    }
}

/// Runs a long-lived subcommand on a multi-threaded runtime; errors go to the log and the exit
/// code.
fn serve(log: &telemetry::Settings, task: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    if let Err(e) = telemetry::init(log) {
        eprintln!("launch-operator: {e:#}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("launch-operator: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(task) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "exiting");
            ExitCode::FAILURE
        }
    }
}

//! Command-line interface: one binary, one subcommand per role. Every flag can also be set
//! through the environment variable named in its help, and has a documented default.
//!
//! Parsing only: clap lives here and nowhere else. Each subcommand's module takes a settings
//! type of its own, converted from the parsed flags below.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Parser, Subcommand, ValueEnum};

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
    /// Run the controller: reconcile Launch resources against Evidently.
    Controller(Box<ControllerArgs>),
    /// Run the Evidently emulator: the Evidently REST-JSON API over HTTP, with durable storage.
    Emulator(Box<EmulatorArgs>),
    /// Print the Launch CustomResourceDefinition (YAML), as committed under crds/.
    Crds,
    /// Check Launch manifests offline with the same rules as the API server and the controller.
    ///
    /// Prints one line per problem (`file:document: field: rule`) and exits 1 if there is any.
    Validate(ValidateArgs),
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for log collectors).
    Json,
    /// Human-readable single lines.
    Compact,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "compact")]
    pub log_format: LogFormat,
    /// Log filter (tracing-subscriber EnvFilter syntax, e.g. `info,launch_operator=debug`).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address the API (and /healthz, /readyz, /metrics) listens on.
    #[arg(long, env = "EMULATOR_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Directory of the SQLite database; created if missing. Unused with `--database-url`.
    #[arg(
        long,
        env = "EMULATOR_DATA_DIR",
        default_value = "/var/lib/evidently-emulator"
    )]
    pub data_dir: PathBuf,
    /// PostgreSQL database to keep resources in instead of SQLite (`postgres://user:password@
    /// host:port/dbname`), so that several replicas share them. Unset: SQLite in `--data-dir`.
    #[arg(long, env = "EMULATOR_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// CA certificates (PEM) that the PostgreSQL server's certificate must chain to when the
    /// database URL has `sslmode=require` (or `verify-ca`, `verify-full`); unset: the system's
    /// roots. The server's name is checked against the URL's host either way.
    #[arg(long, env = "EMULATOR_DATABASE_CA_FILE")]
    pub database_ca_file: Option<PathBuf>,
    /// Most connections to PostgreSQL this replica opens (reads and writes, plus one for
    /// notifications). Unused without `--database-url`.
    #[arg(long, env = "EMULATOR_DATABASE_POOL_SIZE", default_value_t = 16)]
    pub database_pool_size: usize,
    /// Region used in ARNs.
    #[arg(long, env = "EMULATOR_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Account id used in ARNs (12 digits).
    #[arg(long, env = "EMULATOR_ACCOUNT_ID", default_value = "123456789012")]
    pub account_id: String,
    /// Largest accepted request body, in bytes; larger bodies get a 413 in the AWS error shape.
    #[arg(long, env = "EMULATOR_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Testing aid: answer OPERATION only after DURATION (e.g. `CreateLaunch=5s`), after the
    /// operation has been committed. Lets tests interrupt a client between a write and its
    /// acknowledgement. Repeat or comma-separate for several operations.
    #[arg(long, env = "EMULATOR_FAULT_DELAY", value_delimiter = ',', value_parser = parse_delay, value_name = "OPERATION=DURATION")]
    pub fault_delay: Vec<(String, Duration)>,
    /// `off`: requests are not checked (local tests); `sigv4`: every API request must be
    /// signed (AWS Signature Version 4) with a key of --auth-keys whose policy allows it.
    #[arg(long, env = "EMULATOR_AUTH", value_enum, default_value = "off")]
    pub auth: AuthMode,
    /// YAML file of access keys (name, accessKeyId, secretAccessKey, allow, resources), e.g. a
    /// mounted Secret; read again when it changes.
    #[arg(long, env = "EMULATOR_AUTH_KEYS")]
    pub auth_keys: Option<PathBuf>,
    /// How often the key file is checked for changes.
    #[arg(long, env = "EMULATOR_AUTH_RELOAD_INTERVAL", value_parser = humantime::parse_duration, default_value = "10s")]
    pub auth_reload_interval: Duration,
    /// Serve /metrics on this address instead of the API port (so that a NetworkPolicy can
    /// give the metrics another audience).
    #[arg(long, env = "EMULATOR_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub log: LogArgs,
}

impl EmulatorArgs {
    pub fn settings(&self) -> crate::emulator::RunSettings {
        use crate::emulator::{AuthSettings, Database, RunSettings, Settings};
        RunSettings {
            listen: self.listen,
            metrics_listen: self.metrics_listen,
            database: match &self.database_url {
                Some(url) => Database::Postgres {
                    url: url.clone(),
                    pool_size: self.database_pool_size,
                    ca_file: self.database_ca_file.clone(),
                },
                None => Database::Sqlite {
                    data_dir: self.data_dir.clone(),
                },
            },
            auth: match self.auth {
                AuthMode::Off => AuthSettings::Off,
                AuthMode::Sigv4 => AuthSettings::Sigv4 {
                    keys: self.auth_keys.clone(),
                    reload_interval: self.auth_reload_interval,
                },
            },
            settings: Settings {
                region: self.region.clone(),
                account_id: self.account_id.clone(),
                body_limit: self.body_limit,
                response_delays: self.fault_delay.clone(),
                auth: None,
            },
        }
    }
}

/// Whether the emulator checks request signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    Off,
    Sigv4,
}

/// Parses `Operation=duration` (e.g. `CreateLaunch=5s`) for `--fault-delay`.
fn parse_delay(s: &str) -> Result<(String, Duration), String> {
    let (operation, duration) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected OPERATION=DURATION, e.g. CreateLaunch=5s"))?;
    if !crate::rules::model::OPERATIONS
        .iter()
        .any(|o| o.name == operation)
    {
        return Err(format!("{operation:?} is not an Evidently operation"));
    }
    let duration = humantime::parse_duration(duration).map_err(|e| format!("{duration:?}: {e}"))?;
    Ok((operation.to_string(), duration))
}

#[derive(Debug, Clone, clap::Args)]
pub struct ControllerArgs {
    /// Namespaces to watch (comma-separated); all namespaces when empty.
    #[arg(long, env = "WATCH_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Evidently endpoint URL (e.g. the in-cluster emulator). Unset: the AWS SDK's own
    /// resolution (`AWS_ENDPOINT_URL_EVIDENTLY`, `AWS_ENDPOINT_URL`, then AWS's endpoint).
    #[arg(long, env = "EVIDENTLY_ENDPOINT")]
    pub evidently_endpoint: Option<String>,
    /// How often a Ready launch is compared with Evidently when nothing else happens.
    #[arg(long, env = "RESYNC_INTERVAL", value_parser = humantime::parse_duration, default_value = "5m")]
    pub resync_interval: Duration,
    /// Launches reconciled at the same time.
    #[arg(long, env = "CONCURRENCY", default_value_t = 16)]
    pub concurrency: u16,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "ADMIN_LISTEN", default_value = "0.0.0.0:8081")]
    pub admin_listen: SocketAddr,
    /// Take a Lease before reconciling, so that only one replica works at a time.
    #[arg(long, env = "LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Namespace of the leader-election Lease (default: the pod's namespace, else `default`).
    #[arg(long, env = "LEADER_ELECTION_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// Identity of this replica in the Lease (default: the host name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Files or directories (searched recursively for *.yaml, *.yml and *.json) to check;
    /// `-` reads standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

impl LogArgs {
    pub fn settings(&self) -> crate::telemetry::Settings {
        crate::telemetry::Settings {
            format: match self.log_format {
                LogFormat::Json => crate::telemetry::Format::Json,
                LogFormat::Compact => crate::telemetry::Format::Compact,
            },
            filter: self.log_filter.clone(),
        }
    }
}

impl ControllerArgs {
    pub fn settings(&self) -> crate::controller::Settings {
        crate::controller::Settings {
            namespaces: self.namespaces.clone(),
            evidently_endpoint: self.evidently_endpoint.clone(),
            resync_interval: self.resync_interval,
            concurrency: self.concurrency,
            admin_listen: self.admin_listen,
            leader_election: self.leader_election,
            leader_election_namespace: self.leader_election_namespace.clone(),
            identity: self.identity.clone(),
        }
    }
}

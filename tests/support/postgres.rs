//! A real PostgreSQL server for the store tests: Debian's server binaries (`initdb`,
//! `postgres`), a data directory in a temporary directory, a free loopback port, run as a
//! non-root user (PostgreSQL refuses root; when the tests run as root, the server runs as the
//! `postgres` user the Debian package creates, or `PG_USER`).
//!
//! The server is started through a small shell that holds a pipe from the test process and
//! stops the server (SIGQUIT: immediate shutdown) when the pipe closes, then removes its
//! directory, so that no server outlives its test process, even one killed or panicking, or
//! one shared by a whole test binary in a static. Missing binaries fail the test
//! with how to install them; nothing is skipped.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::{
    io::Write,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::ports;

/// Where the server binaries are: `PG_BIN`, or the newest `/usr/lib/postgresql/*/bin`.
pub fn bin_dir() -> PathBuf {
    let found = match std::env::var_os("PG_BIN") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let version: u32 = e.file_name().to_str()?.parse().ok()?;
                Some((version, e.path().join("bin")))
            })
            .max()
            .map(|(_, dir)| dir),
    };
    match found {
        Some(dir) if dir.join("initdb").is_file() && dir.join("postgres").is_file() => dir,
        _ => panic!(
            "PostgreSQL server binaries (initdb, postgres) not found in $PG_BIN or \
             /usr/lib/postgresql/*/bin. Install Debian's server package \
             (`apt-get install postgresql`), or set PG_BIN to the directory holding them."
        ),
    }
}

/// The uid and gid to run the server as: ours, unless we are root.
fn server_user() -> Option<(u32, u32)> {
    let me = command_output(Command::new("id").arg("-u"));
    if me != "0" {
        return None;
    }
    let user = std::env::var("PG_USER").unwrap_or_else(|_| "postgres".into());
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, &user]).output().unwrap();
        assert!(
            out.status.success(),
            "the tests run as root, and PostgreSQL refuses to: they run it as the user \
             {user:?}, which does not exist. Install Debian's postgresql package (it creates \
             the postgres user) or set PG_USER to a non-root user."
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    Some((id("-u"), id("-g")))
}

fn command_output(command: &mut Command) -> String {
    let out = command.output().expect("run a command");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The database superuser the tests connect as.
pub const USER: &str = "emulator";

/// A running PostgreSQL server, stopped when dropped.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    user: Option<(u32, u32)>,
    pub port: u16,
    /// Server settings (`name=value`) given after the harness's own, which they override.
    settings: Vec<String>,
    /// The stopping shell; its stdin is the pipe that keeps the server up.
    child: Option<Child>,
}

impl Postgres {
    /// initdb into a fresh temporary directory, then start.
    pub fn start() -> Postgres {
        Postgres::start_with(&[])
    }

    /// [`Postgres::start`] with server settings (`name=value`) that override the harness's,
    /// e.g. `fsync=on` for a benchmark.
    pub fn start_with(settings: &[&str]) -> Postgres {
        let mut pg = Postgres::init(settings);
        pg.start_on_a_free_port();
        pg
    }

    /// [`Postgres::start`] with TLS on: `cert` (PEM, the server's certificate and any
    /// intermediates) and `key` (PEM) as the server's, and plain connections still accepted.
    pub fn start_tls(cert: &str, key: &str) -> Postgres {
        let mut pg = Postgres::init(&["ssl=on"]);
        // The default ssl_cert_file and ssl_key_file: in the data directory, the key readable by
        // the server's user alone (the server refuses it otherwise).
        for (name, text, mode) in [("server.crt", cert, 0o644), ("server.key", key, 0o600)] {
            let path = pg.data().join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .unwrap();
            if let Some((uid, gid)) = pg.user {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
            }
        }
        pg.start_on_a_free_port();
        pg
    }

    /// initdb into a fresh temporary directory; not started.
    fn init(settings: &[&str]) -> Postgres {
        let bin = bin_dir();
        let user = server_user();
        let dir = tempfile::Builder::new()
            .prefix("launch-operator-pg-")
            .tempdir()
            .unwrap();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let pg = Postgres {
            dir,
            bin,
            user,
            port: 0,
            settings: settings.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        let data = pg.data();
        let out = pg
            .as_server_user(Command::new(pg.bin.join("initdb")))
            .args([
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
                "-U",
                USER,
                "-D",
            ])
            .arg(&data)
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        pg
    }

    /// The first start. The server binds a port of its own: when another process took it in
    /// the meantime, the server exits, and it starts again on another.
    fn start_on_a_free_port(&mut self) {
        ports::with_free_ports("PostgreSQL", 1, |ports| {
            self.port = ports[0];
            self.try_resume()
        });
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn as_server_user(&self, mut command: Command) -> Command {
        if let Some((uid, gid)) = self.user {
            command.uid(uid).gid(gid);
        }
        command.current_dir(self.dir.path());
        command
    }

    /// Starts the server (again, after [`Postgres::stop`]) on the same port and data, and
    /// waits until it takes connections.
    pub fn resume(&mut self) {
        self.try_resume()
            .unwrap_or_else(|e| panic!("restart on port {}: {e}", self.port));
    }

    /// [`Postgres::resume`]; `Err` if the server could not bind its port.
    fn try_resume(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "the server is running already");
        let log_before = self.log_text().len();
        // A line on stdin: stop (to start again). The end of stdin (the test process is gone,
        // e.g. a server kept in a static): stop and remove the directory.
        let script = r#"dir=$1; shift; postgres "$@" & pid=$!
            if read -r _; then kill -QUIT "$pid"; wait "$pid"
            else kill -QUIT "$pid"; wait "$pid"; rm -rf "$dir"; fi"#;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .unwrap();
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(self.log(), Some(uid), Some(gid)).unwrap();
        }
        let port = self.port.to_string();
        let child = self
            .as_server_user(Command::new("/bin/sh"))
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .args(["-c", script, "postgres"])
            .arg(self.dir.path())
            .arg("-D")
            .arg(self.data())
            .args(["-p", &port, "-k"])
            .arg(self.dir.path())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=300",
                // The tests crash emulator processes and stop the server, never the machine:
                // what reached the kernel survives, so the server need not fsync.
                "-c",
                "fsync=off",
            ])
            .args(self.settings.iter().flat_map(|s| ["-c", s.as_str()]))
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
        self.wait_ready(log_before)
    }

    /// Waits until this server takes connections. It is asked on its own Unix socket (in its
    /// directory), not on the TCP port, which could be another server's: it creates that
    /// socket only after binding the TCP port, and exits when it cannot bind that.
    fn wait_ready(&mut self, log_before: usize) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let port = self.port.to_string();
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h"])
                .arg(self.dir.path())
                .args(["-p", &port, "-U", USER, "-d", "postgres"])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            let log = self.log_text();
            let log = log.get(log_before..).unwrap_or_default();
            if log.contains("could not create any TCP/IP sockets") {
                let failure = log.to_string();
                self.stop();
                return Err(failure);
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start within a minute; its log:\n{}",
                std::fs::read_to_string(self.log()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server at once (immediate shutdown, as a crash: recovery runs at the next
    /// start) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The shell reads the line (or the end of the pipe) and stops the server.
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(b"\n");
            }
            let _ = child.wait();
        }
    }

    /// A URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a database of its own for a test, and returns its URL.
    pub async fn database(&self) -> String {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let (client, connection) =
            tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
                .await
                .expect("connect to the test server");
        let connection = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create a test database");
        drop(client);
        let _ = connection.await;
        self.url(&name)
    }

    /// The server's log so far, for failure messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

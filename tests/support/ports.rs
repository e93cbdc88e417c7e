//! Loopback ports for the processes the tests start (etcd, kube-apiserver, PostgreSQL, the
//! operator's binary), which must bind a port of their own.
//!
//! A port cannot be reserved for another process: the kernel picks one that is free now
//! ([`candidate`]), and another process may take it before the child binds it. So nothing here
//! trusts a port to be ours until the child listens on it: [`wait_listening`] looks the socket
//! up among the child's own file descriptors (a connection that succeeds could reach someone
//! else's server), and [`with_free_ports`] starts again on new ports when the child lost one.
//! It does not pick ports for servers in the test process itself: those bind port 0 and keep
//! their listener.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A port that was free a moment ago (the kernel's pick for port 0, released at once).
pub fn candidate() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// How many times a child is started on new ports before the tests give up.
const ATTEMPTS: usize = 5;

/// Calls `start` with `count` candidate ports until it returns `Ok` (the child listens on
/// them); `Err` says the child could not bind one (another process took it), and `start` is
/// called again with new ports. Returns what `start` returned and the ports.
pub fn with_free_ports<T>(
    what: &str,
    count: usize,
    mut start: impl FnMut(&[u16]) -> Result<T, String>,
) -> (T, Vec<u16>) {
    let mut failures = Vec::new();
    for _ in 0..ATTEMPTS {
        let ports: Vec<u16> = (0..count).map(|_| candidate()).collect();
        match start(&ports) {
            Ok(started) => return (started, ports),
            Err(e) => failures.push(format!("ports {ports:?}: {e}")),
        }
    }
    panic!(
        "{what} did not start in {ATTEMPTS} attempts:\n{}",
        failures.join("\n")
    );
}

/// Starts `command` with its output appended to `log` and no input, and waits until it
/// listens on `ports` ([`wait_listening`]); `Err` if it exited first.
pub fn spawn_listening(
    mut command: Command,
    ports: &[u16],
    log: &Path,
    timeout: Duration,
) -> Result<Child, String> {
    let what = command.get_program().to_string_lossy().into_owned();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let mut child = command
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    wait_listening(&mut child, ports, &what, log, timeout).map(|()| child)
}

/// Waits until `child` (or a child of it) listens on every port of `ports`. `Err` with the
/// exit status and the log's tail when it exits first (it could not bind); kills it and
/// panics after `timeout`.
pub fn wait_listening(
    child: &mut Child,
    ports: &[u16],
    what: &str,
    log: &Path,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("poll a child process") {
            return Err(format!("{what} exited ({status}):\n{}", log_tail(log, 20)));
        }
        if ports.iter().all(|&port| listens(child.id(), port)) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            // Not left running behind the failed test.
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not listen on {ports:?} within {timeout:?}:\n{}",
                log_tail(log, 40)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether process `pid` or one of its children holds a socket listening on TCP `port` of
/// any address: the kernel's socket tables (`/proc/net/tcp*`) give the listening sockets'
/// inodes, the processes' file descriptors (`/proc/<pid>/fd`) the sockets they hold.
pub fn listens(pid: u32, port: u16) -> bool {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return false;
    }
    std::iter::once(pid)
        .chain(children(pid))
        .any(|p| holds_any(p, &inodes))
}

fn listening_inodes(port: u16) -> Vec<String> {
    const LISTEN: &str = "0A";
    let port = format!("{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| {
                    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let local_port = fields.get(1)?.rsplit(':').next()?;
                    (local_port == port && *fields.get(3)? == LISTEN)
                        .then(|| fields.get(9).map(|s| s.to_string()))
                        .flatten()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn holds_any(pid: u32, inodes: &[String]) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .any(|inode| inodes.contains(&inode))
}

/// The processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| {
            // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = stat.rsplit_once(')')?.1;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// The last lines of a log file.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

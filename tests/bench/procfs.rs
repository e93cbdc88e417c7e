//! What the processes say about themselves: CPU time and memory from `/proc/<pid>`, and the
//! counters of kube-apiserver's and the controller's `/metrics`.

use kube::Client;

use crate::support::{Process, http_get, metric};

pub(crate) fn pid(p: &Process) -> u32 {
    p.child.as_ref().expect("process running").id()
}

/// utime + stime of a process, in seconds.
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // Fields after the command name (which may contain spaces) start with the state (field 3).
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / clock_ticks()
}

pub(crate) fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// A `VmXXX:` line of /proc/<pid>/status, in KiB.
pub(crate) fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Write requests (POST, PUT, PATCH, APPLY, DELETE) the API server has served on Launches
/// (and their status) and on Events, from its own metrics.
pub(crate) async fn apiserver_writes(admin: &Client) -> f64 {
    let text = admin
        .request_text(http::Request::get("/metrics").body(Vec::new()).unwrap())
        .await
        .expect("kube-apiserver /metrics");
    text.lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter(|l| l.contains("resource=\"launches\"") || l.contains("resource=\"events\""))
        .filter(|l| {
            [
                "POST",
                "PUT",
                "PATCH",
                "APPLY",
                "DELETE",
                "DELETECOLLECTION",
            ]
            .iter()
            .any(|v| l.contains(&format!("verb=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

/// The controller's own count of launches it has reconciled to Ready=True.
pub(crate) async fn controller_ready(controller: &Process) -> usize {
    match http_get(&format!("{}/metrics", controller.url())).await {
        Ok((200, text)) => metric(
            &text,
            "launch_operator_resources{kind=\"Launch\",ready=\"True\"}",
        ) as usize,
        _ => 0,
    }
}

//! The `launch-operator` binary as a user runs it: `crds` and `validate`.

#[path = "support/ports.rs"]
mod ports;

use std::{
    collections::BTreeMap,
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_launch-operator"))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run_validate(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = bin()
        .arg("validate")
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run launch-operator");
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

#[test]
fn crds_prints_exactly_the_committed_crd() {
    let out = bin().arg("crds").output().unwrap();
    assert!(out.status.success());
    let committed = std::fs::read_to_string(root().join("crds/crds.yaml")).unwrap();
    assert!(
        String::from_utf8(out.stdout).unwrap() == committed,
        "crds/crds.yaml is stale: run `make crds` and commit the result"
    );
}

#[test]
fn validate_accepts_every_example() {
    let out = run_validate(&["examples"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains(
            "checked 11 manifest(s) (Project, Segment, Feature, Launch) in 6 file(s): 0 problem(s)"
        ),
        "{stderr}"
    );
}

/// Each file under tests/data/invalid states the lines it must produce in `# expect:` comments.
#[test]
fn validate_reports_each_broken_manifest_with_one_precise_line() {
    let dir = root().join("tests/data/invalid");
    let out = run_validate(&["tests/data/invalid"], None);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();

    let mut actual: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in stdout.lines() {
        let (file, rest) = line.split_once(":0: ").expect("file:doc: problem");
        actual
            .entry(file.to_string())
            .or_default()
            .push(rest.to_string());
    }
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let expected: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .map(str::to_string)
            .collect();
        assert!(
            !expected.is_empty(),
            "{} has no `# expect:` line",
            path.display()
        );
        let key = format!(
            "tests/data/invalid/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        assert_eq!(actual.remove(&key).unwrap_or_default(), expected, "{key}");
        files += 1;
    }
    assert!(files >= 17);
    assert!(actual.is_empty(), "unexpected output: {actual:?}");
}

#[test]
fn validate_reads_stdin_multi_document_yaml_and_skips_other_kinds() {
    let example = std::fs::read_to_string(root().join("examples/checkout-rollout.yaml")).unwrap();
    let input = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\n---\n{example}---\n{}",
        example.replace("control: 90000", "control: -1")
    );
    let out = run_validate(&["-"], Some(&input));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "<stdin>:2: spec.scheduledSplitsConfig.steps[0].groupWeights[control]: \
         Member must have value greater than or equal to 0 (got \"-1\")\n"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("<stdin>:0: v1 ConfigMap: skipped"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "checked 2 manifest(s) (Project, Segment, Feature, Launch) in 1 file(s): 1 problem(s)"
        ),
        "{stderr}"
    );
}

#[test]
fn validate_reports_a_missing_path() {
    let out = run_validate(&["does/not/exist.yaml"], None);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("does/not/exist.yaml: cannot read: "),
        "{stdout}"
    );
}

/// SIGTERM ends the controller even when the API server cannot be reached (its watch is
/// stuck retrying): within the shutdown grace period, with exit code 0.
#[test]
fn the_controller_exits_on_sigterm_even_without_an_api_server() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: \"https://127.0.0.1:1\"}}]\n\
         users: [{name: x, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: x, user: x}}]\n\
         current-context: x\n",
    )
    .unwrap();
    let log = dir.path().join("controller.log");
    // It installs its signal handlers before it binds the admin port: listening there, it is
    // ready for SIGTERM.
    let (mut child, _) = ports::with_free_ports("the controller", 1, |ports| {
        let mut command = bin();
        command
            .args([
                "controller",
                "--leader-election=false",
                &format!("--admin-listen=127.0.0.1:{}", ports[0]),
            ])
            .env("KUBECONFIG", &kubeconfig)
            .env("AWS_REGION", "us-east-1");
        ports::spawn_listening(command, ports, &log, std::time::Duration::from_secs(30))
    });
    let sent = std::time::Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        if sent.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the controller did not exit within 30 s of SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    println!("exited {:?} after SIGTERM", sent.elapsed());
}

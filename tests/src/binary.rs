//! The `pinward` binary, run as a child process the way a user runs it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Path of the `pinward` binary built with this test run.
///
/// Cargo builds it into the profile folder (`target/debug/pinward`) because the `pinward`
/// package has integration tests; `PINWARD_BIN` overrides it.
pub fn pinward_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("PINWARD_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("locate the test executable");
    // target/<profile>/deps/<test> → target/<profile>/pinward
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test executable lives in target/<profile>/deps");
    let bin = profile_dir.join("pinward");
    assert!(
        bin.exists(),
        "{} is missing: run the whole workspace's tests (cargo nextest run --workspace), \
         or build it first with `cargo build -p pinward`",
        bin.display()
    );
    bin
}

/// A command running the `pinward` binary with only the test's own settings: an
/// inherited `PINWARD_LOG` or `PINWARD_IDENTITY_FILE` would change what the test sees.
pub fn pinward_command() -> Command {
    let mut command = Command::new(pinward_bin());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PINWARD_") {
            command.env_remove(name);
        }
    }
    command
}

/// A running `pinward` process; killed when dropped.
pub struct PinwardProcess {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl PinwardProcess {
    /// Starts `pinward ARGS` with the given extra environment; stdout and stderr are read
    /// line by line (see [`PinwardProcess::wait_for_line`]).
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> PinwardProcess {
        let mut command = pinward_command();
        command
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start pinward");
        let (sender, lines) = mpsc::channel();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        PinwardProcess {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line containing `needle` it printed, already or from now on (within two
    /// minutes): for lines that may come in any order with others.
    pub fn line_with(&mut self, needle: &str) -> String {
        match self.seen.iter().find(|line| line.contains(needle)) {
            Some(line) => line.clone(),
            None => self.wait_for_line(needle),
        }
    }

    /// Waits until a line of output contains `needle` and returns that line.
    ///
    /// The deadline only bounds a hung process; it is generous so that a slow machine
    /// never fails a test.
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "pinward printed no line containing {needle:?}; it printed:\n{}",
                        self.seen.join("\n")
                    )
                }
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "pinward exited ({:?}) without printing {needle:?}; it printed:\n{}",
                    self.child.try_wait(),
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The base URL from the `listening on http://…` line that `serve` prints.
    pub fn wait_until_listening(&mut self) -> String {
        let line = self.wait_for_line("listening on http://");
        let start = line.find("http://").expect("the line holds a URL");
        line[start..]
            .split(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == '}')
            .next()
            .expect("a URL")
            .to_owned()
    }

    /// Sends a signal (`TERM`, `INT`, `KILL`, …) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the process to exit and returns its status and everything it printed.
    pub fn wait(mut self) -> (ExitStatus, String) {
        let status = self.child.wait().expect("wait for pinward");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(line);
        }
        (status, self.seen.join("\n"))
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for PinwardProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `pinward args…` to its end on `db` (data dir: `db`'s `data`), with `stdin` as its
/// input and no other `PINWARD_…` setting; stdout and stderr are kept apart.
pub fn run_with_input(db: &crate::TestDb, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = pinward_command()
        .args(args)
        .env("PINWARD_DATA_DIR", db.dir().join("data"))
        .env("PINWARD_DATABASE_URL", db.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pinward");
    child
        .stdin
        .take()
        .expect("pinward's stdin")
        .write_all(stdin.as_bytes())
        .expect("write pinward's stdin");
    child.wait_with_output().expect("wait for pinward")
}

/// [`run_with_input`] with nothing on stdin.
pub fn run(db: &crate::TestDb, args: &[&str]) -> std::process::Output {
    run_with_input(db, args, "")
}

/// The stdout of a run that succeeded; a failed run fails the test with its stderr.
pub fn succeeded(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "pinward failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("pinward prints UTF-8")
}

/// The one `error: …` line of a failed run; a run that succeeded fails the test.
pub fn failed_with(output: &std::process::Output) -> String {
    assert!(!output.status.success(), "pinward succeeded");
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr.lines().last().unwrap_or_default().to_owned()
}

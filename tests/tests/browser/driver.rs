//! Headless Chromium driven over WebDriver: `chromedriver` on a free loopback port, and a
//! `fantoccini` client to it. Debian's `chromium` and `chromium-driver` (`.ci/run` installs
//! them); `PINWARD_CHROMEDRIVER` and `PINWARD_CHROMIUM` override the paths.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

/// A running `chromedriver`; killed when dropped.
pub struct Chromedriver {
    child: Child,
    url: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Chromedriver {
    pub fn start() -> Chromedriver {
        let program = std::env::var("PINWARD_CHROMEDRIVER")
            .unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
        let port = free_port();
        // A group of its own: Chromium's processes are chromedriver's children, and a test
        // that fails before it closes its browser must not leave them running.
        let child = Command::new(&program)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {program} ({e}): install chromium-driver (.ci/run does)")
            });
        // Ready when it accepts connections; the deadline only bounds a hung driver.
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Chromedriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// A fresh headless browser session (its own profile, no cookies).
    pub async fn browser(&self) -> Client {
        let binary =
            std::env::var("PINWARD_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        let capabilities = serde_json::json!({
            // A confirm() dialog waits for the test to answer it, never answered for it.
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": {
                "binary": binary,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--window-size=1280,800",
                ],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a WebDriver session of headless Chromium")
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every browser it started. A system call, not the
        // `kill` command: procps-ng 4.0.2 (Debian 12) reads `kill -KILL -16` as `-1` and kills
        // every process it may, CI's runner included.
        let group = rustix::process::Pid::from_child(&self.child);
        // Its leader is not reaped yet (`wait` comes below), so the id is still this group's.
        if group != rustix::process::Pid::INIT {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/screenshots/NAME.png`, beside the binaries of this build.
pub fn screenshot_path(name: &str) -> PathBuf {
    let target = pinward_tests::pinward_bin()
        .parent()
        .and_then(|profile| profile.parent())
        .expect("the binary lives in target/<profile>/")
        .join("screenshots");
    std::fs::create_dir_all(&target).expect("create target/screenshots");
    target.join(format!("{name}.png"))
}

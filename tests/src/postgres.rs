//! The run's PostgreSQL cluster and the per-test databases on it.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sqlx::{Connection, PgConnection};

/// The variable naming an existing server to use instead of a throwaway cluster.
pub const TEST_DATABASE_URL: &str = "PINWARD_TEST_DATABASE_URL";

/// A URL to a database on the run's server from which databases can be created.
fn admin_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var(TEST_DATABASE_URL) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => shared_cluster(),
    })
}

/// Creates a uniquely named database; returns its name and URL.
pub(crate) async fn create_database() -> (String, String) {
    let admin = admin_url();
    let name = format!("pinward_t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("connect to the test PostgreSQL server: {e}"));
    let create = format!("CREATE DATABASE \"{name}\"");
    sqlx::raw_sql(sqlx::AssertSqlSafe(create))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("create test database {name}: {e}"));
    let _ = conn.close().await;
    let url = with_database(admin, &name);
    (name, url)
}

/// Drops a test database. Runs on its own thread: `Drop` may run inside a runtime.
pub(crate) fn drop_database(name: String) {
    let admin = admin_url().to_owned();
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build a runtime to drop the test database");
        runtime.block_on(async move {
            let mut conn = PgConnection::connect(&admin).await?;
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                .execute(&mut conn)
                .await?;
            conn.close().await
        })
    })
    .join();
    if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
        panic!("could not drop a test database: {dropped:?}");
    }
}

/// `url` with its database path replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|slash| start + slash))
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..authority_end], database);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Starts the run's cluster, or joins the one another test process of the run started.
fn shared_cluster() -> String {
    let (run_key, owner_pid) = match std::env::var("NEXTEST_RUN_ID") {
        // Under nextest every test is a process of its own, a child of the nextest
        // process, which lives for the whole run.
        Ok(run) => (
            format!("nextest-{run}"),
            std::os::unix::process::parent_id(),
        ),
        Err(_) => {
            let pid = std::process::id();
            (format!("pid-{pid}"), pid)
        }
    };
    let base = std::env::temp_dir().join("pinward-test-pg");
    let root = base.join(run_key);
    fs::create_dir_all(&root).expect("create the test cluster's folder");
    // The postgres user must reach the folder whatever root's umask is.
    for dir in [&base, &root] {
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o755));
    }
    let lock = fs::File::create(root.join("lock")).expect("create the cluster lock file");
    lock.lock().expect("lock the cluster lock file");
    let url_file = root.join("url");
    if let Ok(url) = fs::read_to_string(&url_file) {
        return url;
    }
    // The watchdog comes first, so even a failed start leaves nothing behind.
    spawn_watchdog(&root, owner_pid);
    let url = start_cluster(&root);
    // Written whole or not at all: other processes trust this file.
    let partial = root.join("url.partial");
    let mut file = fs::File::create(&partial).expect("write the cluster's URL");
    file.write_all(url.as_bytes())
        .expect("write the cluster's URL");
    fs::rename(&partial, &url_file).expect("publish the cluster's URL");
    url
}

/// `initdb` + `pg_ctl start` in `root`; a taken port or a failed start is retried afresh.
fn start_cluster(root: &Path) -> String {
    let bin = postgres_bin_dir();
    let as_postgres = running_as_root();
    let tool = |name: &str| -> Command {
        let program = bin.join(name);
        let mut command = if as_postgres {
            // initdb and postgres refuse to run as root.
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.current_dir(root);
        command
    };
    let mut failures = Vec::new();
    for attempt in 1..=3 {
        let data = root.join(format!("data-{attempt}"));
        if as_postgres {
            run(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(root),
                "chown the cluster dir",
            );
        }
        let port = free_port();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='{}' -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            root.display()
        );
        let started = try_run(
            tool("initdb").arg("-D").arg(&data).args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]),
            "initdb",
        )
        .and_then(|()| {
            try_run(
                tool("pg_ctl")
                    .arg("-D")
                    .arg(&data)
                    .arg("-l")
                    .arg(root.join(format!("log-{attempt}")))
                    .args(["-w", "-o", &options, "start"]),
                "pg_ctl start",
            )
        });
        match started {
            Ok(()) => return format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            Err(why) => {
                let _ = fs::remove_dir_all(&data);
                failures.push(why);
            }
        }
    }
    panic!(
        "could not start the test PostgreSQL cluster:\n{}",
        failures.join("\n")
    );
}

/// A detached shell that stops the cluster and deletes its files once `owner_pid` exits.
#[expect(
    clippy::zombie_processes,
    reason = "the watchdog must outlive this process; init reaps it"
)]
fn spawn_watchdog(root: &Path, owner_pid: u32) {
    let pg_ctl = postgres_bin_dir().join("pg_ctl");
    let as_user = if running_as_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    // Polling is the portable way to wait for a process that is not our child.
    let script = format!(
        "while kill -0 {owner_pid} 2>/dev/null; do sleep 1; done; \
         for d in '{root}'/data-*; do [ -d \"$d\" ] && {as_user}'{pg_ctl}' -D \"$d\" -m immediate -w stop; done \
         >/dev/null 2>&1; rm -rf '{root}'",
        root = root.display(),
        pg_ctl = pg_ctl.display(),
    );
    use std::os::unix::process::CommandExt;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start the test cluster's watchdog");
}

fn postgres_bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server found under /usr/lib/postgresql: install Debian's `postgresql` \
             (bash .ci/run does) or set {TEST_DATABASE_URL}"
        ),
    }
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("read the free port").port()
}

fn run(command: &mut Command, what: &str) {
    if let Err(why) = try_run(command, what) {
        panic!("{why}");
    }
}

fn try_run(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: could not start: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn a_database_name_replaces_the_path_of_the_admin_url() {
        assert_eq!(
            with_database("postgres://u:p@h:5/postgres?sslmode=disable", "t1"),
            "postgres://u:p@h:5/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t1"), "postgres://h/t1");
    }
}

//! What `pinward` says when it cannot reach its database: the reason, not a timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pinward_tests::pinward_command;

#[test]
fn migrate_against_a_postgresql_port_nobody_listens_on_says_the_connection_was_refused() {
    // A loopback port that was free a moment ago: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let output = pinward_command()
        .arg("migrate")
        .env("PINWARD_DATA_DIR", dir.path())
        .env(
            "PINWARD_DATABASE_URL",
            format!("postgres://pinward@127.0.0.1:{port}/pinward"),
        )
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    assert!(!stderr.contains("timed out"), "{stderr}");
    assert_eq!(
        stderr.matches("refused").count(),
        1,
        "each cause said once: {stderr}"
    );
}

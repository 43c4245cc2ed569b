//! `pinward graph-sandbox`: the Graph sandbox (a faithful fake of Meta's Cloud API and
//! On-Premises API) as a server of its own, for trying pinward, demos and benchmarks.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;
use graph::sandbox::{Sandbox, SandboxSeed};
use tokio::net::TcpListener;

/// Where the sandbox listens unless `--listen` says otherwise (beside pinward's 8080).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8090";

pub struct Options {
    pub listen: SocketAddr,
    pub seed: u64,
    pub numbers: usize,
    pub businesses: usize,
    pub json: bool,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    // Watch signals before printing: a script may stop us as soon as it has read the URL.
    let shutdown = super::serve::shutdown_signal()?;
    let sandbox = Sandbox::seeded(SandboxSeed {
        seed: options.seed,
        numbers: options.numbers,
        businesses: options.businesses,
    });
    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", options.listen))?;
    let address = listener.local_addr()?;
    let base = url::Url::parse(&format!("http://{address}/"))?;
    let summary = sandbox.summary(&base);
    {
        let mut out = std::io::stdout().lock();
        if options.json {
            writeln!(out, "{}", serde_json::to_string(&summary)?)?;
        } else {
            writeln!(out, "{summary}")?;
            writeln!(
                out,
                "Point pinward at it: PINWARD_GRAPH_BASE_URL={}",
                summary.base_url
            )?;
        }
        out.flush()?;
    }
    sandbox
        .serve(listener, shutdown)
        .await
        .context("the Graph sandbox failed")?;
    Ok(())
}

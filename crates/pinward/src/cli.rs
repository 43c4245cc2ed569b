//! The command line: every setting is a flag and a `PINWARD_…` variable.
//!
//! Values arrive here as text; [`crate::config::Config::parse`] turns them into types, so
//! a wrong value is reported in one line naming its variable rather than as clap's usage.

use std::ffi::OsString;

use clap::{Args, Parser, Subcommand};

/// pinward keeps WhatsApp Business two-step verification PINs safe: escrowed with age,
/// rotated through Meta's Graph API, with a hash-chained ledger of who did what.
#[derive(Debug, Parser)]
#[command(name = "pinward", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,

    #[command(subcommand)]
    pub command: Command,
}

/// Settings shared by every command (all optional; see README "Configuration").
#[derive(Debug, Args)]
#[command(next_help_heading = "Settings (any command)")]
pub struct Settings {
    /// Folder for the SQLite database, keys and other state [default: ./pinward-data]
    #[arg(long, env = "PINWARD_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<OsString>,

    /// postgres://USER:PASS@HOST/DB, or sqlite://PATH [default: an SQLite file in the data dir]
    #[arg(
        long,
        env = "PINWARD_DATABASE_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// Address the server listens on [default: 127.0.0.1:8080]
    #[arg(long, env = "PINWARD_LISTEN", global = true, value_name = "ADDR")]
    pub listen: Option<String>,

    /// The URL people reach pinward at, e.g. https://pinward.example.com
    #[arg(long, env = "PINWARD_PUBLIC_URL", global = true, value_name = "URL")]
    pub public_url: Option<String>,

    /// age identity that opens escrowed PINs [default: DATA_DIR/identity.txt]
    #[arg(
        long,
        env = "PINWARD_IDENTITY_FILE",
        global = true,
        value_name = "FILE"
    )]
    pub identity_file: Option<OsString>,

    /// Ed25519 key that signs ledger checkpoints [default: DATA_DIR/checkpoint.key]
    #[arg(
        long,
        env = "PINWARD_CHECKPOINT_KEY_FILE",
        global = true,
        value_name = "FILE"
    )]
    pub checkpoint_key_file: Option<OsString>,

    /// Graph API base URL [default: https://graph.facebook.com]
    #[arg(
        long,
        env = "PINWARD_GRAPH_BASE_URL",
        global = true,
        value_name = "URL"
    )]
    pub graph_base_url: Option<String>,

    /// Graph API version [default: v26.0]
    #[arg(
        long,
        env = "PINWARD_GRAPH_VERSION",
        global = true,
        value_name = "vNN.0"
    )]
    pub graph_version: Option<String>,

    /// Admin user of On-Premises API deployments (with PINWARD_ONPREM_PASSWORD)
    #[arg(
        long,
        env = "PINWARD_ONPREM_USERNAME",
        global = true,
        value_name = "USER"
    )]
    pub onprem_username: Option<String>,

    /// Admin password of On-Premises API deployments
    #[arg(
        long,
        env = "PINWARD_ONPREM_PASSWORD",
        global = true,
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub onprem_password: Option<String>,

    /// OpenID Connect issuer for single sign-on, e.g. https://login.example.com
    #[arg(long, env = "PINWARD_OIDC_ISSUER", global = true, value_name = "URL")]
    pub oidc_issuer: Option<String>,

    /// OpenID Connect client id
    #[arg(long, env = "PINWARD_OIDC_CLIENT_ID", global = true, value_name = "ID")]
    pub oidc_client_id: Option<String>,

    /// OpenID Connect client secret
    #[arg(
        long,
        env = "PINWARD_OIDC_CLIENT_SECRET",
        global = true,
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub oidc_client_secret: Option<String>,

    /// SMTP server for notifications: smtp://, smtps:// or smtp+starttls://USER:PASS@HOST:PORT
    #[arg(
        long,
        env = "PINWARD_SMTP_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true
    )]
    pub smtp_url: Option<String>,

    /// Sender address of notification emails
    #[arg(long, env = "PINWARD_SMTP_FROM", global = true, value_name = "ADDRESS")]
    pub smtp_from: Option<String>,

    /// URL that receives notification webhooks (JSON POST)
    #[arg(
        long,
        env = "PINWARD_WEBHOOK_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true
    )]
    pub webhook_url: Option<String>,

    /// Log format: pretty or json [default: pretty]
    #[arg(long, env = "PINWARD_LOG_FORMAT", global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,

    /// Log filter, e.g. info or pinward=debug,sqlx=warn [default: info]
    #[arg(long, env = "PINWARD_LOG", global = true, value_name = "FILTER")]
    pub log: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service
    Serve,
    /// Try pinward: embedded SQLite in the data dir, the Graph sandbox in-process, two
    /// seeded orgs with numbers and users; prints the URL and every demo login
    Demo {
        /// Delete the demo's database and keys first and seed again (only in a data dir a
        /// demo created)
        #[arg(long)]
        reset: bool,
        /// Password of every demo user [default: a fresh one, printed]
        #[arg(
            long,
            env = "PINWARD_DEMO_PASSWORD",
            value_name = "PASSWORD",
            hide_env_values = true
        )]
        password: Option<String>,
    },
    /// Apply database migrations and exit
    Migrate,
    /// Orgs, their members and API tokens (run by the service's operator)
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The service's keys
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The ledger: export it with a signed checkpoint, verify an export offline
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Read the org's inventory from Meta: businesses → WABAs → numbers. New numbers join
    /// the take-custody queue. Uses the org's stored Graph token (PINWARD_GRAPH_TOKEN overrides it).
    Sync(SyncArgs),
    /// The org's Graph system-user token: store it sealed (read from standard input), show
    /// what Meta says about it, check it again
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// The org's recovery recipients (age public keys every new PIN is also sealed to)
    #[command(subcommand)]
    Recovery(RecoveryCommand),
    /// The org's clients: their ids (what --client takes) and the age recipient each one's
    /// released PINs are sealed to
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Bulk PIN rotations: start, status, pause, resume, cancel
    #[command(subcommand)]
    Rotate(RotateCommand),
    /// The org's escrow, for offline recovery
    #[command(subcommand)]
    Escrow(EscrowCommand),
    /// Run the Graph sandbox, a local fake of Meta's Cloud API and On-Premises API
    /// (listens on --listen, default 127.0.0.1:8090; prints its base URL and a token)
    GraphSandbox {
        /// Seed of the generated businesses, WABAs, numbers and tokens
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Phone numbers to generate
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
        numbers: u64,
        /// Partner businesses to generate
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=1_000))]
        businesses: u64,
        /// Print the summary as one JSON object, for scripts
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Export an org's ledger (streamed; ends with a freshly signed checkpoint)
    Export {
        /// The org's id or slug
        #[arg(long, value_name = "ORG")]
        org: String,
        /// jsonl or csv [default: from --out's extension, else jsonl]
        #[arg(long, value_enum)]
        format: Option<LedgerFormat>,
        /// First seq to export [default: 1]
        #[arg(long, value_name = "SEQ")]
        from: Option<u64>,
        /// Last seq to export [default: the head when the export starts]
        #[arg(long, value_name = "SEQ")]
        to: Option<u64>,
        /// Write here instead of standard output (the file is replaced only when complete)
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// Verify an exported ledger offline: hashes, links, sequence, checkpoint signature.
    /// Prints `ok N events`, or exits non-zero naming the first bad line.
    Verify {
        /// The export (JSON Lines, or CSV when it ends in .csv)
        file: std::path::PathBuf,
        /// The checkpoint public key to require (from `pinward keys show`)
        #[arg(long, value_name = "FILE")]
        key: Option<std::path::PathBuf>,
        /// The first seq of a range export (`ledger export --from SEQ`)
        #[arg(long, value_name = "SEQ")]
        from: Option<u64>,
        /// jsonl or csv [default: from the file name]
        #[arg(long, value_enum)]
        format: Option<LedgerFormat>,
    },
}

/// The formats of a ledger export.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LedgerFormat {
    Jsonl,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print the service's public keys: the age recipient escrow is sealed to, and the
    /// checkpoint key auditors pin
    Show {
        /// Also write the checkpoint public key file for `ledger verify --key` here
        #[arg(long, value_name = "FILE")]
        checkpoint_key_out: Option<std::path::PathBuf>,
        /// One JSON object, for scripts
        #[arg(long)]
        json: bool,
    },
    /// Re-seal every escrowed PIN and sealed secret to a new service identity, crash-safely:
    /// the old identity is kept as identity.retired-<time>.txt. Run it with pinward stopped.
    Rotate {
        /// One JSON object, for scripts
        #[arg(long)]
        json: bool,
    },
}

/// `pinward sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The org's id or slug
    #[arg(long)]
    pub org: String,
    /// A Meta business id whose owned and client WABAs to read (repeat for more)
    /// [default: the businesses the org was synced with before]
    #[arg(long = "business", value_name = "ID")]
    pub businesses: Vec<String>,
    /// Base URL of On-Premises numbers, `{id}` standing for the phone number id
    #[arg(long, value_name = "URL")]
    pub on_prem_url_template: Option<String>,
    /// Print the report as one JSON object
    #[arg(long)]
    pub json: bool,
}

/// How a rotation command reaches Meta and escrows.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The org's id or slug
    #[arg(long)]
    pub org: String,
    /// age recipients file of the org's recovery keys (one age1… per line); every new PIN
    /// is sealed to them besides the service identity
    #[arg(long, value_name = "FILE")]
    pub recovery: Option<std::path::PathBuf>,
    /// How long a worker owns a number or job item after claiming it
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub lease_seconds: u64,
    /// Print the final status as one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RotateCommand {
    /// Start a rotation job and work on it until it is done, paused or cancelled (unknown
    /// numbers are taken into custody, escrowed ones rotated, pending ones resumed).
    /// Uses the org's stored Graph token (PINWARD_GRAPH_TOKEN overrides it), On-Premises admin login from
    /// PINWARD_ONPREM_USERNAME / PINWARD_ONPREM_PASSWORD.
    Start {
        #[command(flatten)]
        run: RunArgs,
        /// Every number of the org Meta still lists
        #[arg(long, conflicts_with = "numbers", required_unless_present = "numbers")]
        all: bool,
        /// A Meta phone number id (repeat for more)
        #[arg(long = "number", value_name = "ID")]
        numbers: Vec<String>,
        /// Numbers worked on at once
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
        concurrency: u32,
    },
    /// Show a job's progress
    Status {
        /// The job id
        job: String,
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
    /// Stop claiming items (items in flight finish)
    Pause {
        /// The job id
        job: String,
        /// The org's id or slug
        #[arg(long)]
        org: String,
    },
    /// Resume a paused or interrupted job and work on it (items of a dead worker are taken
    /// over when their lease expires)
    Resume {
        /// The job id
        job: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Cancel a job: items not started are skipped
    Cancel {
        /// The job id
        job: String,
        /// The org's id or slug
        #[arg(long)]
        org: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum EscrowCommand {
    /// Write one <phone number id>.age file per escrowed number and a manifest.json,
    /// readable offline with `age -d -i ORG_KEY FILE`
    Export {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// Folder to write (created if missing)
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Orgs (tenants): create, list
    #[command(subcommand)]
    Org(OrgCommand),
    /// Members of an org: create, list, deactivate
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens of an org: create (shown once), list, revoke
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an org
    Create {
        /// Short unique name: a-z, 0-9 and -
        #[arg(long)]
        slug: String,
        /// The name people read
        #[arg(long)]
        name: String,
        /// Print the org as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// List every org
    List {
        /// One JSON array
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a person to an org with a role, creating the account if the email has none.
    /// The password comes from --password-stdin; without it a new account gets a generated
    /// password, printed once. An email that has an account already is refused, saying
    /// what the account is, unless --existing-account says to add that account.
    Create {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// The person's email
        #[arg(long)]
        email: String,
        /// The person's name
        #[arg(long)]
        name: String,
        /// admin, ops, auditor or business_admin
        #[arg(long)]
        role: String,
        /// A client a business_admin sees (repeat for more)
        #[arg(long = "client", value_name = "ID")]
        clients: Vec<String>,
        /// Read the new account's password from standard input
        #[arg(long)]
        password_stdin: bool,
        /// Add the email's existing account, which keeps its own name and password (whoever
        /// chose that password signs in as the member)
        #[arg(long, conflicts_with = "password_stdin")]
        existing_account: bool,
        /// Print the member as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// List the members of an org
    List {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// One JSON array
        #[arg(long)]
        json: bool,
    },
    /// Deactivate a member: no more access to the org, every session of the person ends
    Deactivate {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// The member's email
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token; its secret is printed once and stored only hashed
    Create {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// What the token is for
        #[arg(long)]
        name: String,
        /// admin, ops or auditor
        #[arg(long)]
        role: String,
        /// Print the token and its secret as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// List an org's tokens (never their secrets)
    List {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// One JSON array
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: it authenticates no more
    Revoke {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// The token's id (from `admin token list`)
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Check a system-user token with Meta and store it sealed (the token is read from
    /// standard input, never from the command line)
    Set {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// Print the token's facts as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// What Meta said about the org's token: validity, scopes, assets, expiry
    Show {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// One JSON object (null when no token is stored)
        #[arg(long)]
        json: bool,
    },
    /// Ask Meta about the stored token again
    Check {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RecoveryCommand {
    /// Add an age public key (age1…) every new PIN of the org is also sealed to
    Add {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// The age public key
        #[arg(long)]
        recipient: String,
        /// What the key is, e.g. "offline key in the safe"
        #[arg(long)]
        label: String,
    },
    /// List the org's recovery recipients
    List {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// One JSON array
        #[arg(long)]
        json: bool,
    },
    /// Remove a recovery recipient (PINs sealed before stay readable by it until rotated)
    Remove {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// The recipient's id (from `recovery list`)
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// List the org's clients: id, name and age recipient ("-" when none: its numbers
    /// cannot be released)
    List {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// One JSON array
        #[arg(long)]
        json: bool,
    },
    /// Set or clear the age public key a client's released PINs are sealed to
    Recipient {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// The client's id (from `clients list`)
        #[arg(long)]
        client: String,
        /// The client's age public key (age1…)
        #[arg(long, required_unless_present = "clear", conflicts_with = "clear")]
        recipient: Option<String>,
        /// Remove the client's recipient: its numbers cannot be released until one is set
        #[arg(long)]
        clear: bool,
    },
    /// Rename a client (a sync names a new one "Business <Meta business id>")
    Rename {
        /// The org's id or slug
        #[arg(long)]
        org: String,
        /// The client's id (from `clients list`)
        #[arg(long)]
        client: String,
        /// Its new name (up to 100 characters)
        #[arg(long)]
        name: String,
    },
}

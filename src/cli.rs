//! The administrative subcommands: `user create`, `client create`, `organization create`
//! work on the database directly (migrating it first), for bootstrapping and scripts;
//! `keygen` writes a signing key; `backup` snapshots the SQLite file; `healthcheck` asks a running server.

use std::io::BufRead as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

use crate::auth::Role;
use crate::auth::password::{check_password, hash_blocking};
use crate::auth::secrets::{random_token, token_hash};
use crate::config::Settings;
use crate::db::{self, Conn};
use crate::domain::clients::{self, NewClient};
use crate::domain::organizations::{NewOrganization, Organizations};
use crate::domain::resource;
use crate::domain::users::{self, NewUser};
use crate::domain::values::OrganizationKind;
use crate::domain::{Actor, OrganizationId};
use crate::models::organizations;

/// The command line: global settings plus an optional subcommand (`serve` by default).
#[derive(Debug, Parser)]
#[command(name = "betriebsnachbarschaften", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document to stdout.
    Openapi,
    /// Load data: `--demo` loads the real Betriebsnachbarschaften project (idempotent);
    /// `--synthetic N` adds N plainly synthetic companies to it, for benchmarks.
    Seed {
        /// Load the demo project.
        #[arg(long)]
        demo: bool,
        /// Add this many synthetic companies ("Benchmark-Betrieb 1", …) with topics and the
        /// project, spread over the demo regions (loads the demo project first).
        #[arg(long, value_name = "N")]
        synthetic: Option<u64>,
    },
    /// Manage people who sign in with a password.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage machine clients of partner organizations.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage organizations (for bootstrapping; admins and editors also have /api/v1/organizations).
    #[command(subcommand)]
    Organization(OrganizationCommand),
    /// Write a new Ed25519 token signing key (PKCS#8 PEM, mode 0600) for a key rotation.
    Keygen {
        /// The file to write; it must not exist yet.
        #[arg(long)]
        to: PathBuf,
    },
    /// Copy the SQLite database to a new file while the server runs (a consistent online
    /// snapshot, `VACUUM INTO`). On PostgreSQL use `pg_dump`.
    Backup {
        /// The file to write; it must not exist yet.
        #[arg(long)]
        to: PathBuf,
    },
    /// Exit 0 when the local server's `/health/ready` answers 200, else 1 (for container
    /// health checks: the image needs no curl).
    Healthcheck {
        /// The readiness URL to ask. Default: `/health/ready` on this server's port, via the
        /// loopback address when it listens on all addresses.
        #[arg(long)]
        url: Option<String>,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3)]
        timeout_secs: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from BN_PASSWORD or, if unset, from stdin (one
    /// line) — never from a flag, which would leak into the shell history and `ps`.
    Create {
        #[arg(long)]
        username: String,
        /// admin, editor, partner or viewer.
        #[arg(long)]
        role: String,
        /// Organization name or id (required for partner).
        #[arg(long)]
        organization: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create a machine client and print its client_id and secret (shown this once).
    Create {
        #[arg(long)]
        name: String,
        /// Organization name or id (required for partner).
        #[arg(long)]
        organization: Option<String>,
        /// admin, editor, partner or viewer.
        #[arg(long, default_value = "partner")]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrganizationCommand {
    /// Create an organization and print its id.
    Create {
        #[arg(long)]
        name: String,
        /// sponsor, chamber_of_crafts, chamber_of_commerce, economic_development,
        /// municipality, ministry, consultancy, association or other.
        #[arg(long)]
        kind: String,
    },
}

async fn organization(
    conn: &mut Conn<'_>,
    role: Role,
    name_or_id: Option<&str>,
) -> anyhow::Result<Option<OrganizationId>> {
    let id = match name_or_id {
        Some(name) => Some(organizations::find_id(conn, name).await?.with_context(|| {
            format!("no organization {name:?}; create it with `organization create`")
        })?),
        None => None,
    };
    if role == Role::Partner && id.is_none() {
        bail!("the partner role needs --organization");
    }
    Ok(id)
}

pub fn user(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
    let UserCommand::Create {
        username,
        role,
        organization: org,
        display_name,
    } = command;
    let role: Role = role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let password = match std::env::var("BN_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            eprintln!("password for {username} (one line on stdin):");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    check_password(&password).map_err(|m| anyhow::anyhow!("the password {m}"))?;
    let password_hash = hash_blocking(&password)?;
    let user = db::run_once(settings, async |conn| {
        let org = organization(conn, role, org.as_deref()).await?;
        let new = NewUser {
            username,
            role,
            organization_id: org,
            display_name,
            email: None,
            disabled: false,
        };
        let by = Actor::command_line("cli");
        Ok::<_, anyhow::Error>(users::create(conn, &by, new, &password_hash).await?)
    })?;
    println!(
        "created user {} ({}) with id {}",
        user.username, user.role, user.id
    );
    Ok(())
}

pub fn client(settings: &Settings, command: ClientCommand) -> anyhow::Result<()> {
    let ClientCommand::Create {
        name,
        organization: org,
        role,
    } = command;
    let role: Role = role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let secret = random_token(32)?;
    let client_id = format!("bnc_{}", random_token(12)?);
    db::run_once(settings, async |conn| {
        let org = organization(conn, role, org.as_deref()).await?;
        let new = NewClient {
            name,
            role,
            organization_id: org,
            disabled: false,
        };
        let by = Actor::command_line("cli");
        Ok::<_, anyhow::Error>(
            clients::create(conn, &by, new, &client_id, &token_hash(&secret)).await?,
        )
    })?;
    println!("client_id={client_id}\nclient_secret={secret}\n(the secret is shown only this once)");
    Ok(())
}

pub fn organization_command(
    settings: &Settings,
    command: OrganizationCommand,
) -> anyhow::Result<()> {
    let OrganizationCommand::Create { name, kind } = command;
    let kind: OrganizationKind = kind.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let new = NewOrganization::named(name.clone(), kind);
    let id = db::run_once(settings, async |conn| {
        let by = Actor::command_line("cli");
        resource::create::<Organizations>(conn, &by, new)
            .await
            .with_context(|| format!("cannot create the organization {name:?}"))
    })?
    .id;
    println!("created organization {name} with id {id}");
    Ok(())
}

pub fn seed(settings: &Settings, demo: bool, synthetic: Option<u64>) -> anyhow::Result<()> {
    if let Some(n) = synthetic {
        let started = std::time::Instant::now();
        let seeded = db::run_once(settings, async |conn| {
            crate::synthetic::companies(conn, n).await
        })?;
        println!(
            "added {} synthetic companies ({} topic links) in {:.1} s",
            seeded.companies,
            seeded.topic_links,
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    if !demo {
        bail!("nothing to seed: use `seed --demo` (the demo project) or `seed --synthetic N`");
    }
    let seeded = db::run_once(settings, async |conn| {
        crate::seed::demo(conn)
            .await
            .map_err(|e| anyhow::anyhow!("seeding failed: {e:?}"))
    })?;
    println!("demo project loaded: {} record(s) created", seeded.created);
    Ok(())
}

/// Writes a new signing key for a rotation (docs/operations.md).
pub fn keygen(to: &std::path::Path) -> anyhow::Result<()> {
    if !crate::auth::keys::generate_key_file(to)? {
        bail!("{} exists; keygen never overwrites a key", to.display());
    }
    println!("wrote a new signing key to {}", to.display());
    Ok(())
}

/// Writes a consistent copy of the SQLite database to `to` with `VACUUM INTO`, which reads in
/// one transaction: safe while the server writes (WAL), and the copy is compact and
/// self-contained (no `-wal` file to carry along).
pub fn backup(settings: &Settings, to: &std::path::Path) -> anyhow::Result<()> {
    use diesel::{Connection as _, RunQueryDsl as _, SqliteConnection, sql_types::Text};
    let url = settings.database();
    if url.is_postgres() {
        bail!("the database is PostgreSQL: back it up with pg_dump (see docs/operations.md)");
    }
    let source = std::path::Path::new(url.sqlite_path());
    if !source.exists() {
        bail!("there is no database at {}", source.display());
    }
    if to.exists() {
        bail!("{} exists; a backup never overwrites a file", to.display());
    }
    let target = to
        .to_str()
        .with_context(|| format!("{} is not a UTF-8 path", to.display()))?;
    let mut conn = SqliteConnection::establish(url.sqlite_path())
        .with_context(|| format!("cannot open {url}"))?;
    diesel::sql_query("PRAGMA busy_timeout = 5000").execute(&mut conn)?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(target)
        .execute(&mut conn)
        .with_context(|| format!("cannot write the backup {}", to.display()))?;
    println!("backed up {url} to {}", to.display());
    Ok(())
}

/// Asks the server's readiness probe; an error (and so exit code 1) unless it answers 200.
pub fn healthcheck(
    settings: &Settings,
    url: Option<String>,
    timeout: std::time::Duration,
) -> anyhow::Result<()> {
    let url = url.unwrap_or_else(|| format!("http://{}/health/ready", settings.local_address()));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let status = agent
        .get(&url)
        .call()
        .with_context(|| format!("{url} does not answer"))?
        .status();
    if status != 200 {
        bail!("{url} answered {status}");
    }
    println!("{url} answered {status}");
    Ok(())
}

//! The binary: parse the configuration and run a subcommand (`serve` by default).

use anyhow::Context as _;
use clap::Parser as _;

use betriebsnachbarschaften::cli::{Cli, Command};
use betriebsnachbarschaften::{cli, db, logging, openapi, startup::Application};

fn main() -> anyhow::Result<()> {
    keep_memory_small();
    let cli = Cli::parse();
    logging::init(cli.settings.log_format);
    let settings = cli.settings;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => actix_web::rt::System::new().block_on(async move {
            let app = Application::build(&settings).await?;
            app.run_until_stopped().await.context("server failed")?;
            log::info!("stopped");
            Ok(())
        }),
        Command::Migrate => {
            let applied = db::block_on(db::migrate(&settings))??;
            log::info!("applied {applied} migration(s) to {}", settings.database());
            Ok(())
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&openapi())?);
            Ok(())
        }
        Command::Seed { demo, synthetic } => cli::seed(&settings, demo, synthetic),
        Command::User(command) => cli::user(&settings, command),
        Command::Client(command) => cli::client(&settings, command),
        Command::Organization(command) => cli::organization_command(&settings, command),
        Command::Keygen { to } => cli::keygen(&to),
        Command::Backup { to } => cli::backup(&settings, &to),
        Command::Healthcheck { url, timeout_secs } => {
            cli::healthcheck(&settings, url, std::time::Duration::from_secs(timeout_secs))
        }
    }
}

/// glibc serves large allocations from per-thread arenas once its adaptive mmap threshold has
/// grown, and keeps them resident after they are freed. Each argon2 hash takes 19 MiB: under
/// a sign-in flood that left ~200 MiB resident (BENCHMARKS.md). A fixed threshold of 1 MiB
/// keeps every larger block in its own mapping, returned to the system when freed.
///
/// glibc also gives threads up to 8 arenas per core, each keeping its own free memory: two
/// arenas hold idle RSS under 30 MiB and the peak under load ~15 MiB lower, at no throughput
/// measurable on this 2-core machine (BENCHMARKS.md).
#[allow(unsafe_code)] // one of the crate's two unsafe calls, beside `memory::trim`
fn keep_memory_small() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

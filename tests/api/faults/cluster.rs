//! A PostgreSQL cluster of the test's own, in a temporary directory on a free port, so the
//! test may stop, restart and freeze it without touching the shared server.
//!
//! The server binaries are found through `PG_BINDIR`, else `pg_config --bindir`, else the
//! newest `/usr/lib/postgresql/*/bin`, else `initdb` on the `PATH`. Run as root, the cluster
//! belongs to the `postgres` system user (PostgreSQL refuses to run as root).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, PgConnection};

pub struct Cluster {
    bin: PathBuf,
    data: tempfile::TempDir,
    pub port: u16,
    /// The server's settings, given on its command line at every start.
    options: String,
    frozen: bool,
}

impl Cluster {
    /// `initdb`s and starts a cluster with one database, `faults`. Panics, with what to
    /// install, when the server binaries are missing: the tests using it are `#[ignore]`d,
    /// so a plain `cargo nextest run` reports them as skipped.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// A cluster that accepts only TLS connections over TCP (`hostnossl` is rejected), with
    /// a certificate for `localhost` from a CA of its own (`ca.pem` in `dir()`), made by the
    /// `openssl` command.
    pub fn start_with_tls() -> Self {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Self {
        let bin = server_binaries().expect(
            "the PostgreSQL server binaries (initdb, pg_ctl) are missing: \
             bash scripts/install-postgres-server.sh, or set PG_BINDIR",
        );
        let data = tempfile::Builder::new()
            .prefix("faults-pg-")
            .tempdir()
            .unwrap();
        if tls {
            make_certificates(data.path());
        }
        if is_root() {
            succeed(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(data.path()),
            );
        }
        let port = free_port();
        // Everything the server needs is on its command line: its port, loopback only, its
        // socket in its own directory (not the shared server's); no fsync, since the tests
        // stop processes, never the machine.
        let mut options = format!(
            "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c fsync=off",
            data.path().display()
        );
        if tls {
            let dir = data.path().display();
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={dir}/server.pem -c ssl_key_file={dir}/server.key"
            ));
        }
        let cluster = Self {
            bin,
            data,
            port,
            options,
            frozen: false,
        };
        cluster.as_owner(
            "initdb",
            &[
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "-D",
                &cluster.pgdata(),
            ],
        );
        if tls {
            // Over TCP only with TLS; the cluster's own socket stays open for the test.
            let hba = "local all all trust\n\
                       hostssl all all 127.0.0.1/32 trust\n\
                       hostnossl all all 127.0.0.1/32 reject\n";
            std::fs::write(cluster.data.path().join("pgdata/pg_hba.conf"), hba).unwrap();
        }
        cluster.start_again();
        let mut admin = cluster.connect("postgres");
        admin.batch_execute("CREATE DATABASE faults").unwrap();
        cluster
    }

    /// The URL of a database of this cluster, as the service takes it.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// An administrator's connection, over the cluster's socket (TLS or not).
    pub fn connect(&self, database: &str) -> PgConnection {
        let url = format!(
            "postgres://postgres@/{database}?host={}&port={}",
            self.data.path().display(),
            self.port
        );
        PgConnection::establish(&url).unwrap()
    }

    /// The directory of the cluster's files (`ca.pem` of a TLS cluster).
    pub fn dir(&self) -> &Path {
        self.data.path()
    }

    /// Starts the server and returns once it accepts connections.
    pub fn start_again(&self) {
        let log = self.data.path().join("server.log");
        self.as_owner(
            "pg_ctl",
            &[
                "start",
                "--wait",
                "--timeout=60",
                "-D",
                &self.pgdata(),
                "-o",
                &self.options,
                "-l",
                &log.to_string_lossy(),
            ],
        );
    }

    /// Stops the server as a restart does: `fast` ends every session with an error.
    pub fn stop(&self) {
        self.as_owner(
            "pg_ctl",
            &["stop", "--wait", "-m", "fast", "-D", &self.pgdata()],
        );
    }

    /// Stops every process of the server (SIGSTOP): it accepts TCP connections in the
    /// kernel's backlog, but nothing answers.
    pub fn freeze(&mut self) {
        self.signal_all("-STOP");
        self.frozen = true;
    }

    pub fn thaw(&mut self) {
        self.signal_all("-CONT");
        self.frozen = false;
    }

    fn signal_all(&self, signal: &str) {
        let postmaster = self.postmaster_pid();
        // The postmaster first, so it forks no new backend in between.
        let mut pids = vec![postmaster];
        pids.extend(children_of(postmaster));
        let mut kill = Command::new("kill");
        kill.arg(signal);
        for pid in &pids {
            kill.arg(pid.to_string());
        }
        succeed(&mut kill);
    }

    fn postmaster_pid(&self) -> u32 {
        let pid_file = std::fs::read_to_string(self.data.path().join("pgdata/postmaster.pid"))
            .expect("postmaster.pid: is the server running?");
        pid_file.lines().next().unwrap().trim().parse().unwrap()
    }

    fn pgdata(&self) -> String {
        self.data
            .path()
            .join("pgdata")
            .to_string_lossy()
            .into_owned()
    }

    /// Runs a server binary as the cluster's owner.
    fn as_owner(&self, program: &str, args: &[&str]) -> Output {
        succeed(self.owner_command(program).args(args))
    }

    fn owner_command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command.current_dir(self.data.path());
        command
    }
}

impl Drop for Cluster {
    /// Stops the server, however the test left it, before its directory is removed.
    fn drop(&mut self) {
        if self.frozen {
            self.signal_all("-CONT");
        }
        let _ = self
            .owner_command("pg_ctl")
            .args(["stop", "-m", "immediate", "-D", &self.pgdata()])
            .output();
    }
}

/// A CA (`ca.pem`) and a server certificate for `localhost` signed by it (`server.pem`,
/// `server.key`, readable by its owner only, as PostgreSQL demands), in `dir`.
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        succeed(Command::new("openssl").args(args).current_dir(dir));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=faults CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.pem",
    ]);
    succeed(Command::new("chmod").arg("600").arg(dir.join("server.key")));
}

/// Where `initdb` and `pg_ctl` are, if anywhere.
fn server_binaries() -> Option<PathBuf> {
    let has_initdb = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("PG_BINDIR") {
        return Some(PathBuf::from(dir)).filter(|d| has_initdb(d));
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .collect();
    debian.sort_by_key(|dir| {
        let version = dir.parent().and_then(|v| v.file_name());
        version.and_then(|v| v.to_str()?.parse::<u32>().ok())
    });
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    from_pg_config
        .into_iter()
        .chain(debian.into_iter().rev())
        .chain(on_path)
        .find(|d| has_initdb(d))
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"));
    uid.and_then(|ids| ids.split_whitespace().next()) == Some("0")
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn children_of(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The fields after the parenthesised name: state, then the parent's pid.
            let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after_name.split_whitespace().nth(1) == Some(&parent.to_string())
        })
        .collect()
}

fn succeed(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

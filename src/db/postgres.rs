//! Connecting to PostgreSQL asynchronously, with libpq's meaning of `DATABASE_URL` kept.
//!
//! tokio-postgres parses only `sslmode=disable|prefer|require` and refuses `sslrootcert`, and
//! connects without TLS unless given a connector. So the URL is read here: `sslmode` and
//! `sslrootcert` are taken out and expressed in a rustls configuration, the rest goes to
//! tokio-postgres as it is. The meanings, as libpq documents them:
//!
//! | `sslmode` | encrypted | server certificate checked |
//! |---|---|---|
//! | `disable` | never | — |
//! | `allow`, `prefer` (default) | if the server offers it | no; the chain if a root certificate is found |
//! | `require` | always | no; the chain if a root certificate is found (libpq's compatibility rule) |
//! | `verify-ca` | always | chain to the root certificate |
//! | `verify-full` | always | chain, and the host name (or address) the certificate names |
//!
//! The root certificate is `sslrootcert` (a PEM file, or `system` for the system's trust
//! store, which implies `verify-full` and refuses weaker modes, as libpq 16 does), else
//! `~/.postgresql/root.crt` as with libpq. `PGSSLMODE` and `PGSSLROOTCERT` apply when the URL
//! has no value of its own. A Unix-socket host never uses TLS. `allow` (libpq: plain first,
//! TLS if the server insists) connects like `prefer`. Client certificates (`sslcert`,
//! `sslkey`) are not supported and are refused, rather than ignored; other libpq environment
//! variables (`PGPASSWORD`, `~/.pgpass`) are not read: the URL carries what is needed.

use std::path::PathBuf;
use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, bail};
use diesel::ConnectionResult;
use diesel::result::ConnectionError;
use diesel_async::AsyncPgConnection;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How to reach one PostgreSQL database: tokio-postgres's configuration and the TLS to use.
#[derive(Clone)]
pub struct Connector {
    config: tokio_postgres::Config,
    /// `None`: `sslmode=disable`.
    tls: Option<Arc<ClientConfig>>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// What an `sslmode` asks to check of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

/// How the server's certificate is checked, with the roots a check needs.
enum Verify {
    Nothing,
    Chain(RootCertStore),
    ChainAndName(RootCertStore),
}

/// Connects with `$connector`'s configuration and TLS, then builds the connection from the
/// client and its I/O (`$finish`, compiled once per kind of stream).
macro_rules! open {
    ($connector:ident, |$client:ident, $connection:ident| $finish:expr) => {
        match &$connector.tls {
            None => {
                let ($client, $connection) = $connector
                    .config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(failed)?;
                $finish
            }
            Some(tls) => {
                let ($client, $connection) = $connector
                    .config
                    .connect(MakeRustlsConnect::new(ClientConfig::clone(tls)))
                    .await
                    .map_err(failed)?;
                $finish
            }
        }
    };
}
impl Connector {
    /// Reads a `postgres://` URL with libpq's `sslmode` and `sslrootcert` (`PGSSLMODE` and
    /// `PGSSLROOTCERT` when the URL has none, as with libpq).
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut mode = std::env::var("PGSSLMODE").ok().filter(|m| !m.is_empty());
        let mut root = std::env::var("PGSSLROOTCERT")
            .ok()
            .filter(|r| !r.is_empty());
        // The other parameters pass to tokio-postgres exactly as written (it percent-decodes
        // them itself; a `+` is not a space there).
        let mut rest = Vec::new();
        for piece in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            let decoded = || {
                percent_encoding::percent_decode_str(value)
                    .decode_utf8()
                    .map(|v| v.into_owned())
                    .with_context(|| format!("DATABASE_URL: {key} is not UTF-8"))
            };
            match key {
                "sslmode" => mode = Some(decoded()?),
                "sslrootcert" => root = Some(decoded()?),
                "sslcert" | "sslkey" | "sslpassword" => {
                    bail!("{key} (client certificates) is not supported in DATABASE_URL")
                }
                _ => rest.push(piece),
            }
        }
        let plain = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config = tokio_postgres::Config::from_str(&plain)
            .map_err(|e| anyhow::anyhow!("DATABASE_URL is not a PostgreSQL URL: {e}"))?;
        // libpq (since PostgreSQL 16): the system's trust store implies verify-full, and a
        // weaker mode with it is an error.
        let system = root.as_deref() == Some("system");
        let mode = match mode {
            Some(mode) => mode,
            None if system => "verify-full".to_owned(),
            None => "prefer".to_owned(),
        };
        if system && mode != "verify-full" {
            bail!("sslrootcert=system needs sslmode=verify-full (libpq's rule), not {mode}");
        }
        // Over a Unix socket libpq never uses TLS.
        let socket_only = config
            .get_hosts()
            .iter()
            .all(|host| matches!(host, tokio_postgres::config::Host::Unix(_)));
        let (ssl_mode, check) = match mode.as_str() {
            "disable" => (SslMode::Disable, None),
            _ if socket_only => (SslMode::Disable, None),
            "allow" | "prefer" => (SslMode::Prefer, Some(Check::Nothing)),
            "require" => (SslMode::Require, Some(Check::Nothing)),
            "verify-ca" => (SslMode::Require, Some(Check::Chain)),
            "verify-full" => (SslMode::Require, Some(Check::ChainAndName)),
            other => bail!(
                "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
            ),
        };
        config.ssl_mode(ssl_mode);
        let Some(check) = check else {
            return Ok(Self { config, tls: None });
        };
        let verify = match (check, root_certificates(root.as_deref())?) {
            (Check::Nothing, None) => Verify::Nothing,
            // libpq: with a root certificate, `prefer` and `require` check the chain as
            // `verify-ca` does.
            (Check::Nothing | Check::Chain, Some(roots)) => Verify::Chain(roots),
            (Check::ChainAndName, Some(roots)) => Verify::ChainAndName(roots),
            (_, None) => bail!(
                "sslmode={mode} needs a root certificate: set sslrootcert (a PEM file, or \
                 `system`) or put it in ~/.postgresql/root.crt"
            ),
        };
        Ok(Self {
            config,
            tls: Some(Arc::new(tls_config(verify)?)),
        })
    }

    /// Opens a connection; its I/O runs as a task on the current tokio runtime.
    pub async fn connect(&self) -> ConnectionResult<AsyncPgConnection> {
        open!(self, |client, connection| {
            AsyncPgConnection::try_from_client_and_connection(client, connection).await
        })
    }

    /// Opens a connection whose end its owner can see (`Watched`); its I/O runs as a task on
    /// the current tokio runtime.
    pub async fn connect_watched(&self) -> ConnectionResult<Watched> {
        open!(self, |client, connection| Watched::drive(
            client, connection
        )
        .await)
    }
}

/// A failed connection attempt, with its causes: "error performing TLS handshake" alone does
/// not say which check failed.
fn failed(e: tokio_postgres::Error) -> ConnectionError {
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    ConnectionError::BadConnection(message)
}

/// A connection whose I/O task is run here rather than by diesel-async, so that its owner
/// learns when it ends — the server went away, or closed it — before a statement fails on it:
/// the connection `Db::read` shares, which no pool recycles. Dropping it closes the connection.
pub struct Watched {
    pub conn: AsyncPgConnection,
    ended: Arc<AtomicBool>,
    /// Dropped with this; the I/O task then drops the connection, which closes its socket.
    _close: tokio::sync::oneshot::Sender<()>,
}

impl Watched {
    async fn drive<S>(
        client: tokio_postgres::Client,
        connection: tokio_postgres::Connection<tokio_postgres::Socket, S>,
    ) -> ConnectionResult<Self>
    where
        S: tokio_postgres::tls::TlsStream + Unpin + Send + 'static,
    {
        let ended = Arc::new(AtomicBool::new(false));
        let (close, closed) = tokio::sync::oneshot::channel::<()>();
        let flag = Arc::clone(&ended);
        tokio::spawn(async move {
            tokio::select! {
                result = connection => if let Err(e) = result {
                    log::warn!("a PostgreSQL connection ended: {e}");
                },
                _ = closed => {}
            }
            flag.store(true, Ordering::Release);
        });
        Ok(Self {
            conn: AsyncPgConnection::try_from(client).await?,
            ended,
            _close: close,
        })
    }

    /// Whether the connection has ended; every statement on it would fail.
    pub fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }
}

/// The trusted roots: `sslrootcert`'s file, the system's store for `system`, else libpq's
/// default file if it exists.
fn root_certificates(root: Option<&str>) -> anyhow::Result<Option<RootCertStore>> {
    let mut store = RootCertStore::empty();
    let path = match root {
        Some("system") => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                bail!("sslrootcert=system: no certificates in the system's trust store");
            }
            store.add_parsable_certificates(found.certs);
            return Ok(Some(store));
        }
        Some(path) => PathBuf::from(path),
        None => match std::env::var_os("HOME") {
            Some(home) => {
                let default = PathBuf::from(home).join(".postgresql/root.crt");
                if !default.exists() {
                    return Ok(None);
                }
                default
            }
            None => return Ok(None),
        },
    };
    let certificates = CertificateDer::pem_file_iter(&path)
        .with_context(|| format!("cannot read the root certificate {}", path.display()))?;
    for certificate in certificates {
        let certificate = certificate
            .with_context(|| format!("cannot read the root certificate {}", path.display()))?;
        store
            .add(certificate)
            .with_context(|| format!("unusable root certificate in {}", path.display()))?;
    }
    Ok(Some(store))
}

fn tls_config(verify: Verify) -> anyhow::Result<ClientConfig> {
    // ring builds from crates.io with a C compiler in seconds; aws-lc-rs, rustls's choice for
    // post-quantum key exchange, would add minutes to every cold build. The connection to the
    // database is the one TLS client here.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .context("TLS configuration")?;
    let algorithms = provider.signature_verification_algorithms;
    let webpki = |roots: RootCertStore| {
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .context("TLS verifier")
    };
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        Verify::Nothing => Arc::new(Unchecked(algorithms)),
        Verify::Chain(roots) => Arc::new(ChainOnly(webpki(roots)?)),
        Verify::ChainAndName(roots) => webpki(roots)?,
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// `verify-ca`: the chain must lead to a trusted root; the name in the certificate is not
/// compared with the host.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` without a root certificate: encrypted, the certificate not checked
/// (libpq's meaning; it protects against eavesdropping, not against a server in the middle).
/// The handshake's signatures are still verified.
#[derive(Debug)]
struct Unchecked(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_keeps_its_libpq_meaning_and_tokio_postgres_gets_the_rest() {
        let plain = Connector::from_url("postgres://app@db:5433/bn?sslmode=disable").unwrap();
        assert!(plain.tls.is_none());
        assert_eq!(plain.config.get_ssl_mode(), SslMode::Disable);
        assert_eq!(plain.config.get_dbname(), Some("bn"));

        let default = Connector::from_url("postgres://app@db/bn?application_name=x").unwrap();
        assert_eq!(default.config.get_ssl_mode(), SslMode::Prefer);
        assert_eq!(default.config.get_application_name(), Some("x"));

        let required = Connector::from_url("postgres://app@db/bn?sslmode=require").unwrap();
        assert_eq!(required.config.get_ssl_mode(), SslMode::Require);
        assert!(required.tls.is_some());

        let missing = "postgres://app@db/bn?sslmode=verify-full&sslrootcert=/nonexistent.pem";
        let e = Connector::from_url(missing).unwrap_err();
        assert!(format!("{e:#}").contains("/nonexistent.pem"), "{e:#}");

        let socket = Connector::from_url("postgres://app@%2Frun%2Fpostgresql/bn").unwrap();
        assert!(socket.tls.is_none(), "no TLS over a Unix socket");
        let spaced = Connector::from_url("postgres://app@db/bn?options=-c%20a%3D1+2").unwrap();
        assert_eq!(spaced.config.get_options(), Some("-c a=1+2"));

        for refused in [
            "postgres://app@db/bn?sslmode=verify",
            "postgres://app@db/bn?sslcert=/client.pem",
            "postgres://app@db/bn?sslmode=require&sslrootcert=system",
        ] {
            assert!(Connector::from_url(refused).is_err(), "{refused}");
        }
    }
}

//! Password and client-secret hashing with argon2id (the crate's defaults: 19 MiB, 2 passes,
//! one lane, as OWASP recommends). Hashing is deliberately slow, so it runs on its own few
//! threads: a flood of sign-ins can't take the request workers, the database's blocking pool,
//! or memory.
//!
//! Why dedicated threads and not the shared blocking pool: each hash allocates 19 MiB, and
//! glibc keeps freed memory in the arena of the thread that freed it. Spread over the dozens
//! of threads of the blocking pool, a sign-in flood left ~1.4 GB resident (measured by the
//! benchmark); on `PASSWORD_HASH_CONCURRENCY` fixed threads the same flood stays within
//! that many times 19 MiB.

use std::sync::{Arc, LazyLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

/// Hashing did not happen (argon2 failed, or its thread is gone): a bug, not a wrong password.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HashError(String);

/// Shortest accepted password.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longest accepted password in characters (argon2 accepts more; nobody needs it, and it
/// bounds the work).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// A hash of a random password, verified against when the user does not exist, so that an
/// unknown user costs the same time as a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_now(&uuid::Uuid::new_v4().to_string()).unwrap_or_default());

fn hash_now(password: &str) -> Result<String, argon2::password_hash::Error> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
}

fn verify_now(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// Runs argon2 work on `concurrency` dedicated threads; further work waits in their queue.
#[derive(Clone)]
pub struct Hasher {
    threads: Arc<rayon::ThreadPool>,
}

impl Hasher {
    pub fn new(concurrency: usize) -> anyhow::Result<Self> {
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(concurrency.max(1))
            .thread_name(|i| format!("password-hash-{i}"))
            // A panic must not abort the process; the caller gets a 500 (its sender is gone).
            .panic_handler(|_| log::error!("password hashing panicked"))
            .build()?;
        Ok(Self {
            threads: Arc::new(threads),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.threads.spawn(move || {
            let _ = done.send(f());
        });
        result
            .await
            .map_err(|_| HashError("password hashing failed".into()))
    }

    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        self.run(move || hash_now(&password))
            .await?
            .map_err(|e| HashError(format!("hashing failed: {e}")))
    }

    /// Verifies `password` against `hash`, or against a dummy hash when there is none.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, HashError> {
        self.run(move || match hash {
            Some(hash) => verify_now(&password, &hash),
            None => {
                verify_now(&password, &DUMMY_HASH);
                false
            }
        })
        .await
    }
}

/// Hashes synchronously, for the command line.
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    hash_now(password).map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

/// Checks a new password's length; the message names the rule.
pub fn check_password(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        Err(format!("must be at least {MIN_PASSWORD_LEN} characters"))
    } else if chars > MAX_PASSWORD_LEN {
        Err(format!("must be at most {MAX_PASSWORD_LEN} characters"))
    } else {
        Ok(())
    }
}

//! Ed25519 signing keys for access tokens. One key signs; every configured key verifies, so a
//! new key can take over signing while tokens signed by the old one stay valid until they
//! expire. Keys are PKCS#8 PEM files; their `kid` is derived from the public key, so it is the
//! same on every replica that has the same key file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _};
use jsonwebtoken::{DecodingKey, EncodingKey};
use sha2::{Digest as _, Sha256};

/// The key that signs, and every key that verifies, by kid.
pub struct KeySet {
    pub signing_kid: String,
    pub signing: EncodingKey,
    pub verifying: HashMap<String, DecodingKey>,
}

struct LoadedKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

fn load_key(path: &Path) -> anyhow::Result<LoadedKey> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key file {}", path.display()))?;
    let signing = SigningKey::from_pkcs8_pem(&pem)
        .map_err(|e| anyhow::anyhow!("{} is no Ed25519 PKCS#8 key: {e}", path.display()))?;
    from_signing_key(&signing)
}

fn from_signing_key(signing: &SigningKey) -> anyhow::Result<LoadedKey> {
    let private_pem = signing
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("cannot encode the key: {e}"))?;
    let public_pem = signing
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("cannot encode the public key: {e}"))?;
    let digest = Sha256::digest(signing.verifying_key().as_bytes());
    Ok(LoadedKey {
        kid: hex::encode(&digest[..8]),
        encoding: EncodingKey::from_ed_pem(private_pem.as_bytes())?,
        decoding: DecodingKey::from_ed_pem(public_pem.as_bytes())?,
    })
}

/// Writes a new random key to `path` (mode 0600) unless a key is already there; returns
/// whether it wrote one. The key is written to a temporary file and then hard-linked into
/// place, which fails if `path` exists: two replicas starting at once on a shared volume
/// never see a half-written file, and both end up with the one key that won.
pub fn generate_key_file(path: &Path) -> anyhow::Result<bool> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("cannot encode the key: {e}"))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension(format!("pem.{}.tmp", hex::encode(&seed[..6])));
    write_private(&temporary, pem.as_bytes())
        .with_context(|| format!("cannot write the key file {}", temporary.display()))?;
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot write the key file {}", path.display())),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

impl KeySet {
    /// Loads the signing key from `key_file` (creating it when `create` and it is missing)
    /// plus every `*.pem` in `verify_dir` as an additional verification key.
    pub fn load(key_file: &Path, create: bool, verify_dir: Option<&Path>) -> anyhow::Result<Self> {
        if !key_file.exists() && create && generate_key_file(key_file)? {
            log::warn!(
                "created a new token signing key at {}; keep it (and share it between replicas)",
                key_file.display()
            );
        }
        let signing = load_key(key_file)?;
        let mut verifying = HashMap::new();
        if let Some(dir) = verify_dir {
            for path in pem_files(dir)? {
                let key = load_key(&path)?;
                verifying.insert(key.kid, key.decoding);
            }
        }
        verifying.insert(signing.kid.clone(), signing.decoding);
        Ok(Self {
            signing_kid: signing.kid,
            signing: signing.encoding,
            verifying,
        })
    }
}

fn pem_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the key directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pem"))
        .collect();
    files.sort();
    Ok(files)
}

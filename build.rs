//! Stamps the binary with the git revision it was built from, for `bn_build_info` in
//! `/metrics`: `GIT_REVISION` when set (the container build passes it, as `.git` is not in
//! its context), else `git rev-parse`, else `unknown`. Runs no network access.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GIT_REVISION");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    let revision = std::env::var("GIT_REVISION")
        .ok()
        .filter(|r| !r.is_empty())
        .or_else(|| {
            let out = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        })
        .filter(|r| {
            r.len() <= 64
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=BN_GIT_REVISION={revision}");
}

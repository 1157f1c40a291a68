//! Trusted verification (可信验证, 等保 §8.1.4.6; 密评 §8.3 important executables): an SM3 manifest of
//! the running binary, every embedded web asset and the configuration file, signed with the release
//! SM2 key. When `security.release_manifest` is set, start-up recomputes every digest and checks the
//! signature against the pinned `security.release_public_key`; any mismatch stops start-up with
//! `INTEGRITY_FAILED` and an audit record.

use crate::config::Config;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

const RELEASE_ID: &str = "tongguan-release";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub name: String,
    pub sm3: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub files: Vec<Entry>,
    pub public_key: String,
    /// SM2 `r‖s` over the canonical JSON of `files`, hex.
    pub signature: String,
}

fn file_sm3(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(tg_crypto::sm3_hex(&bytes))
}

/// What the manifest covers, as this process sees it now.
pub fn current_files(config: &Config) -> Result<Vec<Entry>> {
    let exe = std::env::current_exe().context("cannot locate the running binary")?;
    let mut files = vec![Entry { name: "bin:tongguan".into(), sm3: file_sm3(&exe)? }];
    if let Some(c) = &config.config_file {
        files.push(Entry { name: "config".into(), sm3: file_sm3(c)? });
    }
    files.extend(crate::web::asset_digests().into_iter().map(|(name, sm3)| Entry { name, sm3 }));
    Ok(files)
}

fn canonical(files: &[Entry]) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(files)?)
}

/// A new release signing key: the secret (hex) and the public key (hex `04…`).
pub fn keygen() -> (String, String) {
    let k = tg_crypto::Sm2KeyPair::generate();
    (hex::encode(&*k.secret_bytes()), k.public_key_hex())
}

/// Signs the current files with the release key whose secret (hex) is in `key_file`.
pub fn sign(config: &Config, key_file: &Path) -> Result<Manifest> {
    let secret = hex::decode(std::fs::read_to_string(key_file).with_context(|| format!("cannot read {}", key_file.display()))?.trim())
        .context("the release key file must hold the secret key as hex")?;
    let key = tg_crypto::Sm2KeyPair::from_secret_bytes(&secret)?;
    let files = current_files(config)?;
    let signature = hex::encode(key.try_sign(RELEASE_ID, &canonical(&files)?)?);
    Ok(Manifest { format: "tongguan-release-v1".into(), files, public_key: key.public_key_hex(), signature })
}

/// Checks the manifest named by the configuration. `Ok(None)` when none is configured.
pub fn verify(config: &Config) -> Result<Option<usize>> {
    let Some(path) = &config.security.release_manifest else {
        return Ok(None);
    };
    let m: Manifest =
        serde_json::from_slice(&std::fs::read(path).with_context(|| format!("cannot read the release manifest {}", path.display()))?)
            .context("the release manifest is not valid JSON")?;
    let pinned = config.security.release_public_key.trim().to_lowercase();
    if m.public_key.to_lowercase() != pinned {
        bail!("INTEGRITY_FAILED: the release manifest is signed by another key than security.release_public_key");
    }
    let sig = hex::decode(&m.signature).unwrap_or_default();
    let pk = hex::decode(&pinned).unwrap_or_default();
    if !tg_crypto::sm2_verify(&pk, RELEASE_ID, &canonical(&m.files)?, &sig) {
        bail!("INTEGRITY_FAILED: the release manifest's SM2 signature does not verify");
    }
    let now = current_files(config)?;
    let mut problems = Vec::new();
    for e in &m.files {
        match now.iter().find(|n| n.name == e.name) {
            Some(n) if n.sm3 == e.sm3 => {}
            Some(_) => problems.push(format!("{} changed", e.name)),
            None => problems.push(format!("{} missing", e.name)),
        }
    }
    for n in &now {
        if !m.files.iter().any(|e| e.name == n.name) {
            problems.push(format!("{} not in the manifest", n.name));
        }
    }
    if !problems.is_empty() {
        bail!("INTEGRITY_FAILED: {}", problems.join("; "));
    }
    Ok(Some(m.files.len()))
}

//! Root of the key hierarchy (GB/T 39786-2021 §8.4 e/g, key management): a [`KeyProvider`] holds
//! the 128-bit root key and wraps lower-level keys (KEKs, DEKs) with SM4-GCM (RFC 8998).
//!
//! Wrapped key format: `nonce (12 bytes) || SM4-GCM(root, nonce, aad, key) (key || 16-byte tag)`.
//! The root key never leaves the provider. The key check value (KCV) identifies a root key
//! without revealing it: the first 8 bytes of `HMAC-SM3(root, "tongguan-kcv")`, in hex.
//!
//! [`LocalFileProvider`] keeps the root in a JSON file (development and small deployments).
//! With a passphrase, the root is sealed: `KEK = PBKDF2-HMAC-SM3(passphrase, salt, 100 000)`
//! truncated to 16 bytes, root = SM4-GCM(KEK, nonce, aad = "tongguan-root-v1"). Production
//! deployments should implement [`KeyProvider`] over a certified cipher machine or KMS
//! (GM/T 0018 SDF); software keys are not a certified cryptographic module.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::sm::{hmac_sm3, pbkdf2_sm3, random_bytes, sm4_gcm_open, sm4_gcm_seal, AEAD_NONCE_LEN, AEAD_TAG_LEN};
use crate::{CryptoError, CryptoResult};

/// `format` value of a root key file.
pub const ROOT_FILE_FORMAT: &str = "tongguan-root-v1";
/// PBKDF2-HMAC-SM3 iterations used when sealing a new root key file.
pub const ROOT_SEAL_ITERATIONS: u32 = 100_000;
const ROOT_SEAL_AAD: &[u8] = b"tongguan-root-v1";
const KCV_LABEL: &[u8] = b"tongguan-kcv";
const MAX_ITERATIONS: u32 = 100_000_000;

/// The root of the key hierarchy.
pub trait KeyProvider: Send + Sync + fmt::Debug {
    /// Short provider name, e.g. `"local-file"`.
    fn kind(&self) -> &'static str;
    /// Key check value of the root key: first 8 bytes hex of HMAC-SM3(root, "tongguan-kcv").
    fn root_kcv(&self) -> String;
    /// Wraps `key` under the root: `nonce(12) || SM4-GCM(root, nonce, aad, key)`.
    fn wrap(&self, aad: &[u8], key: &[u8]) -> CryptoResult<Vec<u8>>;
    /// Reverses [`KeyProvider::wrap`]; [`CryptoError::Malformed`] when too short,
    /// [`CryptoError::AuthFailed`] for a wrong root, wrong `aad` or tampering.
    fn unwrap(&self, aad: &[u8], wrapped: &[u8]) -> CryptoResult<Zeroizing<Vec<u8>>>;
}

/// Key check value of a root key (see [`KeyProvider::root_kcv`]).
pub fn kcv(root: &[u8]) -> String {
    hex::encode(&hmac_sm3(root, &[KCV_LABEL])[..8])
}

#[derive(Serialize, Deserialize)]
struct RootFile {
    format: String,
    sealed: bool,
    kcv: String,
    salt: Option<String>,
    iterations: Option<u32>,
    nonce: Option<String>,
    key: String,
}

/// A [`KeyProvider`] whose root key is stored in a local JSON file.
pub struct LocalFileProvider {
    root: Zeroizing<[u8; 16]>,
    sealed: bool,
    path: Option<PathBuf>,
}

impl fmt::Debug for LocalFileProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalFileProvider")
            .field("path", &self.path)
            .field("sealed", &self.sealed)
            .field("kcv", &self.root_kcv())
            .finish_non_exhaustive()
    }
}

fn provider_err(msg: String) -> CryptoError {
    CryptoError::Provider(msg)
}

impl LocalFileProvider {
    /// Opens `path` (e.g. data/keys/root.key) or creates it (parent dirs too, file mode 0600 on unix) when absent and `create` is true.
    ///
    /// File = JSON `{"format":"tongguan-root-v1","sealed":bool,"kcv":"..","salt":"hex"|null,
    /// "iterations":n|null,"nonce":"hex"|null,"key":"hex"}`. With a passphrase the 16-byte root key
    /// is sealed (KEK = first 16 bytes of PBKDF2-HMAC-SM3(passphrase, salt, 100 000), SM4-GCM with
    /// aad "tongguan-root-v1"); without one it is stored unsealed (development only). An empty
    /// passphrase counts as none.
    ///
    /// Errors are [`CryptoError::Provider`] with an English message for: a missing file when
    /// `create` is false, a sealed file opened without or with a wrong passphrase, an unsealed
    /// file opened with a passphrase (so a misconfiguration is not silently accepted), a KCV
    /// mismatch, and a malformed file; [`CryptoError::Io`] for I/O failures. Creation never
    /// overwrites an existing file: if another process creates it first, that file is opened.
    pub fn open(path: &Path, passphrase: Option<&str>, create: bool) -> CryptoResult<Self> {
        let passphrase = passphrase.filter(|p| !p.is_empty());
        match fs::read(path) {
            Ok(bytes) => Self::load(path, &bytes, passphrase),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !create {
                    return Err(provider_err(format!("root key file {} does not exist", path.display())));
                }
                let provider =
                    Self { root: Zeroizing::new(random_bytes::<16>()), sealed: passphrase.is_some(), path: Some(path.to_path_buf()) };
                match provider.write_new(path, passphrase) {
                    Ok(()) => Ok(provider),
                    Err(CryptoError::Io(e)) if e.kind() == io::ErrorKind::AlreadyExists => {
                        // Lost a creation race: use the winner's key.
                        let bytes = fs::read(path)?;
                        Self::load(path, &bytes, passphrase)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(CryptoError::Io(e)),
        }
    }

    /// Whether the root key is sealed with a passphrase in its file.
    pub fn is_sealed(&self) -> bool {
        self.sealed
    }

    /// A provider over a fixed root key, not backed by a file (tests only).
    pub fn from_root_for_tests(root: [u8; 16]) -> Self {
        Self { root: Zeroizing::new(root), sealed: false, path: None }
    }

    /// Writes this root key to a **new** file at `path` (sealed when `passphrase` is given), e.g.
    /// to seal a development key or change the passphrase; the caller then replaces the old file.
    /// Fails with an `AlreadyExists` I/O error rather than overwrite anything.
    pub fn save_as(&self, path: &Path, passphrase: Option<&str>) -> CryptoResult<()> {
        self.write_new(path, passphrase.filter(|p| !p.is_empty()))
    }

    fn load(path: &Path, bytes: &[u8], passphrase: Option<&str>) -> CryptoResult<Self> {
        let shown = path.display();
        let file: RootFile =
            serde_json::from_slice(bytes).map_err(|e| provider_err(format!("root key file {shown} is not a valid key file: {e}")))?;
        if file.format != ROOT_FILE_FORMAT {
            return Err(provider_err(format!(
                "root key file {shown} has unsupported format {:?} (expected {ROOT_FILE_FORMAT:?})",
                file.format
            )));
        }
        let malformed = |what: &str| provider_err(format!("root key file {shown} is malformed: {what}"));
        let stored = Zeroizing::new(hex::decode(&file.key).map_err(|_| malformed("key is not hex"))?);
        let root: Zeroizing<Vec<u8>> = if file.sealed {
            let Some(pass) = passphrase else {
                return Err(provider_err(format!("root key file {shown} is sealed: a passphrase is required to open it")));
            };
            let salt =
                hex::decode(file.salt.as_deref().ok_or_else(|| malformed("salt missing"))?).map_err(|_| malformed("salt is not hex"))?;
            let iterations = file.iterations.ok_or_else(|| malformed("iterations missing"))?;
            if iterations == 0 || iterations > MAX_ITERATIONS {
                return Err(malformed("iterations out of range"));
            }
            let nonce: [u8; AEAD_NONCE_LEN] = hex::decode(file.nonce.as_deref().ok_or_else(|| malformed("nonce missing"))?)
                .ok()
                .and_then(|n| n.try_into().ok())
                .ok_or_else(|| malformed("nonce is not 12 hex bytes"))?;
            let kek = seal_kek(pass, &salt, iterations);
            let root = sm4_gcm_open(&kek, &nonce, ROOT_SEAL_AAD, &stored)
                .map_err(|_| provider_err(format!("wrong passphrase for sealed root key file {shown} (or the file was altered)")))?;
            Zeroizing::new(root)
        } else {
            if passphrase.is_some() {
                return Err(provider_err(format!(
                    "root key file {shown} is not sealed, but a passphrase was given; open it \
                     without a passphrase, or seal it into a new file first"
                )));
            }
            stored
        };
        let root: [u8; 16] = root.as_slice().try_into().map_err(|_| malformed("root key is not 16 bytes"))?;
        let provider = Self { root: Zeroizing::new(root), sealed: file.sealed, path: Some(path.to_path_buf()) };
        if !provider.root_kcv().eq_ignore_ascii_case(file.kcv.trim()) {
            return Err(provider_err(format!("key check value mismatch in root key file {shown}: the file is corrupt or was altered")));
        }
        Ok(provider)
    }

    fn file_contents(&self, passphrase: Option<&str>) -> CryptoResult<Zeroizing<Vec<u8>>> {
        let file = match passphrase {
            Some(pass) => {
                let salt = random_bytes::<16>();
                let nonce = random_bytes::<AEAD_NONCE_LEN>();
                let kek = seal_kek(pass, &salt, ROOT_SEAL_ITERATIONS);
                let sealed = sm4_gcm_seal(&kek, &nonce, ROOT_SEAL_AAD, &self.root[..]);
                RootFile {
                    format: ROOT_FILE_FORMAT.into(),
                    sealed: true,
                    kcv: self.root_kcv(),
                    salt: Some(hex::encode(salt)),
                    iterations: Some(ROOT_SEAL_ITERATIONS),
                    nonce: Some(hex::encode(nonce)),
                    key: hex::encode(sealed),
                }
            }
            None => RootFile {
                format: ROOT_FILE_FORMAT.into(),
                sealed: false,
                kcv: self.root_kcv(),
                salt: None,
                iterations: None,
                nonce: None,
                key: hex::encode(&self.root[..]),
            },
        };
        let mut json = serde_json::to_vec_pretty(&file).map_err(|e| provider_err(format!("cannot encode root key file: {e}")))?;
        json.push(b'\n');
        // The unsealed form holds the root key in hex: wipe that intermediate string as well.
        drop(Zeroizing::new(file.key));
        Ok(Zeroizing::new(json))
    }

    /// Writes a new key file without ever replacing an existing one: the contents go to a
    /// temporary file (mode 0600) in the same directory, which is then hard-linked into place.
    fn write_new(&self, path: &Path, passphrase: Option<&str>) -> CryptoResult<()> {
        let contents = self.file_contents(passphrase)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dirs(parent)?;
        }
        let name = path.file_name().ok_or_else(|| provider_err(format!("invalid root key path {}", path.display())))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp-{}", hex::encode(random_bytes::<6>())));
        let tmp = path.with_file_name(tmp_name);

        write_private_file(&tmp, &contents)?;
        let linked = fs::hard_link(&tmp, path);
        let result = match linked {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(CryptoError::Io(e)),
            // File systems without hard links: fall back to an exclusive create in place.
            Err(_) => write_private_file(path, &contents),
        };
        let _ = fs::remove_file(&tmp);
        result?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Persist the directory entry (best effort; not possible on every platform).
            if let Ok(dir) = fs::File::open(parent) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }
}

fn seal_kek(passphrase: &str, salt: &[u8], iterations: u32) -> Zeroizing<[u8; 16]> {
    let full = Zeroizing::new(pbkdf2_sm3(passphrase.as_bytes(), salt, iterations));
    let mut kek = Zeroizing::new([0u8; 16]);
    kek.copy_from_slice(&full[..16]);
    kek
}

fn create_private_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn write_private_file(path: &Path, contents: &[u8]) -> CryptoResult<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents)?;
    f.sync_all()?;
    Ok(())
}

impl KeyProvider for LocalFileProvider {
    fn kind(&self) -> &'static str {
        "local-file"
    }

    fn root_kcv(&self) -> String {
        kcv(&self.root[..])
    }

    fn wrap(&self, aad: &[u8], key: &[u8]) -> CryptoResult<Vec<u8>> {
        let nonce = random_bytes::<AEAD_NONCE_LEN>();
        let mut out = Vec::with_capacity(AEAD_NONCE_LEN + key.len() + AEAD_TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sm4_gcm_seal(&self.root, &nonce, aad, key));
        Ok(out)
    }

    fn unwrap(&self, aad: &[u8], wrapped: &[u8]) -> CryptoResult<Zeroizing<Vec<u8>>> {
        if wrapped.len() < AEAD_NONCE_LEN + AEAD_TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, rest) = wrapped.split_at(AEAD_NONCE_LEN);
        let nonce: [u8; AEAD_NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        sm4_gcm_open(&self.root, &nonce, aad, rest).map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn msg(e: CryptoError) -> String {
        match e {
            CryptoError::Provider(m) => m,
            other => panic!("expected a provider error, got {other:?}"),
        }
    }

    #[test]
    fn create_reopen_same_kcv_unsealed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/keys/root.key");
        let p = LocalFileProvider::open(&path, None, true).unwrap();
        assert!(!p.is_sealed());
        assert_eq!(p.kind(), "local-file");
        let kcv1 = p.root_kcv();
        assert_eq!(kcv1.len(), 16);

        let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["format"], "tongguan-root-v1");
        assert_eq!(json["sealed"], false);
        assert_eq!(json["kcv"], kcv1.as_str());
        assert!(json["salt"].is_null() && json["iterations"].is_null() && json["nonce"].is_null());
        assert_eq!(json["key"].as_str().unwrap().len(), 32);

        let again = LocalFileProvider::open(&path, None, false).unwrap();
        assert_eq!(again.root_kcv(), kcv1);
        let again = LocalFileProvider::open(&path, None, true).unwrap();
        assert_eq!(again.root_kcv(), kcv1);
        // Keys wrapped by one instance unwrap with the other.
        let w = p.wrap(b"fields/users/v1", &[7u8; 16]).unwrap();
        assert_eq!(&again.unwrap(b"fields/users/v1", &w).unwrap()[..], &[7u8; 16]);
        // A passphrase for an unsealed file is refused.
        assert!(msg(LocalFileProvider::open(&path, Some("pw"), false).unwrap_err()).contains("not sealed"));
    }

    #[test]
    fn missing_file_without_create() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let m = msg(LocalFileProvider::open(&path, None, false).unwrap_err());
        assert!(m.contains("does not exist"), "{m}");
        assert!(!path.exists());
    }

    #[test]
    fn sealed_with_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let p = LocalFileProvider::open(&path, Some("correct horse battery staple"), true).unwrap();
        assert!(p.is_sealed());
        let text = fs::read_to_string(&path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["sealed"], true);
        assert_eq!(json["iterations"], 100_000);
        assert_eq!(json["salt"].as_str().unwrap().len(), 32);
        assert_eq!(json["nonce"].as_str().unwrap().len(), 24);
        // 16-byte root + 16-byte tag.
        assert_eq!(json["key"].as_str().unwrap().len(), 64);
        assert_eq!(json["kcv"], p.root_kcv().as_str());

        let again = LocalFileProvider::open(&path, Some("correct horse battery staple"), false).unwrap();
        assert!(again.is_sealed());
        assert_eq!(again.root_kcv(), p.root_kcv());

        let m = msg(LocalFileProvider::open(&path, Some("wrong"), false).unwrap_err());
        assert!(m.contains("wrong passphrase"), "{m}");
        let m = msg(LocalFileProvider::open(&path, None, false).unwrap_err());
        assert!(m.contains("passphrase is required"), "{m}");
        let m = msg(LocalFileProvider::open(&path, Some(""), true).unwrap_err());
        assert!(m.contains("passphrase is required"), "{m}");
    }

    #[test]
    fn kcv_mismatch_and_corruption_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        LocalFileProvider::open(&path, None, true).unwrap();
        let mut json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        json["kcv"] = "0000000000000000".into();
        fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        let m = msg(LocalFileProvider::open(&path, None, false).unwrap_err());
        assert!(m.contains("key check value mismatch"), "{m}");

        fs::write(&path, b"{not json").unwrap();
        assert!(msg(LocalFileProvider::open(&path, None, true).unwrap_err()).contains("not a valid key file"));
        json["format"] = "other".into();
        fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        assert!(msg(LocalFileProvider::open(&path, None, false).unwrap_err()).contains("unsupported format"));
    }

    #[test]
    fn save_as_seals_a_dev_key() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("dev.key");
        let p = LocalFileProvider::open(&dev, None, true).unwrap();
        let sealed_path = dir.path().join("sealed.key");
        p.save_as(&sealed_path, Some("pw")).unwrap();
        let s = LocalFileProvider::open(&sealed_path, Some("pw"), false).unwrap();
        assert!(s.is_sealed());
        assert_eq!(s.root_kcv(), p.root_kcv());
        // Never overwrites.
        assert!(matches!(p.save_as(&sealed_path, None), Err(CryptoError::Io(_))));
        let leftovers: Vec<_> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).filter(|n| n.to_string_lossy().contains(".tmp-")).collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[cfg(unix)]
    #[test]
    fn file_permissions_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/root.key");
        LocalFileProvider::open(&path, Some("pw"), true).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
        let dmode = fs::metadata(path.parent().unwrap()).unwrap().permissions().mode();
        assert_eq!(dmode & 0o077, 0, "dir mode {dmode:o}");
        let path2 = dir.path().join("plain.key");
        LocalFileProvider::open(&path2, None, true).unwrap();
        assert_eq!(fs::metadata(&path2).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn wrap_unwrap() {
        let p = LocalFileProvider::from_root_for_tests([0x11; 16]);
        let dek = random_bytes::<16>();
        let w = p.wrap(b"fields|users|v1", &dek).unwrap();
        assert_eq!(w.len(), 12 + 16 + 16);
        assert_eq!(&p.unwrap(b"fields|users|v1", &w).unwrap()[..], &dek);
        // Random nonce per wrap.
        assert_ne!(p.wrap(b"fields|users|v1", &dek).unwrap(), w);
        assert!(matches!(p.unwrap(b"fields|users|v2", &w), Err(CryptoError::AuthFailed)));
        assert!(matches!(p.unwrap(b"fields|users|v1", &w[..27]), Err(CryptoError::Malformed)));
        let mut bad = w.clone();
        bad[0] ^= 1;
        assert!(matches!(p.unwrap(b"fields|users|v1", &bad), Err(CryptoError::AuthFailed)));
        let other = LocalFileProvider::from_root_for_tests([0x22; 16]);
        assert!(matches!(other.unwrap(b"fields|users|v1", &w), Err(CryptoError::AuthFailed)));
        assert_ne!(other.root_kcv(), p.root_kcv());
        // KCV definition.
        assert_eq!(p.root_kcv(), hex::encode(&hmac_sm3(&[0x11; 16], &[b"tongguan-kcv"])[..8]));
        // Debug never shows the root.
        let dbg = format!("{p:?}");
        assert!(!dbg.contains("11111111"), "{dbg}");
        assert!(dbg.contains(&p.root_kcv()));
    }
}

//! The service's checkpoint signing key and its file.
//!
//! Signing key file format (UTF-8 text, Unix mode 0600):
//!
//! ```text
//! # pinward ledger checkpoint signing key: Ed25519 seed (RFC 8032 private key, 32 bytes), base64.
//! # Secret: keep this file mode 0600. Public key: <base64 public key>
//! <standard padded base64 of the 32-byte seed>
//! ```
//!
//! Lines starting with `#` and blank lines are ignored; exactly one other line must hold the
//! canonical base64 of 32 bytes. The file is created with `O_CREAT|O_EXCL` and mode 0600 from
//! the first byte (written to a temporary name, synced, then hard-linked into place, so the
//! path never holds a half-written key), and loading refuses a file that grants any access to
//! group or others, as OpenSSH does for private keys.
//!
//! The key lives in [`ed25519_dalek::SigningKey`], which zeroizes itself on drop; the file
//! text and decoded seed are held in [`zeroize::Zeroizing`] buffers. [`CheckpointKey`] has no
//! `Display`, `Serialize` or `Clone`, and its `Debug` shows only the public key.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer as _;
use zeroize::Zeroizing;

use crate::Error;
use crate::checkpoint::{Checkpoint, PublicKey, SignedCheckpoint};

/// Key files are small; anything bigger is not one (and the bound keeps the read buffer from
/// reallocating, which would leave copies of the secret behind).
const MAX_KEY_FILE: usize = 4096;

/// The Ed25519 key that signs checkpoints.
pub struct CheckpointKey(ed25519_dalek::SigningKey);

impl CheckpointKey {
    /// A fresh key from the OS CSPRNG.
    #[must_use]
    pub fn generate() -> Self {
        Self(ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// Generates a key and writes it to a new file at `path` with mode 0600.
    ///
    /// # Errors
    /// [`Error::KeyExists`] if `path` exists, [`Error::KeyIo`] for other I/O failures.
    pub fn create(path: &Path) -> Result<Self, Error> {
        let key = Self::generate();
        key.write_new(path)?;
        Ok(key)
    }

    /// Reads the key file at `path`.
    ///
    /// # Errors
    /// [`Error::KeyMissing`], [`Error::KeyPermissions`] for a file group or others may access,
    /// [`Error::KeyFormat`], [`Error::KeyIo`].
    pub fn load(path: &Path) -> Result<Self, Error> {
        let file = File::open(path).map_err(|e| io_error(path, e))?;
        let meta = file.metadata().map_err(|e| io_error(path, e))?;
        if !meta.is_file() {
            return Err(Error::KeyFormat {
                path: path.to_owned(),
            });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(Error::KeyPermissions {
                path: path.to_owned(),
                mode,
            });
        }
        let mut text = Zeroizing::new(String::with_capacity(MAX_KEY_FILE + 1));
        let format_error = || Error::KeyFormat {
            path: path.to_owned(),
        };
        file.take(MAX_KEY_FILE as u64 + 1)
            .read_to_string(&mut text)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => format_error(),
                _ => io_error(path, e),
            })?;
        if text.len() > MAX_KEY_FILE {
            return Err(format_error());
        }
        let line = single_payload_line(&text).ok_or_else(format_error)?;
        let seed = Zeroizing::new(STANDARD.decode(line).map_err(|_| format_error())?);
        if STANDARD.encode(seed.as_slice()) != line {
            return Err(format_error());
        }
        let seed: Zeroizing<[u8; 32]> =
            Zeroizing::new(seed.as_slice().try_into().map_err(|_| format_error())?);
        Ok(Self(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// Loads the key at `path`, or creates it there if the file does not exist (first
    /// start). Two instances starting together both end up with the same key.
    ///
    /// # Errors
    /// As [`CheckpointKey::load`] and [`CheckpointKey::create`].
    pub fn load_or_create(path: &Path) -> Result<Self, Error> {
        match Self::load(path) {
            Err(Error::KeyMissing { .. }) => match Self::create(path) {
                Err(Error::KeyExists { .. }) => Self::load(path),
                other => other,
            },
            other => other,
        }
    }

    /// The public half, for `pinward keys show`, the dashboard, and pinning.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_verifying_key(self.0.verifying_key())
    }

    /// Signs the JCS text of `checkpoint`.
    ///
    /// # Errors
    /// Only [`Error::Json`], which writing to memory does not produce.
    pub fn sign(&self, checkpoint: Checkpoint) -> Result<SignedCheckpoint, Error> {
        let message = checkpoint.to_jcs()?;
        let signature = self.0.sign(message.as_bytes());
        Ok(SignedCheckpoint::new_unchecked(
            checkpoint,
            signature,
            self.public_key(),
        ))
    }

    fn write_new(&self, path: &Path) -> Result<(), Error> {
        let io = |e| io_error(path, e);
        if path.symlink_metadata().is_ok() {
            return Err(Error::KeyExists {
                path: path.to_owned(),
            });
        }
        let tmp = temporary_sibling(path);
        let contents = Zeroizing::new(format!(
            "# pinward ledger checkpoint signing key: Ed25519 seed (RFC 8032 private key, 32 bytes), base64.\n\
             # Secret: keep this file mode 0600. Public key: {}\n{}\n",
            self.public_key().to_base64(),
            Zeroizing::new(STANDARD.encode(self.0.as_bytes())).as_str(),
        ));
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(contents.as_bytes())?;
            file.sync_all()?;
            fs::hard_link(&tmp, path)
        })();
        // The temporary name is removed whatever happened; the key is at `path` or nowhere.
        let _ = fs::remove_file(&tmp);
        match written {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::KeyExists {
                    path: path.to_owned(),
                });
            }
            Err(e) => return Err(io(e)),
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(())
    }
}

impl fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointKey")
            .field("public", &self.public_key().to_base64())
            .finish_non_exhaustive()
    }
}

fn temporary_sibling(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(
        ".tmp-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    path.with_file_name(name)
}

pub(crate) fn io_error(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::KeyMissing {
            path: path.to_owned(),
        }
    } else {
        Error::KeyIo {
            path: path.to_owned(),
            source: e,
        }
    }
}

/// The one line of a key file that is neither blank nor a `#` comment, trimmed.
pub(crate) fn single_payload_line(text: &str) -> Option<&str> {
    let mut payload = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = payload.next()?;
    payload.next().is_none().then_some(line)
}

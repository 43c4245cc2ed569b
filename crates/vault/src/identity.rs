//! The service's age X25519 identity: loading, first-start creation, and its public recipient.
//!
//! The file format is the one `age-keygen` writes and `age -d -i` reads: `#` comments, blank
//! lines, and one `AGE-SECRET-KEY-1…` line. pinward's file holds **exactly one** identity, so
//! its recipient is unambiguous; rotating keys means a second file (see DESIGN.md).
//!
//! Rules enforced here, each with its own [`Error`] variant so the binary can act on it:
//!
//! - a missing file is [`Error::IdentityMissing`]: the binary refuses to start when the
//!   database already holds sealed versions instead of creating an identity that opens none;
//! - a file the group or others may access at all (any of the `0o077` bits: readable *or*
//!   writable, since a swapped key would silently redirect future escrow) is
//!   [`Error::IdentityPermissions`]; the mode is checked on the opened file, not the path;
//! - a malformed file is [`Error::InvalidIdentityFile`] naming the line and a [`LineProblem`],
//!   never the line's text.
//!
//! [`Identity::load_or_create`] writes a new file without a window where a partial or
//! over-permissive file exists: the key goes to a temporary file in the same directory created
//! with `create_new` and mode `0600` from the start (never `chmod`ed later), is flushed to disk,
//! then hard-linked to the final name, which fails if that name appeared meanwhile (another
//! process won the race: its identity is loaded instead). The directory must exist and its
//! file system must support hard links.

use std::{
    fmt,
    fs::{self, File, OpenOptions},
    io::{self, Read, Write},
    os::unix::fs::{MetadataExt, OpenOptionsExt},
    path::{Path, PathBuf},
};

use rand::{RngCore, rngs::OsRng};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::{
    Error, LineProblem, Recipient,
    recipients::{KeyKind, classify},
};

/// Whether [`Identity::load_or_create`] created the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The file did not exist; a new identity was generated and written.
    Yes,
    /// The file existed and was loaded.
    No,
}

/// An age X25519 identity (secret key). The key is zeroized on drop; `Debug` shows only the
/// public recipient; there is no `Display` or `Clone`.
pub struct Identity {
    pub(crate) secret: age::x25519::Identity,
    recipient: Recipient,
}

impl Identity {
    /// A fresh identity from the operating system's CSPRNG (not written anywhere).
    pub fn generate() -> Self {
        Self::from_age(age::x25519::Identity::generate())
    }

    fn from_age(secret: age::x25519::Identity) -> Self {
        let recipient = Recipient(secret.to_public());
        Self { secret, recipient }
    }

    /// Parses identity-file text (comments, blank lines, one `AGE-SECRET-KEY-1…` line).
    pub fn parse(text: &str) -> Result<Self, Error> {
        parse_text(text).map_err(|(line, problem)| Error::InvalidIdentity { line, problem })
    }

    /// Loads the identity file at `path`, checking its permissions first.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let io_error = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::IdentityMissing {
                    path: path.to_owned(),
                });
            }
            Err(e) => return Err(io_error(e)),
        };
        let metadata = file.metadata().map_err(io_error)?;
        if !metadata.is_file() {
            return Err(io_error(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        let mode = metadata.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::IdentityPermissions {
                path: path.to_owned(),
                mode,
            });
        }
        // Sized up front so reading never reallocates and leaves an unwiped copy behind.
        let capacity = usize::try_from(metadata.len())
            .unwrap_or(0)
            .saturating_add(1);
        let mut bytes = Zeroizing::new(Vec::with_capacity(capacity));
        file.read_to_end(&mut bytes).map_err(io_error)?;
        let invalid = |(line, problem)| Error::InvalidIdentityFile {
            path: path.to_owned(),
            line,
            problem,
        };
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            invalid((line + 1, LineProblem::NotAKey))
        })?;
        parse_text(text).map_err(invalid)
    }

    /// Loads the identity file at `path`, or creates it (mode `0600`) with a new identity if it
    /// does not exist. Any other problem (permissions, malformed file) is an error, never a
    /// reason to overwrite.
    pub fn load_or_create(path: &Path) -> Result<(Self, Created), Error> {
        Self::load_or_create_described(path, SERVICE_DESCRIPTION)
    }

    /// [`Identity::load_or_create`] for an identity that is not the service's: a file it
    /// creates starts with the comment `# {description}` (one line) instead.
    pub fn load_or_create_described(
        path: &Path,
        description: &str,
    ) -> Result<(Self, Created), Error> {
        match Self::load(path) {
            Err(Error::IdentityMissing { .. }) => create(path, description),
            other => other.map(|identity| (identity, Created::No)),
        }
    }

    /// The public recipient (`age1…`) that seals to this identity.
    pub fn recipient(&self) -> Recipient {
        self.recipient.clone()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("recipient", &format_args!("{}", self.recipient))
            .finish_non_exhaustive()
    }
}

/// Parses identity text into the one identity it holds, or the 1-based line and problem
/// (line 0 for "no identity at all").
fn parse_text(text: &str) -> Result<Identity, (usize, LineProblem)> {
    let mut found = None;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let problem = match classify(line) {
            KeyKind::X25519Identity if found.is_some() => LineProblem::MoreThanOneIdentity,
            KeyKind::X25519Identity => match line.parse::<age::x25519::Identity>() {
                Ok(secret) => {
                    found = Some(secret);
                    continue;
                }
                Err(_) => LineProblem::InvalidEncoding,
            },
            KeyKind::X25519Recipient | KeyKind::UnsupportedRecipient => {
                LineProblem::RecipientNotSecretKey
            }
            KeyKind::UnsupportedIdentity => LineProblem::UnsupportedKeyType,
            KeyKind::Unknown => LineProblem::NotAKey,
        };
        return Err((index + 1, problem));
    }
    found
        .map(Identity::from_age)
        .ok_or((0, LineProblem::NoIdentity))
}

const SERVICE_DESCRIPTION: &str =
    "pinward service identity: opens every PIN and token pinward escrows. Back it up.";

fn create(path: &Path, description: &str) -> Result<(Identity, Created), Error> {
    let identity = Identity::generate();
    // One comment line, whatever the caller passed: a newline would start a non-comment line.
    let description = description.replace(['\n', '\r'], " ");
    let contents = Zeroizing::new(format!(
        "# {description}\n# public key: {}\n{}\n",
        identity.recipient,
        identity.secret.to_string().expose_secret()
    ));

    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut nonce = [0u8; 8];
    OsRng.fill_bytes(&mut nonce);
    let temp = dir.join(format!(".{name}.{}.tmp", hex::encode(nonce)));
    let io_error = |at: &Path| {
        let at = at.to_owned();
        move |source| Error::Io { path: at, source }
    };

    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(contents.as_bytes())?;
            file.sync_all()
        });
    if let Err(e) = written {
        // Best effort: the temporary file may not even exist.
        let _ = fs::remove_file(&temp);
        return Err(io_error(&temp)(e));
    }

    let linked = fs::hard_link(&temp, path);
    fs::remove_file(&temp).map_err(io_error(&temp))?;
    match linked {
        Ok(()) => {
            File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(io_error(&dir))?;
            Ok((identity, Created::Yes))
        }
        // Another process created it between our check and our link: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Identity::load(path).map(|identity| (identity, Created::No))
        }
        Err(e) => Err(io_error(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AGE-SECRET-KEY-1XSZ0FGJV7SX0QX4YCFG3SMJNSMR6EXCUVQF36NKXNTDGE7A0QL8QL4QSD4";
    const PUBLIC: &str = "age1294qy9uw54gjuj4ffwp20950ryc63vrutzdvl5sajkl46hxumeysa3g9g7";

    #[test]
    fn age_keygen_output_parses_to_its_public_key() {
        let text = format!("# created: 2026-11-23T08:59:17Z\n# public key: {PUBLIC}\n{KEY}\n");
        let identity = Identity::parse(&text).unwrap();
        assert_eq!(identity.recipient().to_string(), PUBLIC);
    }

    #[test]
    fn debug_shows_the_recipient_and_not_the_key() {
        let identity = Identity::parse(KEY).unwrap();
        let shown = format!("{identity:?}");
        assert!(shown.contains(PUBLIC), "{shown}");
        assert!(!shown.to_uppercase().contains("SECRET"), "{shown}");
        assert!(!shown.contains("XSZ0FGJV"), "{shown}");
    }

    #[test]
    fn malformed_identity_text_names_the_line_not_the_key() {
        let broken = format!("{}Q", &KEY[..KEY.len() - 1]);
        let cases = [
            (String::new(), 0, LineProblem::NoIdentity),
            ("# only a comment\n".to_owned(), 0, LineProblem::NoIdentity),
            (format!("# c\n{broken}\n"), 2, LineProblem::InvalidEncoding),
            (
                format!("{KEY}\n{KEY}\n"),
                2,
                LineProblem::MoreThanOneIdentity,
            ),
            (format!("{PUBLIC}\n"), 1, LineProblem::RecipientNotSecretKey),
            (
                "AGE-PLUGIN-YUBIKEY-1QQQ\n".to_owned(),
                1,
                LineProblem::UnsupportedKeyType,
            ),
            (
                "AGE-SECRET-KEY-PQ-1QQQ\n".to_owned(),
                1,
                LineProblem::UnsupportedKeyType,
            ),
            ("\n\nhello\n".to_owned(), 3, LineProblem::NotAKey),
        ];
        for (text, line, problem) in cases {
            match Identity::parse(&text) {
                Err(error @ Error::InvalidIdentity { .. }) => {
                    let shown = format!("{error} {error:?}");
                    assert!(!shown.contains("XSZ0FGJV"), "{shown}");
                    assert!(
                        matches!(error, Error::InvalidIdentity { line: l, problem: p } if l == line && p == problem),
                        "{shown}"
                    );
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}

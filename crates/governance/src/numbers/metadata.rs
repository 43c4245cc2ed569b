//! What the team records about a number beyond Meta's facts: what it is for, when it was
//! activated, its recovery email and its backup contact channels. Input is parsed into
//! these types once; a bad field is refused by name and nothing is written.

use chrono::{DateTime, NaiveDate, Utc};
use graph::PhoneNumberId;
use serde_json::{Map, Value, json};

use super::visible;
use crate::access::{Caller, Permission};
use crate::health::{MailboxKind, mailbox_kind};
use crate::store::Store;
use crate::{Error, exec, ledger};

/// Why free text with a run of six digits is refused: it looks like a PIN, and what is
/// saved here is ledgered, where nothing is ever forgotten.
const SIX_DIGITS: &str =
    "six digits in a row (a PIN is never written down; these details are ledgered)";

/// Longest usage text.
pub const MAX_USAGE: usize = 200;
/// Most backup channels per number.
pub const MAX_CHANNELS: usize = 10;
/// Longest backup channel value.
pub const MAX_CHANNEL_VALUE: usize = 200;

/// How a backup contact is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChannelKind {
    /// A mailbox (checked as an email address).
    Email,
    /// A web contact form (an http(s) URL).
    WebForm,
    /// A phone line (digits, spaces, `+ - ( )`).
    Phone,
    /// Another messenger (a handle or link).
    Messenger,
    /// Anything else, described in words.
    Other,
}

impl ChannelKind {
    /// Every kind, in the order forms list them.
    pub const ALL: [ChannelKind; 5] = [
        ChannelKind::Email,
        ChannelKind::WebForm,
        ChannelKind::Phone,
        ChannelKind::Messenger,
        ChannelKind::Other,
    ];

    /// The stored and typed spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::WebForm => "web_form",
            ChannelKind::Phone => "phone",
            ChannelKind::Messenger => "messenger",
            ChannelKind::Other => "other",
        }
    }

    /// Parses the stored and typed spelling ([`ChannelKind::as_str`]).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `backup_channels`.
    pub fn parse(text: &str) -> Result<ChannelKind, Error> {
        ChannelKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| Error::Invalid {
                field: "backup_channels",
                problem: "kind must be one of email, web_form, phone, messenger, other".to_owned(),
            })
    }
}

/// One backup contact channel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupChannel {
    /// How it is reached.
    pub kind: ChannelKind,
    /// The address, URL, number or handle.
    pub value: String,
}

/// A number's metadata as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metadata {
    /// What the number is for (sales, support, ads landing page…).
    pub usage: Option<String>,
    /// When the number was activated.
    pub activation_date: Option<NaiveDate>,
    /// Where Meta sends recovery mail for the number's account.
    pub recovery_email: Option<String>,
    /// The recovery email's mailbox kind: personal and disposable mailboxes are flagged.
    pub recovery_email_kind: Option<MailboxKind>,
    /// Backup contact channels.
    pub backup_channels: Vec<BackupChannel>,
}

impl Metadata {
    /// A digest of what is recorded (usage, activation date, recovery email, channels). A
    /// form carries the one it was shown, and [`update_metadata_seen`] refuses to save over
    /// details that changed since.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        fingerprint(
            self.usage.as_deref(),
            self.activation_date,
            self.recovery_email.as_deref(),
            &self.backup_channels,
        )
    }
}

fn fingerprint(
    usage: Option<&str>,
    activation_date: Option<NaiveDate>,
    recovery_email: Option<&str>,
    channels: &[BackupChannel],
) -> String {
    use sha2::Digest;
    let recorded = json!([usage, activation_date, recovery_email, channels]);
    let digest = sha2::Sha256::digest(recorded.to_string().as_bytes());
    hex::encode(&digest[..16])
}

/// The new metadata of a number: every field is replaced (a cleared field becomes empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataUpdate {
    /// What the number is for; blank clears it.
    pub usage: Option<String>,
    /// When it was activated (not in the future, not before 2009).
    pub activation_date: Option<NaiveDate>,
    /// Its recovery email; blank clears it.
    pub recovery_email: Option<String>,
    /// Its backup channels.
    pub backup_channels: Vec<BackupChannel>,
}

fn invalid(field: &'static str, problem: impl Into<String>) -> Error {
    Error::Invalid {
        field,
        problem: problem.into(),
    }
}

fn blank_to_none(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Checks the shape of an email address (the mail system is the real judge; this catches
/// typing mistakes) and returns it lowercased.
pub(crate) fn parse_email(field: &'static str, text: &str) -> Result<String, Error> {
    let email = text.trim().to_lowercase();
    let problem = "is not an email address (name@domain.tld)";
    if !(3..=254).contains(&email.len())
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(field, problem));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(invalid(field, problem));
    };
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
        return Err(invalid(field, problem));
    }
    Ok(email)
}

fn parse_channel(n: usize, channel: &BackupChannel) -> Result<BackupChannel, Error> {
    let field = "backup_channels";
    let value = channel.value.trim();
    if value.is_empty() {
        return Err(invalid(field, format!("channel {n}: a value is required")));
    }
    if value.chars().count() > MAX_CHANNEL_VALUE || value.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!("channel {n}: at most {MAX_CHANNEL_VALUE} characters, no control characters"),
        ));
    }
    let value = match channel.kind {
        ChannelKind::Email => parse_email(field, value)
            .map_err(|_| invalid(field, format!("channel {n}: not an email address")))?,
        ChannelKind::WebForm => match url::Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "https" | "http") && url.host().is_some() => {
                url.to_string()
            }
            _ => {
                return Err(invalid(
                    field,
                    format!("channel {n}: a web form must be an http(s) URL"),
                ));
            }
        },
        ChannelKind::Phone => {
            let digits = value.chars().filter(char::is_ascii_digit).count();
            let shape = value
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'));
            // Seven digits at least (the shortest numbers with their country code): six
            // alone look like a PIN, and channels are ledgered.
            if !shape || !(7..=15).contains(&digits) {
                return Err(invalid(
                    field,
                    format!("channel {n}: a phone line is 7 to 15 digits"),
                ));
            }
            value.to_owned()
        }
        // Free text, ledgered like the rest: a phone line belongs in a phone channel.
        ChannelKind::Messenger | ChannelKind::Other if super::holds_six_digits(value) => {
            return Err(invalid(
                field,
                format!(
                    "channel {n}: must not contain {SIX_DIGITS}; a phone line is a phone channel"
                ),
            ));
        }
        ChannelKind::Messenger | ChannelKind::Other => value.to_owned(),
    };
    Ok(BackupChannel {
        kind: channel.kind,
        value,
    })
}

/// Every fault of the backup `channels` as [`update_metadata`] finds them, in order, each
/// with the number the channel comes with and named `channel {n}` by it: a form that reads
/// channels from lines of text numbers them by line, so a bad value is named beside a badly
/// written line.
#[must_use]
pub fn channel_faults(channels: &[(usize, BackupChannel)]) -> Vec<(usize, String)> {
    checked_channels(channels.iter().map(|(n, c)| (*n, c))).1
}

fn joined(faults: Vec<(usize, String)>) -> String {
    let faults: Vec<String> = faults.into_iter().map(|(_, fault)| fault).collect();
    faults.join("; ")
}

/// The channels checked and normalized, and the faults (with each channel's number) of those
/// that are not: a bad value, or one listed twice (in any case).
fn checked_channels<'a>(
    channels: impl Iterator<Item = (usize, &'a BackupChannel)>,
) -> (Vec<BackupChannel>, Vec<(usize, String)>) {
    let mut checked: Vec<BackupChannel> = Vec::new();
    let mut faults = Vec::new();
    for (n, channel) in channels {
        let channel = match parse_channel(n, channel) {
            Ok(channel) => channel,
            Err(Error::Invalid { problem, .. }) => {
                faults.push((n, problem));
                continue;
            }
            Err(other) => {
                faults.push((n, other.to_string()));
                continue;
            }
        };
        if checked
            .iter()
            .any(|c| c.kind == channel.kind && c.value.eq_ignore_ascii_case(&channel.value))
        {
            faults.push((n, format!("channel {n}: listed twice")));
        }
        checked.push(channel);
    }
    (checked, faults)
}

/// Checks `update` as [`update_metadata`] would, without storing anything: a form can
/// check each field alone (the others left blank) and report every problem at once.
///
/// # Errors
/// [`Error::Invalid`] naming the first field at fault.
pub fn check_metadata(update: &MetadataUpdate, now: DateTime<Utc>) -> Result<(), Error> {
    parse_update(update, now).map(drop)
}

/// The update, checked and normalized.
fn parse_update(update: &MetadataUpdate, now: DateTime<Utc>) -> Result<MetadataUpdate, Error> {
    let usage = blank_to_none(update.usage.as_deref());
    if let Some(usage) = &usage
        && (usage.chars().count() > MAX_USAGE || usage.chars().any(char::is_control))
    {
        return Err(invalid(
            "usage",
            format!("at most {MAX_USAGE} characters, no control characters"),
        ));
    }
    if usage.as_deref().is_some_and(super::holds_six_digits) {
        return Err(invalid("usage", format!("must not contain {SIX_DIGITS}")));
    }
    super::check_day_between("activation_date", update.activation_date, now)?;
    let recovery_email = blank_to_none(update.recovery_email.as_deref())
        .map(|email| parse_email("recovery_email", &email))
        .transpose()?;
    if update.backup_channels.len() > MAX_CHANNELS {
        return Err(invalid(
            "backup_channels",
            format!("at most {MAX_CHANNELS} channels"),
        ));
    }
    // Every channel at fault is named, not just the first.
    let numbered = update
        .backup_channels
        .iter()
        .enumerate()
        .map(|(i, c)| (i + 1, c));
    let (channels, faults) = checked_channels(numbered);
    if !faults.is_empty() {
        return Err(invalid("backup_channels", joined(faults)));
    }
    Ok(MetadataUpdate {
        usage,
        activation_date: update.activation_date,
        recovery_email,
        backup_channels: channels,
    })
}

/// Reads the stored JSON list of backup channels.
pub(crate) fn parse_stored_channels(text: &str) -> Result<Vec<BackupChannel>, Error> {
    serde_json::from_str(text).map_err(|_| Error::Invalid {
        field: "backup_channels",
        problem: "the database holds an unreadable list".to_owned(),
    })
}

/// Replaces a number's metadata and ledgers `number.updated` with each changed field's old
/// and new value. An update that changes nothing writes nothing.
///
/// # Errors
/// [`Error::Forbidden`] without `numbers:manage`; [`Error::NotFound`] for a number the
/// caller cannot see; [`Error::Invalid`] naming `usage`, `activation_date`,
/// `recovery_email` or `backup_channels` (nothing changed); database errors.
pub async fn update_metadata(
    store: &Store,
    caller: &Caller,
    phone: &PhoneNumberId,
    update: &MetadataUpdate,
    now: DateTime<Utc>,
) -> Result<Metadata, Error> {
    replace(store, caller, phone, update, None, now).await
}

/// [`update_metadata`] for an update made on details read earlier: `seen` is their
/// [`Metadata::fingerprint`], and details changed since are not overwritten.
///
/// # Errors
/// As [`update_metadata`], and [`Error::Stale`] when the recorded details are no longer
/// those `seen` (nothing changed).
pub async fn update_metadata_seen(
    store: &Store,
    caller: &Caller,
    phone: &PhoneNumberId,
    update: &MetadataUpdate,
    seen: &str,
    now: DateTime<Utc>,
) -> Result<Metadata, Error> {
    replace(store, caller, phone, update, Some(seen), now).await
}

async fn replace(
    store: &Store,
    caller: &Caller,
    phone: &PhoneNumberId,
    update: &MetadataUpdate,
    seen: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Metadata, Error> {
    caller.require(Permission::ManageNumbers)?;
    let update = parse_update(update, now)?;
    let actor = caller.actor()?;
    let mut tx = store.begin_for(&caller.org_id).await?;
    let row = visible(&mut tx, caller, phone, true).await?;
    let activation_sql = "SELECT activation_date FROM phone_numbers WHERE org_id = $1 AND id = $2";
    let activation: Option<NaiveDate> = crate::on_tx!(tx, conn => sqlx::query_scalar(activation_sql)
        .bind(&caller.org_id).bind(&row.id).fetch_one(conn).await)?;
    let channels_before = parse_stored_channels(&row.backup_channels)?;
    let recorded = fingerprint(
        row.usage.as_deref(),
        activation,
        row.recovery_email.as_deref(),
        &channels_before,
    );
    let mut changed = Map::new();
    let mut note = |field: &str, from: Value, to: Value| {
        if from != to {
            changed.insert(field.to_owned(), json!({ "from": from, "to": to }));
        }
    };
    note("usage", json!(row.usage), json!(update.usage));
    note(
        "activation_date",
        json!(activation.map(|d| d.to_string())),
        json!(update.activation_date.map(|d| d.to_string())),
    );
    note(
        "recovery_email",
        json!(row.recovery_email),
        json!(update.recovery_email),
    );
    note(
        "backup_channels",
        serde_json::to_value(&channels_before).unwrap_or(Value::Null),
        serde_json::to_value(&update.backup_channels).unwrap_or(Value::Null),
    );
    let metadata = Metadata {
        recovery_email_kind: update.recovery_email.as_deref().map(mailbox_kind),
        usage: update.usage,
        activation_date: update.activation_date,
        recovery_email: update.recovery_email,
        backup_channels: update.backup_channels,
    };
    if changed.is_empty() {
        tx.rollback().await?;
        return Ok(metadata);
    }
    // Only a save that would change the details is stale: the same text posted twice finds
    // it saved and changes nothing.
    if seen.is_some_and(|seen| seen != recorded) {
        tx.rollback().await?;
        return Err(Error::Stale {
            what: "the number's details",
        });
    }
    let channels_json = serde_json::to_string(&metadata.backup_channels)
        .map_err(|_| invalid("backup_channels", "could not be written"))?;
    exec!(
        tx,
        "UPDATE phone_numbers SET usage = $3, activation_date = $4, recovery_email = $5, backup_channels = $6 \
         WHERE org_id = $1 AND id = $2",
        &caller.org_id,
        &row.id,
        &metadata.usage,
        metadata.activation_date,
        &metadata.recovery_email,
        &channels_json
    )?;
    let mut details = Map::new();
    details.insert("changed".to_owned(), Value::Object(changed));
    if let Some(kind) = metadata.recovery_email_kind
        && kind != MailboxKind::Business
    {
        details.insert("recovery_email_flag".to_owned(), json!(kind));
    }
    let draft = crate::custody::protocol_event(
        "number.updated",
        format!("phone:{}", row.meta_id),
        &actor,
        Value::Object(details),
    )?;
    ledger::append(&mut tx, &caller.org_id, now, draft).await?;
    tx.commit().await?;
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_are_lowercased_and_malformed_ones_refused() {
        assert_eq!(
            parse_email("recovery_email", " Ops@Acme.Example ").unwrap(),
            "ops@acme.example"
        );
        for bad in [
            "ops",
            "ops@",
            "@acme.example",
            "ops@acme",
            "o p@acme.example",
            "a@b@c.de",
            "ops@-acme.example",
        ] {
            assert!(parse_email("recovery_email", bad).is_err(), "{bad}");
        }
    }
}

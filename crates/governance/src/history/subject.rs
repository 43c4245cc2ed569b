//! A ledger filter's subject as a person types it, resolved to the subject the ledger holds.

use super::Filter;
use crate::access::{Caller, Permission};
use crate::{Error, Store, on_read};

/// Most matches a refusal lists.
const LISTED: usize = 10;

/// The filter with its subject as the ledger names it. A person types:
///
/// - a number as the dashboard shows it (`+1 555 0100`; spaces, dashes, dots and brackets
///   ignored) or its Meta id: looked up among the org's numbers, to `phone:<Meta id>`;
/// - a subject as the ledger holds it, one of its own kinds and an id (`phone:…`,
///   `member:…`, `client:…`, `waba:…`, `org:…`, …): taken as it is;
/// - anything else, a name: the client, WABA, member (name or email), number (verified
///   name) or org of exactly that name, in any case.
///
/// # Errors
/// [`Error::Forbidden`] without `ledger:read`; [`Error::Invalid`] naming `subject` when
/// nothing of the org has that number or name, or several do (each is named, so the person
/// can pick one); database errors.
pub async fn resolve_subject(
    store: &Store,
    caller: &Caller,
    filter: Filter,
) -> Result<Filter, Error> {
    caller.require(Permission::ReadLedger)?;
    let Some(typed) = filter.subject.as_deref() else {
        return Ok(filter);
    };
    let spelled = typed
        .chars()
        .all(|c| c.is_ascii_digit() || " +-.()".contains(c));
    let digits: String = typed.chars().filter(char::is_ascii_digit).collect();
    let subject = if spelled && !digits.is_empty() {
        by_number(store, caller, typed, &digits).await?
    } else if held_as_is(typed) {
        return Ok(filter);
    } else {
        by_name(store, caller, typed).await?
    };
    Ok(Filter {
        subject: Some(subject),
        ..filter
    })
}

/// The kinds of subject the ledger holds (`phone:<Meta id>`, `member:<id>`, …).
const KINDS: [&str; 9] = [
    "phone",
    "member",
    "invitation",
    "client",
    "waba",
    "org",
    "job",
    "recipient",
    "token",
];

/// Whether `typed` is a subject as the ledger spells one: one of its kinds, a colon, an id.
/// Anything else is a name, even one with a colon in it.
fn held_as_is(typed: &str) -> bool {
    typed.split_once(':').is_some_and(|(kind, id)| {
        KINDS.contains(&kind) && !id.is_empty() && !id.contains(char::is_whitespace)
    })
}

async fn by_number(
    store: &Store,
    caller: &Caller,
    typed: &str,
    digits: &str,
) -> Result<String, Error> {
    let org = caller.org_id.as_str();
    let sql = "SELECT meta_phone_number_id FROM phone_numbers WHERE org_id = $1 AND \
               (meta_phone_number_id = $2 OR replace(replace(replace(replace(replace(replace(\
               display_phone_number, ' ', ''), '-', ''), '+', ''), '.', ''), '(', ''), ')', '') = $2) \
               ORDER BY meta_phone_number_id LIMIT 10";
    let found: Vec<String> = on_read!(store, org, conn => sqlx::query_scalar(sql)
        .bind(org)
        .bind(digits)
        .fetch_all(conn)
        .await)?;
    // A Meta id names one number; a phone number may be shown by several rows (a number
    // registered again under a new id), and picking one would hide the others' events.
    let exact = found.iter().find(|id| *id == digits);
    match (exact, found.as_slice()) {
        (Some(id), _) | (None, [id]) => Ok(format!("phone:{id}")),
        // The dashboard shows a number with its country code; one typed without may lack it.
        (None, []) if !typed.trim_start().starts_with('+') => Err(Error::Invalid {
            field: "subject",
            problem: format!(
                "no number of this org is {typed}: type it with its country code, as the \
                 dashboard shows it (+1 555 0100)"
            ),
        }),
        (None, []) => Err(Error::Invalid {
            field: "subject",
            problem: format!("no number of this org is {typed}"),
        }),
        (None, several) => {
            let subjects: Vec<String> = several.iter().map(|id| format!("phone:{id}")).collect();
            Err(Error::Invalid {
                field: "subject",
                problem: format!(
                    "{typed} is shown by several numbers: filter by one of {}",
                    subjects.join(", ")
                ),
            })
        }
    }
}

async fn by_name(store: &Store, caller: &Caller, typed: &str) -> Result<String, Error> {
    let org = caller.org_id.as_str();
    // (subject, what it is, its name, what tells it from others of that name) of everything
    // of the org that has a name.
    let sql = "SELECT 'client:' || id, 'client', name, '' FROM clients WHERE org_id = $1 \
               UNION ALL SELECT 'waba:' || meta_waba_id, 'WABA', name, meta_waba_id FROM wabas \
                 WHERE org_id = $1 \
               UNION ALL SELECT 'member:' || m.id, 'member', u.display_name, u.email FROM members m \
                 JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 \
               UNION ALL SELECT 'member:' || m.id, 'member', u.email, u.email FROM members m \
                 JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 \
               UNION ALL SELECT 'phone:' || meta_phone_number_id, 'number', verified_name, \
                 display_phone_number FROM phone_numbers WHERE org_id = $1 AND verified_name IS NOT NULL \
               UNION ALL SELECT 'org:' || id, 'org', name, slug FROM orgs WHERE id = $1";
    let named: Vec<(String, String, String, String)> =
        on_read!(store, org, conn => sqlx::query_as(sql).bind(org).fetch_all(conn).await)?;
    // Compared here, in any case and script, as client names are (see `clients::rename`).
    let folded = typed.to_lowercase();
    let mut found: Vec<(String, String, String)> = Vec::new();
    for (subject, kind, name, told) in named {
        if name.to_lowercase() == folded && !found.iter().any(|(s, _, _)| *s == subject) {
            found.push((subject, kind, told));
        }
    }
    found.sort();
    match found.as_slice() {
        [(subject, _, _)] => Ok(subject.clone()),
        [] => Err(Error::Invalid {
            field: "subject",
            problem: format!(
                "nothing of this org is named {typed}: type a phone number, the name of a \
                 number, client, WABA or member, or a subject as the ledger holds it \
                 (phone:…, member:…)"
            ),
        }),
        several => {
            let listed: Vec<String> = several
                .iter()
                .take(LISTED)
                .map(|(subject, kind, told)| match told.as_str() {
                    "" => format!("{subject} (a {kind})"),
                    told => format!("{subject} (the {kind} {told})"),
                })
                .collect();
            let more = if several.len() > LISTED {
                format!(" and {} more", several.len() - LISTED)
            } else {
                String::new()
            };
            Err(Error::Invalid {
                field: "subject",
                problem: format!(
                    "{} things of this org are named {typed}: filter by one of {}{more}",
                    several.len(),
                    listed.join(", ")
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::held_as_is;

    #[test]
    fn a_subject_as_the_ledger_spells_it_is_taken_as_it_is() {
        for held in ["phone:1093", "member:01a2-x", "org:abc", "recipient:r-1"] {
            assert!(held_as_is(held), "{held}");
        }
        for name in [
            "Green Optics",
            "ops:night",
            "Re: sales",
            "phone:",
            ":x",
            "Phone:1",
            "ops@acme.example",
        ] {
            assert!(!held_as_is(name), "{name}");
        }
    }
}

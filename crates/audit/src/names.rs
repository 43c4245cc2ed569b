//! The validated names of an event: who did it ([`Actor`]) and what happened ([`Action`]).

use std::fmt;

use crate::Error;

/// Who did it: `system`, `user:<id>` or `token:<id>`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Actor(String);

impl Actor {
    /// The service itself (scheduler, sync, rotation workers).
    #[must_use]
    pub fn system() -> Self {
        Self("system".to_owned())
    }

    /// A signed-in member.
    ///
    /// # Errors
    /// [`Error::InvalidActor`] unless `id` is 1–128 of `[A-Za-z0-9._-]`.
    pub fn user(id: &str) -> Result<Self, Error> {
        Self::parse(&format!("user:{id}"))
    }

    /// An API token.
    ///
    /// # Errors
    /// [`Error::InvalidActor`] unless `id` is 1–128 of `[A-Za-z0-9._-]`.
    pub fn token(id: &str) -> Result<Self, Error> {
        Self::parse(&format!("token:{id}"))
    }

    /// Parses the written form.
    ///
    /// # Errors
    /// [`Error::InvalidActor`].
    pub fn parse(text: &str) -> Result<Self, Error> {
        if is_actor(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::InvalidActor)
        }
    }

    /// The written form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn is_actor(text: &str) -> bool {
    if text == "system" {
        return true;
    }
    let id = text
        .strip_prefix("user:")
        .or_else(|| text.strip_prefix("token:"));
    id.is_some_and(|id| {
        (1..=128).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    })
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What happened, as a dotted name: `pin.rotated`, `pin.rotation.started`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Action(String);

impl Action {
    /// Parses a dotted name.
    ///
    /// # Errors
    /// [`Error::InvalidAction`] unless `text` is two or more `[a-z][a-z0-9_]*` segments
    /// joined by `.`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if is_action(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::InvalidAction)
        }
    }

    /// The dotted name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn is_action(text: &str) -> bool {
    let mut segments = 1;
    let mut segment_start = true;
    for b in text.bytes() {
        if segment_start {
            if !b.is_ascii_lowercase() {
                return false;
            }
            segment_start = false;
        } else if b == b'.' {
            segments += 1;
            segment_start = true;
        } else if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return false;
        }
    }
    !segment_start && segments >= 2
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_need_two_lowercase_segments() {
        for good in ["pin.rotated", "pin.rotation.started", "a1.b_2"] {
            assert!(Action::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "pin",
            "Pin.rotated",
            "pin..rotated",
            ".pin.x",
            "pin.x.",
            "pin.1x",
            "pin.rotated ",
            "pin-x.y",
            "",
        ] {
            assert!(Action::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn actors_are_system_users_or_tokens() {
        assert_eq!(Actor::system().as_str(), "system");
        assert_eq!(Actor::user("42").unwrap().as_str(), "user:42");
        assert_eq!(Actor::token("t-1.x_y").unwrap().as_str(), "token:t-1.x_y");
        for bad in [
            "user:", "admin", "user:a b", "token:é", "System", "user:a:b",
        ] {
            assert!(Actor::parse(bad).is_err(), "{bad}");
        }
        assert!(Actor::user(&"a".repeat(129)).is_err());
    }
}

//! PIN generation: uniform over the non-trivial PINs, from the OS CSPRNG.
//!
//! A candidate is drawn uniformly from 000000–999999 (leading zeros allowed) and redrawn while
//! it is trivial, so the result is uniform over the accepted set. [`generate`] uses
//! [`OsRng`]; [`generate_with`] takes any cryptographic RNG so tests can seed one.
//!
//! A PIN is trivial when its digits `d0 d1 d2 d3 d4 d5` are:
//!
//! - **one repeated digit** (`000000`, `777777`);
//! - **an ascending or descending run**: each digit is the previous one plus 1, or each is the
//!   previous one minus 1 (`123456`, `654321`). **Wrap-around counts** (`890123`, `109876`):
//!   on a keypad and in people's heads `…8 9 0 1…` continues the run, and rejecting these 10
//!   extra PINs costs nothing measurable;
//! - **a repeated pair** `ababab` (`121212`) or **a repeated triple** `abcabc` (`123123`,
//!   `907907`);
//! - **a run of doubled or tripled digits**, the other reading of DESIGN.md's "the same for
//!   repeated pairs/triples": `aabbcc` and `aaabbb` whose distinct digits step by +1 or −1,
//!   wrap-around included (`112233`, `998877`, `889900`, `111222`, `000999`).
//!
//! That is 1,150 of the 1,000,000 PINs (checked by a test that enumerates them), so a draw is
//! rejected with probability 0.115 % and the expected number of draws is 1.0012. Rejection
//! leaves the accepted set not exactly uniform per digit position (digits that occur in many
//! trivial PINs are slightly rarer); the statistical test computes its expected counts from
//! the accepted set exactly rather than assuming 1/10.

use rand::{CryptoRng, Rng, RngCore, rngs::OsRng};

use crate::{Pin, pin::PIN_LEN};

/// Generates a non-trivial PIN from the operating system's CSPRNG.
///
/// A call takes well under a microsecond of CPU (one `getrandom` read per draw); it does not
/// block, so it may be called from async code directly.
pub fn generate() -> Pin {
    generate_with(&mut OsRng)
}

/// Generates a non-trivial PIN from `rng`. Production code uses [`generate`]; this exists so
/// statistical tests can run on a seeded RNG.
pub fn generate_with<R: CryptoRng + RngCore + ?Sized>(rng: &mut R) -> Pin {
    loop {
        let n = rng.gen_range(0..1_000_000u32);
        if let Ok(pin) = Pin::from_index(n)
            && !pin.is_trivial()
        {
            return pin;
        }
    }
}

/// The trivial-PIN rule described in the module documentation, over the six ASCII digits.
///
/// It works on the ASCII bytes directly (differences and equalities of ASCII digits are those
/// of their values), so no copy of the digits is left on the stack.
pub(crate) fn is_trivial(d: &[u8]) -> bool {
    if d.len() != PIN_LEN {
        return false;
    }
    // Forward difference modulo 10 between two digits; `to + 10 - from` cannot underflow
    // because ASCII digits differ by at most 9.
    let step = |from: u8, to: u8| (to + 10 - from) % 10;
    let is_unit_step = |s: u8| s == 1 || s == 9;

    let repeated_pair = (0..PIN_LEN - 2).all(|i| d[i] == d[i + 2]);
    let repeated_triple = (0..PIN_LEN - 3).all(|i| d[i] == d[i + 3]);
    let first = step(d[0], d[1]);
    let run = is_unit_step(first) && (1..PIN_LEN - 1).all(|i| step(d[i], d[i + 1]) == first);
    let doubled_run = d[0] == d[1]
        && d[2] == d[3]
        && d[4] == d[5]
        && is_unit_step(step(d[1], d[2]))
        && step(d[1], d[2]) == step(d[3], d[4]);
    let tripled_run = d[0] == d[1]
        && d[1] == d[2]
        && d[3] == d[4]
        && d[4] == d[5]
        && is_unit_step(step(d[2], d[3]));

    // One repeated digit is a repeated pair (and triple) with a == b.
    repeated_pair || repeated_triple || run || doubled_run || tripled_run
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trivial(text: &str) -> bool {
        Pin::parse(text).unwrap().is_trivial()
    }

    #[test]
    fn the_documented_examples_are_trivial() {
        for text in [
            "000000", "777777", "123456", "654321", "890123", "109876", "012345", "121212",
            "123123", "907907", "112233", "998877", "889900", "111222", "999000", "000999",
        ] {
            assert!(trivial(text), "{text}");
        }
    }

    #[test]
    fn near_misses_are_not_trivial() {
        for text in [
            "123457", "124356", "121213", "123124", "112234", "111223", "135791", "480213",
            "112244", "111333", "123321",
        ] {
            assert!(!trivial(text), "{text}");
        }
    }
}

//! The PIN generator: never a trivial PIN, and uniform over the accepted ones.
//!
//! The trivial set is rebuilt here independently (by construction, from the patterns the
//! module documentation lists) and compared with `Pin::is_trivial` over all 10^6 PINs. The
//! statistical tests run on a seeded ChaCha RNG through `generate_with`, so they are
//! deterministic and cannot flake; their expected counts come from the accepted set exactly,
//! because rejecting trivial PINs makes some digits very slightly rarer at some positions
//! (e.g. `0` at position 0 loses the 115 trivial PINs that start with `0`).

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use proptest::prelude::*;
use rand::{SeedableRng, rngs::StdRng};
use vault::{Pin, generate, generate_with};

/// The trivial PINs, built from the documented patterns rather than by testing digits.
fn trivial_set() -> HashSet<String> {
    let digit = |n: i32| char::from(b'0' + u8::try_from(n.rem_euclid(10)).unwrap());
    let mut set = HashSet::new();
    for a in 0..10 {
        for b in 0..10 {
            // Repeated pairs (one repeated digit when a == b).
            set.insert([a, b, a, b, a, b].map(digit).iter().collect());
            for c in 0..10 {
                set.insert([a, b, c, a, b, c].map(digit).iter().collect());
            }
        }
        for step in [1, -1] {
            let run: [i32; 6] = std::array::from_fn(|i| a + step * i32::try_from(i).unwrap());
            set.insert(run.map(digit).iter().collect());
            set.insert(
                [a, a, a + step, a + step, a + 2 * step, a + 2 * step]
                    .map(digit)
                    .iter()
                    .collect(),
            );
            set.insert(
                [a, a, a, a + step, a + step, a + step]
                    .map(digit)
                    .iter()
                    .collect(),
            );
        }
    }
    set
}

fn all_pins() -> impl Iterator<Item = String> {
    (0..1_000_000u32).map(|n| format!("{n:06}"))
}

#[test]
fn exactly_the_documented_1150_pins_are_trivial() {
    let trivial = trivial_set();
    assert_eq!(trivial.len(), 1150);
    for text in all_pins() {
        let pin = Pin::parse(&text).unwrap();
        assert_eq!(pin.is_trivial(), trivial.contains(&text), "{text}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_pins_are_six_digits_and_never_trivial(seed in any::<u64>()) {
        let trivial = trivial_set();
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..2_000 {
            let pin = generate_with(&mut rng);
            prop_assert_eq!(pin.expose().len(), 6);
            prop_assert!(pin.expose().bytes().all(|b| b.is_ascii_digit()));
            prop_assert!(!trivial.contains(pin.expose()));
        }
    }
}

#[test]
fn the_os_rng_generator_emits_valid_non_trivial_pins() {
    let trivial = trivial_set();
    for _ in 0..10_000 {
        let pin = generate();
        assert!(Pin::parse(pin.expose()).is_ok());
        assert!(!trivial.contains(pin.expose()));
    }
}

/// Pearson's chi-square statistic of observed against expected counts.
fn chi_square(observed: &[u64], expected: &[f64]) -> f64 {
    observed
        .iter()
        .zip(expected)
        .map(|(&o, &e)| (o as f64 - e).powi(2) / e)
        .sum()
}

/// Critical values at p = 0.001 (upper tail), from standard chi-square tables.
const CRITICAL_9_DOF: f64 = 27.877;
const CRITICAL_99_DOF: f64 = 148.230;

/// For each PIN in `pins`, the index of the cell it falls in (per position, or per pair of
/// adjacent positions).
fn cells(text: &str, positions: &[usize]) -> usize {
    positions.iter().fold(0, |acc, &p| {
        acc * 10 + usize::from(text.as_bytes()[p] - b'0')
    })
}

/// Expected cell probabilities over the accepted (non-trivial) set, computed exactly.
fn accepted_distribution(positions: &[usize]) -> Vec<f64> {
    let trivial = trivial_set();
    let size = 10usize.pow(u32::try_from(positions.len()).unwrap());
    let mut counts = vec![0u64; size];
    let mut total = 0u64;
    for text in all_pins().filter(|t| !trivial.contains(t)) {
        counts[cells(&text, positions)] += 1;
        total += 1;
    }
    counts.iter().map(|&c| c as f64 / total as f64).collect()
}

fn sample(n: usize, seed: u64) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| generate_with(&mut rng).expose().to_owned())
        .collect()
}

fn statistic(sample: &[String], positions: &[usize], probabilities: &[f64]) -> f64 {
    let mut observed = vec![0u64; probabilities.len()];
    for text in sample {
        observed[cells(text, positions)] += 1;
    }
    let n = sample.len() as f64;
    let expected: Vec<f64> = probabilities.iter().map(|p| p * n).collect();
    chi_square(&observed, &expected)
}

#[test]
fn digits_are_uniform_per_position_and_per_adjacent_pair() {
    let pins = sample(200_000, 0x5EED_2026);
    for position in 0..6 {
        let probabilities = accepted_distribution(&[position]);
        let chi = statistic(&pins, &[position], &probabilities);
        assert!(
            chi < CRITICAL_9_DOF,
            "position {position}: chi-square {chi:.2}"
        );
    }
    for position in 0..5 {
        let positions = [position, position + 1];
        let probabilities = accepted_distribution(&positions);
        let chi = statistic(&pins, &positions, &probabilities);
        assert!(
            chi < CRITICAL_99_DOF,
            "positions {positions:?}: chi-square {chi:.2}"
        );
    }
}

#[test]
fn the_uniformity_test_rejects_a_skewed_generator() {
    // The same sample with every leading 9 turned into an 8 must be rejected, or the test
    // above could never fail.
    let skewed: Vec<String> = sample(200_000, 0x5EED_2026)
        .into_iter()
        .map(|t| match t.strip_prefix('9') {
            Some(rest) => format!("8{rest}"),
            None => t,
        })
        .collect();
    let chi = statistic(&skewed, &[0], &accepted_distribution(&[0]));
    assert!(chi > CRITICAL_9_DOF, "chi-square {chi:.2}");
}

//! The generator of the property tests (here and in the server crate): many varied inputs of the
//! kinds outside parties send, reproducibly. Only for tests (`testing` feature).

// Test code: a pick from an empty list is a broken test, and it says so by panicking.
#![allow(clippy::indexing_slicing)]

use crate::rng::Rng;

/// How many inputs each property sees.
pub fn cases() -> u64 {
    std::env::var("ORDERGUARD_PROPERTY_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(5_000)
}

/// Inputs drawn from a seeded generator, one seed per property: the same cases on every run, so
/// a failure is reproducible.
pub struct Gen(Rng);

impl Gen {
    pub fn new(seed: u64) -> Self {
        Self(Rng::new(seed))
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }

    /// Text of up to `max` characters, mostly of the kind the parser expects and some of any kind:
    /// signs, separators, other scripts' digits, controls, bidirectional formatting, emoji.
    pub fn text(&mut self, max: u64) -> String {
        const USUAL: &[char] = &['0', '1', '2', '5', '9', '.', ',', '-', '+', ' ', 'E', 'e', '(', ')'];
        const UNUSUAL: &[char] =
            &['\0', '\n', '\t', 'é', 'ß', '٣', '\u{202E}', '\u{2066}', '\u{200F}', '\u{feff}', '😀', '¹', '\u{a0}'];
        (0..self.below(max + 1))
            .map(|_| if self.below(10) < 8 { self.pick(USUAL) } else { self.pick(UNUSUAL) })
            .collect()
    }
}

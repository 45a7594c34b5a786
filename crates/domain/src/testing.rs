//! The generator of the property tests (here and in the server crate): many varied inputs of the
//! kinds outside parties send, reproducibly. Only for tests (`testing` feature).

// Test code: a pick from an empty list is a broken test, and it says so by panicking.
#![allow(clippy::indexing_slicing)]

/// How many inputs each property sees.
pub fn cases() -> u64 {
    std::env::var("ORDERGUARD_PROPERTY_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(5_000)
}

/// SplitMix64, seeded per property: the same cases on every run, so a failure is reproducible.
pub struct Gen(pub u64);

impl Gen {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
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

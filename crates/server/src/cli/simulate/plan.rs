//! What simulated traffic looks like: how many orders come when, what is in the basket, how each
//! customer or fraudster behaves, how the SMS network answers and what the shop reports afterwards.
//! Pure and seeded: the same seed gives the same traffic.

pub use orderguard_domain::rng::Rng;

/// Shuffles `items` in place (Fisher–Yates).
pub fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for n in 0..items.len() {
        let other = n + usize::try_from(rng.below((items.len() - n) as u64)).unwrap_or(0);
        items.swap(n, other);
    }
}

/// Who is at the checkout, and what they do with the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Enters the code from the SMS.
    Customer,
    /// Mistypes once or twice, then enters the right code.
    Typo,
    /// Asks for a new code first, then enters it.
    Resender,
    /// Orders from another device than usual (a tablet, a partner's phone), then enters the code.
    SecondDevice,
    /// Leaves the checkout: the code expires.
    Abandons,
    /// Cancels on the page.
    Cancels,
    /// Account takeover: has the customer's login but not their phone; tries a few codes, gives up.
    AccountTakeover,
    /// A bot guessing codes until the attempts run out.
    CodeGuesser,
}

impl Behaviour {
    /// The customer themself: an order the defences should let through.
    pub fn is_legitimate(self) -> bool {
        !matches!(self, Self::AccountTakeover | Self::CodeGuesser)
    }
}

pub fn behaviour(rng: &mut Rng) -> Behaviour {
    use Behaviour::*;
    let choices = [
        (Customer, 660),
        (Typo, 90),
        (Resender, 40),
        (SecondDevice, 40),
        (Abandons, 60),
        (Cancels, 20),
        (AccountTakeover, 60),
        (CodeGuesser, 30),
    ];
    rng.weighted(&choices).unwrap_or(Customer)
}

/// The hours of the day the simulation stops at (UTC), and each one's share (%) of the day's orders.
pub const SLOTS: [(i64, u64); 9] =
    [(7, 4), (9, 10), (11, 14), (13, 14), (15, 13), (17, 14), (19, 16), (21, 11), (23, 4)];

/// Orders in a slot: the day's volume times the slot's share, give or take 30 %.
pub fn orders_in_slot(rng: &mut Rng, per_day: u64, share: u64) -> u64 {
    let expected = per_day * share;
    (expected * (70 + rng.below(61)) + 5_000) / 10_000
}

#[derive(Debug, Clone, Copy)]
pub struct Product {
    pub sku: &'static str,
    pub name: &'static str,
    /// In minor units of the brand's currency.
    pub price_minor: i64,
    pub hardware: bool,
}

/// The cheapest order, without hardware: what attackers choose to stay below the risk rules.
pub const SIM_ONLY: Product = Product { sku: "SIM-20GB", name: "SIM only, 20 GB", price_minor: 1_500, hardware: false };

const CATALOGUE: [(Product, u64); 5] = [
    (SIM_ONLY, 40),
    (Product { sku: "ROUTER-5G", name: "5G router", price_minor: 24_900, hardware: true }, 15),
    (Product { sku: "PHONE-A", name: "Smartphone", price_minor: 44_900, hardware: true }, 25),
    (Product { sku: "PHONE-PRO", name: "Flagship smartphone", price_minor: 119_900, hardware: true }, 12),
    (Product { sku: "TABLET", name: "Tablet", price_minor: 64_900, hardware: true }, 8),
];

pub fn product(rng: &mut Rng) -> Product {
    rng.weighted(&CATALOGUE).unwrap_or(CATALOGUE[0].0)
}

/// Seconds from the hand-off to the delivery report, or `None` when the SMS does not arrive.
pub fn delivery_seconds(rng: &mut Rng) -> Option<i64> {
    if rng.chance(30) {
        return None;
    }
    rng.weighted(&[(1, 500), (3, 300), (8, 120), (20, 50), (95, 30)])
}

/// Seconds from the SMS to the customer typing the code.
pub fn reaction_seconds(rng: &mut Rng) -> i64 {
    rng.weighted(&[(25, 300), (40, 300), (60, 200), (90, 120), (150, 80)]).unwrap_or(40)
}

/// Seconds from the SMS to the code typed on a launch day: customers wait at the checkout for it.
pub fn surge_reaction_seconds(rng: &mut Rng) -> i64 {
    rng.weighted(&[(15, 300), (25, 350), (40, 250), (60, 100)]).unwrap_or(25)
}

/// Wrong codes a customer types before the right one.
pub fn typos(rng: &mut Rng) -> i64 {
    if rng.chance(250) { 2 } else { 1 }
}

/// An honest customer's address: most come through one of their carrier's few NAT networks,
/// the others from home connections all over.
pub fn honest_ip(rng: &mut Rng) -> String {
    if rng.chance(600) {
        let nat = ["192.0.2", "198.51.100", "203.0.113"];
        let network = nat.get(usize::try_from(rng.below(3)).unwrap_or(0)).copied().unwrap_or("192.0.2");
        format!("{network}.{}", 1 + rng.below(250))
    } else {
        format!("198.{}.{}.{}", 18 + rng.below(2), rng.below(256), 1 + rng.below(250))
    }
}

/// A code an attacker guesses: any `length` digits, as likely as any other.
pub fn guess(rng: &mut Rng, length: usize) -> String {
    (0..length).map(|_| char::from(b'0' + u8::try_from(rng.below(10)).unwrap_or(0))).collect()
}

/// What the shop reports about an order, and what it lost on it (minor units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Canceled,
    FraudConfirmed { lost_minor: i64 },
    Chargeback { lost_minor: i64 },
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Canceled => "canceled",
            Self::FraudConfirmed { .. } => "fraud_confirmed",
            Self::Chargeback { .. } => "chargeback",
        }
    }

    pub fn lost_minor(self) -> Option<i64> {
        match self {
            Self::FraudConfirmed { lost_minor } | Self::Chargeback { lost_minor } => Some(lost_minor),
            Self::Completed | Self::Canceled => None,
        }
    }
}

/// An order that went through: without 2FA, fraud with stolen identities slips through far more
/// often (2.5 % against 0.3 % with it, e.g. after a SIM swap the code cannot stop).
pub fn outcome_of_accepted_order(rng: &mut Rng, value_minor: i64, with_two_factor: bool) -> Outcome {
    let fraud_per_mille = if with_two_factor { 3 } else { 25 };
    if rng.chance(fraud_per_mille) {
        Outcome::FraudConfirmed { lost_minor: value_minor }
    } else if rng.chance(if with_two_factor { 2 } else { 5 }) {
        Outcome::Chargeback { lost_minor: value_minor }
    } else if rng.chance(30) {
        Outcome::Canceled
    } else {
        Outcome::Completed
    }
}

/// A code that is not `code`: the same length, the last digit changed.
pub fn wrong_code(code: &str, rng: &mut Rng) -> String {
    let mut digits: Vec<u8> = code.bytes().collect();
    if let Some(last) = digits.last_mut() {
        let shift = 1 + u8::try_from(rng.below(9)).unwrap_or(0);
        *last = b'0' + (last.wrapping_sub(b'0') + shift) % 10;
    }
    String::from_utf8(digits).unwrap_or_default()
}

/// The code in an SMS text: after the `#` of the origin-bound last line (WebOTP), else the first
/// run of 4 to 10 digits.
pub fn code_in(text: &str) -> Option<String> {
    let runs = |t: &str| -> Option<String> {
        t.split(|c: char| !c.is_ascii_digit()).find(|run| (4..=10).contains(&run.len())).map(str::to_owned)
    };
    text.rsplit_once(" #").and_then(|(_, bound)| runs(bound)).or_else(|| runs(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_traffic() {
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..50).map(|_| behaviour(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn behaviours_and_volumes_have_their_shares() {
        let mut rng = Rng::new(1);
        let n = 20_000;
        let customers = (0..n).filter(|_| behaviour(&mut rng) == Behaviour::Customer).count();
        assert!((12_800..13_600).contains(&customers), "{customers}");
        let honest = (0..n).filter(|_| behaviour(&mut rng).is_legitimate()).count();
        assert!((17_800..18_400).contains(&honest), "{honest}");
        assert_eq!(SLOTS.iter().map(|(_, s)| s).sum::<u64>(), 100);
        let day: u64 = SLOTS.iter().map(|(_, share)| orders_in_slot(&mut rng, 1000, *share)).sum();
        assert!((700..=1300).contains(&day), "{day}");
    }

    #[test]
    fn fraud_is_rarer_with_two_factor() {
        let mut rng = Rng::new(3);
        let frauds = |rng: &mut Rng, with| {
            (0..20_000)
                .filter(|_| matches!(outcome_of_accepted_order(rng, 100, with), Outcome::FraudConfirmed { .. }))
                .count()
        };
        let (with, without) = (frauds(&mut rng, true), frauds(&mut rng, false));
        assert!(with < 120 && without > 400, "{with} with 2FA, {without} without");
    }

    #[test]
    fn codes_are_read_and_mistyped() {
        assert_eq!(code_in("1199.00 EUR: code 482913.\n\n@shop.example #482913").as_deref(), Some("482913"));
        assert_eq!(code_in("Your code: 4829").as_deref(), Some("4829"));
        let mut rng = Rng::new(5);
        for _ in 0..100 {
            let wrong = wrong_code("482913", &mut rng);
            assert_eq!(wrong.len(), 6);
            assert_ne!(wrong, "482913");
        }
    }
}

//! The server a bench run starts: the demo's configuration and policy, with the brand the flows
//! go to (`nordtel`) looking its customers up in a directory of the bench's own, generated for
//! the run, whose numbers are spread so that later per-number and per-range limits let it be.

use std::path::Path;

use orderguard_domain::clock::Timestamp;

use crate::config::{IdentityConfig, Settings, StaticCustomer};

/// The brand the flows go to: the demo's, with its policy.
pub const BRAND: &str = "nordtel";

/// The name of the bench's identity directory in the configuration.
const DIRECTORY: &str = "bench-directory";

/// Numbers that share all digits but their last four (a "range") go to one subscriber block; a
/// burst of numbers from one block is what fraud rules look for, so each block holds few.
const NUMBERS_PER_RANGE: u32 = 5;

/// German mobile prefixes (+49 15x, 16x, 17x; eight digits follow): 10,000 ranges each.
const MOBILE_PREFIXES: [&str; 12] = [
    "+49151", "+49152", "+49157", "+49159", "+49160", "+49162", "+49170", "+49171", "+49172", "+49175", "+49176",
    "+49177",
];

/// Most customers `--customers` may ask for: every range of every prefix, five numbers each.
pub const MAX_CUSTOMERS: usize = MOBILE_PREFIXES.len() * 10_000 * NUMBERS_PER_RANGE as usize;

/// The `n`th customer's id.
pub fn customer_id(n: usize) -> String {
    format!("bench-{n:06}")
}

/// The `n`th customer's number: consecutive customers in different ranges (as a real crowd's
/// numbers are; flows of one range would queue on its activity row), at most five to a range.
fn phone(n: u32) -> String {
    let ranges = MOBILE_PREFIXES.len() as u32 * 10_000;
    let (range, place) = (n % ranges, n / ranges);
    let prefix = MOBILE_PREFIXES.get((range / 10_000) as usize % MOBILE_PREFIXES.len()).copied().unwrap_or("+49151");
    format!("{prefix}{:04}{:04}", range % 10_000, 1_000 * place + 100)
}

fn customers(count: usize) -> Vec<StaticCustomer> {
    (0..count)
        .map(|n| StaticCustomer {
            id: customer_id(n),
            phone: phone(u32::try_from(n).unwrap_or(u32::MAX)),
            phone_verified: true,
        })
        .collect()
}

/// The demo's configuration in `dir`, on `database_url`, with `customers` customers of [`BRAND`],
/// and its network checks or none.
pub fn settings(
    database_url: &str,
    dir: &Path,
    customers_count: usize,
    network_checks: bool,
    now: Timestamp,
) -> anyhow::Result<Settings> {
    let status_token = crate::ids::random_token(24);
    let mut settings = crate::cli::demo::setup::prepare("127.0.0.1:0", dir, Some(database_url), &status_token, now)?;
    settings.identity.insert(DIRECTORY.to_owned(), IdentityConfig::Static { customers: customers(customers_count) });
    let brand = settings.brands.iter_mut().find(|b| b.slug == BRAND);
    let brand = brand.ok_or_else(|| anyhow::anyhow!("the demo configuration has no brand {BRAND}"))?;
    brand.identity = DIRECTORY.to_owned();
    if !network_checks {
        brand.policy.sim_swap = None;
        brand.policy.device_swap = None;
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use orderguard_domain::phone::E164;

    #[test]
    fn numbers_are_distinct_mobile_and_few_to_a_range() {
        let customers = super::customers(super::MAX_CUSTOMERS);
        let mut ranges: HashMap<String, usize> = HashMap::new();
        let mut numbers = std::collections::HashSet::new();
        for (n, c) in customers.iter().enumerate() {
            // Every prefix's first and last range, and a sample between: parsing all takes long.
            if n % 997 == 0 || n % 50_000 < 5 || n % 50_000 >= 49_995 {
                let number = E164::parse(&c.phone, None).unwrap_or_else(|e| panic!("{}: {e:?}", c.phone));
                assert!(number.number_type().can_receive_sms(), "{} is {:?}", c.phone, number.number_type());
            }
            assert!(numbers.insert(c.phone.clone()), "{} twice", c.phone);
            *ranges.entry(c.phone[..c.phone.len() - 4].to_owned()).or_default() += 1;
        }
        assert!(ranges.values().all(|&n| n <= super::NUMBERS_PER_RANGE as usize));
    }
}

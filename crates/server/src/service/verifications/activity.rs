//! The recent activity a verification is counted in — its number (across brands), customer,
//! number range, client network and device — locked, read and written back within the
//! verification's transaction (see `store::risk_activity`).

use std::collections::HashMap;

use orderguard_domain::activity::{CustomerActivity, NumberActivity, RangeActivity, SourceActivity};
use orderguard_domain::clock::Timestamp;
use orderguard_domain::policy::Policy;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crypto::Secrets;
use crate::records::VerificationRecord;
use crate::service::ServiceError;
use crate::store::Conn;
use crate::store::risk_activity as store;

/// Digits of the E.164 number (without `+`) that are not part of its range.
pub const RANGE_SUFFIX_DIGITS: usize = 4;

/// The range of a number: its E.164 form without the last `RANGE_SUFFIX_DIGITS` digits.
pub fn range_of(e164: &str) -> &str {
    &e164[..e164.len().saturating_sub(RANGE_SUFFIX_DIGITS)]
}

/// The client's network for velocity: IPv4 /24, IPv6 /56 (a household or a mobile cell's NAT).
pub fn network_of(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}00::/56", s[0], s[1], s[2], s[3] >> 8)
        }
    }
}

/// What a verification is counted and listed by, keyed under every look-up key still matched,
/// the active one first: while a rotation's overlap lasts, what the previous key counted is found.
/// `generation` is the active key's, from the same snapshot of the keys.
#[derive(Debug, Clone, Default)]
pub struct Keyed {
    pub generation: u32,
    pub phone_hashes: Vec<Vec<u8>>,
    pub range_refs: Vec<String>,
    pub device_refs: Vec<String>,
    pub network_refs: Vec<String>,
}

impl Keyed {
    pub fn of(secrets: &Secrets, e164: &str, device_id: Option<&str>, client_ip: Option<std::net::IpAddr>) -> Self {
        let keys = secrets.lookup_keys();
        Self {
            generation: keys.generation(),
            phone_hashes: keys.phone_hashes(e164),
            range_refs: keys.references("range", range_of(e164)),
            device_refs: device_id.map(|d| keys.references("device", d)).unwrap_or_default(),
            network_refs: client_ip.map(|ip| keys.references("network", &network_of(ip))).unwrap_or_default(),
        }
    }

    /// A stored verification's number and device keyed again (its network is not kept), when an
    /// older look-up key is still matched; `None` otherwise or once its number is erased.
    pub fn of_stored(secrets: &Secrets, record: &VerificationRecord) -> Option<Self> {
        if secrets.lookup_keys().len() < 2 {
            return None;
        }
        let phone = secrets.decrypt_string(record.phone_enc.as_deref()?).ok()?;
        let device = record.device_enc.as_deref().and_then(|sealed| secrets.decrypt_string(sealed).ok());
        Some(Self::of(secrets, &phone, device.as_deref(), None))
    }
}

/// The rows a verification counts in.
#[derive(Debug, Clone)]
pub struct Subjects {
    number: String,
    customer: String,
    range: Option<String>,
    network: Option<String>,
    device: Option<String>,
    /// Rows of these subjects keyed by an older look-up key (current, previous): read when the
    /// current row has nothing yet, and moved to it.
    previous: Vec<(String, String)>,
}

fn number_subject(hash: &[u8]) -> String {
    format!("n:{}", orderguard_domain::order::hex(hash))
}

impl Subjects {
    /// Those of a stored verification (a check, a resend, a review decision). The client network
    /// is counted only when a verification starts.
    pub fn of(record: &VerificationRecord) -> Self {
        let brand = record.brand.as_str();
        Self {
            number: number_subject(&record.phone_hash),
            customer: format!("c:{brand}:{}", record.customer_ref),
            range: record.range_ref.as_ref().map(|r| format!("r:{r}")),
            network: None,
            device: record.device_ref.as_ref().map(|d| format!("d:{brand}:{d}")),
            previous: Vec::new(),
        }
    }

    /// Those of a stored verification, its number keyed again during a rotation's overlap.
    pub fn of_stored(secrets: &Secrets, record: &VerificationRecord) -> Self {
        let subjects = Self::of(record);
        match Keyed::of_stored(secrets, record) {
            Some(keyed) => subjects.with_keyed(&keyed, false),
            None => subjects,
        }
    }

    /// Those of a new verification, from the client's network as well.
    pub fn of_new(record: &VerificationRecord, keyed: &Keyed) -> Self {
        Self::of(record).with_keyed(keyed, true)
    }

    /// Keys the number, range, device (and for a new verification the network) with every
    /// matched look-up key: the active one names the row, the others its previous rows.
    fn with_keyed(mut self, keyed: &Keyed, new: bool) -> Self {
        let brand = self.customer.split(':').nth(1).unwrap_or_default().to_owned();
        let numbers: Vec<String> = keyed.phone_hashes.iter().map(|h| number_subject(h)).collect();
        let ranges: Vec<String> = keyed.range_refs.iter().map(|r| format!("r:{r}")).collect();
        let mut groups = vec![(Some(&mut self.number), numbers), (self.range.as_mut(), ranges)];
        let (networks, devices): (Vec<String>, Vec<String>) = (
            keyed.network_refs.iter().map(|n| format!("i:{brand}:{n}")).collect(),
            keyed.device_refs.iter().map(|d| format!("d:{brand}:{d}")).collect(),
        );
        groups.push((self.device.as_mut(), devices));
        if new {
            self.network = networks.first().cloned();
            groups.push((self.network.as_mut(), networks));
        }
        let mut previous = Vec::new();
        for (subject, keyed) in groups {
            let (Some(subject), Some(current)) = (subject, keyed.first()) else { continue };
            subject.clone_from(current);
            previous.extend(keyed.iter().skip(1).map(|older| (current.clone(), older.clone())));
        }
        self.previous = previous;
        self
    }

    fn all(&self) -> Vec<String> {
        [Some(&self.number), Some(&self.customer), self.range.as_ref(), self.network.as_ref(), self.device.as_ref()]
            .into_iter()
            .flatten()
            .cloned()
            .chain(self.previous.iter().map(|(_, older)| older.clone()))
            .collect()
    }

    /// Gives each subject without a row of its own yet the state of its previous row.
    fn take_previous(&self, states: &mut HashMap<String, Option<String>>) {
        for (current, older) in &self.previous {
            if states.get(current).is_none_or(Option::is_none)
                && let Some(state) = states.remove(older).flatten()
            {
                states.insert(current.clone(), Some(state));
            }
        }
    }
}

/// The locked activity of one verification; `save` writes it back in the same transaction.
#[derive(Debug)]
pub struct Activity {
    subjects: Subjects,
    pub number: NumberActivity,
    pub customer: CustomerActivity,
    pub range: RangeActivity,
    pub network: Option<SourceActivity>,
    pub device: Option<SourceActivity>,
}

fn parse<T: DeserializeOwned + Default>(
    states: &mut HashMap<String, Option<String>>,
    subject: &str,
) -> Result<T, ServiceError> {
    match states.remove(subject).flatten() {
        None => Ok(T::default()),
        Some(text) => {
            serde_json::from_str(&text).map_err(|_| ServiceError::Internal("a stored risk activity is unreadable"))
        }
    }
}

fn text(state: &impl Serialize) -> Result<String, ServiceError> {
    serde_json::to_string(state).map_err(|_| ServiceError::Internal("a risk activity could not be written"))
}

impl Activity {
    pub fn lock(conn: &mut dyn Conn, subjects: Subjects, now: Timestamp) -> Result<Self, ServiceError> {
        let mut states = store::lock(conn, &subjects.all(), now)?;
        subjects.take_previous(&mut states);
        let number = parse(&mut states, &subjects.number)?;
        let customer = parse(&mut states, &subjects.customer)?;
        let range = match &subjects.range {
            Some(subject) => parse(&mut states, subject)?,
            None => RangeActivity::default(),
        };
        let network = subjects.network.as_deref().map(|s| parse(&mut states, s)).transpose()?;
        let device = subjects.device.as_deref().map(|s| parse(&mut states, s)).transpose()?;
        Ok(Self { subjects, number, customer, range, network, device })
    }

    /// The number is exempt from the burst rule: approved recently, or of a trusted country.
    pub fn exempt_from_burst(&self, policy: &Policy, region: Option<&str>, now: Timestamp) -> bool {
        self.number.is_burst_exempt(now) || region.is_some_and(|r| policy.trusted_countries.iter().any(|t| t == r))
    }

    /// Counts a code sent to the number, and to its range unless the number is exempt (the
    /// burst rule counts only codes it could pause).
    pub fn record_sent(&mut self, exempt_from_burst: bool, now: Timestamp) {
        self.number.sms.record(now);
        if !exempt_from_burst {
            self.range.record_sent(now);
        }
    }

    pub fn save(&self, conn: &mut dyn Conn, now: Timestamp) -> Result<(), ServiceError> {
        let s = &self.subjects;
        let mut states = vec![(s.number.clone(), text(&self.number)?), (s.customer.clone(), text(&self.customer)?)];
        if let Some(subject) = &s.range {
            states.push((subject.clone(), text(&self.range)?));
        }
        if let (Some(subject), Some(network)) = (&s.network, &self.network) {
            states.push((subject.clone(), text(network)?));
        }
        if let (Some(subject), Some(device)) = (&s.device, &self.device) {
            states.push((subject.clone(), text(device)?));
        }
        store::save(conn, &states, now)?;
        // Moved to the rows of the active look-up key.
        let previous: Vec<String> = s.previous.iter().map(|(_, older)| older.clone()).collect();
        store::delete(conn, &previous)?;
        Ok(())
    }
}

/// Whether the block list or a hard limit would refuse a new verification of these subjects, read
/// without locking (a moment later the transaction decides on locked rows).
pub fn refused_before_asking(
    conn: &mut dyn Conn,
    brand: &str,
    limits: &orderguard_domain::limits::HardLimits,
    subjects: Subjects,
    list_keys: &[(orderguard_domain::lists::ListKind, String)],
    now: Timestamp,
) -> Result<bool, ServiceError> {
    let listed = crate::store::lists::matching(conn, brand, list_keys, now)?;
    if listed.iter().any(|m| m.list == orderguard_domain::lists::ListName::Block) {
        return Ok(true);
    }
    let mut states = HashMap::new();
    let previous = subjects.previous.iter().map(|(_, older)| older);
    for subject in [&subjects.number, &subjects.customer].into_iter().chain(previous) {
        states.insert(subject.clone(), store::read(conn, subject)?);
    }
    subjects.take_previous(&mut states);
    let number: NumberActivity = parse(&mut states, &subjects.number)?;
    let customer: CustomerActivity = parse(&mut states, &subjects.customer)?;
    Ok(limits.create_refused(brand, &customer, &number, now).is_some())
}

/// A brand's SMS budget for one country and day, counted in shards: no single row serialises
/// every send of a brand. Each send locks one shard at random and reads the others as committed,
/// so on PostgreSQL parallel sends may pass the budget by at most the number in flight.
pub struct Budget {
    limit: u32,
    own: String,
    own_sent: u32,
    others_sent: u32,
}

const BUDGET_SHARDS: u8 = 8;

#[derive(Default, Serialize, serde::Deserialize)]
struct BudgetShard {
    sent: u32,
}

impl Budget {
    pub fn lock(
        conn: &mut dyn Conn,
        brand: &str,
        country: &str,
        limit: u32,
        now: Timestamp,
    ) -> Result<Self, ServiceError> {
        let day = crate::clock::day(now.millis());
        let subject = |shard: u8| format!("b:{brand}:{country}:{day}:{shard}");
        let own_shard = crate::ids::random_bytes::<1>()[0] % BUDGET_SHARDS;
        let mut others_sent = 0;
        for shard in (0..BUDGET_SHARDS).filter(|s| *s != own_shard) {
            if let Some(text) = store::read(conn, &subject(shard))? {
                let shard: BudgetShard = serde_json::from_str(&text).unwrap_or_default();
                others_sent += shard.sent;
            }
        }
        let own = subject(own_shard);
        let mut states = store::lock(conn, std::slice::from_ref(&own), now)?;
        let own_sent = parse::<BudgetShard>(&mut states, &own)?.sent;
        Ok(Self { limit, own, own_sent, others_sent })
    }

    pub fn is_spent(&self) -> bool {
        self.own_sent + self.others_sent >= self.limit
    }

    pub fn record_sent(&mut self) {
        self.own_sent += 1;
    }

    pub fn save(&self, conn: &mut dyn Conn, now: Timestamp) -> Result<(), ServiceError> {
        store::save(conn, &[(self.own.clone(), text(&BudgetShard { sent: self.own_sent })?)], now)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_networks() {
        assert_eq!(range_of("+4915123456789"), "+491512345");
        assert_eq!(network_of("198.51.100.23".parse().unwrap()), "198.51.100.0/24");
        assert_eq!(network_of("2001:db8:1234:5678::1".parse().unwrap()), "2001:db8:1234:5600::/56");
    }
}

//! The key ring: opened at start (the first instance creates it), reloaded by every instance so
//! that a rotation elsewhere is picked up, rotated by an operator, and worked through in the
//! background: data sealed by an older data key is sealed again with the active one, and keyed
//! hashes made with an older look-up key are made again, after which the older key retires.
//! docs/configuration.md ("Keys") is the operator's side of it.

use orderguard_domain::activity::{BURST_EXEMPT_MS, DAY_MS};
use orderguard_domain::clock::Timestamp;
use orderguard_domain::lists::ListKind;
use orderguard_domain::phone::E164;

use crate::clock::Clock;
use crate::crypto::keyring::{KeyPurpose, MasterSecret, Masters, RingKey, first_keys, random_key};
use crate::crypto::{CryptoError, Secrets};
use crate::records::keys::KeyringRow;
use crate::service::verifications::activity::range_of;
use crate::store::keyring::{self as store, SEALED};
use crate::store::{Store, StoreError, leases};

/// A new key is used this long after it is created: every instance reloads the ring well within
/// it (`reload_interval`), so that all switch at the same moment.
pub const ACTIVATION_DELAY_MS: i64 = 2 * 60_000;

/// How often an instance reloads the ring: every 20 s, or every 30 sweeps if that is sooner
/// (the tests sweep every few milliseconds).
pub fn reload_interval(sweep_interval: std::time::Duration) -> std::time::Duration {
    (sweep_interval * 30).min(std::time::Duration::from_secs(20))
}
/// After a switch, a transaction that sealed or hashed just before it may still commit, and an
/// instance whose clock runs behind switches late: the older key retires only once the work
/// found nothing left this long after the switch.
const SETTLE_MS: i64 = 10 * 60_000;
/// The previous look-up key stays matched as long as risk activity it keyed is kept (a number's
/// last approval counts for 90 days).
pub const LOOKUP_OVERLAP_MS: i64 = BURST_EXEMPT_MS + DAY_MS;
/// Rows a round re-seals or re-keys at most, per column.
pub const BATCH: i64 = 500;
/// Rounds one sweep runs at most while they find full batches: 20 × 500 values per column, about
/// every 30 s.
pub const ROUNDS_PER_TICK: usize = 20;
const JOB: &str = "keyring";
const LEASE_MS: i64 = 10 * 60_000;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(
        "the {purpose} key {generation} is wrapped by the master secret {wrapped_by}, which is neither \
         secret_key ({current}) nor previous_secret_key{previous}: set previous_secret_key to the master \
         secret it was wrapped with (docs/configuration.md, \"Rotating the master secret\")"
    )]
    UnknownMaster { purpose: &'static str, generation: u32, wrapped_by: String, current: String, previous: String },
    #[error("the {purpose} key {generation} does not unwrap under master secret {master}: the key ring is damaged")]
    Damaged { purpose: &'static str, generation: u32, master: String },
    #[error("a {purpose} key made {generation_note} is not active yet; rotate again after it is")]
    RotationPending { purpose: &'static str, generation_note: String },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

fn master_for<'a>(masters: &'a Masters, row: &KeyringRow) -> Result<&'a MasterSecret, KeyringError> {
    masters.find(&row.master_id).ok_or_else(|| KeyringError::UnknownMaster {
        purpose: row.purpose.as_str(),
        generation: row.generation,
        wrapped_by: row.master_id.clone(),
        current: masters.current.id(),
        previous: masters.previous.as_ref().map_or(String::from(" (not set)"), |p| format!(" ({})", p.id())),
    })
}

/// The keys an instance uses: those not retired, and the retired data keys (they still open
/// what an instance that switched late sealed with them).
fn unwrap_all(rows: &[KeyringRow], masters: &Masters) -> Result<Vec<RingKey>, KeyringError> {
    rows.iter()
        .filter(|row| row.retired_at.is_none() || row.purpose == KeyPurpose::Data)
        .map(|row| {
            let master = master_for(masters, row)?;
            let material = master.unwrap(row.purpose, row.generation, &row.wrapped).map_err(|_| {
                KeyringError::Damaged { purpose: row.purpose.as_str(), generation: row.generation, master: master.id() }
            })?;
            Ok(RingKey {
                purpose: row.purpose,
                generation: row.generation,
                material,
                active_from: row.active_from,
                retired: row.retired_at.is_some(),
            })
        })
        .collect()
}

fn stored(master: &MasterSecret, key: &RingKey, now: i64) -> KeyringRow {
    KeyringRow {
        purpose: key.purpose,
        generation: key.generation,
        wrapped: master.wrap(key.purpose, key.generation, &key.material),
        master_id: master.id(),
        created_at: now,
        active_from: key.active_from,
        retired_at: None,
    }
}

/// The ring as stored; the first instance (or command) on a database creates it: random keys in
/// a new database, the keys derived from the master in one that holds data from before. A purpose
/// missing from an existing ring (its key deleted to replace it) gets a random key.
async fn ensure(store: &Store, master: &MasterSecret, now: i64) -> Result<Vec<KeyringRow>, KeyringError> {
    let master = master.clone();
    Ok(store
        .write(move |conn| -> Result<Vec<KeyringRow>, StoreError> {
            let rows = store::rows(conn)?;
            let missing: Vec<KeyPurpose> =
                KeyPurpose::ALL.into_iter().filter(|p| !rows.iter().any(|r| r.purpose == *p)).collect();
            if missing.is_empty() {
                return Ok(rows);
            }
            let derived = rows.is_empty() && store::holds_data_from_before(conn)?;
            for key in first_keys(&master, derived, now).iter().filter(|k| missing.contains(&k.purpose)) {
                store::insert(conn, &stored(&master, key, now))?;
            }
            store::rows(conn)
        })
        .await?)
}

/// The secrets of an instance or a command.
pub async fn open(store: &Store, masters: &Masters, clock: Clock) -> Result<Secrets, KeyringError> {
    let rows = ensure(store, &masters.current, clock.now().millis()).await?;
    Ok(Secrets::new(&unwrap_all(&rows, masters)?, clock)?)
}

/// Whether the configured master secrets unwrap every key of the ring, without changing anything
/// (`doctor`): a line for the operator.
pub async fn check(store: &Store, masters: &Masters) -> Result<String, KeyringError> {
    if !store.read(|conn| Ok::<bool, StoreError>(store::table_exists(conn))).await? {
        return Ok(String::from("not created yet: the database is not migrated (`orderguard migrate`)"));
    }
    let rows = store.read(store::rows).await?;
    if rows.is_empty() {
        return Ok(String::from("not created yet: the first start creates it"));
    }
    let keys = unwrap_all(&rows, masters)?;
    let by_previous = rows.iter().filter(|r| r.master_id != masters.current.id()).count();
    let previous =
        if by_previous > 0 { format!("; {by_previous} still wrapped by previous_secret_key") } else { String::new() };
    Ok(format!("{} key(s) unwrap with secret_key {}{previous}", keys.len(), masters.current.id()))
}

/// Takes the ring as it is now into this instance's secrets.
pub async fn reload(store: &Store, masters: &Masters, secrets: &Secrets) -> Result<(), KeyringError> {
    let rows = store.read(store::rows).await?;
    secrets.reload(&unwrap_all(&rows, masters)?)?;
    Ok(())
}

/// A new key of a rotating purpose, used by every instance from `active_from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub purpose: KeyPurpose,
    pub generation: u32,
    pub active_from: Timestamp,
}

/// Adds the next generation of `purpose` (data or look-up), active after `ACTIVATION_DELAY_MS`.
/// Refused while the previous rotation of that purpose is not active yet.
pub async fn rotate(
    store: &Store,
    masters: &Masters,
    purpose: KeyPurpose,
    now: Timestamp,
) -> Result<Rotated, KeyringError> {
    let master = masters.current.clone();
    let at = now.millis();
    store
        .write(move |conn| -> Result<Rotated, KeyringError> {
            let rows = store::rows(conn)?;
            let newest = rows.iter().filter(|r| r.purpose == purpose).max_by_key(|r| r.generation);
            if let Some(pending) = newest.filter(|r| r.active_from > at) {
                return Err(KeyringError::RotationPending {
                    purpose: purpose.as_str(),
                    generation_note: format!("at {}", crate::clock::rfc3339(pending.created_at)),
                });
            }
            let generation = newest.map_or(1, |r| r.generation + 1);
            let key = RingKey {
                purpose,
                generation,
                material: random_key(),
                active_from: at + ACTIVATION_DELAY_MS,
                retired: false,
            };
            if !store::insert(conn, &stored(&master, &key, at))? {
                return Err(KeyringError::RotationPending {
                    purpose: purpose.as_str(),
                    generation_note: String::from("by another command just now"),
                });
            }
            Ok(Rotated { purpose, generation, active_from: Timestamp(key.active_from) })
        })
        .await
}

/// Wraps every key not wrapped by the current master with it; gives how many.
pub async fn rewrap(store: &Store, masters: &Masters) -> Result<usize, KeyringError> {
    let masters = masters.clone();
    store
        .write(move |conn| -> Result<usize, KeyringError> {
            let mut rewrapped = 0;
            for row in store::rows(conn)? {
                if row.master_id == masters.current.id() {
                    continue;
                }
                let master = master_for(&masters, &row)?;
                let material =
                    master.unwrap(row.purpose, row.generation, &row.wrapped).map_err(|_| KeyringError::Damaged {
                        purpose: row.purpose.as_str(),
                        generation: row.generation,
                        master: master.id(),
                    })?;
                let wrapped = masters.current.wrap(row.purpose, row.generation, &material);
                store::rewrap(conn, &KeyringRow { wrapped, master_id: masters.current.id(), ..row })?;
                rewrapped += 1;
            }
            Ok(rewrapped)
        })
        .await
}

/// What one background round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoundReport {
    /// Values sealed again with the active data key.
    pub resealed: u64,
    /// Sealed values no key of the ring opens (left as they are, and reported).
    pub unreadable: u64,
    /// Verifications and list entries whose keyed hashes were made again with the active look-up key.
    pub rekeyed: u64,
    /// Keys retired: nothing needs them any more.
    pub retired: Vec<(KeyPurpose, u32)>,
}

/// The ring, and how far the work of the rotations has got.
#[derive(Debug, Clone)]
pub struct RingStatus {
    /// Each key, and whether it is the active one of its purpose.
    pub keys: Vec<(KeyringRow, bool)>,
    /// Sealed values not yet sealed by the active data key.
    pub to_reseal: i64,
    /// Verifications and list entries not yet keyed by the active look-up key.
    pub to_rekey: i64,
    /// Number and device list entries from before key rings, which hold their older look-up key.
    pub unrekeyable: i64,
}

pub async fn status(store: &Store, secrets: &Secrets, now: Timestamp) -> Result<RingStatus, KeyringError> {
    let (data, lookup) = (secrets.active_generation(KeyPurpose::Data), secrets.active_generation(KeyPurpose::Lookup));
    let at = now.millis();
    store
        .read(move |conn| -> Result<RingStatus, KeyringError> {
            let keys = store::rows(conn)?
                .into_iter()
                .map(|row| {
                    let active_generation = match row.purpose {
                        KeyPurpose::Data => data,
                        KeyPurpose::Lookup => lookup,
                        KeyPurpose::Pseudonym | KeyPurpose::Internal => 1,
                    };
                    let active = row.retired_at.is_none() && row.generation == active_generation;
                    (row, active)
                })
                .collect::<Vec<_>>();
            let prefix = Secrets::ciphertext_prefix(data);
            let mut to_reseal = 0;
            for column in SEALED {
                to_reseal += store::count_sealed_otherwise(conn, column, &prefix)?;
            }
            let mut unrekeyable = 0;
            for (row, _) in keys.iter().filter(|(r, _)| r.purpose == KeyPurpose::Lookup && r.generation < lookup) {
                unrekeyable += store::unrekeyable_list_entries(conn, row.generation, at)?;
            }
            let to_rekey = store::count_under_older_lookup(conn, lookup)?;
            Ok(RingStatus { keys, to_reseal, to_rekey, unrekeyable })
        })
        .await
}

/// What an instance's rounds have found out: that the stored hashes were all keyed again with
/// look-up key `rekeyed_for`, so that the rounds until the overlap ends need not look again.
#[derive(Debug, Default)]
pub struct RoundMemory {
    rekeyed_for: Option<u32>,
}

/// One bounded round under a lease (`None`: another instance holds it). Does nothing unless an
/// older data or look-up key is still in the ring.
pub async fn round(
    store: &Store,
    secrets: &Secrets,
    holder: &str,
    memory: &mut RoundMemory,
    now: Timestamp,
) -> Result<Option<RoundReport>, KeyringError> {
    let rows = store.read(store::rows).await?;
    let live = |purpose: KeyPurpose| {
        rows.iter().filter(|r| r.purpose == purpose && r.retired_at.is_none()).cloned().collect::<Vec<_>>()
    };
    let (data, lookup) = (live(KeyPurpose::Data), live(KeyPurpose::Lookup));
    if data.len() < 2 && lookup.len() < 2 {
        return Ok(Some(RoundReport::default()));
    }
    let (name, at) = (holder.to_owned(), now.millis());
    let taken = store.write(move |conn| leases::take_lease(conn, JOB, &name, at, at + LEASE_MS)).await?;
    if taken.is_none() {
        return Ok(None);
    }
    let mut report = RoundReport::default();
    let mut worked = Ok(());
    if data.len() > 1 {
        worked = reseal_round(store, secrets, &data, now, &mut report).await;
    }
    if lookup.len() > 1 && worked.is_ok() {
        worked = rekey_round(store, secrets, &lookup, now, memory, &mut report).await;
    }
    // Given up even after a failure, so that another instance need not wait for the lease.
    let name = holder.to_owned();
    store.write(move |conn| leases::release_lease(conn, JOB, &name)).await?;
    worked.map(|()| Some(report))
}

/// The active key of a purpose among `live` at `now`, and whether older ones may retire: the
/// switch is at least `SETTLE_MS` ago.
fn switch_settled(live: &[KeyringRow], active: u32, now: Timestamp) -> bool {
    live.iter().find(|r| r.generation == active).is_some_and(|r| now.millis() >= r.active_from + SETTLE_MS)
}

async fn reseal_round(
    store: &Store,
    secrets: &Secrets,
    live: &[KeyringRow],
    now: Timestamp,
    report: &mut RoundReport,
) -> Result<(), KeyringError> {
    let active = secrets.active_generation(KeyPurpose::Data);
    let settled = switch_settled(live, active, now);
    let prefix = Secrets::ciphertext_prefix(active).to_vec();
    let mut left = 0_usize;
    for column in SEALED {
        let prefix_inside = prefix.clone();
        let found = store.read(move |conn| store::sealed_otherwise(conn, column, &prefix_inside, BATCH)).await?;
        let mut changes = Vec::with_capacity(found.len());
        for sealed in found {
            match secrets.decrypt(&sealed.value) {
                Ok(plain) => changes.push((sealed, secrets.encrypt(&plain))),
                Err(_) => report.unreadable += 1,
            }
        }
        left += changes.len();
        let resealed = store
            .write(move |conn| -> Result<u64, StoreError> {
                let mut n = 0;
                for (old, new) in &changes {
                    n += u64::from(store::reseal(conn, column, old, new)?);
                }
                Ok(n)
            })
            .await?;
        report.resealed += resealed;
    }
    if left == 0 && report.unreadable == 0 && settled {
        retire_older(store, KeyPurpose::Data, live, active, now, report).await?;
    }
    Ok(())
}

async fn rekey_round(
    store: &Store,
    secrets: &Secrets,
    live: &[KeyringRow],
    now: Timestamp,
    memory: &mut RoundMemory,
    report: &mut RoundReport,
) -> Result<(), KeyringError> {
    let keys = secrets.lookup_keys();
    let active = keys.generation();
    let overlap_over =
        live.iter().find(|r| r.generation == active).is_some_and(|r| now.millis() >= r.active_from + LOOKUP_OVERLAP_MS);
    // Once everything was keyed again nothing is keyed with an older key any more: until the
    // overlap is over there is nothing to look for.
    if memory.rekeyed_for == Some(active) && !overlap_over {
        return Ok(());
    }
    let unreadable_before = report.unreadable;
    let verifications = store.read(move |conn| store::verifications_under_older_lookup(conn, active, BATCH)).await?;
    let mut rekeyed_verifications = Vec::with_capacity(verifications.len());
    for v in &verifications {
        let Ok(phone) = secrets.decrypt_string(&v.sealed) else {
            report.unreadable += 1;
            continue;
        };
        let device = v.sealed_device.as_deref().map(|sealed| secrets.decrypt_string(sealed));
        let device_ref = match device {
            Some(Ok(device)) => keys.references("device", &device).into_iter().next(),
            Some(Err(_)) => {
                report.unreadable += 1;
                continue;
            }
            None => None,
        };
        rekeyed_verifications.push(store::Rekeyed {
            id: v.id.clone(),
            phone_hash: keys.phone_hashes(&phone).swap_remove(0),
            range_ref: keys.references("range", range_of(&phone)).swap_remove(0),
            device_ref,
            generation: active,
        });
    }
    let entries = store.read(move |conn| store::list_entries_under_older_lookup(conn, active, BATCH)).await?;
    let mut rekeyed_entries = Vec::with_capacity(entries.len());
    for (entry, kind) in &entries {
        let Ok(written) = secrets.decrypt_string(&entry.sealed) else {
            report.unreadable += 1;
            continue;
        };
        let value = match ListKind::parse(kind) {
            Some(ListKind::Number) => match E164::parse(&written, None) {
                Ok(phone) => orderguard_domain::order::hex(&keys.phone_hashes(phone.as_str()).swap_remove(0)),
                Err(_) => {
                    report.unreadable += 1;
                    continue;
                }
            },
            _ => keys.references("device", &written).swap_remove(0),
        };
        rekeyed_entries.push((entry.id.clone(), value));
    }
    let found = rekeyed_verifications.len() + rekeyed_entries.len();
    let rekeyed = store
        .write(move |conn| -> Result<u64, StoreError> {
            for v in &rekeyed_verifications {
                store::rekey_verification(conn, v)?;
            }
            for (id, value) in &rekeyed_entries {
                store::rekey_list_entry(conn, id, value, active)?;
            }
            Ok((rekeyed_verifications.len() + rekeyed_entries.len()) as u64)
        })
        .await?;
    report.rekeyed += rekeyed;
    // A value that cannot be read keeps its key matched: it is never retired under it.
    let nothing_left = found == 0 && report.unreadable == unreadable_before;
    if nothing_left && switch_settled(live, active, now) {
        memory.rekeyed_for = Some(active);
    }
    if nothing_left && overlap_over {
        retire_older(store, KeyPurpose::Lookup, live, active, now, report).await?;
    }
    Ok(())
}

/// Retires the keys of `purpose` older than `active`; a look-up key only once no list entry it
/// keyed is left that cannot be re-keyed.
async fn retire_older(
    store: &Store,
    purpose: KeyPurpose,
    live: &[KeyringRow],
    active: u32,
    now: Timestamp,
    report: &mut RoundReport,
) -> Result<(), KeyringError> {
    let older: Vec<u32> = live.iter().map(|r| r.generation).filter(|g| *g < active).collect();
    let at = now.millis();
    let retired = store
        .write(move |conn| -> Result<Vec<u32>, StoreError> {
            let mut retired = Vec::new();
            for generation in older {
                if purpose == KeyPurpose::Lookup && store::unrekeyable_list_entries(conn, generation, at)? > 0 {
                    continue;
                }
                store::retire(conn, purpose, generation, at)?;
                retired.push(generation);
            }
            Ok(retired)
        })
        .await?;
    report.retired.extend(retired.into_iter().map(|g| (purpose, g)));
    Ok(())
}

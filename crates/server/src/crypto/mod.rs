//! Keys and the primitives that use them: keyed hashes, AEAD for personal data, JWS receipts,
//! API key hashing. The keys come from the key ring (`keyring`), which the master secret wraps.

pub mod jws;
pub mod keyring;
pub mod passwords;

use std::sync::RwLock;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use orderguard_domain::audit_chain::AuditChain;
use orderguard_domain::code::CodeHasher;
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use keyring::{KeyPurpose, RingKey};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the secret key must be 32 bytes, base64 or hex encoded (e.g. `openssl rand -base64 32`)")]
    BadSecretKey,
    #[error("data could not be decrypted: wrong secret key or corrupted data")]
    Decrypt,
    #[error("a stored signing key is invalid")]
    BadSigningKey,
    #[error("the key ring has no {0} key")]
    MissingKey(&'static str),
}

/// The first byte of a ciphertext made before key rings: sealed by data key generation 1.
const AEAD_VERSION_1: u8 = 1;
/// The first byte of a ciphertext naming its data key: the generation follows (4 bytes, big-endian).
const AEAD_VERSION_2: u8 = 2;
const HEADER_V2: usize = 5;

/// A data key: seals new data from `active_from`, and opens what it sealed — also once retired,
/// for a value an instance that switched late may still have sealed with it.
struct DataKey {
    generation: u32,
    cipher: XChaCha20Poly1305,
    active_from: i64,
    retired: bool,
}

/// A key for keyed hashes; `material` is the HMAC key.
struct HashKey {
    generation: u32,
    material: [u8; 32],
    active_from: i64,
}

/// The keys a rotation changes, newest generation first.
struct Rotating {
    data: Vec<DataKey>,
    lookup: Vec<HashKey>,
    pseudonym: Vec<HashKey>,
}

pub struct Secrets {
    code_hasher: CodeHasher,
    audit_chain: AuditChain,
    hosted_token_key: [u8; 32],
    sign_in_key: [u8; 32],
    clock: Clock,
    rotating: RwLock<Rotating>,
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return [0; 32];
    };
    for part in parts {
        mac.update(part);
        mac.update(b"\0");
    }
    mac.finalize().into_bytes().into()
}

fn short_hex(digest: &[u8; 32]) -> String {
    orderguard_domain::order::hex(digest.get(..16).unwrap_or_default())
}

/// Where the key in use at `now` is among keys newest first: the newest one already active (the
/// oldest if none is yet). No allocation: every hash and seal asks.
fn active_index(mut active_from: impl ExactSizeIterator<Item = i64>, now: i64) -> usize {
    let count = active_from.len();
    active_from.position(|from| from <= now).unwrap_or(count.saturating_sub(1))
}

impl Rotating {
    fn of(keys: &[RingKey]) -> Result<Self, CryptoError> {
        let of_purpose = |purpose: KeyPurpose| {
            let mut keys: Vec<&RingKey> = keys.iter().filter(|k| k.purpose == purpose).collect();
            keys.sort_by_key(|k| std::cmp::Reverse(k.generation));
            if keys.is_empty() { Err(CryptoError::MissingKey(purpose.as_str())) } else { Ok(keys) }
        };
        let hash_keys = |keys: Vec<&RingKey>| {
            keys.iter()
                .map(|k| HashKey { generation: k.generation, material: k.material, active_from: k.active_from })
                .collect()
        };
        Ok(Self {
            data: of_purpose(KeyPurpose::Data)?
                .iter()
                .map(|k| DataKey {
                    generation: k.generation,
                    cipher: XChaCha20Poly1305::new(&k.material.into()),
                    active_from: k.active_from,
                    retired: k.retired,
                })
                .collect(),
            lookup: hash_keys(of_purpose(KeyPurpose::Lookup)?),
            pseudonym: hash_keys(of_purpose(KeyPurpose::Pseudonym)?),
        })
    }
}

impl Rotating {
    /// The data key that seals at `now`: the newest active one not retired.
    fn sealing_key(&self, now: i64) -> Option<&DataKey> {
        let mut usable = self.data.iter().filter(|k| !k.retired);
        usable.clone().find(|k| k.active_from <= now).or_else(|| usable.next_back())
    }
}

/// The keys of one hashing purpose that are matched at `now`: the active one first, then the
/// others not retired — older ones, whose hashes are still stored, and a newer one not active
/// yet, whose hashes an instance whose clock runs a little ahead may already store.
fn matched(keys: &[HashKey], now: i64) -> impl Iterator<Item = &HashKey> {
    let active = active_index(keys.iter().map(|k| k.active_from), now);
    keys.get(active).into_iter().chain(keys.iter().enumerate().filter(move |(i, _)| *i != active).map(|(_, k)| k))
}

/// The look-up keys matched at one moment (generation, key), the active one first.
pub struct LookupKeys {
    keys: Vec<(u32, [u8; 32])>,
}

impl LookupKeys {
    /// The generation new hashes are stored under.
    pub fn generation(&self) -> u32 {
        self.keys.first().map_or(1, |(generation, _)| *generation)
    }

    /// How many keys are matched: more than one while a rotation's overlap lasts.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn hashes(&self, parts: &[&[u8]]) -> Vec<[u8; 32]> {
        let mut hashes: Vec<[u8; 32]> = self.keys.iter().map(|(_, key)| hmac(key, parts)).collect();
        if hashes.is_empty() {
            hashes.push([0; 32]);
        }
        hashes
    }

    /// The number's keyed hash under each key, the active one first.
    pub fn phone_hashes(&self, e164: &str) -> Vec<Vec<u8>> {
        self.hashes(&[e164.as_bytes()]).iter().map(|h| h.to_vec()).collect()
    }

    /// A reference of another identifier (`kind`: range, device, network) under each key.
    pub fn references(&self, kind: &str, value: &str) -> Vec<String> {
        self.hashes(&[kind.as_bytes(), value.as_bytes()]).iter().map(short_hex).collect()
    }
}

impl Secrets {
    /// Parses a 32-byte key written as base64 (standard or URL-safe) or as 64 hex digits.
    pub fn parse_master_key(text: &str) -> Result<[u8; 32], CryptoError> {
        let text = text.trim();
        let decoded = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| text.get(i * 2..i * 2 + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                .collect::<Option<Vec<u8>>>()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
                .ok()
        };
        decoded.and_then(|bytes| <[u8; 32]>::try_from(bytes).ok()).ok_or(CryptoError::BadSecretKey)
    }

    pub fn encode_master_key(key: &[u8; 32]) -> String {
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    /// The secrets of an instance from the ring's unwrapped keys (one internal key, and at least
    /// one of each rotating purpose); `clock` tells which generation is active.
    pub fn new(keys: &[RingKey], clock: Clock) -> Result<Self, CryptoError> {
        let internal = keys
            .iter()
            .find(|k| k.purpose == KeyPurpose::Internal)
            .ok_or(CryptoError::MissingKey(KeyPurpose::Internal.as_str()))?;
        let derive = |label: &str| hmac(&internal.material, &[b"orderguard", label.as_bytes()]);
        Ok(Self {
            code_hasher: CodeHasher::new(derive("code-hash")),
            audit_chain: AuditChain::new(derive("audit-chain")),
            hosted_token_key: derive("hosted-token"),
            sign_in_key: derive("sign-in-reference"),
            clock,
            rotating: RwLock::new(Rotating::of(keys)?),
        })
    }

    /// Takes the ring's keys as they are now (a rotation by another instance or a command).
    pub fn reload(&self, keys: &[RingKey]) -> Result<(), CryptoError> {
        let rotating = Rotating::of(keys)?;
        *self.rotating.write().unwrap_or_else(std::sync::PoisonError::into_inner) = rotating;
        Ok(())
    }

    fn rotating(&self) -> std::sync::RwLockReadGuard<'_, Rotating> {
        self.rotating.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The generation of `purpose` that new data gets now (`Internal`: always 1).
    pub fn active_generation(&self, purpose: KeyPurpose) -> u32 {
        let now = self.clock.now().millis();
        let rotating = self.rotating();
        let hash_active = |keys: &[HashKey]| {
            keys.get(active_index(keys.iter().map(|k| k.active_from), now)).map_or(1, |k| k.generation)
        };
        match purpose {
            KeyPurpose::Data => rotating.sealing_key(now).map_or(1, |k| k.generation),
            KeyPurpose::Lookup => hash_active(&rotating.lookup),
            KeyPurpose::Pseudonym => hash_active(&rotating.pseudonym),
            KeyPurpose::Internal => 1,
        }
    }

    pub fn code_hasher(&self) -> &CodeHasher {
        &self.code_hasher
    }

    /// The key of the audit log's chain of hashes.
    pub fn audit_chain(&self) -> &AuditChain {
        &self.audit_chain
    }

    /// The look-up keys matched now, as one snapshot: hashes and the generation they are stored
    /// under come from the same keys even when a rotation switches in between.
    pub fn lookup_keys(&self) -> LookupKeys {
        let now = self.clock.now().millis();
        LookupKeys { keys: matched(&self.rotating().lookup, now).map(|k| (k.generation, k.material)).collect() }
    }

    /// The number's keyed hash under every look-up key still matched, the active one first: for
    /// look-ups (velocity, lists, data-subject requests) without the number.
    pub fn phone_hashes(&self, e164: &str) -> Vec<Vec<u8>> {
        self.lookup_keys().phone_hashes(e164)
    }

    /// A keyed reference of another identifier (`kind`: a number range, a device id, a client
    /// network), for counting by it without keeping it, under every look-up key still matched,
    /// the active one first.
    pub fn references(&self, kind: &str, value: &str) -> Vec<String> {
        self.lookup_keys().references(kind, value)
    }

    /// A keyed reference for sign-in throttling (a username, a client address): short-lived
    /// counts under the internal key, untouched by look-up key rotations.
    pub fn sign_in_reference(&self, kind: &str, value: &str) -> String {
        short_hex(&hmac(&self.sign_in_key, &[kind.as_bytes(), value.as_bytes()]))
    }

    /// The token in a verification's hosted page link: derived from its id, so that only its
    /// hash is stored (`hosted_token_hash`) and the link can still be given on every read.
    pub fn hosted_token(&self, verification_id: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(hmac(&self.hosted_token_key, &[verification_id.as_bytes()]))
    }

    /// The pseudonym a customer id is stored under.
    pub fn customer_ref(&self, brand: &str, customer_id: &str) -> String {
        self.customer_refs(brand, customer_id).swap_remove(0)
    }

    /// The customer's pseudonym under every pseudonym key still matched, the active one first.
    pub fn customer_refs(&self, brand: &str, customer_id: &str) -> Vec<String> {
        let now = self.clock.now().millis();
        let mut refs: Vec<String> = matched(&self.rotating().pseudonym, now)
            .map(|k| short_hex(&hmac(&k.material, &[brand.as_bytes(), customer_id.as_bytes()])))
            .collect();
        if refs.is_empty() {
            refs.push(String::new());
        }
        refs
    }

    /// Seals with the active data key; the ciphertext names the key's generation.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let now = self.clock.now().millis();
        let rotating = self.rotating();
        let Some(key) = rotating.sealing_key(now) else {
            return Vec::new();
        };
        let nonce_bytes = crate::ids::random_bytes::<24>();
        let nonce = XNonce::from_slice(&nonce_bytes);
        // Encryption with a valid key and nonce only fails for inputs beyond 256 GiB.
        let ciphertext = key.cipher.encrypt(nonce, plaintext).unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER_V2 + 24 + ciphertext.len());
        out.extend_from_slice(&Self::ciphertext_prefix(key.generation));
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// How a ciphertext sealed by data key `generation` begins. Generation 1 keeps the format
    /// from before key rings, so that an instance of that release still reads what a new one
    /// writes during a rolling upgrade.
    pub fn ciphertext_prefix(generation: u32) -> Vec<u8> {
        if generation == 1 {
            return vec![AEAD_VERSION_1];
        }
        let [a, b, c, d] = generation.to_be_bytes();
        vec![AEAD_VERSION_2, a, b, c, d]
    }

    /// The generation of the data key that sealed `data`, and where its nonce starts.
    fn sealed_by(data: &[u8]) -> Option<(u32, usize)> {
        match data.first() {
            Some(&AEAD_VERSION_1) => Some((1, 1)),
            Some(&AEAD_VERSION_2) => {
                let generation = <[u8; 4]>::try_from(data.get(1..HEADER_V2)?).ok()?;
                Some((u32::from_be_bytes(generation), HEADER_V2))
            }
            _ => None,
        }
    }

    pub fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (generation, nonce_at) = Self::sealed_by(data).ok_or(CryptoError::Decrypt)?;
        let (Some(nonce), Some(ciphertext)) = (data.get(nonce_at..nonce_at + 24), data.get(nonce_at + 24..)) else {
            return Err(CryptoError::Decrypt);
        };
        let rotating = self.rotating();
        let key = rotating.data.iter().find(|k| k.generation == generation).ok_or(CryptoError::Decrypt)?;
        key.cipher.decrypt(XNonce::from_slice(nonce), ciphertext).map_err(|_| CryptoError::Decrypt)
    }

    pub fn decrypt_string(&self, data: &[u8]) -> Result<String, CryptoError> {
        String::from_utf8(self.decrypt(data)?).map_err(|_| CryptoError::Decrypt)
    }
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// What the database keeps of a hosted page's token: its SHA-256 in hex (a high-entropy secret
/// needs no slow hash), so that reading the database does not open anyone's page.
pub fn hosted_token_hash(token: &str) -> String {
    orderguard_domain::order::hex(&sha256(token.as_bytes()))
}

/// Whether a stored hosted token is such a hash; a verification created before this release
/// keeps its token in clear until it ends.
pub fn is_hosted_token_hash(stored: &str) -> bool {
    stored.len() == 64 && stored.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Compares secrets by their SHA-256: where two digests differ tells nothing about where the
/// secrets do, and lengths do not show.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter().zip(b.iter()).fold(0_u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// API keys: `og_` and 192 random bits. Only the SHA-256 is stored (a high-entropy secret needs no
/// slow hash); the first characters are kept to tell keys apart in listings.
pub struct NewApiKey {
    pub secret: String,
    pub hash: Vec<u8>,
    pub prefix: String,
}

pub fn new_api_key() -> NewApiKey {
    let secret = format!("og_{}", crate::ids::random_token(24));
    let hash = sha256(secret.as_bytes());
    let prefix = secret.chars().take(9).collect();
    NewApiKey { secret, hash, prefix }
}

#[cfg(test)]
mod tests {
    use super::*;

    use keyring::{MasterSecret, first_keys};

    fn derived(master: u8) -> Secrets {
        Secrets::new(&first_keys(&MasterSecret::new([master; 32]), true, 0), Clock::default()).unwrap()
    }

    #[test]
    fn aead_round_trip_and_tamper_detection() {
        let secrets = derived(1);
        let sealed = secrets.encrypt(b"+4915112345678");
        assert_eq!(sealed.first(), Some(&AEAD_VERSION_1), "generation 1 writes as before key rings");
        assert_eq!(secrets.decrypt(&sealed).unwrap(), b"+4915112345678");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(secrets.decrypt(&tampered).is_err());
        assert!(derived(2).decrypt(&sealed).is_err());
    }

    #[test]
    fn keys_derived_as_before_key_rings_read_what_that_release_wrote() {
        // Sealed by the release before key rings with the master [1; 32] (version byte 1).
        let master = [1u8; 32];
        let old_key = hmac(&master, &[b"orderguard", b"personal-data-aead"]);
        let nonce = [9u8; 24];
        let sealed = XChaCha20Poly1305::new(&old_key.into()).encrypt(XNonce::from_slice(&nonce), b"+49151".as_slice());
        let old = [&[AEAD_VERSION_1][..], &nonce, &sealed.unwrap()].concat();
        let secrets = derived(1);
        assert_eq!(secrets.decrypt(&old).unwrap(), b"+49151");
        let old_phone_key = hmac(&master, &[b"orderguard", b"phone-hash"]);
        assert_eq!(secrets.phone_hashes("+49151"), vec![hmac(&old_phone_key, &[b"+49151"]).to_vec()]);
    }

    #[test]
    fn a_new_data_key_seals_from_its_activation_and_the_old_one_still_opens() {
        let clock = Clock::default();
        let mut keys = first_keys(&MasterSecret::new([1; 32]), false, 0);
        let secrets = Secrets::new(&keys, clock.clone()).unwrap();
        let before = secrets.encrypt(b"old");
        let later = clock.now().millis() + 60_000;
        let key = |purpose| RingKey {
            purpose,
            generation: 2,
            material: keyring::random_key(),
            active_from: later,
            retired: false,
        };
        keys.extend([key(KeyPurpose::Data), key(KeyPurpose::Lookup)]);
        secrets.reload(&keys).unwrap();
        assert_eq!(secrets.active_generation(KeyPurpose::Data), 1, "not active before its time");
        let old_hash = secrets.phone_hashes("+49151").swap_remove(0);
        let hashes = secrets.phone_hashes("+49151");
        assert_eq!((hashes.len(), &hashes[0]), (2, &old_hash), "a key not active yet is matched, not used");
        clock.set_simulated(Some(orderguard_domain::clock::Timestamp(later)));
        let after = secrets.encrypt(b"new");
        assert_eq!(after.get(..5), Some(Secrets::ciphertext_prefix(2).as_slice()));
        assert_eq!(secrets.decrypt(&before).unwrap(), b"old");
        assert_eq!(secrets.decrypt(&after).unwrap(), b"new");
        let hashes = secrets.phone_hashes("+49151");
        assert_eq!(hashes.len(), 2);
        assert_ne!(hashes[0], old_hash);
        assert_eq!(hashes[1], old_hash, "the previous look-up key is still matched");
        // A retired data key seals nothing but still opens what was sealed with it.
        keys.iter_mut().filter(|k| k.purpose == KeyPurpose::Data && k.generation == 1).for_each(|k| k.retired = true);
        secrets.reload(&keys).unwrap();
        clock.set_simulated(Some(orderguard_domain::clock::Timestamp(0)));
        assert_eq!(secrets.active_generation(KeyPurpose::Data), 2);
        assert_eq!(secrets.decrypt(&before).unwrap(), b"old");
    }

    #[test]
    fn master_key_formats() {
        let key = [7u8; 32];
        assert_eq!(Secrets::parse_master_key(&Secrets::encode_master_key(&key)).unwrap(), key);
        assert_eq!(Secrets::parse_master_key(&"07".repeat(32)).unwrap(), key);
        assert!(Secrets::parse_master_key("short").is_err());
    }

    #[test]
    fn api_keys_have_enough_entropy() {
        let key = new_api_key();
        assert!(key.secret.len() >= 3 + 32);
        assert_eq!(key.hash, sha256(key.secret.as_bytes()));
    }
}

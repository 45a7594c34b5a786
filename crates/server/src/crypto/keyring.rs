//! The key ring's cryptography: the keys that protect stored data are random (or, in a database
//! older than key rings, derived from the master secret as every key was before) and are kept
//! wrapped — encrypted — by the master secret. Rotating the master re-wraps these keys; the data
//! they protect stays as it is.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::{CryptoError, hmac};
pub use crate::records::keys::KeyPurpose;

/// A master secret: it wraps the ring's keys and nothing else.
#[derive(Clone)]
pub struct MasterSecret {
    key: [u8; 32],
}

impl std::fmt::Debug for MasterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterSecret({})", self.id())
    }
}

/// The master secrets an instance knows: the one that wraps new keys, and during a master
/// rotation the one it replaces.
#[derive(Debug, Clone)]
pub struct Masters {
    pub current: MasterSecret,
    pub previous: Option<MasterSecret>,
}

impl Masters {
    /// The master with this id.
    pub fn find(&self, id: &str) -> Option<&MasterSecret> {
        std::iter::once(&self.current).chain(self.previous.as_ref()).find(|m| m.id() == id)
    }
}

/// One key of the ring, unwrapped.
#[derive(Clone)]
pub struct RingKey {
    pub purpose: KeyPurpose,
    pub generation: u32,
    pub material: [u8; 32],
    /// From when it is used for new data (milliseconds); older keys of its purpose are still read.
    pub active_from: i64,
    /// Nothing needs it any more: a retired data key still opens, it never seals.
    pub retired: bool,
}

fn additional_data(purpose: KeyPurpose, generation: u32) -> String {
    format!("orderguard key {} {generation}", purpose.as_str())
}

impl MasterSecret {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// Names the master without revealing it: which master wraps a stored key.
    pub fn id(&self) -> String {
        let digest = hmac(&self.key, &[b"orderguard", b"master-id"]);
        orderguard_domain::order::hex(digest.get(..8).unwrap_or_default())
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&hmac(&self.key, &[b"orderguard", b"key-wrap"]).into())
    }

    /// The key sealed under this master, bound to its purpose and generation (a wrapped key
    /// moved to another row does not unwrap).
    pub fn wrap(&self, purpose: KeyPurpose, generation: u32, material: &[u8; 32]) -> Vec<u8> {
        let nonce = crate::ids::random_bytes::<24>();
        let aad = additional_data(purpose, generation);
        // Encryption with a valid key and nonce only fails for inputs beyond 256 GiB.
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: material, aad: aad.as_bytes() })
            .unwrap_or_default();
        [nonce.as_slice(), &sealed].concat()
    }

    pub fn unwrap(&self, purpose: KeyPurpose, generation: u32, wrapped: &[u8]) -> Result<[u8; 32], CryptoError> {
        let (Some(nonce), Some(sealed)) = (wrapped.get(..24), wrapped.get(24..)) else {
            return Err(CryptoError::Decrypt);
        };
        let aad = additional_data(purpose, generation);
        let material = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: aad.as_bytes() })
            .map_err(|_| CryptoError::Decrypt)?;
        <[u8; 32]>::try_from(material).map_err(|_| CryptoError::Decrypt)
    }

    /// The first key of a purpose in a database that held data before key rings existed: the
    /// key that release derived from the master, so that everything stored stays readable.
    pub fn derived_key(&self, purpose: KeyPurpose) -> [u8; 32] {
        let derive = |label: &str| hmac(&self.key, &[b"orderguard", label.as_bytes()]);
        match purpose {
            KeyPurpose::Data => derive("personal-data-aead"),
            KeyPurpose::Lookup => derive("phone-hash"),
            KeyPurpose::Pseudonym => derive("customer-ref"),
            // The internal keys were derived from the master itself, with the labels
            // `Secrets` still derives them with.
            KeyPurpose::Internal => self.key,
        }
    }
}

/// A new random key.
pub fn random_key() -> [u8; 32] {
    crate::ids::random_bytes::<32>()
}

/// Generation 1 of every purpose, active from `now`: random in a new database, derived from the
/// master in one that holds data from before key rings (`derived`).
pub fn first_keys(master: &MasterSecret, derived: bool, now: i64) -> Vec<RingKey> {
    KeyPurpose::ALL
        .into_iter()
        .map(|purpose| RingKey {
            purpose,
            generation: 1,
            material: if derived { master.derived_key(purpose) } else { random_key() },
            active_from: now,
            retired: false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_key_unwraps_only_under_its_master_purpose_and_generation() {
        let (master, other) = (MasterSecret::new([1; 32]), MasterSecret::new([2; 32]));
        let key = random_key();
        let wrapped = master.wrap(KeyPurpose::Data, 2, &key);
        assert_eq!(master.unwrap(KeyPurpose::Data, 2, &wrapped).unwrap(), key);
        assert!(other.unwrap(KeyPurpose::Data, 2, &wrapped).is_err());
        assert!(master.unwrap(KeyPurpose::Data, 3, &wrapped).is_err());
        assert!(master.unwrap(KeyPurpose::Lookup, 2, &wrapped).is_err());
        assert_ne!(master.id(), other.id());
        assert_eq!(KeyPurpose::parse("lookup"), Some(KeyPurpose::Lookup));
    }
}

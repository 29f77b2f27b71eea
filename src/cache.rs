//! What a request may reuse from earlier ones, through a [`Store`]: entries
//! anyone may read (an issuer's keys, installation ids) and secret ones (the
//! App JWT, installation tokens), which a store only ever sees encrypted.
//!
//! Entries are sealed with ChaCha20-Poly1305 under the deployment's
//! [`SealingKey`] (`CACHE_KEY`, or the Spin variable `cache_key`), a fresh
//! random nonce each, and the entry's key and expiry as associated data, so
//! that an entry moved to another key, or given a later expiry, does not
//! open. Secret entries always are; in a
//! shared store (Spin's key-value store) every entry is, so that whoever can
//! write to its backend cannot plant an issuer's key or another
//! installation's id. Without a sealing key nothing secret is kept, and a
//! shared store is not used at all. An entry that does not open or parse is
//! ignored (and overwritten by the next), and a store that fails means no
//! cache for that request: never an error.

use std::cell::RefCell;
use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::{Result, invalid};
use crate::store::{Entry, Nothing, Store};

/// The key that seals secret entries: 32 bytes, given as base64. Its
/// `Debug` prints nothing of it, and its memory is zeroed on drop.
pub struct SealingKey(Zeroizing<[u8; 32]>);

impl SealingKey {
    /// The key in `base64` (from `field`): it must be 32 bytes.
    pub fn parse(field: &str, base64: &str) -> Result<SealingKey> {
        let bytes = Zeroizing::new(STANDARD.decode(base64.trim()).unwrap_or_default());
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| invalid(field, "must be 32 random bytes in base64 (openssl rand -base64 32)"))?;
        Ok(SealingKey(Zeroizing::new(key)))
    }
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey([redacted])")
    }
}

/// What a sealed entry is bound to: its key and its expiry.
fn associated(at: &str, expires: u64) -> Vec<u8> {
    format!("{at}\n{expires}").into_bytes()
}

/// `plaintext` sealed for the entry at `at` expiring at `expires`, with
/// `nonce`: the nonce, then the ciphertext and its tag.
fn seal(key: &SealingKey, at: &str, expires: u64, plaintext: &[u8], nonce: [u8; 12]) -> Option<Vec<u8>> {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key.0.as_slice()));
    let aad = associated(at, expires);
    let sealed = cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad }).ok()?;
    Some(nonce.iter().copied().chain(sealed).collect())
}

/// What [`seal`] sealed for `at` and `expires`, if `sealed` opens with `key`.
fn open(key: &SealingKey, at: &str, expires: u64, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (nonce, ciphertext) = sealed.split_at_checked(12)?;
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key.0.as_slice()));
    let aad = associated(at, expires);
    cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad }).ok().map(Zeroizing::new)
}

/// A request's view of the cache: where entries are kept, the key that
/// seals secret ones, whether tokens are kept, and what was found (for the
/// audit line).
pub struct Cache<'a> {
    store: &'a dyn Store,
    sealing: Option<&'a SealingKey>,
    /// Whether installation tokens are kept (off unless the deployment says so).
    pub tokens: bool,
    random: fn() -> u64,
    found: RefCell<BTreeMap<&'static str, bool>>,
}

impl<'a> Cache<'a> {
    /// A cache over `store`, sealing secret entries with `sealing` (none:
    /// nothing secret is kept, and a shared store not used at all), keeping
    /// tokens if `tokens`, drawing nonces from `random`.
    pub fn new(
        store: &'a dyn Store,
        sealing: Option<&'a SealingKey>,
        tokens: bool,
        random: fn() -> u64,
    ) -> Cache<'a> {
        let store = if store.is_shared() && sealing.is_none() { &Nothing } else { store };
        Cache { store, sealing, tokens, random, found: RefCell::default() }
    }

    /// A cache that keeps nothing: for faces that mint once and end.
    pub fn none() -> Cache<'static> {
        Cache::new(&Nothing, None, false, || 0)
    }

    /// The entry at `at`, unexpired at `now`: sealed in a shared store.
    pub fn get(&self, at: &str, now: u64) -> Option<Value> {
        if self.store.is_shared() { self.get_secret(at, now) } else { self.get_plain(at, now) }
    }

    /// Keeps `value` at `at` until `expires`: sealed in a shared store.
    pub fn set(&self, at: &str, value: &Value, expires: u64) {
        if self.store.is_shared() {
            self.set_secret(at, value, expires);
        } else {
            Entry { expires, value: value.clone() }.set(self.store, at);
        }
    }

    /// Drops the entry at `at` (it is kept as expired).
    pub fn drop_entry(&self, at: &str) {
        Entry { expires: 0, value: Value::Null }.set(self.store, at);
    }

    /// The secret entry at `at`, unexpired at `now`, if it opens with the
    /// sealing key; nothing without one.
    pub fn get_secret(&self, at: &str, now: u64) -> Option<Value> {
        let key = self.sealing?;
        let entry = Entry::get(self.store, at, now)?;
        let sealed = STANDARD.decode(entry.value.as_str()?).ok()?;
        serde_json::from_slice(&open(key, at, entry.expires, &sealed)?).ok()
    }

    /// Keeps the secret `value` at `at` until `expires`, sealed; nothing
    /// without a sealing key.
    pub fn set_secret(&self, at: &str, value: &Value, expires: u64) {
        let Some(key) = self.sealing else { return };
        let random = self.random;
        let mut nonce = [0; 12];
        nonce[..8].copy_from_slice(&random().to_le_bytes());
        nonce[8..].copy_from_slice(&random().to_le_bytes()[..4]);
        let plaintext = Zeroizing::new(value.to_string().into_bytes());
        if let Some(sealed) = seal(key, at, expires, &plaintext, nonce) {
            Entry { expires, value: Value::String(STANDARD.encode(sealed)) }.set(self.store, at);
        }
    }

    fn get_plain(&self, at: &str, now: u64) -> Option<Value> {
        Entry::get(self.store, at, now).map(|entry| entry.value)
    }

    /// Records whether `what` (`keys`, `app_jwt`, `installation`, `token`) was found.
    pub fn found(&self, what: &'static str, hit: bool) {
        self.found.borrow_mut().insert(what, hit);
    }

    /// What was found, as the audit line says it: `{"keys": "hit", ...}`.
    pub fn outcomes(&self) -> BTreeMap<&'static str, &'static str> {
        self.found.borrow().iter().map(|(what, hit)| (*what, if *hit { "hit" } else { "miss" })).collect()
    }
}

/// A store key for `kind` that names `parts` without holding them: a
/// SHA-256 of them, so that keys are short and plain, and nothing (a
/// repository name, a token's scope) is readable in the store's key list.
pub fn key_for(kind: &str, parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    for part in parts {
        digest.update((part.len() as u64).to_le_bytes());
        digest.update(part.as_bytes());
    }
    let hex: String = digest.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{kind}/v1/{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Memory;
    use serde_json::json;

    fn key() -> SealingKey {
        SealingKey::parse("CACHE_KEY", &STANDARD.encode([7u8; 32])).unwrap()
    }

    #[test]
    fn secret_entries_are_sealed_and_open_only_where_they_were_kept() {
        let (store, key) = (Memory::new(), key());
        let cache = Cache::new(&store, Some(&key), false, || 42);
        let secret = json!({"jwt": "eyJ.secret.jwt"});
        cache.set_secret("app-jwt/v1/a", &secret, 100);
        assert_eq!(cache.get_secret("app-jwt/v1/a", 99), Some(secret.clone()));
        let kept = String::from_utf8(store.get("app-jwt/v1/a").unwrap()).unwrap();
        assert!(!kept.contains("eyJ") && !kept.contains("secret"), "the store sees ciphertext only: {kept}");
        assert_eq!(cache.get_secret("app-jwt/v1/a", 100), None, "expired");

        // Moved to another key, tampered with, or under another sealing key: nothing.
        store.set("app-jwt/v1/b", &store.get("app-jwt/v1/a").unwrap());
        assert_eq!(cache.get_secret("app-jwt/v1/b", 0), None);
        let other = SealingKey::parse("CACHE_KEY", &STANDARD.encode([8u8; 32])).unwrap();
        assert_eq!(Cache::new(&store, Some(&other), false, || 1).get_secret("app-jwt/v1/a", 0), None);
        // Given a later expiry in the clear (whoever writes to the store
        // could): it no longer opens, so a revoked token is not served on.
        let mut entry: Value = serde_json::from_str(&kept).unwrap();
        entry["expires"] = json!(u64::MAX);
        store.set("app-jwt/v1/a", entry.to_string().as_bytes());
        assert_eq!(cache.get_secret("app-jwt/v1/a", 99), None);
        entry["expires"] = json!(100);
        store.set("app-jwt/v1/a", entry.to_string().as_bytes());
        assert_eq!(cache.get_secret("app-jwt/v1/a", 99), Some(secret.clone()), "as it was kept");
        entry["value"] = json!(STANDARD.encode([0u8; 40]));
        store.set("app-jwt/v1/a", entry.to_string().as_bytes());
        assert_eq!(cache.get_secret("app-jwt/v1/a", 0), None);

        // Without a sealing key nothing secret is kept.
        let keyless = Cache::new(&store, None, false, || 0);
        keyless.set_secret("app-jwt/v1/c", &secret, 100);
        assert_eq!(store.get("app-jwt/v1/c"), None);
    }

    /// A store others can write to: every entry sealed, and without a
    /// sealing key, not used at all; the instance's memory keeps plain
    /// entries plain.
    #[test]
    fn a_shared_store_holds_only_sealed_entries() {
        struct Shared(Memory);
        impl Store for Shared {
            fn get(&self, key: &str) -> Option<Vec<u8>> {
                self.0.get(key)
            }
            fn set(&self, key: &str, value: &[u8]) {
                self.0.set(key, value)
            }
            fn is_shared(&self) -> bool {
                true
            }
        }
        let (shared, key) = (Shared(Memory::new()), key());
        let ids = json!({"id": 1001});
        Cache::new(&shared, Some(&key), false, || 9).set("installation/v1/x", &ids, 100);
        let kept = String::from_utf8(shared.get("installation/v1/x").unwrap()).unwrap();
        assert!(!kept.contains("1001"), "{kept}");
        assert_eq!(
            Cache::new(&shared, Some(&key), false, || 9).get("installation/v1/x", 0),
            Some(ids.clone())
        );
        // A planted plain entry is not believed.
        shared.set("installation/v1/y", br#"{"expires": 100, "value": {"id": 666}}"#);
        assert_eq!(Cache::new(&shared, Some(&key), false, || 9).get("installation/v1/y", 0), None);
        let keyless = Cache::new(&shared, None, false, || 9);
        keyless.set("installation/v1/z", &ids, 100);
        keyless.drop_entry("installation/v1/x");
        assert_eq!((shared.get("installation/v1/z"), keyless.get("installation/v1/x", 0)), (None, None));
        assert_eq!(shared.get("installation/v1/x").map(String::from_utf8), Some(Ok(kept)), "untouched");

        let memory = Memory::new();
        Cache::new(&memory, None, false, || 9).set("installation/v1/x", &ids, 100);
        assert!(String::from_utf8(memory.get("installation/v1/x").unwrap()).unwrap().contains("1001"));
    }

    #[test]
    fn a_sealing_key_is_32_bytes_and_never_printed() {
        for bad in ["", "c2hvcnQ=", "not base64!", &STANDARD.encode([1u8; 31])] {
            assert!(SealingKey::parse("CACHE_KEY", bad).is_err(), "{bad}");
        }
        assert_eq!(format!("{:?}", key()), "SealingKey([redacted])");
    }

    #[test]
    fn keys_name_their_parts_without_holding_them() {
        let a = key_for("installation", &["https://api.github.com/", "owner", "acme"]);
        assert!(a.starts_with("installation/v1/") && !a.contains("acme"));
        assert_ne!(a, key_for("installation", &["https://api.github.com/", "owner", "acme2"]));
        assert_ne!(key_for("t", &["ab", "c"]), key_for("t", &["a", "bc"]), "parts are told apart");
    }

    #[test]
    fn what_was_found_is_recorded() {
        let cache = Cache::none();
        cache.found("keys", true);
        cache.found("app_jwt", false);
        assert_eq!(cache.outcomes(), BTreeMap::from([("app_jwt", "miss"), ("keys", "hit")]));
    }
}

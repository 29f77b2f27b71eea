//! State that outlives a request: a key-value [`Store`] the host provides.
//!
//! A cache, never a source of truth: a store that fails, or an entry that is
//! missing, expired or unreadable, means the work is done again. Entries
//! carry their own expiry ([`Entry`]), since not every store has one.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::json::Object;

/// A key-value store: in the instance's memory ([`Memory`]), or one shared
/// by every replica (Spin's key-value store).
pub trait Store {
    /// The value at `key`; `None` when absent or when the store fails.
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Sets `key` to `value`; a store that fails keeps nothing, silently.
    fn set(&self, key: &str, value: &[u8]);
    /// Whether others can write to it (another replica, whoever reaches its
    /// backend): then every entry is sealed, so that none can be planted.
    fn is_shared(&self) -> bool;
}

/// The largest value a store is asked to keep.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

/// A store in the instance's own memory: it serves the requests one
/// instance answers (a host that reuses instances, `jco serve`, an
/// embedding), and is gone with the instance.
#[derive(Debug, Default)]
pub struct Memory {
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl Memory {
    /// The most entries kept; past it the store starts again empty.
    pub const MAX_ENTRIES: usize = 1024;

    /// An empty store (`const`, for a `static`).
    pub const fn new() -> Memory {
        Memory { entries: Mutex::new(BTreeMap::new()) }
    }
}

impl Store for Memory {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    fn set(&self, key: &str, value: &[u8]) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= Memory::MAX_ENTRIES && !entries.contains_key(key) {
            entries.clear();
        }
        entries.insert(key.to_owned(), value.to_vec());
    }

    fn is_shared(&self) -> bool {
        false
    }
}

/// Every key `store` holds, for tests that spoil entries.
#[cfg(test)]
pub fn tests_keys(store: &Memory) -> Vec<String> {
    store.entries.lock().map(|entries| entries.keys().cloned().collect()).unwrap_or_default()
}

/// A store that keeps nothing: for hosts with no state at all.
#[derive(Debug, Default)]
pub struct Nothing;

impl Store for Nothing {
    fn get(&self, _: &str) -> Option<Vec<u8>> {
        None
    }

    fn set(&self, _: &str, _: &[u8]) {}

    fn is_shared(&self) -> bool {
        false
    }
}

/// A value with its expiry, as a store keeps it: `{"expires": UNIX, "value": …}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// When the value stops being served, in seconds since the Unix epoch.
    pub expires: u64,
    /// The value.
    pub value: Value,
}

impl Entry {
    /// The entry at `key`, if the store has one that reads back and has not
    /// expired at `now`.
    pub fn get(store: &dyn Store, key: &str, now: u64) -> Option<Entry> {
        Entry::read(&store.get(key)?).filter(|entry| now < entry.expires)
    }

    /// Keeps the entry at `key`, unless it is larger than [`MAX_ENTRY_BYTES`].
    pub fn set(&self, store: &dyn Store, key: &str) {
        let bytes = json!({"expires": self.expires, "value": self.value}).to_string().into_bytes();
        if bytes.len() <= MAX_ENTRY_BYTES {
            store.set(key, &bytes);
        }
    }

    fn read(bytes: &[u8]) -> Option<Entry> {
        let mut object = Object::parse(bytes).ok()?;
        let expires = object.required_u64("expires").ok()?;
        Some(Entry { expires, value: object.take("value")? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_unreadable_ones_are_ignored() {
        let store = Memory::new();
        Entry { expires: 100, value: json!({"a": 1}) }.set(&store, "k");
        assert_eq!(Entry::get(&store, "k", 99).map(|e| e.value), Some(json!({"a": 1})));
        assert_eq!(Entry::get(&store, "k", 100), None, "expired");
        store.set("k", b"{not json");
        assert_eq!(Entry::get(&store, "k", 0), None);
        let huge = Entry { expires: 100, value: json!("x".repeat(MAX_ENTRY_BYTES)) };
        huge.set(&store, "huge");
        assert_eq!(store.get("huge"), None, "too large to keep");
        assert_eq!(Entry::get(&Nothing, "k", 0), None);
    }

    #[test]
    fn memory_is_bounded() {
        let store = Memory::new();
        for i in 0..Memory::MAX_ENTRIES {
            store.set(&i.to_string(), b"v");
        }
        store.set("0", b"again");
        assert_eq!(store.get("1").as_deref(), Some(&b"v"[..]), "an existing key replaces");
        store.set("one more", b"v");
        assert_eq!((store.get("1"), store.get("one more").is_some()), (None, true), "full: starts again");
    }
}

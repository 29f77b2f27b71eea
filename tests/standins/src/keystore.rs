//! What every key store stand-in but KMS's keeps besides its keys (Google,
//! Azure, Vault): the fault to answer with, a key to sign with in place of
//! the App's, how many signatures it made and every request it saw. Each
//! stand-in dereferences to its [`Recorder`], so a test calls
//! `vault.set_fault(…)` or `google.signed()` on the stand-in itself.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rsa::RsaPrivateKey;

use crate::server::Request;

/// A key store stand-in's faults, signer and record.
pub struct Recorder<F> {
    fault: crate::Injected<F>,
    impostor: Mutex<Option<RsaPrivateKey>>,
    signed: AtomicUsize,
    seen: Mutex<Vec<String>>,
}

impl<F: Clone> Default for Recorder<F> {
    fn default() -> Self {
        Recorder {
            fault: crate::Injected::default(),
            impostor: Mutex::new(None),
            signed: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
        }
    }
}

impl<F: Clone> Recorder<F> {
    /// Answers every request to the store with this error from now on (`None` heals).
    pub fn set_fault(&self, fault: Option<F>) {
        self.fault.set(fault);
    }

    /// Answers the next `times` requests to the store with this error, then heals.
    pub fn set_fault_times(&self, fault: F, times: usize) {
        self.fault.set_times(fault, times);
    }

    /// Signs with `key` instead of the App's from now on: signatures that
    /// do not verify under the public half the store reports.
    pub fn sign_with(&self, key: Option<RsaPrivateKey>) {
        *self.impostor.lock().unwrap() = key;
    }

    /// How many signatures were made.
    pub fn signed(&self) -> usize {
        self.signed.load(Ordering::SeqCst)
    }

    /// `METHOD PATH` of every request, in order.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// Records `request`.
    pub(crate) fn saw(&self, request: &Request) {
        self.seen.lock().unwrap().push(format!("{} {}", request.method, request.path()));
    }

    /// The fault to answer this request with, if one is set (counted).
    pub(crate) fn fault(&self) -> Option<F> {
        self.fault.take(|_| true)
    }

    /// The key that signs in place of `key`: the impostor, if one is set.
    pub(crate) fn signer(&self, key: &RsaPrivateKey) -> RsaPrivateKey {
        self.impostor.lock().unwrap().clone().unwrap_or_else(|| key.clone())
    }

    /// Counts a signature made.
    pub(crate) fn signed_one(&self) {
        self.signed.fetch_add(1, Ordering::SeqCst);
    }
}

//! The Spin build's two imports (`world spin`): the broker's settings from
//! Spin variables, and its caches in Spin's key-value store labelled
//! `default`, which every replica of a deployment shares.

use crate::env::{Env, VARIABLES};
use crate::spin_bindings::fermyon::spin::{key_value, variables};
use crate::store::Store;

/// `env` with every variable the component reads overridden by the Spin
/// variable of the same name in lower case (`APP_ID` by `app_id`), where the
/// manifest defines one and it is not empty: the platform's settings win
/// over whatever environment the host also hands over.
pub fn variables(mut env: Env) -> Env {
    for variable in VARIABLES {
        if let Ok(value) = variables::get(&variable.name.to_ascii_lowercase())
            && !value.is_empty()
        {
            env = env.with(variable.name, &value);
        }
    }
    env
}

/// Spin's key-value store labelled `default`; a store that cannot be
/// opened keeps nothing (the request then runs without a cache).
pub struct KeyValue(Option<key_value::Store>);

impl KeyValue {
    /// Opens the store the manifest grants (`key_value_stores = ["default"]`).
    pub fn open() -> KeyValue {
        KeyValue(key_value::Store::open("default").ok())
    }
}

impl Store for KeyValue {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0.as_ref()?.get(key).ok().flatten()
    }

    fn set(&self, key: &str, value: &[u8]) {
        if let Some(store) = &self.0 {
            let _ = store.set(key, value);
        }
    }

    fn is_shared(&self) -> bool {
        true
    }
}

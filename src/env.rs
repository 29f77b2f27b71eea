//! The environment a host hands the component (`wasi:cli/environment`), as
//! a map. Only the exports read the host's; everything below takes settings
//! resolved from it.

use std::collections::BTreeMap;

/// Environment variables. They hold secrets, so there is no `Debug`. Empty
/// values count as unset.
#[derive(Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// An environment made of `pairs`.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Env {
        Env(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// The value of `name`, unless it is unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The first of `names` that is set, with its name (for error messages).
    pub fn first<'a>(&'a self, names: &[&'a str]) -> Option<(&'a str, &'a str)> {
        names.iter().find_map(|&name| Some((name, self.get(name)?)))
    }

    /// `name` set to `value`.
    pub fn with(mut self, name: &str, value: &str) -> Env {
        self.0.insert(name.to_owned(), value.to_owned());
        self
    }
}

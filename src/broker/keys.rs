//! The keys of the issuers a policy trusts, kept in a [`Store`] so that a
//! caller costs no fetch while they are fresh. Pure: the broker's flow
//! fetches and hands the answers in.
//!
//! The rules, which bound what a forged token can make the broker fetch:
//! - keys are kept for the issuer's `Cache-Control: max-age`, bounded to
//!   between [`MIN_TTL_SECS`] and [`MAX_TTL_SECS`] ([`DEFAULT_TTL_SECS`]
//!   without one);
//! - a token naming a key that is not among fresh keys refreshes them, and
//!   so does a token arriving when none are fresh, but an issuer's keys are
//!   fetched at most once per [`REFRESH_SECS`], whether the fetch works or
//!   not: a stream of forged tokens costs the issuer one fetch a minute.
//!
//! The bound holds where the store outlives a request: an instance's memory
//! where the host reuses instances (`jco serve`, an embedding), Spin's
//! key-value store where a `cache_key` is set. A host that starts an
//! instance per request with no shared store (`wasmtime serve` as is, the
//! Spin build without a `cache_key`) keeps nothing, and each token naming a
//! trusted issuer costs a fetch (docs/broker.md, "Scaling out").

use serde_json::{Value, json};

use crate::broker::idtoken::{self, Invalid};
use crate::cache::{Cache, key_for};
use crate::rs256::PublicKey;

/// The shortest time keys are kept, whatever the issuer says.
pub const MIN_TTL_SECS: u64 = 60;
/// The longest time keys are kept, whatever the issuer says.
pub const MAX_TTL_SECS: u64 = 24 * 60 * 60;
/// How long keys are kept when the issuer says nothing.
pub const DEFAULT_TTL_SECS: u64 = 5 * 60;
/// At most one fetch of an issuer's keys per this many seconds.
pub const REFRESH_SECS: u64 = 60;

/// How long to keep keys that came with `cache_control`.
pub fn ttl(cache_control: Option<&str>) -> u64 {
    let Some(header) = cache_control else { return DEFAULT_TTL_SECS };
    let directives = header.split(',').map(str::trim);
    if directives.clone().any(|d| d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("no-cache")) {
        return MIN_TTL_SECS;
    }
    let max_age = directives.filter_map(|d| d.split_once('=')).find_map(|(name, value)| {
        name.trim().eq_ignore_ascii_case("max-age").then(|| value.trim().trim_matches('"').parse().ok())?
    });
    max_age.map_or(DEFAULT_TTL_SECS, |secs: u64| secs.clamp(MIN_TTL_SECS, MAX_TTL_SECS))
}

/// What the store knows of one issuer's keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Known {
    /// The issuer's JWKS document, if a fetch ever worked.
    pub jwks: Option<Value>,
    /// Until when `jwks` is fresh (seconds since the Unix epoch).
    pub fresh_until: u64,
    /// When the keys were last fetched, or tried (seconds since the Unix epoch).
    pub fetched_at: u64,
}

/// Where an issuer's keys are kept ([`key_for`] its URL).
pub fn store_key(issuer: &str) -> String {
    key_for("issuer-keys", &[issuer])
}

/// What to do for a token naming `kid`.
#[derive(Debug)]
pub enum Lookup {
    /// The key, from fresh keys: no fetch.
    Found(PublicKey),
    /// Fetch the keys now.
    Fetch,
    /// Neither: the keys were fetched (or tried) too recently to fetch again.
    Refused(Invalid),
}

impl Known {
    /// What `cache` holds at `key` that still matters at `now`.
    pub fn get(cache: &Cache, key: &str, now: u64) -> Option<Known> {
        let value = cache.get(key, now)?;
        Some(Known {
            jwks: value.get("jwks").filter(|jwks| jwks.is_object()).cloned(),
            fresh_until: value.get("fresh_until")?.as_u64()?,
            fetched_at: value.get("fetched_at")?.as_u64()?,
        })
    }

    /// Keeps this at `key` for as long as any of it matters.
    pub fn set(&self, cache: &Cache, key: &str) {
        let value =
            json!({"jwks": self.jwks, "fresh_until": self.fresh_until, "fetched_at": self.fetched_at});
        cache.set(key, &value, self.fresh_until.max(self.fetched_at.saturating_add(REFRESH_SECS)));
    }

    /// What is known after a fetch at `now`: `fetched` (the JWKS and how
    /// long to keep it), else what was known before, marked as tried.
    pub fn after_fetch(before: Option<Known>, fetched: Option<(&Value, u64)>, now: u64) -> Known {
        match fetched {
            Some((jwks, ttl)) => {
                Known { jwks: Some(jwks.clone()), fresh_until: now.saturating_add(ttl), fetched_at: now }
            }
            None => Known { fetched_at: now, ..before.unwrap_or_default() },
        }
    }
}

/// The key for a token naming `kid` at `now`, given what is `known`.
pub fn lookup(known: Option<&Known>, kid: &str, now: u64) -> Lookup {
    let Some(known) = known else { return Lookup::Fetch };
    if let Some(jwks) = known.jwks.as_ref().filter(|_| now < known.fresh_until)
        && idtoken::has_key(jwks, kid)
    {
        return match idtoken::key_in(jwks, kid) {
            Ok(key) => Lookup::Found(key),
            Err(invalid) => Lookup::Refused(invalid),
        };
    }
    if now < known.fetched_at.saturating_add(REFRESH_SECS) {
        return Lookup::Refused(Invalid::UnknownKidFetchedRecently);
    }
    Lookup::Fetch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::idtoken::test_keys::{jwk, private};
    use crate::store::{Memory, Store};

    #[test]
    fn the_issuer_says_how_long_within_bounds() {
        assert_eq!(ttl(None), DEFAULT_TTL_SECS);
        assert_eq!(ttl(Some("public, max-age=3600")), 3600);
        assert_eq!(ttl(Some("max-age=\"120\", must-revalidate")), 120);
        assert_eq!(ttl(Some("max-age=5")), MIN_TTL_SECS);
        assert_eq!(ttl(Some("max-age=99999999999")), MAX_TTL_SECS);
        assert_eq!(ttl(Some("no-store")), MIN_TTL_SECS);
        assert_eq!(ttl(Some("max-age=abc")), DEFAULT_TTL_SECS);
    }

    #[test]
    fn fresh_keys_serve_known_kids_and_refresh_at_most_once_a_minute() {
        let key = private(2048);
        let jwks = json!({"keys": [jwk(&key)]});
        let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
        assert!(matches!(lookup(None, &kid, 1000), Lookup::Fetch), "nothing known: fetch");

        let known = Known::after_fetch(None, Some((&jwks, 300)), 1000);
        assert!(matches!(lookup(Some(&known), &kid, 1001), Lookup::Found(_)));
        assert!(matches!(lookup(Some(&known), &kid, 1299), Lookup::Found(_)));
        // An unknown kid: no fetch within the minute, one after it.
        assert!(matches!(lookup(Some(&known), "other", 1059), Lookup::Refused(_)));
        assert!(matches!(lookup(Some(&known), "other", 1060), Lookup::Fetch));
        // Stale keys are fetched again, once a minute at most.
        assert!(matches!(lookup(Some(&known), &kid, 1300), Lookup::Fetch));

        // A failed fetch counts as one: it keeps what was known, marked as tried.
        let failed = Known::after_fetch(Some(known.clone()), None, 1300);
        assert_eq!((failed.jwks.as_ref(), failed.fetched_at), (Some(&jwks), 1300));
        assert!(matches!(lookup(Some(&failed), &kid, 1359), Lookup::Refused(_)));
        assert!(matches!(lookup(Some(&failed), &kid, 1360), Lookup::Fetch));
    }

    #[test]
    fn what_is_known_goes_through_a_store() {
        let store = Memory::new();
        let cache = Cache::new(&store, None, false, || 0);
        let known = Known { jwks: Some(json!({"keys": []})), fresh_until: 500, fetched_at: 200 };
        let at = store_key("https://idp.example");
        assert!(at.starts_with("issuer-keys/v1/") && at.len() < 64);
        known.set(&cache, &at);
        assert_eq!(Known::get(&cache, &at, 499), Some(known));
        assert_eq!(Known::get(&cache, &at, 500), None, "past every use");
        store.set(&at, b"\xff garbage");
        assert_eq!(Known::get(&cache, &at, 0), None, "unreadable: as if nothing were known");
    }
}

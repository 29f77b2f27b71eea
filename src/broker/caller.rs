//! Who is asking: the caller's OIDC ID token verified, over a
//! [`Transport`] that reaches its issuer. Only issuers the policy trusts
//! are ever fetched, each at most once a minute ([`keys`]), and nothing
//! readable without the issuer's key is left unchecked before a fetch.

use serde_json::{Map, Value};

use crate::broker::idtoken::{self, Invalid};
use crate::broker::keys::{self, Known, Lookup};
use crate::broker::policy::{Policy, Rule};
use crate::cache::Cache;
use crate::error::{Error, Service};
use crate::net::http::{Method, Request, Response, Transport};
use crate::net::url::Url;
use crate::rs256::PublicKey;
use crate::secret::Secret;

/// Why a caller could not be verified: for the audit line only (every
/// such caller gets the same answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unverified {
    /// No `Authorization: Bearer` header.
    NoToken,
    /// The token's issuer is not one the policy trusts.
    Untrusted,
    /// The token, or the issuer's keys, refused.
    Invalid(Invalid),
    /// The issuer's keys could not be fetched from `endpoint`.
    Unfetched {
        /// What was asked for.
        endpoint: String,
        /// What happened, in words.
        why: String,
    },
}

impl From<Invalid> for Unverified {
    fn from(invalid: Invalid) -> Self {
        Unverified::Invalid(invalid)
    }
}

impl std::fmt::Display for Unverified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unverified::NoToken => f.write_str("no Authorization: Bearer <OIDC ID token> header"),
            Unverified::Untrusted => f.write_str("the token's issuer is not trusted"),
            Unverified::Invalid(why) => write!(f, "{why}"),
            Unverified::Unfetched { endpoint, why } => {
                write!(f, "the issuer's keys could not be fetched from {endpoint}: {why}")
            }
        }
    }
}

/// The caller's trusted claims, for `audience`, if its `authorization`
/// header holds an ID token of an issuer `policy` trusts, signed with one of
/// that issuer's keys (kept in `cache`, fetched through `http`).
pub fn verify(
    authorization: Option<&str>,
    policy: &Policy,
    audience: &str,
    http: &impl Transport,
    cache: &Cache,
    now: u64,
) -> Result<Map<String, Value>, Unverified> {
    let token = bearer(authorization).ok_or(Unverified::NoToken)?;
    let unverified = idtoken::decode(token.expose())?;
    let rule = unverified.issuer().and_then(|iss| policy.rule_for(iss)).ok_or(Unverified::Untrusted)?;
    // Everything checkable without the key is checked before fetching it.
    unverified.precheck(&rule.issuer, audience, now)?;
    let kid = unverified.kid.as_deref().unwrap_or_default();
    let key = issuer_key(rule, kid, http, cache, now)?;
    Ok(unverified.verify(&key, &rule.issuer, audience, now)?)
}

/// The bearer token of an `Authorization` header.
fn bearer(authorization: Option<&str>) -> Option<Secret> {
    let value = authorization?;
    let token = value.get(..7).filter(|scheme| scheme.eq_ignore_ascii_case("bearer "))?;
    Some(Secret::new(value[token.len()..].trim())).filter(|t| !t.expose().is_empty())
}

/// The key named `kid` of `rule`'s issuer: from fresh keys in `cache`, else
/// fetched (at most once a minute per issuer, whatever the outcome).
fn issuer_key(
    rule: &Rule,
    kid: &str,
    http: &impl Transport,
    cache: &Cache,
    now: u64,
) -> Result<PublicKey, Unverified> {
    let at = keys::store_key(&rule.issuer);
    let known = Known::get(cache, &at, now);
    let lookup = keys::lookup(known.as_ref(), kid, now);
    cache.found("keys", matches!(lookup, Lookup::Found(_)));
    match lookup {
        Lookup::Found(key) => return Ok(key),
        Lookup::Refused(invalid) => return Err(invalid.into()),
        Lookup::Fetch => {}
    }
    let fetched = fetch_keys(rule, http);
    Known::after_fetch(known, fetched.as_ref().ok().map(|(jwks, ttl)| (jwks, *ttl)), now).set(cache, &at);
    let (jwks, _) = fetched?;
    Ok(idtoken::key_in(&jwks, kid)?)
}

/// The issuer's JWKS (through its discovery document unless the rule names
/// `jwks_uri`) and how long to keep it.
fn fetch_keys(rule: &Rule, http: &impl Transport) -> Result<(Value, u64), Unverified> {
    let jwks_uri = match &rule.jwks_uri {
        Some(named) => named.clone(),
        None => {
            let issuer = Url::parse(&rule.issuer).map_err(|_| Unverified::Untrusted)?;
            let discovery = fetch(issuer.join("/.well-known/openid-configuration"), http)?;
            idtoken::jwks_uri(&discovery.body, &rule.issuer)?
        }
    };
    let answer = fetch(jwks_uri, http)?;
    let jwks = idtoken::parse_jwks(&answer.body)?;
    Ok((jwks, keys::ttl(answer.header("cache-control"))))
}

/// One GET from the issuer. The token behind it is not verified yet:
/// whoever sent it must not be able to make the broker retry, so it is sent
/// once.
fn fetch(url: Url, http: &impl Transport) -> Result<Response, Unverified> {
    let endpoint = url.to_string();
    let request = Request {
        service: Service::Oidc,
        method: Method::Get,
        url,
        headers: vec![
            ("accept".into(), "application/json".into()),
            ("user-agent".into(), crate::USER_AGENT.into()),
        ],
        body: Vec::new(),
        retry: false,
    };
    let unfetched = |why: String| Unverified::Unfetched { endpoint: endpoint.clone(), why };
    let response = http.send(request).map_err(|e| match e {
        Error::Transport(t) | Error::Timeout(t) => unfetched(t.message),
        Error::MalformedResponse(m) => unfetched(m.message),
        other => unfetched(other.message()),
    })?;
    if !response.is_success() {
        return Err(unfetched(format!("it answered HTTP {}", response.status)));
    }
    Ok(response)
}

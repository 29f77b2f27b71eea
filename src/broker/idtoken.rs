//! Verifying a caller's OIDC ID token (a JWT): RS256 only, no `crit`
//! header (no extension is understood), the signature against the issuer's
//! JWKS key named by `kid`, `iss` exact, `aud` holding the configured
//! audience, `exp` / `nbf` / `iat` with 60 s of leeway, `iat` required and a
//! lifetime (`exp - iat`) of at most 24 hours.
//!
//! No I/O here: [`crate::broker`] fetches the issuer's discovery document
//! and JWKS and hands them in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::json::Object;
use crate::net::url::{Scheme, Url};
use crate::rs256::{self, KeyError, PublicKey};

/// Allowed clock difference for `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 60;
/// The longest lifetime (`exp - iat`) accepted: a caller's token is short-lived
/// (GitHub Actions' last minutes), and one that is not is no proof of a
/// current job.
pub const MAX_LIFETIME_SECS: u64 = 24 * 60 * 60;

/// The JWS algorithms of RFC 7518 and RFC 8037: the only `alg` values a
/// refusal names.
const KNOWN_ALGORITHMS: [&str; 14] = [
    "none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256",
    "PS384", "PS512", "EdDSA",
];

/// Why a caller's token, or its issuer's keys, were refused. The text is
/// for the audit line and never quotes the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Not three base64url parts, the first two JSON objects.
    Malformed,
    /// A `crit` header (RFC 7515 §4.1.11): no extension is understood.
    Crit,
    /// An `alg` other than RS256: named if JOSE defines it, else `(another)`.
    Algorithm(&'static str),
    /// No `kid` in the header.
    NoKid,
    /// The issuer's discovery document lacks `issuer` or `jwks_uri`.
    DiscoveryIncomplete,
    /// The issuer's discovery document names another issuer.
    DiscoveryOtherIssuer,
    /// The discovery document's `jwks_uri` breaks a URL rule.
    JwksUri(&'static str),
    /// The discovery document's `jwks_uri` is plain HTTP for an HTTPS issuer.
    JwksUriNotHttps,
    /// The JWKS is not `{"keys": [...]}`.
    Jwks,
    /// The JWKS holds no key named `kid`.
    UnknownKid,
    /// The JWKS holds no key named `kid`, and was fetched too recently to
    /// fetch again ([`crate::broker::keys::REFRESH_SECS`]).
    UnknownKidFetchedRecently,
    /// The key named `kid` is not meant for RS256 signatures.
    NotRs256Key,
    /// The key is not an RSA key.
    NotRsaKey,
    /// The RSA key is shorter than [`rs256::MIN_BITS`].
    KeyTooShort,
    /// The RSA key cannot be used.
    KeyUnusable,
    /// `iss` is not the issuer of the rule that trusts it.
    Issuer,
    /// `aud` does not hold the broker's audience.
    Audience,
    /// `exp`, `nbf` or `iat` is not a whole number of seconds.
    NotATime(&'static str),
    /// No `exp`: a token that never expires is refused.
    NoExp,
    /// Past `exp` (and the leeway).
    Expired,
    /// Before `nbf` (and the leeway).
    NotYetValid,
    /// No `iat`: its age could not be bounded.
    NoIat,
    /// `iat` in the future (beyond the leeway).
    IssuedInTheFuture,
    /// `exp - iat` over [`MAX_LIFETIME_SECS`].
    LivesTooLong,
    /// The signature does not verify with the issuer's key.
    Signature,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::Malformed => f.write_str("the token is not a well-formed JWT"),
            Invalid::Crit => f.write_str("the token's crit header names extensions that are not understood"),
            Invalid::Algorithm(alg) => write!(f, "algorithm {alg} is not accepted: RS256 only"),
            Invalid::NoKid => f.write_str("the token names no key (kid)"),
            Invalid::DiscoveryIncomplete => {
                f.write_str("the issuer's discovery document has no issuer and jwks_uri")
            }
            Invalid::DiscoveryOtherIssuer => {
                f.write_str("the issuer's discovery document names another issuer")
            }
            Invalid::JwksUri(rule) => write!(f, "the issuer's jwks_uri {rule}"),
            Invalid::JwksUriNotHttps => f.write_str("the issuer's jwks_uri is not https"),
            Invalid::Jwks => f.write_str("the issuer's JWKS is not valid"),
            Invalid::UnknownKid => f.write_str("the token's key (kid) is not in the issuer's JWKS"),
            Invalid::UnknownKidFetchedRecently => f.write_str(
                "the token's key (kid) is not in the issuer's JWKS, fetched less than a minute ago",
            ),
            Invalid::NotRs256Key => f.write_str("the token's key is not an RS256 signing key"),
            Invalid::NotRsaKey => f.write_str("the token's key is not an RSA key"),
            Invalid::KeyTooShort => {
                write!(f, "the issuer's RSA key is shorter than {} bits", rs256::MIN_BITS)
            }
            Invalid::KeyUnusable => f.write_str("the issuer's key is not a usable RSA key"),
            Invalid::Issuer => f.write_str("the token's issuer is not the expected one"),
            Invalid::Audience => f.write_str("the token is not for this audience"),
            Invalid::NotATime(claim) => write!(f, "{claim} is not a time"),
            Invalid::NoExp => f.write_str("the token has no exp"),
            Invalid::Expired => f.write_str("the token has expired"),
            Invalid::NotYetValid => f.write_str("the token is not valid yet"),
            Invalid::NoIat => f.write_str("the token has no iat"),
            Invalid::IssuedInTheFuture => f.write_str("the token was issued in the future"),
            Invalid::LivesTooLong => f.write_str("the token lives longer than 24 hours"),
            Invalid::Signature => f.write_str("the token's signature does not verify"),
        }
    }
}

/// A token split and decoded, not yet trusted. Its `Debug` leaves out the
/// signing input and signature: together they are the caller's bearer token.
pub struct Unverified {
    /// `alg` from the header.
    pub alg: String,
    /// `kid` from the header.
    pub kid: Option<String>,
    /// The payload, not yet to be believed: read only after verification.
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

impl std::fmt::Debug for Unverified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unverified")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

/// Splits and decodes a compact JWT.
pub fn decode(token: &str) -> Result<Unverified, Invalid> {
    let malformed = || Invalid::Malformed;
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let object = |part: &str| Object::parse(&URL_SAFE_NO_PAD.decode(part).ok()?).ok();
    let header = object(header).ok_or_else(malformed)?;
    let alg = header.required_str("alg").map_err(|_| malformed())?.to_owned();
    // RFC 7515 §4.1.11: an extension named in `crit` must be understood, and none is.
    if header.has("crit") {
        return Err(Invalid::Crit);
    }
    let kid = header.str("kid").map_err(|_| malformed())?.map(str::to_owned);
    let claims = object(claims).ok_or_else(malformed)?.into_map();
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| malformed())?;
    let signing_input = token[..token.rfind('.').unwrap_or(0)].to_owned();
    Ok(Unverified { alg, kid, claims, signing_input, signature })
}

/// `jwks_uri` from `issuer`'s OpenID discovery document, which must name
/// that very issuer; the key URL must be `https://` when the issuer is.
pub fn jwks_uri(discovery: &[u8], issuer: &str) -> Result<Url, Invalid> {
    let document = Object::parse(discovery).ok();
    let field = |key: &str| document.as_ref().and_then(|d| d.str(key).ok().flatten());
    let (Some(named), Some(jwks_uri)) = (field("issuer"), field("jwks_uri")) else {
        return Err(Invalid::DiscoveryIncomplete);
    };
    if named != issuer {
        return Err(Invalid::DiscoveryOtherIssuer);
    }
    let url = Url::parse(jwks_uri).and_then(Url::secure).map_err(Invalid::JwksUri)?;
    if issuer.starts_with("https://") && url.scheme != Scheme::Https {
        return Err(Invalid::JwksUriNotHttps);
    }
    Ok(url)
}

/// A JWKS document, parsed.
pub fn parse_jwks(jwks: &[u8]) -> Result<Value, Invalid> {
    let document = Object::parse(jwks).map_err(|_| Invalid::Jwks)?;
    let document = Value::Object(document.into_map());
    match document.get("keys") {
        Some(Value::Array(_)) => Ok(document),
        _ => Err(Invalid::Jwks),
    }
}

/// The keys of a parsed JWKS document.
fn keys(jwks: &Value) -> &[Value] {
    jwks.get("keys").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Whether a parsed JWKS document holds a key named `kid`.
pub fn has_key(jwks: &Value, kid: &str) -> bool {
    keys(jwks).iter().any(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
}

/// The RSA key named `kid` in a parsed JWKS document.
pub fn key_in(jwks: &Value, kid: &str) -> Result<PublicKey, Invalid> {
    let jwk = keys(jwks)
        .iter()
        .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
        .ok_or(Invalid::UnknownKid)?;
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    let number = |name: &str| field(name).and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
    // The key must fit RS256: an RSA signing key, of at least 2048 bits.
    if field("alg").is_some_and(|alg| alg != "RS256") || field("use").is_some_and(|u| u != "sig") {
        return Err(Invalid::NotRs256Key);
    }
    match (field("kty").unwrap_or_default(), number("n"), number("e")) {
        ("RSA", Some(n), Some(e)) => PublicKey::new(&n, &e).map_err(|e| match e {
            KeyError::TooShort => Invalid::KeyTooShort,
            KeyError::Unusable | KeyError::NotRsa => Invalid::KeyUnusable,
        }),
        _ => Err(Invalid::NotRsaKey),
    }
}

impl Unverified {
    /// The unverified `iss`, to choose whose keys to fetch (only issuers the
    /// policy trusts are ever fetched).
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// What can be checked without the issuer's key: RS256, a `kid`, `iss`,
    /// `aud` and the times. Done before any key is fetched, so that a
    /// forged or stale token costs the issuer nothing.
    pub fn precheck(&self, issuer: &str, audience: &str, now: u64) -> Result<(), Invalid> {
        if self.alg != "RS256" {
            // Named only if it is one JOSE knows: the header is anyone's text.
            let alg = KNOWN_ALGORITHMS.iter().find(|known| **known == self.alg).unwrap_or(&"(another)");
            return Err(Invalid::Algorithm(alg));
        }
        if self.kid.is_none() {
            return Err(Invalid::NoKid);
        }
        check_claims(&self.claims, issuer, audience, now)
    }

    /// [`Unverified::precheck`], then the signature with `key`; returns the
    /// trusted claims.
    pub fn verify(
        self,
        key: &PublicKey,
        issuer: &str,
        audience: &str,
        now: u64,
    ) -> Result<Map<String, Value>, Invalid> {
        self.precheck(issuer, audience, now)?;
        if !key.verify(self.signing_input.as_bytes(), &self.signature) {
            return Err(Invalid::Signature);
        }
        Ok(self.claims)
    }
}

/// `iss` exact, `aud` holding `audience`, `exp` / `nbf` / `iat` within the leeway.
fn check_claims(claims: &Map<String, Value>, issuer: &str, audience: &str, now: u64) -> Result<(), Invalid> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(Invalid::Issuer);
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if !audience_ok {
        return Err(Invalid::Audience);
    }
    let time = |name: &'static str| claims.get(name).map(|v| v.as_u64().ok_or(Invalid::NotATime(name)));
    let exp = time("exp").ok_or(Invalid::NoExp)??;
    if now > exp.saturating_add(LEEWAY_SECS) {
        return Err(Invalid::Expired);
    }
    if time("nbf").transpose()?.is_some_and(|nbf| nbf > now.saturating_add(LEEWAY_SECS)) {
        return Err(Invalid::NotYetValid);
    }
    let iat = time("iat").ok_or(Invalid::NoIat)??;
    if iat > now.saturating_add(LEEWAY_SECS) {
        return Err(Invalid::IssuedInTheFuture);
    }
    if exp.saturating_sub(iat) > MAX_LIFETIME_SECS {
        return Err(Invalid::LivesTooLong);
    }
    Ok(())
}

/// Test keys and tokens, shared with [`crate::broker`]'s flow tests.
#[cfg(test)]
pub(crate) mod test_keys {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use rsa::sha2::{Digest, Sha256};
    use rsa::traits::PublicKeyParts;
    use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey};
    use serde_json::{Value, json};

    /// A fresh RSA key of `bits`, generated at test time.
    pub fn private(bits: usize) -> RsaPrivateKey {
        RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits).unwrap()
    }

    /// `claims` as an ID token: RS256 by `key`, `kid` `k1`.
    pub fn id_token(key: &RsaPrivateKey, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k1"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(input.as_bytes())).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// `key`'s public half as a JWK, `kid` `k1`.
    pub fn jwk(key: &RsaPrivateKey) -> Value {
        let b64 = |n: &BigUint| URL_SAFE_NO_PAD.encode(n.to_bytes_be());
        json!({"kty": "RSA", "kid": "k1", "n": b64(key.n()), "e": b64(key.e())})
    }
}

#[cfg(test)]
mod tests;

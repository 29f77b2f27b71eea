//! Verifying a caller's OIDC ID token (a JWT): RS256 only, the signature
//! against the issuer's JWKS key named by `kid`, `iss` exact, `aud` holding
//! the configured audience, `exp` / `nbf` / `iat` with 60 s of leeway.
//!
//! Pure: the flow fetches the issuer's discovery document and JWKS.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::http::{Scheme, Url};

/// Allowed clock difference for `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 60;

/// Why a token was refused (the text is safe to return: it never quotes the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid(pub String);

fn invalid(why: impl Into<String>) -> Invalid {
    Invalid(why.into())
}

/// A token split and decoded, not yet trusted.
#[derive(Debug)]
pub struct Unverified {
    /// `alg` from the header.
    pub alg: String,
    /// `kid` from the header.
    pub kid: Option<String>,
    /// The claims.
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// Splits and decodes a compact JWT.
pub fn decode(token: &str) -> Result<Unverified, Invalid> {
    let malformed = || invalid("the token is not a well-formed JWT");
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    fn json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    }
    let header: Header = json(header).ok_or_else(malformed)?;
    let claims: Map<String, Value> = json(claims).ok_or_else(malformed)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| malformed())?;
    let signing_input = token[..token.rfind('.').unwrap_or(0)].to_owned();
    Ok(Unverified { alg: header.alg, kid: header.kid, claims, signing_input, signature })
}

/// An issuer URL the broker may fetch keys from: `https://`, or `http://`
/// on a loopback address (for local stand-ins).
pub fn fetchable(url: &Url) -> bool {
    let host = url
        .authority
        .rsplit_once(':')
        .filter(|(_, port)| !port.contains(']'))
        .map_or(url.authority.as_str(), |(h, _)| h);
    url.scheme == Scheme::Https || matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// `jwks_uri` from an OpenID discovery document.
pub fn jwks_uri(discovery: &[u8]) -> Result<Url, Invalid> {
    #[derive(Deserialize)]
    struct Discovery {
        jwks_uri: String,
    }
    let d: Discovery = serde_json::from_slice(discovery)
        .map_err(|_| invalid("the issuer's discovery document has no jwks_uri"))?;
    let url = Url::parse(&d.jwks_uri).map_err(|rule| invalid(format!("the issuer's jwks_uri {rule}")))?;
    if !fetchable(&url) {
        return Err(invalid("the issuer's jwks_uri is not https"));
    }
    Ok(url)
}

/// The RSA key named `kid` in a JWKS document.
pub fn key(jwks: &[u8], kid: Option<&str>) -> Result<RsaPublicKey, Invalid> {
    #[derive(Deserialize)]
    struct Jwks {
        keys: Vec<Jwk>,
    }
    #[derive(Deserialize)]
    struct Jwk {
        kty: String,
        kid: Option<String>,
        n: Option<String>,
        e: Option<String>,
    }
    let jwks: Jwks = serde_json::from_slice(jwks).map_err(|_| invalid("the issuer's JWKS is not valid"))?;
    let kid = kid.ok_or_else(|| invalid("the token names no key (kid)"))?;
    let jwk = jwks
        .keys
        .iter()
        .find(|k| k.kid.as_deref() == Some(kid))
        .ok_or_else(|| invalid("the token's key (kid) is not in the issuer's JWKS"))?;
    let number = |field: &Option<String>| {
        field
            .as_deref()
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            .map(|bytes| BigUint::from_bytes_be(&bytes))
    };
    match (jwk.kty.as_str(), number(&jwk.n), number(&jwk.e)) {
        ("RSA", Some(n), Some(e)) => {
            RsaPublicKey::new(n, e).map_err(|_| invalid("the issuer's key is not a usable RSA key"))
        }
        _ => Err(invalid("the token's key is not an RSA key")),
    }
}

impl Unverified {
    /// The unverified `iss`, to choose whose keys to fetch (only issuers the
    /// policy trusts are ever fetched).
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// Checks the algorithm and the signature with `key`, then the claims
    /// for `issuer` and `audience` at `now`; returns the trusted claims.
    pub fn verify(
        self,
        key: &RsaPublicKey,
        issuer: &str,
        audience: &str,
        now: u64,
    ) -> Result<Map<String, Value>, Invalid> {
        if self.alg != "RS256" {
            return Err(invalid(format!("algorithm {} is not accepted: RS256 only", self.alg)));
        }
        let digest = Sha256::digest(self.signing_input.as_bytes());
        key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &self.signature)
            .map_err(|_| invalid("the token's signature does not verify"))?;
        let claims = self.claims;
        if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
            return Err(invalid("the token's issuer is not the expected one"));
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !audience_ok {
            return Err(invalid("the token is not for this audience"));
        }
        let time = |name: &str| {
            claims.get(name).map(|v| v.as_u64().ok_or_else(|| invalid(format!("{name} is not a time"))))
        };
        let exp = time("exp").ok_or_else(|| invalid("the token has no exp"))??;
        if now > exp + LEEWAY_SECS {
            return Err(invalid("the token has expired"));
        }
        if time("nbf").transpose()?.is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
            return Err(invalid("the token is not valid yet"));
        }
        if time("iat").transpose()?.is_some_and(|iat| iat > now + LEEWAY_SECS) {
            return Err(invalid("the token was issued in the future"));
        }
        Ok(claims)
    }
}

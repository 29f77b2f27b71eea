//! The GitHub App JWT: header, claims, and assembly around a signature.
//!
//! The signature itself comes from KMS ([`crate::aws::kms`]); this module only
//! builds the signing input and puts the three parts together.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Result, invalid};
use crate::secret::Secret;

/// How far `iat` is backdated, against clock drift (GitHub's advice).
pub const BACKDATE_SECS: u64 = 60;
/// How long after now the JWT expires; GitHub refuses more than 10 minutes.
pub const LIFETIME_SECS: u64 = 9 * 60;

/// The App, as the JWT's `iss` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppId {
    /// A numeric App ID: `iss` is a JSON number.
    Number(u64),
    /// A Client ID (`Iv1.…`, `Iv23…`): `iss` is a JSON string.
    ClientId(String),
}

impl AppId {
    /// Validates an App ID or Client ID; `field` names it in the error.
    pub fn parse(field: &str, text: &str) -> Result<AppId> {
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid(field, "must not be empty"));
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return text
                .parse()
                .map(AppId::Number)
                .map_err(|_| invalid(field, "a numeric App ID must fit in 64 bits"));
        }
        if text.len() > 64 || !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_') {
            return Err(invalid(
                field,
                "must be a numeric App ID or a Client ID (letters, digits, '.', '_'; at most 64)",
            ));
        }
        Ok(AppId::ClientId(text.to_owned()))
    }

    /// The JWT's `iss`: a JSON number for an App ID, a string for a Client ID.
    pub fn claim(&self) -> serde_json::Value {
        match self {
            AppId::Number(n) => (*n).into(),
            AppId::ClientId(s) => s.as_str().into(),
        }
    }
}

/// Header and claims, encoded: what KMS signs.
pub struct UnsignedJwt {
    signing_input: String,
    /// The `iat` claim (seconds since the epoch).
    pub issued_at: u64,
    /// The `exp` claim (seconds since the epoch).
    pub expires_at: u64,
}

/// A signed App JWT.
#[derive(Debug)]
pub struct SignedJwt {
    /// The compact JWT.
    pub token: Secret,
    /// The `iat` claim.
    pub issued_at: u64,
    /// The `exp` claim.
    pub expires_at: u64,
}

impl UnsignedJwt {
    /// Header `{"alg":"RS256","typ":"JWT"}` and claims `iat`, `exp`, `iss` for
    /// `app` at `now` (seconds since the epoch).
    pub fn new(app: &AppId, now: u64) -> UnsignedJwt {
        let issued_at = now.saturating_sub(BACKDATE_SECS);
        let expires_at = now.saturating_add(LIFETIME_SECS);
        let header = r#"{"alg":"RS256","typ":"JWT"}"#;
        let claims = serde_json::json!({ "iat": issued_at, "exp": expires_at, "iss": app.claim() });
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims.to_string()));
        UnsignedJwt { signing_input, issued_at, expires_at }
    }

    /// `base64url(header).base64url(claims)`: the bytes to sign.
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The compact JWT with `signature` (RSASSA-PKCS1-v1_5 SHA-256) appended.
    pub fn sign(self, signature: &[u8]) -> SignedJwt {
        let token = format!("{}.{}", self.signing_input, URL_SAFE_NO_PAD.encode(signature));
        SignedJwt { token: Secret::new(token), issued_at: self.issued_at, expires_at: self.expires_at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn numeric_app_id_is_a_number_claim() {
        let jwt = UnsignedJwt::new(&AppId::parse("app-id", "123456").unwrap(), 1_700_000_000);
        let input = std::str::from_utf8(jwt.signing_input()).unwrap();
        let (header, claims) = input.split_once('.').unwrap();
        assert_eq!(decode(header), serde_json::json!({"alg": "RS256", "typ": "JWT"}));
        assert_eq!(
            decode(claims),
            serde_json::json!({"iat": 1_699_999_940u64, "exp": 1_700_000_540u64, "iss": 123456})
        );
        assert!(!input.contains('='));
    }

    #[test]
    fn client_id_is_a_string_claim() {
        let jwt = UnsignedJwt::new(&AppId::parse("app-id", "Iv23liABCdef").unwrap(), 1000);
        let claims = std::str::from_utf8(jwt.signing_input()).unwrap().split('.').nth(1).unwrap().to_owned();
        assert_eq!(decode(&claims)["iss"], "Iv23liABCdef");
    }

    #[test]
    fn sign_appends_base64url_signature() {
        let jwt = UnsignedJwt::new(&AppId::Number(1), 1000).sign(&[0xfb, 0xff, 0x00]);
        let parts: Vec<&str> = jwt.token.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], "-_8A");
        assert_eq!((jwt.issued_at, jwt.expires_at), (940, 1540));
    }

    #[test]
    fn app_id_rules() {
        assert!(matches!(AppId::parse("app-id", " 42 "), Ok(AppId::Number(42))));
        for bad in ["", "  ", "12 34", "Iv1.ab/c", "99999999999999999999999", &"x".repeat(65)] {
            let err = AppId::parse("app-id", bad).unwrap_err();
            assert!(matches!(err, crate::error::Error::InvalidInput(ref e) if e.field == "app-id"), "{bad}");
        }
    }
}

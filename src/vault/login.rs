//! Where the Vault token that signs comes from: `VAULT_TOKEN` as it is, or
//! Vault's JWT auth method, which exchanges the workload's ID token at
//! `POST /v1/auth/{mount}/login` for a token (as `hashicorp/vault-action`
//! does with `method: jwt`).

use crate::error::{Error, Result, Service, invalid};
use crate::identity::IdentityToken;
use crate::json::Object;
use crate::net::http::{Method, Request, Response, malformed};
use crate::secret::Secret;
use crate::vault::{Server, errors, is_path, request};

/// The JWT auth method's mount when `VAULT_AUTH_MOUNT` does not say.
pub const DEFAULT_AUTH_MOUNT: &str = "jwt";

/// Where the Vault token comes from.
#[derive(Debug)]
pub enum Login {
    /// A token, as it is (`VAULT_TOKEN`).
    Token(Secret),
    /// The workload's ID token, exchanged at the JWT auth method.
    Jwt {
        /// The role to log in as (`VAULT_ROLE`): its `bound_claims` and
        /// `bound_audiences` decide who may.
        role: String,
        /// The auth method's mount (`VAULT_AUTH_MOUNT`, else `jwt`).
        mount: String,
        /// Where the ID token comes from.
        token: IdentityToken,
    },
}

impl Login {
    /// A JWT login as `role` (from `role_field`) at `mount` (from `mount_field`).
    pub fn jwt(
        role_field: &str,
        role: &str,
        mount_field: &str,
        mount: &str,
        token: IdentityToken,
    ) -> Result<Login> {
        let role_ok = (1..=128).contains(&role.len())
            && role.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
        if !role_ok {
            return Err(invalid(role_field, "must be 1 to 128 letters, digits or -_.@"));
        }
        if !is_path(mount) {
            return Err(invalid(mount_field, "must be a mount path such as jwt or github/jwt"));
        }
        Ok(Login::Jwt { role: role.to_owned(), mount: mount.to_owned(), token })
    }
}

/// The login request: `role` and the ID token `jwt`.
pub fn login_request(server: &Server, mount: &str, role: &str, jwt: &Secret) -> Request {
    let body = serde_json::json!({ "role": role, "jwt": jwt.expose() }).to_string().into_bytes();
    request(server, Method::Post, &format!("auth/{mount}/login"), None, body)
}

/// The Vault token from a login answer. A refusal is `sts`: the exchange
/// of the workload's identity failed.
pub fn read_login(server: &Server, response: &Response, jwt: &Secret) -> Result<Secret> {
    if !response.is_success() {
        let mut error = errors::service_error(response, &[jwt]);
        error.hint = crate::oauth::refused(response).then(|| {
            "the JWT role (VAULT_ROLE at VAULT_AUTH_MOUNT) must exist, list the token's audience \
             (VAULT_AUDIENCE) in bound_audiences, and its bound_claims must match this workload"
                .to_owned()
        });
        return Err(Error::Sts(error));
    }
    let not_expected = |what: String| malformed(Service::Vault, &server.address, response, &[jwt], what);
    let answer = Object::parse(&response.body).map_err(|e| not_expected(format!("login answer: {e}")))?;
    let auth = answer
        .value("auth")
        .cloned()
        .ok_or_else(|| not_expected("the login answer has no `auth`".into()))
        .and_then(|auth| Object::from_value(auth, "auth").map_err(|e| not_expected(e.to_string())))?;
    let token = auth.required_str("client_token").map_err(|e| not_expected(format!("login answer: {e}")))?;
    if token.is_empty() || token.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err(not_expected("the login answer's client_token is not a token".into()));
    }
    Ok(Secret::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::script::answer;
    use crate::net::url::Url;

    fn server() -> Server {
        Server { address: Url::parse("https://vault.example.com").unwrap(), namespace: None }
    }

    #[test]
    fn logs_in_with_the_role_and_the_id_token() {
        let jwt = Secret::new("a.b.c");
        let request = login_request(&server(), "github/jwt", "app-signer", &jwt);
        assert_eq!(request.url.to_string(), "https://vault.example.com/v1/auth/github/jwt/login");
        assert!(!request.headers.iter().any(|(n, _)| n == "x-vault-token"));
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body, serde_json::json!({"role": "app-signer", "jwt": "a.b.c"}));
        let ok = answer(
            200,
            &[],
            r#"{"request_id":"r1","auth":{"client_token":"hvs.CAES","lease_duration":600}}"#,
        );
        assert_eq!(read_login(&server(), &ok.unwrap(), &jwt).unwrap().expose(), "hvs.CAES");
    }

    #[test]
    fn a_refusal_is_sts_and_never_quotes_the_id_token() {
        let jwt = Secret::new("a.b.c");
        let refused = answer(
            400,
            &[],
            r#"{"errors":["error validating token: invalid audience (aud) claim in a.b.c"]}"#,
        );
        let Err(Error::Sts(e)) = read_login(&server(), &refused.unwrap(), &jwt) else { panic!("not sts") };
        assert_eq!(e.message, "error validating token: invalid audience (aud) claim in [redacted]");
        assert!(e.hint.unwrap().contains("bound_audiences"));
        for body in [r#"{"auth":null}"#, r#"{"auth":{"client_token":""}}"#, "<html>", r#"{"auth":{}}"#] {
            let result = read_login(&server(), &answer(200, &[], body).unwrap(), &jwt);
            assert!(matches!(result, Err(Error::MalformedResponse(_))), "{body}");
        }
    }

    #[test]
    fn roles_and_mounts_are_checked() {
        let token = || IdentityToken::Given(Secret::new("a.b.c"));
        assert!(Login::jwt("VAULT_ROLE", "app-signer", "VAULT_AUTH_MOUNT", "jwt", token()).is_ok());
        let field = |r: Result<Login>| match r {
            Err(Error::InvalidInput(e)) => e.field,
            _ => panic!("accepted"),
        };
        assert_eq!(field(Login::jwt("VAULT_ROLE", "a b", "m", "jwt", token())), "VAULT_ROLE");
        assert_eq!(field(Login::jwt("r", "ok", "VAULT_AUTH_MOUNT", "/jwt", token())), "VAULT_AUTH_MOUNT");
    }
}

//! An STS stand-in: `AssumeRoleWithWebIdentity` that verifies the web
//! identity token (RS256 signature, issuer, audience, expiry) and the role,
//! and issues temporary credentials that the KMS stand-in then accepts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rsa::RsaPublicKey;

use crate::github::verify_rs256;
use crate::kms::Kms;
use crate::server::{Request, Response, Server};
use crate::sigv4::{Credential, percent_decode};
use crate::{random_hex, time};

/// What STS trusts and to whom it hands credentials.
pub struct Trust {
    /// The identity provider's URL (`iss`).
    pub issuer: String,
    /// Its signing key.
    pub public_key: RsaPublicKey,
    /// The audience the token must carry.
    pub audience: String,
    /// The role that may be assumed.
    pub role_arn: String,
}

/// One successful exchange.
#[derive(Clone, Debug)]
pub struct Assumed {
    /// The `RoleSessionName`.
    pub session_name: String,
    /// The `DurationSeconds`.
    pub duration: String,
    /// The access key id issued.
    pub access_key_id: String,
}

struct State {
    trust: Trust,
    kms: Arc<Kms>,
    assumed: Mutex<Vec<Assumed>>,
}

/// A running STS stand-in.
pub struct Sts {
    server: Server,
    state: Arc<State>,
}

impl Sts {
    /// Starts a stand-in whose credentials `kms` will accept.
    pub fn start(trust: Trust, kms: Arc<Kms>) -> Sts {
        let state = Arc::new(State { trust, kms, assumed: Mutex::new(Vec::new()) });
        let handler_state = state.clone();
        let server = Server::start(move |request| handle(&handler_state, &request));
        Sts { server, state }
    }

    /// The HTTP server underneath, for [`crate::server::Wire`] faults and request counts.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_STS`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Every successful exchange so far.
    pub fn assumed(&self) -> Vec<Assumed> {
        self.state.assumed.lock().unwrap().clone()
    }
}

fn refuse(status: u16, code: &str, message: &str) -> Response {
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code>\
         <Message>{message}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        random_hex(16)
    );
    Response { status, headers: vec![("content-type".into(), "text/xml".into())], body: body.into_bytes() }
}

/// An `application/x-www-form-urlencoded` body as a map.
/// A form-encoded body's fields, decoded.
pub(crate) fn form(body: &[u8]) -> BTreeMap<String, String> {
    let decode = |s: &str| percent_decode(&s.replace('+', " "));
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn handle(state: &State, request: &Request) -> Response {
    if request.method != "POST" || request.header("authorization").is_some() {
        return refuse(400, "InvalidAction", "AssumeRoleWithWebIdentity is an unsigned POST");
    }
    let params = form(&request.body);
    let param = |name: &str| params.get(name).map(String::as_str).unwrap_or("");
    if param("Action") != "AssumeRoleWithWebIdentity" || param("Version") != "2011-06-15" {
        return refuse(400, "InvalidAction", "Could not find operation");
    }
    let session = param("RoleSessionName");
    let session_ok = (2..=64).contains(&session.len())
        && session.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if !session_ok {
        return refuse(400, "ValidationError", "RoleSessionName must satisfy [\\w+=,.@-]{2,64}");
    }
    if param("DurationSeconds").parse::<u32>().map_or(true, |d| !(900..=43200).contains(&d)) {
        return refuse(400, "ValidationError", "DurationSeconds must be from 900 to 43200");
    }
    let trust = &state.trust;
    let Some(claims) = verify_rs256(&trust.public_key, param("WebIdentityToken")) else {
        return refuse(400, "InvalidIdentityToken", "The web identity token could not be verified");
    };
    if claims["iss"] != trust.issuer.as_str() {
        return refuse(
            400,
            "InvalidIdentityToken",
            "No OpenIDConnect provider found in your account for this issuer",
        );
    }
    if claims["aud"] != trust.audience.as_str() {
        return refuse(400, "InvalidIdentityToken", "Incorrect token audience");
    }
    if claims["exp"].as_i64().is_none_or(|exp| exp <= time::now()) {
        return refuse(400, "ExpiredTokenException", "Token is expired");
    }
    if param("RoleArn") != trust.role_arn {
        return refuse(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity");
    }
    let credential = Credential::temporary();
    state.kms.accept(credential.clone());
    state.assumed.lock().unwrap().push(Assumed {
        session_name: session.to_owned(),
        duration: param("DurationSeconds").to_owned(),
        access_key_id: credential.access_key_id.clone(),
    });
    let body = format!(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
         <AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>{}</AccessKeyId>\
         <SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken>\
         <Expiration>{}</Expiration></Credentials><SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken>\
         </AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata>\
         </AssumeRoleWithWebIdentityResponse>",
        credential.access_key_id,
        credential.secret_access_key,
        credential.session_token.unwrap_or_default(),
        time::rfc3339(time::now() + 900),
        claims["sub"].as_str().unwrap_or_default(),
        random_hex(16),
    );
    Response {
        status: 200,
        headers: vec![("content-type".into(), "text/xml".into())],
        body: body.into_bytes(),
    }
}

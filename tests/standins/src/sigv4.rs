//! AWS Signature Version 4, verified the way AWS does it, written from the
//! specification and independent of the `aws-sigv4` crate the component uses.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::server::Request;
use crate::time;

/// How far `x-amz-date` may be from the server's clock (AWS: 5 minutes).
pub const MAX_SKEW_SECS: i64 = 5 * 60;

/// Credentials the stand-in knows.
#[derive(Clone, Debug)]
pub struct Credential {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token that temporary credentials must send.
    pub session_token: Option<String>,
}

impl Credential {
    /// Fresh temporary credentials (`ASIA…` with a session token), remembered
    /// as secrets for the leak checks.
    pub fn temporary() -> Credential {
        let credential = Credential {
            access_key_id: format!("ASIA{}", crate::random_hex(8).to_uppercase()),
            secret_access_key: crate::random_hex(20),
            session_token: Some(format!("IQoJb3JpZ2luX2VjE{}", crate::random_hex(120))),
        };
        crate::remember(&credential.secret_access_key);
        crate::remember(credential.session_token.as_deref().unwrap_or_default());
        credential
    }
}

/// Why a request was refused: AWS's error code and message.
#[derive(Debug, PartialEq, Eq)]
pub struct Rejection {
    /// e.g. `InvalidSignatureException`.
    pub code: &'static str,
    /// AWS's message (which may quote the canonical request, as AWS's does).
    pub message: String,
}

fn reject(code: &'static str, message: impl Into<String>) -> Rejection {
    Rejection { code, message: message.into() }
}

/// Checks the `Authorization` header of `request` against `credentials`,
/// for `region` and `service`, at `now` (seconds since the epoch); returns
/// the access key id that signed.
pub fn verify(
    request: &Request,
    credentials: &[Credential],
    region: &str,
    service: &str,
    now: i64,
) -> Result<String, Rejection> {
    let auth = request
        .header("authorization")
        .ok_or_else(|| reject("MissingAuthenticationTokenException", "Missing Authentication Token"))?;
    let fields = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| reject("IncompleteSignatureException", "Unsupported authorization type"))?;
    let field = |name: &str| {
        fields.split(',').map(str::trim).find_map(|f| f.strip_prefix(name)?.strip_prefix('=')).ok_or_else(
            || {
                reject(
                    "IncompleteSignatureException",
                    format!("Authorization header requires '{name}' parameter."),
                )
            },
        )
    };
    let (credential, signed_headers, signature) =
        (field("Credential")?, field("SignedHeaders")?, field("Signature")?);

    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, scope_region, scope_service, "aws4_request"] = scope[..] else {
        return Err(reject(
            "IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements",
        ));
    };
    let known = credentials.iter().find(|c| c.access_key_id == access_key_id).ok_or_else(|| {
        reject("UnrecognizedClientException", "The security token included in the request is invalid.")
    })?;

    let amz_date = request.header("x-amz-date").ok_or_else(|| {
        reject("IncompleteSignatureException", "Authorization header requires existence of x-amz-date")
    })?;
    let signed_at = time::parse_amz_date(amz_date).ok_or_else(|| {
        reject("IncompleteSignatureException", "x-amz-date is not in the basic ISO 8601 format")
    })?;
    if (now - signed_at).abs() > MAX_SKEW_SECS {
        return Err(reject(
            "InvalidSignatureException",
            format!(
                "Signature expired: {amz_date} is now earlier or later than the server time (5 min. skew allowed)."
            ),
        ));
    }
    if amz_date.get(..8) != Some(date) {
        return Err(reject(
            "InvalidSignatureException",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP",
        ));
    }
    if scope_region != region {
        return Err(reject(
            "InvalidSignatureException",
            format!("Credential should be scoped to a valid region. (expected '{region}')"),
        ));
    }
    if scope_service != service {
        return Err(reject(
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: '{service}'."),
        ));
    }

    let signed: Vec<&str> = signed_headers.split(';').collect();
    if !signed.is_sorted() || signed.iter().any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(reject("InvalidSignatureException", "SignedHeaders must be lower case and sorted"));
    }
    if let Some((unsigned, _)) = request
        .headers
        .iter()
        .find(|(name, _)| name.starts_with("x-amz-") && !signed.contains(&name.as_str()))
    {
        return Err(reject("InvalidSignatureException", format!("'{unsigned}' must be a signed header")));
    }
    for required in ["host", "x-amz-date"] {
        if !signed.contains(&required) {
            return Err(reject("InvalidSignatureException", format!("'{required}' must be a signed header")));
        }
    }
    match (&known.session_token, request.header("x-amz-security-token")) {
        (Some(expected), Some(sent)) if expected == sent && signed.contains(&"x-amz-security-token") => {}
        (Some(_), Some(_)) if !signed.contains(&"x-amz-security-token") => {
            return Err(reject(
                "InvalidSignatureException",
                "'x-amz-security-token' must be a signed header",
            ));
        }
        (None, None) => {}
        _ => {
            return Err(reject(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ));
        }
    }
    let body_hash = hex::encode(Sha256::digest(&request.body));
    if request.header("x-amz-content-sha256").is_some_and(|claimed| claimed != body_hash) {
        return Err(reject(
            "InvalidSignatureException",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ));
    }

    let canonical = canonical_request(request, &signed)
        .ok_or_else(|| reject("InvalidSignatureException", "A signed header is missing from the request"))?;
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let expected = signature_hex(&known.secret_access_key, date, region, service, &string_to_sign);
    if expected != signature {
        // Real AWS quotes both strings, header values included: a client must
        // not pass this message on unscrubbed.
        return Err(reject(
            "InvalidSignatureException",
            format!(
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
            ),
        ));
    }
    Ok(known.access_key_id.clone())
}

/// The canonical request: method, URI, query, signed headers, body hash.
fn canonical_request(request: &Request, signed: &[&str]) -> Option<String> {
    let (path, query) = request.target.split_once('?').unwrap_or((&request.target, ""));
    let mut query: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&percent_decode(k), true), uri_encode(&percent_decode(v), true))
        })
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let path = if path.is_empty() { "/".to_owned() } else { uri_encode(&percent_decode(path), false) };
    let mut headers = String::new();
    for name in signed {
        let values: Vec<String> = request
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return None;
        }
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    Some(format!(
        "{}\n{path}\n{}\n{headers}\n{}\n{}",
        request.method,
        query.join("&"),
        signed.join(";"),
        hex::encode(Sha256::digest(&request.body))
    ))
}

/// The hex signature of `string_to_sign` with the key derived from `secret`.
pub fn signature_hex(secret: &str, date: &str, region: &str, service: &str, string_to_sign: &str) -> String {
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hex::encode(hmac(&key, string_to_sign.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn uri_encode(s: &str, encode_slash: bool) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b'/' if !encode_slash => "/".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `%XX` escapes decoded.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()),
        ) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const NOW: i64 = 1_795_640_400; // 2026-11-25T21:00:00Z

    fn credentials() -> Vec<Credential> {
        vec![Credential {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: SECRET.into(),
            session_token: Some("session-token".into()),
        }]
    }

    /// A request signed correctly at `at` for `region`/`kms`, with the session token.
    fn signed(at: &str, region: &str) -> Request {
        let mut request = Request {
            method: "POST".into(),
            target: "/".into(),
            headers: vec![
                ("host".into(), "127.0.0.1:4566".into()),
                ("x-amz-date".into(), at.into()),
                ("x-amz-security-token".into(), "session-token".into()),
                ("x-amz-target".into(), "TrentService.Sign".into()),
            ],
            body: br#"{"KeyId":"alias/github-app"}"#.to_vec(),
        };
        let signed = ["host", "x-amz-date", "x-amz-security-token", "x-amz-target"];
        let canonical = canonical_request(&request, &signed).unwrap();
        let date = &at[..8];
        let sts = format!(
            "AWS4-HMAC-SHA256\n{at}\n{date}/{region}/kms/aws4_request\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let signature = signature_hex(SECRET, date, region, "kms", &sts);
        request.headers.push((
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/{date}/{region}/kms/aws4_request, SignedHeaders={}, Signature={signature}",
                signed.join(";")
            ),
        ));
        request
    }

    fn code(request: &Request) -> Option<&'static str> {
        verify(request, &credentials(), "eu-west-1", "kms", NOW).err().map(|r| r.code)
    }

    #[test]
    fn accepts_a_good_signature_and_refuses_each_broken_part() {
        assert_eq!(code(&signed("20261125T210000Z", "eu-west-1")), None);

        let mut tampered = signed("20261125T210000Z", "eu-west-1");
        tampered.body = br#"{"KeyId":"alias/other"}"#.to_vec();
        assert_eq!(code(&tampered), Some("InvalidSignatureException"), "tampered body");

        assert_eq!(
            code(&signed("20261125T205400Z", "eu-west-1")),
            Some("InvalidSignatureException"),
            "stale timestamp"
        );
        assert_eq!(
            code(&signed("20261125T210000Z", "us-east-1")),
            Some("InvalidSignatureException"),
            "wrong region"
        );

        let mut no_token = signed("20261125T210000Z", "eu-west-1");
        no_token.headers.retain(|(n, _)| n != "x-amz-security-token");
        assert_eq!(code(&no_token), Some("UnrecognizedClientException"), "missing session token");

        let mut other_service = signed("20261125T210000Z", "eu-west-1");
        for (name, value) in &mut other_service.headers {
            if name == "authorization" {
                *value = value.replace("/kms/", "/s3/");
            }
        }
        assert_eq!(code(&other_service), Some("InvalidSignatureException"), "wrong service");

        let mut bad_sig = signed("20261125T210000Z", "eu-west-1");
        bad_sig.headers.last_mut().unwrap().1.pop();
        bad_sig.headers.last_mut().unwrap().1.push('0');
        let rejection = verify(&bad_sig, &credentials(), "eu-west-1", "kms", NOW).unwrap_err();
        assert!(
            rejection.message.contains("x-amz-security-token:session-token"),
            "echoes the canonical request like AWS"
        );

        let mut extra = signed("20261125T210000Z", "eu-west-1");
        extra.headers.push(("x-amz-extra".into(), "not signed".into()));
        assert_eq!(code(&extra), Some("InvalidSignatureException"), "unsigned x-amz- header");

        let mut unsigned = signed("20261125T210000Z", "eu-west-1");
        unsigned.headers.retain(|(n, _)| n != "authorization");
        assert_eq!(code(&unsigned), Some("MissingAuthenticationTokenException"));
    }

    /// The example from AWS's SigV4 documentation ("GET /?Param2=value2&Param1=value1").
    #[test]
    fn matches_the_aws_documentation_example() {
        let request = Request {
            method: "GET".into(),
            target: "/?Param2=value2&Param1=value1".into(),
            headers: vec![
                ("host".into(), "example.amazonaws.com".into()),
                ("x-amz-date".into(), "20150830T123600Z".into()),
            ],
            body: vec![],
        };
        let canonical = canonical_request(&request, &["host", "x-amz-date"]).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(canonical.as_bytes())),
            "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"
        );
        let sts = format!(
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        assert_eq!(
            signature_hex(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "20150830",
                "us-east-1",
                "service",
                &sts
            ),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }
}

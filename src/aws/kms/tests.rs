//! The `Sign` request as signed, and KMS's answers and errors as read.

use super::*;
use crate::secret::Secret;

fn creds(token: Option<&str>) -> AwsCredentials {
    AwsCredentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        session_token: token.map(Secret::new),
    }
}

fn key() -> KmsKey {
    let region = Region::parse("aws-region", "eu-west-1").unwrap();
    KmsKey {
        key_id: KeyId::parse("kms-key-id", "alias/github-app").unwrap(),
        endpoint: default_endpoint(&region),
        region,
    }
}

fn response(status: u16, body: &str) -> Response {
    crate::net::script::answer(status, &[("x-amzn-requestid", "req-1")], body).unwrap()
}

#[test]
fn key_id_forms() {
    let uuid = "1234abcd-12ab-34cd-56ef-1234567890ab";
    for ok in [
        uuid.to_owned(),
        "mrk-1234abcd12ab34cd56ef1234567890ab".to_owned(),
        format!("arn:aws:kms:us-east-2:111122223333:key/{uuid}"),
        "alias/github-app".to_owned(),
        "arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/ExampleAlias".to_owned(),
    ] {
        KeyId::parse("kms-key-id", &ok).unwrap_or_else(|e| panic!("{ok}: {}", e.message()));
    }
    let arn = KeyId::parse("k", &format!("arn:aws:kms:us-east-2:111122223333:key/{uuid}")).unwrap();
    assert_eq!(arn.arn_region().unwrap().as_str(), "us-east-2");
    for bad in [
        "",
        "not-a-key",
        "key/1234",
        "alias/",
        "alias/has space",
        "arn:aws:s3:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:111122223333:key/nope",
        "1234abcd-12ab-34cd-56ef-1234567890aZ",
    ] {
        assert!(KeyId::parse("kms-key-id", bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn sign_request_is_json_1_1_and_signed() {
    let req = sign_request(&key(), &creds(Some("session")), b"a.b", SystemTime::UNIX_EPOCH).unwrap();
    assert_eq!(req.url.to_string(), "https://kms.eu-west-1.amazonaws.com/");
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"KeyId": "alias/github-app", "Message": "YS5i", "MessageType": "RAW", "SigningAlgorithm": SIGNING_ALGORITHM})
    );
    let header = |n: &str| req.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(header("x-amz-target"), Some("TrentService.Sign"));
    assert_eq!(header("x-amz-date"), Some("19700101T000000Z"));
    assert_eq!(header("x-amz-security-token"), Some("session"));
    let auth = header("authorization").unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/19700101/eu-west-1/kms/aws4_request"),
        "{auth}"
    );
    assert!(
        auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target"),
        "{auth}"
    );
    assert!(header("host").is_none(), "wasi-http forbids a guest-set host header");
}

#[test]
fn reads_a_signature() {
    let sig = STANDARD.encode([7u8; 256]);
    let ok = response(
        200,
        &format!(r#"{{"KeyId":"arn:x","Signature":"{sig}","SigningAlgorithm":"RSASSA_PKCS1_V1_5_SHA_256"}}"#),
    );
    assert_eq!(read_sign_response(&key().endpoint, &ok, &creds(None)).unwrap(), vec![7u8; 256]);
}

#[test]
fn refuses_malformed_signatures() {
    let short = format!(r#"{{"Signature":"{}"}}"#, STANDARD.encode([1u8; 255]));
    for body in ["", "<html>", r#"{"Signature": 5}"#, r#"{"Signature":"***"}"#, &short] {
        let err = read_sign_response(&key().endpoint, &response(200, body), &creds(None)).unwrap_err();
        assert!(
            matches!(err, Error::MalformedResponse(ref e) if e.service == Service::Kms),
            "{body}: {}",
            err.message()
        );
    }
}

#[test]
fn classifies_aws_errors_and_scrubs_secrets() {
    let c = creds(Some("SESSIONTOKEN"));
    let echo = r#"{"__type":"InvalidSignatureException","message":"canonical string x-amz-security-token:SESSIONTOKEN"}"#;
    let Error::CredentialsRejected(e) =
        read_sign_response(&key().endpoint, &response(400, echo), &c).unwrap_err()
    else {
        panic!("not credentials-rejected")
    };
    assert_eq!(e.code.as_deref(), Some("InvalidSignatureException"));
    assert_eq!(e.request_id.as_deref(), Some("req-1"));
    assert!(!e.message.contains("SESSIONTOKEN") && e.message.contains("[redacted]"));

    let denied = r#"{"__type":"com.amazonaws.kms#AccessDeniedException","Message":"not allowed"}"#;
    let Error::Kms(e) = read_sign_response(&key().endpoint, &response(400, denied), &c).unwrap_err() else {
        panic!("not kms")
    };
    assert_eq!(
        (e.status, e.code.as_deref(), e.message.as_str()),
        (400, Some("AccessDeniedException"), "not allowed")
    );
    assert!(e.hint.unwrap().contains("kms:Sign"));

    let Error::Kms(e) = read_sign_response(&key().endpoint, &response(503, "<html>"), &c).unwrap_err() else {
        panic!("not kms")
    };
    assert_eq!((e.status, e.code), (503, None));
}

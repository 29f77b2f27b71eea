//! AWS STS `AssumeRoleWithWebIdentity`: the unsigned query-protocol request
//! and its XML answer.

use crate::aws::credentials::{AwsCredentials, Role};
use crate::aws::errors;
use crate::aws::region::Region;
use crate::error::{Error, Result, Service};
use crate::net::http::{Method, Request, Response, malformed};
use crate::net::url::Url;
use crate::secret::Secret;

/// How long the temporary credentials last: STS's minimum, ample for one run.
pub const DURATION_SECONDS: u32 = 900;

/// STS's regional endpoint for `region`.
pub fn default_endpoint(region: &Region) -> Url {
    region.endpoint("sts")
}

/// `POST /` with `Action=AssumeRoleWithWebIdentity` as a form body.
pub fn assume_role_request(endpoint: &Url, role: &Role, web_identity: &Secret) -> Request {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "AssumeRoleWithWebIdentity")
        .append_pair("Version", "2011-06-15")
        .append_pair("RoleArn", &role.arn)
        .append_pair("RoleSessionName", &role.session_name)
        .append_pair("WebIdentityToken", web_identity.expose())
        .append_pair("DurationSeconds", &DURATION_SECONDS.to_string())
        .finish();
    Request {
        service: Service::Sts,
        method: Method::Post,
        url: endpoint.clone(),
        headers: vec![
            ("content-type".to_owned(), "application/x-www-form-urlencoded; charset=utf-8".to_owned()),
            ("accept".to_owned(), "application/xml".to_owned()),
        ],
        body: form.into_bytes(),
        retry: true,
    }
}

/// The temporary credentials from the answer, or STS's error.
pub fn read_credentials(
    endpoint: &Url,
    response: &Response,
    web_identity: &Secret,
) -> Result<AwsCredentials> {
    if !response.is_success() {
        return Err(Error::Sts(errors::service_error(response, Service::Sts, &[web_identity], hint)));
    }
    let xml = String::from_utf8_lossy(&response.body);
    let field = |tag: &str| {
        errors::xml_text(&xml, tag).ok_or_else(|| {
            malformed(Service::Sts, endpoint, response, &[web_identity], format!("the answer has no {tag}"))
        })
    };
    Ok(AwsCredentials {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: Secret::new(field("SecretAccessKey")?),
        session_token: Some(Secret::new(field("SessionToken")?)),
    })
}

fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "InvalidIdentityToken" => {
            "AWS does not trust this token: check the IAM OIDC provider (token.actions.githubusercontent.com) and its audience"
        }
        "AccessDenied" => {
            "the role's trust policy does not allow this identity: check its `sub` and `aud` conditions"
        }
        "ExpiredTokenException" => "the web identity token has expired: fetch a fresh one",
        "IDPCommunicationError" => "AWS could not reach the identity provider: retry later",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role() -> Role {
        Role { arn: "arn:aws:iam::111122223333:role/signer".into(), session_name: "gha-1-1".into() }
    }

    #[test]
    fn request_is_an_unsigned_form() {
        let endpoint = default_endpoint(&Region::parse("r", "eu-west-1").unwrap());
        let req = assume_role_request(&endpoint, &role(), &Secret::new("a.b+c"));
        assert_eq!(req.url.to_string(), "https://sts.eu-west-1.amazonaws.com/");
        assert_eq!(
            String::from_utf8(req.body.clone()).unwrap(),
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fsigner\
             &RoleSessionName=gha-1-1&WebIdentityToken=a.b%2Bc&DurationSeconds=900"
        );
        assert!(req.headers.iter().all(|(n, _)| n != "authorization"));
    }

    #[test]
    fn reads_credentials_and_errors() {
        let endpoint = default_endpoint(&Region::parse("r", "eu-west-1").unwrap());
        let ok = r#"<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>
            <AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>sec</SecretAccessKey><SessionToken>tok</SessionToken>
            <Expiration>2026-11-25T21:15:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"#;
        let creds = read_credentials(
            &endpoint,
            &crate::net::script::answer(200, &[], ok).unwrap(),
            &Secret::new("jwt"),
        )
        .unwrap();
        assert_eq!((creds.access_key_id.as_str(), creds.secret_access_key.expose()), ("ASIAX", "sec"));
        let refused = r#"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>bad jwt</Message></Error><RequestId>r1</RequestId></ErrorResponse>"#;
        let Err(Error::Sts(e)) = read_credentials(
            &endpoint,
            &crate::net::script::answer(400, &[], refused).unwrap(),
            &Secret::new("jwt"),
        ) else {
            panic!()
        };
        assert_eq!(
            (e.code.as_deref(), e.request_id.as_deref(), e.message.as_str()),
            (Some("InvalidIdentityToken"), Some("r1"), "bad [redacted]")
        );
        let empty = crate::net::script::answer(200, &[], "<x/>").unwrap();
        assert!(matches!(
            read_credentials(&endpoint, &empty, &Secret::new("j")),
            Err(Error::MalformedResponse(_))
        ));
    }
}

//! The real component in embedded wasmtime, against the KMS and GitHub stand-ins.

mod common;

use common::*;
use standins::github::Fault as GithubFault;
use standins::kms::Fault as KmsFault;
use standins::world::{self, World};

fn by_name(permissions: &[Permission]) -> Vec<(String, Access)> {
    permissions.iter().map(|p| (p.name.clone(), p.access)).collect()
}

#[test]
fn mints_for_an_owner_with_one_kms_call() {
    let world = World::start("");
    let mut req = request(owner("octo-org"));
    req.repositories = vec!["widgets".into(), "docs".into()];
    req.permissions = vec![permission("contents", Access::Read), permission("issues", Access::Write)];
    let (result, output) = mint(&world.env(), &req);
    let token = result.expect("a token");
    assert!(output.is_empty(), "the component printed: {output}");

    let issued = world.github.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(token.token, issued[0].token);
    assert!(token.token.len() > 500 && token.token.contains('.'), "opaque long tokens pass through");
    assert_eq!(token.installation_id, 1001);
    assert_eq!(issued[0].repositories, ["widgets", "docs"]);
    assert_eq!(
        issued[0].permissions.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>(),
        ["contents:read", "issues:write"]
    );
    assert_eq!(
        by_name(&token.permissions),
        [("contents".into(), Access::Read), ("issues".into(), Access::Write)]
    );
    assert_eq!(token.repository_selection, "selected");
    assert_eq!(token.repositories, ["widgets", "docs"]);
    assert!(token.expires_at.ends_with('Z') && token.expires_at.len() == 20, "{}", token.expires_at);

    assert_eq!(world.kms.signatures(), 1, "one KMS call serves the lookup and the token");
    let seen = world.github.seen();
    let calls: Vec<(String, String, u16)> =
        seen.iter().map(|s| (s.method.clone(), s.path.clone(), s.status)).collect();
    assert_eq!(
        calls,
        [
            ("GET".into(), "/users/octo-org/installation".into(), 200),
            ("POST".into(), "/app/installations/1001/access_tokens".into(), 201)
        ]
    );
    for s in &seen {
        let header = |n: &str| s.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(header("accept"), Some("application/vnd.github+json"));
        assert_eq!(header("x-github-api-version"), Some("2022-11-28"));
        assert!(header("user-agent").unwrap().starts_with("github-app-kms-token/"));
    }

    let claims = standins::github::verify_rs256(&world.kms.public_key(), &world.github.jwts()[0])
        .expect("JWT verifies");
    assert_eq!(claims["iss"], serde_json::json!(world::APP_ID), "a numeric App ID is a JSON number");
    let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 600, "iat is now - 60 s, exp now + 9 min");
    assert!((iat + 60 - standins::time::now()).abs() <= 5);
}

#[test]
fn an_installation_id_needs_no_lookup() {
    let world = World::start("");
    let (result, _) = mint(&world.env(), &request(Some(Installation::Id(1002))));
    let token = result.expect("a token");
    assert_eq!(token.installation_id, 1002);
    assert_eq!(token.repository_selection, "all");
    assert_eq!(
        by_name(&token.permissions),
        [("contents".into(), Access::Read), ("metadata".into(), Access::Read)]
    );
    let paths: Vec<String> = world.github.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/app/installations/1002/access_tokens"], "exactly one GitHub request");
}

#[test]
fn repository_enterprise_and_current_repository_targets() {
    let world = World::start("");
    let repo =
        Some(Installation::Repository(RepositoryRef { owner: "octocat".into(), name: "hello-world".into() }));
    assert_eq!(mint(&world.env(), &request(repo)).0.expect("repository").installation_id, 1002);
    assert_eq!(
        mint(&world.env(), &request(Some(Installation::Enterprise("acme".into()))))
            .0
            .expect("enterprise")
            .installation_id,
        1003
    );

    let env = env_with(&world, &[("GITHUB_REPOSITORY", Some("octo-org/gadgets"))]);
    let token = mint(&env, &request(None)).0.expect("current repository");
    assert_eq!(
        (token.installation_id, token.repositories.as_slice()),
        (1001, ["gadgets".to_owned()].as_slice())
    );
    // The owner's installation, scoped to the repository (as the official action does).
    assert!(world.github.seen().iter().any(|s| s.path == "/users/octo-org/installation"));
}

#[test]
fn client_id_key_forms_and_github_enterprise_server() {
    let world = World::start("/api/v3");
    let alias_arn =
        format!("arn:aws:kms:{}:{}:{}", world::REGION, standins::kms::ACCOUNT, standins::kms::ALIAS);
    let keys = [world.kms.key_id().to_owned(), world.kms.key_arn(), alias_arn];
    let env = env_with(&world, &[("AWS_REGION", None)]);
    for key in keys {
        let req = TokenRequest {
            app_id: Some(world::CLIENT_ID.into()),
            kms_key_id: Some(key.clone()),
            aws_region: if key.starts_with("arn:") { None } else { Some(world::REGION.into()) },
            ..request(owner("octocat"))
        };
        mint(&env, &req).0.unwrap_or_else(|e| panic!("{key}: {e:?}"));
    }
    let claims = standins::github::verify_rs256(&world.kms.public_key(), &world.github.jwts()[0]).unwrap();
    assert_eq!(claims["iss"], world::CLIENT_ID, "a Client ID is a JSON string");
    assert!(world.github.seen().iter().all(|s| s.path.starts_with("/api/v3/")));
}

#[test]
fn create_app_jwt_verifies_with_the_kms_public_key() {
    let world = World::start("");
    let mut instance = host().instance(&world.env()).unwrap();
    let jwt = instance
        .create_app_jwt(&AppJwtRequest {
            key: None,
            app_id: None,
            kms_key_id: None,
            aws_region: None,
            timeout_seconds: None,
        })
        .unwrap()
        .expect("a JWT");
    let claims =
        standins::github::verify_rs256(&world.kms.public_key(), &jwt.jwt).expect("RS256 signature verifies");
    assert_eq!((claims["iat"].as_u64(), claims["exp"].as_u64()), (Some(jwt.issued_at), Some(jwt.expires_at)));
    let header = jwt.jwt.split('.').next().unwrap();
    assert_eq!(header, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9", "{{\"alg\":\"RS256\",\"typ\":\"JWT\"}}");
    assert!(!jwt.jwt.contains('='), "base64url without padding");
}

#[test]
fn revokes_once_then_reports_the_dead_token() {
    let world = World::start("");
    let token = mint(&world.env(), &request(owner("octocat"))).0.unwrap().token;
    let revoke = RevokeRequest { token: token.clone(), github_api_url: None, timeout_seconds: None };
    let mut instance = host().instance(&world.env()).unwrap();
    instance.revoke_installation_token(&revoke).unwrap().expect("revoked");
    assert!(world.github.issued()[0].revoked);
    let err = instance.revoke_installation_token(&revoke).unwrap().unwrap_err();
    let e = service_error(&err);
    assert_eq!((e.status, e.message.as_str()), (401, "Bad credentials"));
    assert!(e.hint.as_deref().unwrap().contains("already revoked"));
    assert!(!format!("{err:?}").contains(&token));
}

/// Every rule of Behaviour 6, each checked before any network call.
#[test]
fn bad_input_is_refused_before_any_request() {
    let world = World::start("");
    let env = world.env();
    let with = |f: fn(&mut TokenRequest)| {
        let mut r = request(owner("octo-org"));
        f(&mut r);
        r
    };
    struct Case {
        name: &'static str,
        request: TokenRequest,
        env: Env,
        field: &'static str,
    }
    let case = |name, request, env: &Env, field| Case { name, request, env: env.clone(), field };
    let cases = [
        case("an empty app id", with(|r| r.app_id = Some(String::new())), &env, "app-id"),
        case("an app id with a space", with(|r| r.app_id = Some("12 34".into())), &env, "app-id"),
        case("a bare key name", with(|r| r.kms_key_id = Some("my-key".into())), &env, "kms-key-id"),
        case(
            "a key ARN with a one-digit account",
            with(|r| r.kms_key_id = Some("arn:aws:kms:eu-west-1:1:key/x".into())),
            &env,
            "kms-key-id",
        ),
        case(
            "a region's display name",
            with(|r| r.aws_region = Some("Europe (Ireland)".into())),
            &env,
            "aws-region",
        ),
        case(
            "an owner with a leading dash",
            with(|r| r.installation = owner("-octo")),
            &env,
            "installation.owner",
        ),
        case(
            "a repository name with a slash",
            with(|r| {
                r.installation =
                    Some(Installation::Repository(RepositoryRef { owner: "o".into(), name: "a/b".into() }))
            }),
            &env,
            "installation.repository.name",
        ),
        case(
            "an enterprise slug with a space",
            with(|r| r.installation = Some(Installation::Enterprise("Big Corp".into()))),
            &env,
            "installation.enterprise",
        ),
        case(
            "a repository of another owner",
            with(|r| r.repositories = vec!["other-org/widgets".into()]),
            &env,
            "repositories",
        ),
        case(
            "501 repositories",
            with(|r| r.repositories = (0..501).map(|i| format!("repo{i}")).collect()),
            &env,
            "repositories",
        ),
        case(
            "repositories with an installation id",
            with(|r| {
                r.installation = Some(Installation::Id(1001));
                r.repositories = vec!["widgets".into()];
            }),
            &env,
            "repositories",
        ),
        case(
            "a capitalised permission",
            with(|r| r.permissions = vec![permission("Contents", Access::Read)]),
            &env,
            "permissions",
        ),
        case(
            "a GitHub API URL without a scheme",
            with(|r| r.github_api_url = Some("api.github.com".into())),
            &env,
            "github-api-url",
        ),
        case(
            "a KMS endpoint kms.local:99999",
            with(|_| ()),
            &env_with(&world, &[("AWS_ENDPOINT_URL_KMS", Some("kms.local:99999"))]),
            "AWS_ENDPOINT_URL_KMS",
        ),
        case("no app id anywhere", with(|_| ()), &env_with(&world, &[("APP_ID", None)]), "app-id"),
        case("no installation anywhere", with(|r| r.installation = None), &env, "installation"),
    ];
    for Case { name, request, env, field } in cases {
        match mint(&env, &request).0 {
            Err(TokenError::InvalidInput(e)) => {
                assert_eq!(e.field, field, "{name}: {}", e.rule);
                assert!(!e.rule.is_empty(), "{name}");
            }
            // A token is named by its installation only: a test's output holds no token.
            other => panic!(
                "{name}: expected invalid-input for {field}, got {:?}",
                other.map(|t| t.installation_id)
            ),
        }
    }
    assert_eq!(
        world.kms.signatures() + world.kms.rejections().len() + world.github.seen().len(),
        0,
        "nothing was sent"
    );
}

#[test]
fn missing_credentials_say_what_was_tried() {
    let world = World::start("");
    let env = env_with(&world, &[("AWS_ACCESS_KEY_ID", None), ("AWS_SECRET_ACCESS_KEY", None)]);
    match mint(&env, &request(owner("octo-org"))).0 {
        Err(TokenError::CredentialsMissing(why)) => {
            assert!(why.contains("AWS_ACCESS_KEY_ID"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

/// What AWS checks of a SigV4 signature, each broken once.
#[test]
fn kms_refuses_credentials_it_cannot_verify() {
    let world = World::start("");
    let wrong_secret = standins::random_hex(20);
    let cases = [
        (env_with(&world, &[("AWS_SECRET_ACCESS_KEY", Some(&wrong_secret))]), "InvalidSignatureException"),
        (
            env_with(&world, &[("AWS_ACCESS_KEY_ID", Some("AKIAUNKNOWN0000000000"))]),
            "UnrecognizedClientException",
        ),
        (env_with(&world, &[("AWS_SESSION_TOKEN", None)]), "UnrecognizedClientException"),
        (env_with(&world, &[("AWS_REGION", Some("us-east-1"))]), "InvalidSignatureException"),
    ];
    for (env, code) in cases {
        let err = mint(&env, &request(owner("octo-org"))).0.unwrap_err();
        assert!(matches!(err, TokenError::CredentialsRejected(_)), "{code}: {err:?}");
        let e = service_error(&err);
        assert_eq!((e.status, e.code.as_deref()), (400, Some(code)));
        assert!(e.request_id.is_some() && e.hint.is_some());
    }
    assert_eq!(world.kms.signatures(), 0);
    assert!(world.github.seen().is_empty(), "GitHub is not called without a signature");
}

#[test]
fn kms_errors_keep_code_message_and_request_id() {
    let world = World::start("");
    // Each row is named by its error code.
    let cases = [
        ("AccessDeniedException", 400, "kms:Sign"),
        ("DisabledException", 400, "disabled"),
        ("KMSInvalidStateException", 400, "state"),
        ("InvalidKeyUsageException", 400, "SIGN_VERIFY"),
        ("KMSInternalException", 500, "retry"),
        ("DependencyTimeoutException", 503, "retry"),
    ];
    for (code, status, hint) in cases {
        world.kms.set_fault(Some(KmsFault {
            status,
            code: code.into(),
            message: format!("{code} from the stand-in"),
        }));
        let err = mint(&world.env(), &request(owner("octo-org"))).0.unwrap_err();
        assert!(matches!(err, TokenError::Kms(_)), "{code}: {err:?}");
        let e = service_error(&err);
        assert_eq!(
            (e.status, e.code.as_deref(), e.message.as_str()),
            (status, Some(code), format!("{code} from the stand-in").as_str()),
            "{code}"
        );
        assert!(e.request_id.as_deref().is_some_and(|id| id.len() == 36), "{code}: {:?}", e.request_id);
        assert!(e.hint.as_deref().is_some_and(|h| h.contains(hint)), "{code}: {:?}", e.hint);
    }
    world.kms.set_fault(None);
    let unknown = "0000abcd-12ab-34cd-56ef-1234567890ab";
    let err =
        mint(&env_with(&world, &[("KMS_KEY_ID", Some(unknown))]), &request(owner("octo-org"))).0.unwrap_err();
    assert_eq!(service_error(&err).code.as_deref(), Some("NotFoundException"));
}

/// One GitHub failure: how to cause it, and what the error must say.
struct GithubCase {
    env: Env,
    request: TokenRequest,
    fault: Option<(&'static str, u16, &'static str)>,
    status: u16,
    message: &'static str,
    hint: &'static str,
}

#[test]
fn github_errors_keep_status_message_request_id_and_hint() {
    let world = World::start("");
    let case = |request, fault, status, message, hint| GithubCase {
        env: world.env(),
        request,
        fault,
        status,
        message,
        hint,
    };
    let octo_org = || request(owner("octo-org"));
    let cases = vec![
        GithubCase {
            env: env_with(&world, &[("APP_ID", Some("999"))]),
            ..case(octo_org(), None, 401, "Integration not found", "app-id")
        },
        case(request(owner("nobody")), None, 404, "Not Found", "not installed"),
        case(request(Some(Installation::Id(9999))), None, 404, "Not Found", "no installation with this id"),
        case(
            TokenRequest {
                permissions: vec![permission("contents", Access::Admin)],
                ..request(owner("octocat"))
            },
            None,
            422,
            "The permissions requested are not granted to this installation.",
            "granted",
        ),
        case(
            TokenRequest { repositories: vec!["secret-repo".into()], ..octo_org() },
            None,
            422,
            "There is at least one repository that does not exist or is not accessible to the parent installation.",
            "repository",
        ),
        case(octo_org(), Some(("/installation", 403, "Forbidden")), 403, "Forbidden", "suspended"),
        case(octo_org(), Some(("/installation", 503, "Unavailable")), 503, "Unavailable", "retry"),
        case(octo_org(), Some(("/access_tokens", 502, "Server Error")), 502, "Server Error", "retry"),
    ];
    for c in cases {
        world.github.set_fault(c.fault.map(|(path_suffix, status, message)| GithubFault {
            path_suffix: path_suffix.into(),
            status,
            message: message.into(),
            retry_after: None,
        }));
        let err = mint(&c.env, &c.request).0.unwrap_err();
        assert!(matches!(err, TokenError::Github(_)), "{err:?}");
        let e = service_error(&err);
        assert_eq!((e.status, e.message.as_str(), e.code.as_deref()), (c.status, c.message, None));
        assert!(e.request_id.is_some() && e.documentation_url.is_some(), "{e:?}");
        assert!(e.hint.as_deref().is_some_and(|h| h.contains(c.hint)), "{}: {:?}", c.status, e.hint);
    }
}

#[test]
fn revoke_refuses_a_token_no_header_could_carry() {
    let world = World::start("");
    let mut instance = host().instance(&world.env()).unwrap();
    for token in ["", "ghs_abc\r\nx-injected: 1", "ghs_ünïcode"] {
        let revoke = RevokeRequest { token: token.into(), github_api_url: None, timeout_seconds: None };
        match instance.revoke_installation_token(&revoke).unwrap() {
            Err(TokenError::InvalidInput(e)) => assert_eq!(e.field, "token"),
            other => panic!("{token:?}: {other:?}"),
        }
    }
    assert!(world.github.seen().is_empty());
}

#[test]
fn unreachable_and_denied_endpoints_are_transport_errors() {
    let world = World::start("");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // dropped: nothing listens
    let cases = [
        (
            env_with(&world, &[("AWS_ENDPOINT_URL_KMS", Some(&format!("http://{closed}")))]),
            "connection refused",
        ),
        (env_with(&world, &[("GITHUB_API_URL", Some(&format!("http://{closed}")))]), "connection refused"),
        // The host's allow-list has 127.0.0.1 only.
        (
            env_with(
                &world,
                &[("GITHUB_API_URL", Some(&world.github.url().replace("127.0.0.1", "localhost")))],
            ),
            "denied",
        ),
    ];
    for (env, what) in cases {
        match mint(&env, &request(owner("octo-org"))).0 {
            Err(TokenError::Transport(e)) => {
                assert!(e.message.contains(what), "{e:?}");
                assert!(e.endpoint.starts_with("http://") && !e.endpoint.contains("/users"), "{e:?}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

/// Behaviour 7: no secret in any error, `Debug` text, guest output or host log.
#[test]
fn no_secret_leaks_into_errors_output_or_logs() {
    let world = World::start("");
    let mut texts = Vec::new();
    let mut run = |env: Vec<(String, String)>, req: TokenRequest| {
        let (result, output) = mint(&env, &req);
        texts.push(format!("{result:?}"));
        texts.push(output);
    };
    let wrong_secret = standins::random_hex(20);
    run(env_with(&world, &[("AWS_SECRET_ACCESS_KEY", Some(&wrong_secret))]), request(owner("octo-org")));
    run(env_with(&world, &[("AWS_SESSION_TOKEN", Some("IQoJwrongtoken"))]), request(owner("octo-org")));
    run(env_with(&world, &[("APP_ID", Some("999"))]), request(owner("octo-org")));
    run(world.env(), request(owner("nobody")));
    run(
        world.env(),
        TokenRequest {
            permissions: vec![permission("contents", Access::Admin)],
            ..request(owner("octocat"))
        },
    );
    world.kms.set_fault(Some(KmsFault {
        status: 400,
        code: "AccessDeniedException".into(),
        message: "no".into(),
    }));
    run(world.env(), request(owner("octo-org")));
    world.kms.set_fault(None);

    let mut instance = host().instance(&world.env()).unwrap();
    let token = instance.get_installation_token(&request(owner("octocat"))).unwrap().unwrap().token;
    let revoke = RevokeRequest { token: token.clone(), github_api_url: None, timeout_seconds: None };
    for _ in 0..2 {
        texts.push(format!("{:?}", instance.revoke_installation_token(&revoke).unwrap()));
    }
    texts.push(instance.output());
    texts.extend(log_lines().lock().unwrap().iter().cloned());

    let mut secrets = world.secrets();
    secrets.push(wrong_secret);
    assert!(
        world.github.jwts().len() >= 3 && world.github.issued().len() == 1,
        "the scenarios presented JWTs and minted tokens"
    );
    for secret in &secrets {
        for text in &texts {
            assert_eq!(standins::leaked(secret, text), None, "a secret leaked into: {text}");
        }
    }
    // AWS's signature error goes on to quote the canonical request, session
    // token included: only its first line is ever quoted.
    assert!(texts.iter().any(|t| t.contains("The request signature we calculated does not match")));
    assert!(texts.iter().all(|t| !t.contains("Canonical String")));
}

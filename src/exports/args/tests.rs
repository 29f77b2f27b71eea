//! The command line parsed: every flag, and usage errors that never echo a value.

use super::*;
use crate::api::Access;

fn args(line: &str) -> Result<Args, UsageError> {
    parse(&line.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
}

#[test]
fn defaults_to_token_in_token_format() {
    let a = args("").unwrap();
    assert_eq!((a.command, a.format), (Command::Token, Format::Token));
}

#[test]
fn reads_every_flag() {
    let a = args(
        "token --app-id 42 --kms-key-id alias/k --region eu-west-1 --owner a --owner=b \
         --repositories x,y --repositories z --repository acme/w --permission contents=read --permission issues:write \
         --github-api-url https://ghe/api/v3 --format json --token t",
    )
    .unwrap();
    assert_eq!(a.app_id.as_deref(), Some("42"));
    assert_eq!(a.kms_key_id.as_deref(), Some("alias/k"));
    assert_eq!(a.region.as_deref(), Some("eu-west-1"));
    assert_eq!(args("--installation-id 7").unwrap().installation_id, Some(7));
    assert_eq!(a.owners, ["a", "b"]);
    assert_eq!(a.repositories, ["x", "y", "z", "acme/w"]);
    assert_eq!(args("--enterprise acme").unwrap().enterprise.as_deref(), Some("acme"));
    assert_eq!(
        a.permissions,
        [
            Permission { name: "contents".into(), access: Access::Read },
            Permission { name: "issues".into(), access: Access::Write }
        ]
    );
    assert_eq!(a.github_api_url.as_deref(), Some("https://ghe/api/v3"));
    assert_eq!((a.format, a.token.as_ref().map(Secret::expose)), (Format::Json, Some("t")));
}

#[test]
fn commands_and_help() {
    assert_eq!(args("jwt").unwrap().command, Command::Jwt);
    assert_eq!(args("revoke --token x").unwrap().command, Command::Revoke);
    assert_eq!(args("installations").unwrap().command, Command::Installations);
    assert_eq!(args("help").unwrap().command, Command::Help);
    assert_eq!(args("token --help").unwrap().command, Command::Help);
    assert_eq!(args("--version").unwrap().command, Command::Version);
    assert_eq!(args("--version jwt").unwrap().command, Command::Version);
    assert_eq!(args("jwt --help").unwrap().command, Command::Help);
}

#[test]
fn usage_errors_say_what_is_wrong() {
    for (line, says) in [
        ("--owner", "--owner needs a value"),
        ("--installation-id abc", "takes a number"),
        ("--permission contents=owner", "read, write or admin"),
        ("--permission contents", "NAME=LEVEL"),
        ("--format yaml", "token or json"),
        ("--frobnicate", "unknown flag --frobnicate"),
        ("mint", "unknown command (not shown)"),
        ("revoke ghs_secret", "unexpected argument after the command (not shown)"),
        ("--owner a --installation-id 1", "not both"),
        ("--enterprise e --owner a", "not both"),
    ] {
        let message = args(line).unwrap_err().to_string();
        assert!(message.contains(says), "{line}: {message}");
        assert!(!message.contains("ghs_secret") && !message.contains("mint"));
    }
}

#[test]
fn a_value_given_to_the_wrong_flag_is_never_echoed() {
    // A token pasted as a flag's value.
    let token = "ghs_0123456789abcdefghijklmnopqrstuvwxyzAB";
    for flag in ["--installation-id", "--timeout", "--format", "--permission"] {
        for value in [token.to_owned(), format!("contents={token}"), format!("{token}=read")] {
            if let Err(message) =
                parse(&["token", flag, value.as_str()].map(String::from)).map_err(|e| e.to_string())
            {
                assert!(!message.contains(&token[..16]) && !message.contains(&token[20..]), "{message}");
            }
        }
    }
}

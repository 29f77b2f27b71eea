//! Amazon Resource Names, `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`,
//! as IAM role and KMS key references use them.

/// The parts of an ARN that name something of one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    /// The region; empty for a global service (IAM).
    pub region: &'a str,
    /// What follows the account: `role/NAME`, `key/ID`, `alias/NAME`.
    pub resource: &'a str,
}

/// `text` as an ARN of `service`, in a partition (`aws`, `aws-cn`,
/// `aws-us-gov`, ...) and a 12-digit account; `None` for anything else.
pub fn parse<'a>(text: &'a str, service: &str) -> Option<Arn<'a>> {
    let parts: Vec<&str> = text.strip_prefix("arn:")?.splitn(5, ':').collect();
    let [partition, named, region, account, resource] = parts[..] else { return None };
    let is_name = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
    let partition_ok = partition == "aws" || partition.strip_prefix("aws-").is_some_and(is_name);
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (partition_ok && named == service && account_ok).then_some(Arn { region, resource })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_of_a_service() {
        let role = parse("arn:aws:iam::123456789012:role/deploy", "iam").unwrap();
        assert_eq!(role, Arn { region: "", resource: "role/deploy" });
        let key = parse("arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/k", "kms").unwrap();
        assert_eq!((key.region, key.resource), ("us-gov-west-1", "key/k"));
        for bad in [
            "arn:aws:kms::123456789012:role/deploy",
            "arn:awsx:iam::123456789012:role/deploy",
            "arn:aws-:iam::123456789012:role/deploy",
            "arn:aws:iam::12345678901:role/deploy",
            "arn:aws:iam::123456789012",
            "aws:iam::123456789012:role/deploy",
        ] {
            assert_eq!(parse(bad, "iam"), None, "{bad}");
        }
    }
}

//! AWS regions and the public endpoints of a service in one.

use crate::error::{Result, invalid};
use crate::net::url::{Scheme, Url};

/// An AWS region name such as `eu-west-1` or `us-gov-west-1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region(String);

impl Region {
    /// Validates a region name; `field` names it in the error.
    pub fn parse(field: &str, text: &str) -> Result<Region> {
        let parts: Vec<&str> = text.split('-').collect();
        let letters = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
        let valid = match parts.split_last() {
            Some((number, names)) => {
                names.len() >= 2
                    && names[0].len() >= 2
                    && names.iter().all(letters)
                    && !number.is_empty()
                    && number.bytes().all(|b| b.is_ascii_digit())
            }
            None => false,
        };
        if valid {
            Ok(Region(text.to_owned()))
        } else {
            Err(invalid(field, "must be an AWS region name such as us-east-1"))
        }
    }

    /// As AWS writes it: `eu-west-1`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// AWS's public endpoint of `service` in this region (`.com.cn` in China).
    pub fn endpoint(&self, service: &str) -> Url {
        let domain = if self.0.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
        Url {
            scheme: Scheme::Https,
            authority: format!("{service}.{}.{domain}", self.0),
            path: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_rules() {
        for ok in ["us-east-1", "us-gov-west-1", "ap-southeast-5", "cn-north-1"] {
            assert!(Region::parse("r", ok).is_ok(), "{ok}");
        }
        for bad in ["", "us", "us-east", "US-EAST-1", "us-east-1a", "us--1", "-us-east-1", "us-east-1/x"] {
            assert!(Region::parse("r", bad).is_err(), "{bad}");
        }
        let cn = Region::parse("r", "cn-north-1").unwrap();
        assert_eq!(cn.endpoint("kms").to_string(), "https://kms.cn-north-1.amazonaws.com.cn/");
    }
}

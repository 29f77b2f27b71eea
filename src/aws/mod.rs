//! AWS as the component uses it, pure: regions and endpoints ([`region`]),
//! resource names ([`arn`]), error answers ([`errors`]), credentials and
//! where they come from ([`credentials`]), STS's web identity exchange
//! ([`sts`]) and KMS `Sign` ([`kms`]).

pub mod arn;
pub mod credentials;
pub mod errors;
pub mod kms;
pub mod region;
pub mod sts;

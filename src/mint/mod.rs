//! Minting: the settings a token needs ([`settings`]) and the flow that
//! gets it, KMS signature to installation token ([`flow`]).

pub mod flow;
pub mod settings;
pub mod signer;

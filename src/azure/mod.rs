//! Azure as the component uses it, pure: Key Vault's and Managed HSM's
//! error answers ([`errors`]), where the access token comes from and Entra
//! ID's client-credentials grant ([`entra`]), and a key, its public half
//! and its `sign` ([`keyvault`]).

pub mod entra;
pub mod errors;
pub mod keyvault;

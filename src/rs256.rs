//! RS256 signature verification (RSASSA-PKCS1-v1_5 with SHA-256, RFC 8017
//! §8.2.2): all the broker needs of RSA, public keys only.
//!
//! The arithmetic is Montgomery multiplication on 32-bit limbs. Nothing here
//! is secret (a public key, a signature, a message), so it need not run in
//! constant time; it must only be exact. How it was checked: its tests
//! compare it with the `rsa` crate on 2048-, 3072- and 4096-bit keys
//! (signatures, tampering, a wrong key, the key rules); proptest and the
//! `caller_token` fuzz target feed it any modulus, exponent and signature;
//! and a security review (December 2026) ran it against the public
//! Wycheproof RSASSA-PKCS1-v1_5 SHA-256 vectors for 2048-, 3072- and
//! 4096-bit keys: all 797 that apply gave the expected verdict, e=3
//! forgeries and BER or DigestInfo variants included.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

/// The smallest and largest moduli accepted, in bits.
pub const MIN_BITS: usize = 2048;
/// See [`MIN_BITS`]: larger keys would only make verification slow.
pub const MAX_BITS: usize = 4096;

/// DER of the `DigestInfo` header for SHA-256 (RFC 8017 §9.2, note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    0x04, 0x20,
];

/// The `rsaEncryption` algorithm of an RSA key's `SubjectPublicKeyInfo` (RFC 8017 A.1).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Why a key was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The modulus has fewer than [`MIN_BITS`] bits.
    TooShort,
    /// An even modulus, more than [`MAX_BITS`] bits, or an exponent that is
    /// even, below 3 or above 2^32.
    Unusable,
    /// Not an RSA public key: a PEM or DER that is not a
    /// `SubjectPublicKeyInfo` of an RSA key (an EC key's, say).
    NotRsa,
}

/// An RSA public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    /// The modulus, least significant limb first, without leading zero limbs.
    n: Vec<u32>,
    /// The modulus length in bytes (`k` in RFC 8017).
    len: usize,
    /// The public exponent.
    e: u32,
    /// `-n⁻¹ mod 2³²`, for Montgomery reduction.
    n_inv: u32,
}

impl PublicKey {
    /// A key from its modulus and exponent as big-endian bytes (as JWK's `n`
    /// and `e` carry them).
    pub fn new(n: &[u8], e: &[u8]) -> Result<PublicKey, KeyError> {
        let n = from_be(n);
        let bits = n.last().map_or(0, |top| 32 * n.len() - top.leading_zeros() as usize);
        if bits < MIN_BITS {
            return Err(KeyError::TooShort);
        }
        let e = from_be(e);
        let e = match e.as_slice() {
            [] => 0,
            [e] => *e,
            _ => return Err(KeyError::Unusable),
        };
        if bits > MAX_BITS || n[0].is_multiple_of(2) || e < 3 || e.is_multiple_of(2) {
            return Err(KeyError::Unusable);
        }
        // Newton's iteration doubles the correct low bits: 1, 2, 4, ... 32.
        let mut inv: u32 = 1;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(n[0].wrapping_mul(inv)));
        }
        Ok(PublicKey { len: bits.div_ceil(8), n, e, n_inv: inv.wrapping_neg() })
    }

    /// A key from a PEM `PUBLIC KEY` (an X.509 `SubjectPublicKeyInfo`), as
    /// Google Cloud KMS and Vault hand out the public halves of their keys.
    pub fn from_pem(pem: &str) -> Result<PublicKey, KeyError> {
        let body = pem
            .trim()
            .strip_prefix("-----BEGIN PUBLIC KEY-----")
            .and_then(|rest| rest.strip_suffix("-----END PUBLIC KEY-----"))
            .ok_or(KeyError::NotRsa)?;
        let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = STANDARD.decode(base64).map_err(|_| KeyError::NotRsa)?;
        let info = SubjectPublicKeyInfoRef::try_from(der.as_slice()).map_err(|_| KeyError::NotRsa)?;
        if info.algorithm.oid != RSA_ENCRYPTION {
            return Err(KeyError::NotRsa);
        }
        let bits = info.subject_public_key.as_bytes().ok_or(KeyError::NotRsa)?;
        let key = pkcs1::RsaPublicKey::try_from(bits).map_err(|_| KeyError::NotRsa)?;
        PublicKey::new(key.modulus.as_bytes(), key.public_exponent.as_bytes())
    }

    /// The modulus length in bits.
    pub fn bits(&self) -> usize {
        8 * self.len - self.n.last().map_or(0, |top| (top.leading_zeros() % 8) as usize)
    }

    /// Whether `signature` is this key's RS256 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        if signature.len() != self.len {
            return false;
        }
        let s = from_be(signature);
        if !less_than(&s, &self.n) {
            return false;
        }
        let m = self.pow_e(&pad(&s, self.n.len()));
        to_be(&m, self.len) == self.encoded(message)
    }

    /// `EMSA-PKCS1-v1_5(SHA-256(message))`: `00 01 FF… 00 DigestInfo hash`.
    fn encoded(&self, message: &[u8]) -> Vec<u8> {
        let hash = Sha256::digest(message);
        let mut em = vec![0xff; self.len];
        let tail = SHA256_DIGEST_INFO.len() + hash.len();
        em[0] = 0x00;
        em[1] = 0x01;
        em[self.len - tail - 1] = 0x00;
        em[self.len - tail..self.len - hash.len()].copy_from_slice(&SHA256_DIGEST_INFO);
        em[self.len - hash.len()..].copy_from_slice(&hash);
        em
    }

    /// `s^e mod n`, by square-and-multiply in the Montgomery domain.
    fn pow_e(&self, s: &[u32]) -> Vec<u32> {
        let base = self.mul(s, &self.r_squared());
        let mut x = base.clone();
        for bit in (0..31 - self.e.leading_zeros()).rev() {
            x = self.mul(&x, &x);
            if self.e >> bit & 1 == 1 {
                x = self.mul(&x, &base);
            }
        }
        let mut one = vec![0; self.n.len()];
        one[0] = 1;
        self.mul(&x, &one)
    }

    /// `R² mod n` with `R = 2^(32·limbs)`, which is `2^(32·limbs)` in the
    /// Montgomery domain: `2R mod n` (2 there) by doubling from the
    /// modulus's top bit, then raised to the power `32·limbs`. (Doubling all
    /// the way, 4096 times for 2048 bits, cost more than the rest of a
    /// verification.)
    fn r_squared(&self) -> Vec<u32> {
        let (limbs, bits) = (self.n.len(), self.bits());
        // 2^(bits-1) < n, as n is odd and so no power of two.
        let mut two = vec![0; limbs];
        two[(bits - 1) / 32] = 1 << ((bits - 1) % 32);
        for _ in bits - 1..32 * limbs + 1 {
            self.double(&mut two);
        }
        let exponent = 32 * limbs;
        let mut x = two.clone();
        for bit in (0..usize::BITS - 1 - exponent.leading_zeros()).rev() {
            x = self.mul(&x, &x);
            if exponent >> bit & 1 == 1 {
                x = self.mul(&x, &two);
            }
        }
        x
    }

    /// `x = 2x mod n`, for `x < n`.
    fn double(&self, x: &mut [u32]) {
        let mut carry = 0;
        for limb in x.iter_mut() {
            let next = *limb >> 31;
            *limb = *limb << 1 | carry;
            carry = next;
        }
        if carry == 1 || !less_than(x, &self.n) {
            subtract(x, &self.n);
        }
    }

    /// Montgomery product `a·b·R⁻¹ mod n` (CIOS: multiply and reduce one
    /// limb at a time; `t` is shifted down a limb after each reduction).
    fn mul(&self, a: &[u32], b: &[u32]) -> Vec<u32> {
        let (n, len) = (&self.n, self.n.len());
        let mut t = vec![0u32; len + 2];
        for &bi in b {
            let mut carry = 0u64;
            for (tj, &aj) in t.iter_mut().zip(a) {
                let sum = *tj as u64 + aj as u64 * bi as u64 + carry;
                *tj = sum as u32;
                carry = sum >> 32;
            }
            let sum = t[len] as u64 + carry;
            t[len] = sum as u32;
            t[len + 1] = (sum >> 32) as u32;

            // Adding m·n makes the lowest limb zero; dropping it divides by 2³².
            let m = t[0].wrapping_mul(self.n_inv);
            let mut carry = 0u64;
            for (tj, &nj) in t.iter_mut().zip(n) {
                let sum = *tj as u64 + m as u64 * nj as u64 + carry;
                *tj = sum as u32;
                carry = sum >> 32;
            }
            let sum = t[len] as u64 + carry;
            t[len] = sum as u32;
            t[len + 1] += (sum >> 32) as u32;
            t.copy_within(1.., 0);
            t[len + 1] = 0;
        }
        // The product is below 2n: one subtraction at most.
        if t[len] != 0 || !less_than(&t[..len], n) {
            subtract(&mut t[..len], n);
        }
        t.truncate(len);
        t
    }
}

/// Big-endian bytes as limbs, least significant first, without leading zeros.
fn from_be(bytes: &[u8]) -> Vec<u32> {
    let mut limbs: Vec<u32> = bytes
        .rchunks(4)
        .map(|chunk| chunk.iter().fold(0u32, |limb, &byte| limb << 8 | byte as u32))
        .collect();
    while limbs.last() == Some(&0) {
        limbs.pop();
    }
    limbs
}

/// Limbs as `len` big-endian bytes (the value must fit).
fn to_be(limbs: &[u32], len: usize) -> Vec<u8> {
    let bytes: Vec<u8> = limbs.iter().flat_map(|limb| limb.to_le_bytes()).collect();
    (0..len).rev().map(|i| bytes.get(i).copied().unwrap_or(0)).collect()
}

/// `x` widened to `len` limbs.
fn pad(x: &[u32], len: usize) -> Vec<u32> {
    let mut x = x.to_vec();
    x.resize(len, 0);
    x
}

/// `a < b`, for `b` without leading zero limbs.
fn less_than(a: &[u32], b: &[u32]) -> bool {
    let significant = a.iter().rposition(|&limb| limb != 0).map_or(0, |i| i + 1);
    if significant != b.len() {
        return significant < b.len();
    }
    for i in (0..b.len()).rev() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

/// `a -= b` modulo `2^(32·a.len())`.
fn subtract(a: &mut [u32], b: &[u32]) {
    let mut borrow = 0u64;
    for (i, limb) in a.iter_mut().enumerate() {
        let sub = b.get(i).copied().unwrap_or(0) as u64 + borrow;
        let (value, under) = (*limb as u64).overflowing_sub(sub);
        *limb = value as u32;
        borrow = under as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::sha2::Digest as _;
    use rsa::traits::PublicKeyParts;
    use rsa::{Pkcs1v15Sign, RsaPrivateKey};

    fn key(bits: usize) -> (RsaPrivateKey, PublicKey) {
        let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits).unwrap();
        let public = PublicKey::new(&private.n().to_bytes_be(), &private.e().to_bytes_be()).unwrap();
        (private, public)
    }

    fn sign(private: &RsaPrivateKey, message: &[u8]) -> Vec<u8> {
        let digest = rsa::sha2::Sha256::digest(message);
        private.sign(Pkcs1v15Sign::new::<rsa::sha2::Sha256>(), &digest).unwrap()
    }

    #[test]
    fn agrees_with_the_rsa_crate() {
        for bits in [2048, 3072, 4096] {
            let (private, public) = key(bits);
            assert_eq!(public.bits(), bits);
            for message in [&b""[..], b"a.b", &[0xa5; 1000]] {
                let signature = sign(&private, message);
                assert!(public.verify(message, &signature), "{bits} bits");
                // Any flipped bit, of the message or the signature, fails.
                let mut tampered = signature.clone();
                tampered[bits / 16] ^= 0x10;
                assert!(!public.verify(message, &tampered));
                assert!(!public.verify(b"another message", &signature));
            }
        }
    }

    #[test]
    fn r_squared_is_exact_for_every_modulus_length() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for bits in [2048usize, 2049, 2050, 2063, 2081, 3000, 3071, 4095, 4096] {
            // An odd modulus of exactly `bits` bits (not a key: `mul` needs only odd).
            let mut n: Vec<u8> = (0..bits.div_ceil(8))
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            n[0] = n[0] & (0xff >> (8 * n.len() - bits)) | 1 << ((bits - 1) % 8);
            *n.last_mut().unwrap() |= 1;
            let key = PublicKey::new(&n, &[1, 0, 1]).unwrap();
            assert_eq!(key.bits(), bits);
            let modulus = rsa::BigUint::from_bytes_be(&n);
            let expected = (rsa::BigUint::from(1u8) << (64 * key.n.len())) % &modulus;
            let len = 4 * key.n.len();
            assert_eq!(to_be(&key.r_squared(), len), to_be(&from_be(&expected.to_bytes_be()), len), "{bits}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_signature_or_a_key() {
        let (private, public) = key(2048);
        let signature = sign(&private, b"m");
        assert!(!public.verify(b"m", &signature[1..]), "too short");
        assert!(!public.verify(b"m", &[0xff; 256]), "not below the modulus");
        assert!(!public.verify(b"m", &[0; 256]));
        let mut longer = vec![0];
        longer.extend(&signature);
        assert!(!public.verify(b"m", &longer), "not k bytes");

        let n = private.n().to_bytes_be();
        assert_eq!(PublicKey::new(&n[1..], &[1, 0, 1]), Err(KeyError::TooShort));
        assert_eq!(PublicKey::new(&[0xff; 513], &[1, 0, 1]), Err(KeyError::Unusable), "over 4096 bits");
        let mut even = n.clone();
        *even.last_mut().unwrap() &= 0xfe;
        assert_eq!(PublicKey::new(&even, &[1, 0, 1]), Err(KeyError::Unusable));
        for e in [&[][..], &[1], &[2], &[1, 0, 0], &[1, 0, 0, 0, 1]] {
            assert_eq!(PublicKey::new(&n, e), Err(KeyError::Unusable), "{e:?}");
        }
        // Leading zero bytes change nothing.
        let mut padded = vec![0, 0];
        padded.extend(&n);
        assert_eq!(PublicKey::new(&padded, &[0, 1, 0, 1]), Ok(public));
    }

    #[test]
    fn reads_a_pem_public_key_and_only_an_rsa_one() {
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        let (private, public) = key(2048);
        let pem = private.to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
        assert_eq!(PublicKey::from_pem(&pem), Ok(public.clone()));
        assert_eq!(PublicKey::from_pem(&format!("\n  {}\r\n", pem.replace('\n', "\r\n"))), Ok(public));
        // The same key under another algorithm's OID (rsaEncryption's last arc changed).
        let der = private.to_public_key().to_public_key_der().unwrap().into_vec();
        let oid = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
        let at = der.windows(oid.len()).position(|w| w == oid).unwrap();
        let mut other = der.clone();
        other[at + oid.len() - 1] = 0x0b;
        let armored = |der: &[u8]| {
            format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", STANDARD.encode(der))
        };
        assert_eq!(PublicKey::from_pem(&armored(&der)).map(|k| k.bits()), Ok(2048));
        assert_eq!(PublicKey::from_pem(&armored(&other)), Err(KeyError::NotRsa));
        assert_eq!(PublicKey::from_pem(&armored(&der[..der.len() - 1])), Err(KeyError::NotRsa));
        assert_eq!(PublicKey::from_pem(&pem.replace("PUBLIC KEY", "RSA PUBLIC KEY")), Err(KeyError::NotRsa));
        assert_eq!(PublicKey::from_pem("not a key"), Err(KeyError::NotRsa));
    }

    #[test]
    fn another_keys_signature_fails() {
        let (_, public) = key(2048);
        let (other, _) = key(2048);
        assert!(!public.verify(b"m", &sign(&other, b"m")));
    }
}

//! What a request's parameters say about its risk, decided while decoding and kept as a few bits,
//! so no raw parameter outlives the input.
//!
//! The same call can be routine or an attack depending on its parameters: an EBS snapshot shared
//! with one partner account or with everyone, a bucket policy granting an internal role or
//! `"Principal":"*"`, an SSM parameter read as ciphertext or decrypted. The decoders that see
//! request parameters (CloudTrail today) set these facts; the operation risk catalogue of
//! `credence-detect` matches on them.

use std::fmt;

/// A set of request facts: a bitset, `Copy`, one byte.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RequestFacts(u8);

impl RequestFacts {
    /// No fact known.
    pub const NONE: RequestFacts = RequestFacts(0);
    /// The request grants access to everyone: an image or snapshot shared with `all`, a
    /// resource policy allowing `"Principal":"*"`, an ACL grant to `AllUsers` or
    /// `AuthenticatedUsers`, a firewall rule open to `0.0.0.0/0` or `::/0`.
    pub const PUBLIC: RequestFacts = RequestFacts(1);
    /// The request grants access to another named account (an image, snapshot or database
    /// snapshot shared with an account id, a function policy for an account).
    pub const SHARED: RequestFacts = RequestFacts(1 << 1);
    /// A secret was asked for in plain text (`withDecryption: true` on SSM parameters).
    pub const DECRYPTED: RequestFacts = RequestFacts(1 << 2);
    /// The request sets an instance's user data: a script the instance runs at its next boot.
    pub const USER_DATA: RequestFacts = RequestFacts(1 << 3);
    /// The request sets a function's layers: code from elsewhere that runs inside the function.
    pub const LAYERS: RequestFacts = RequestFacts(1 << 4);
    /// A console sign-in without multi-factor authentication.
    pub const NO_MFA: RequestFacts = RequestFacts(1 << 5);
    /// The request came through a VPC endpoint (CloudTrail `vpcEndpointId`): from inside a
    /// private network, whose source address says nothing about where on the Internet it is.
    pub const VPC_ENDPOINT: RequestFacts = RequestFacts(1 << 6);

    /// Every fact with its name (as written in the risk catalogue).
    pub const NAMED: [(&'static str, RequestFacts); 7] = [
        ("public", RequestFacts::PUBLIC),
        ("shared", RequestFacts::SHARED),
        ("decrypted", RequestFacts::DECRYPTED),
        ("user-data", RequestFacts::USER_DATA),
        ("layers", RequestFacts::LAYERS),
        ("no-mfa", RequestFacts::NO_MFA),
        ("vpc-endpoint", RequestFacts::VPC_ENDPOINT),
    ];

    /// The fact named `name`, if it is one.
    pub fn by_name(name: &str) -> Option<RequestFacts> {
        RequestFacts::NAMED.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    /// Whether every fact in `other` is in `self`.
    pub fn contains(self, other: RequestFacts) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no fact is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The facts of both.
    pub fn union(self, other: RequestFacts) -> RequestFacts {
        RequestFacts(self.0 | other.0)
    }

    /// Adds `other` when `yes`.
    pub fn set_if(&mut self, yes: bool, other: RequestFacts) {
        if yes {
            self.0 |= other.0;
        }
    }

    /// The raw bits (for compact keys).
    pub fn bits(self) -> u8 {
        self.0
    }
}

impl fmt::Debug for RequestFacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = RequestFacts::NAMED.iter().filter(|(_, x)| self.contains(*x)).map(|(n, _)| *n).collect();
        write!(f, "RequestFacts({})", names.join("|"))
    }
}

impl fmt::Display for RequestFacts {
    /// The facts' names joined by ", ", as evidence text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, x) in RequestFacts::NAMED {
            if self.contains(x) && !x.is_empty() {
                if !first {
                    f.write_str(", ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_combine_and_name_themselves() {
        let mut f = RequestFacts::NONE;
        assert!(f.is_empty());
        f.set_if(true, RequestFacts::PUBLIC);
        f.set_if(false, RequestFacts::SHARED);
        assert!(f.contains(RequestFacts::PUBLIC) && !f.contains(RequestFacts::SHARED));
        assert!(f.contains(RequestFacts::NONE));
        let both = f.union(RequestFacts::DECRYPTED);
        assert_eq!(both.to_string(), "public, decrypted");
        assert_eq!(RequestFacts::by_name("user-data"), Some(RequestFacts::USER_DATA));
        assert_eq!(RequestFacts::by_name("private"), None);
        let all = RequestFacts::NAMED.iter().fold(RequestFacts::NONE, |a, (_, x)| a.union(*x));
        assert_eq!(all.bits().count_ones() as usize, RequestFacts::NAMED.len(), "each fact its own bit");
    }
}

//! The trust policy, built from `[trust]`: the keys that may sign, the names each may
//! publish, and the largest limits each publisher's packages are granted.

use p256::ecdsa::VerifyingKey;

use crate::config::{PackageLimits, TrustConfig};

/// One trusted publisher.
#[derive(Debug, Clone)]
pub struct Publisher {
    pub name: String,
    pub key: VerifyingKey,
    pub key_id: String,
    /// Exact names or globs (`*` stands for any characters but `/`).
    pub names: Vec<String>,
    pub max: PackageLimits,
}

impl Publisher {
    /// Whether this publisher may publish `package`.
    pub fn may_publish(&self, package: &str) -> bool {
        self.names.iter().any(|pattern| glob_matches(pattern, package))
    }
}

/// The publishers, in config order.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    publishers: Vec<Publisher>,
}

impl TrustPolicy {
    /// Builds the policy; the config loader has read the key files.
    pub fn from_config(trust: &TrustConfig) -> Result<TrustPolicy, String> {
        let publishers = trust
            .publishers
            .iter()
            .map(|(name, p)| {
                let key = super::sign::read_public_key(&p.key_pem)
                    .map_err(|e| format!("trust.publishers.{name}.key ({}): {e}", p.key.display()))?;
                Ok(Publisher {
                    name: name.clone(),
                    key_id: super::sign::key_id(&key),
                    key,
                    names: p.names.clone(),
                    max: PackageLimits {
                        memory_mb: Some(p.max_memory_mb),
                        deadline_ms: Some(p.max_deadline_ms),
                        fuel: p.max_fuel,
                    },
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(TrustPolicy { publishers })
    }

    pub fn publishers(&self) -> &[Publisher] {
        &self.publishers
    }
}

/// What a package gets: what it asked for (or, where it asked for nothing, what the plugin's
/// config says), never more than its publisher's maxima.
pub fn grant(requested: &PackageLimits, configured: &PackageLimits, max: &PackageLimits) -> PackageLimits {
    let clamp = |asked: Option<u64>, configured: Option<u64>, max: Option<u64>| match (asked.or(configured), max) {
        (Some(v), Some(m)) => Some(v.min(m)),
        (Some(v), None) => Some(v),
        (None, m) => m,
    };
    PackageLimits {
        memory_mb: clamp(requested.memory_mb, configured.memory_mb, max.memory_mb),
        deadline_ms: clamp(requested.deadline_ms, configured.deadline_ms, max.deadline_ms),
        fuel: clamp(requested.fuel, configured.fuel, max.fuel),
    }
}

/// `*` matches any run of characters other than `/`, `**` any run at all; everything else
/// matches itself.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) if rest.first() == Some(&b'*') => (0..=n.len()).any(|i| go(&rest[1..], &n[i..])),
            Some((b'*', rest)) => (0..=n.len()).take_while(|&i| i == 0 || n[i - 1] != b'/').any(|i| go(rest, &n[i..])),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_within_one_segment() {
        assert!(glob_matches("acme/*", "acme/pii-gate"));
        assert!(glob_matches("acme/pii-*", "acme/pii-gate"));
        assert!(glob_matches("acme/pii-gate", "acme/pii-gate"));
        assert!(!glob_matches("acme/*", "acme-evil/x"));
        assert!(!glob_matches("acme/*", "acme/x/y"));
        assert!(!glob_matches("acme/*", "evil/acme/x"));
        assert!(!glob_matches("acme/pii", "acme/pii-gate"));
        assert!(glob_matches("*/*", "a/b"));
        assert!(glob_matches("**", "a/b/c"));
        assert!(glob_matches("acme/**", "acme/b/c"));
    }

    #[test]
    fn limits_are_granted_within_the_maxima() {
        let max = PackageLimits { memory_mb: Some(64), deadline_ms: Some(20), fuel: None };
        let configured = PackageLimits { memory_mb: Some(64), deadline_ms: Some(10), fuel: None };
        let asked = PackageLimits { memory_mb: Some(512), deadline_ms: Some(5), fuel: None };
        let granted = grant(&asked, &configured, &max);
        assert_eq!(granted, PackageLimits { memory_mb: Some(64), deadline_ms: Some(5), fuel: None });
        // Nothing asked: the config's values, still clamped.
        let big = PackageLimits { memory_mb: Some(1024), deadline_ms: Some(10), fuel: None };
        assert_eq!(grant(&PackageLimits::default(), &big, &max).memory_mb, Some(64));
        let fuel_max = PackageLimits { fuel: Some(1000), ..max };
        let fuel = PackageLimits { fuel: Some(10_000), ..Default::default() };
        assert_eq!(grant(&fuel, &configured, &fuel_max).fuel, Some(1000));
    }
}

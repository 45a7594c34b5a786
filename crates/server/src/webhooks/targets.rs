//! Where a webhook may go: not to this machine, the private network, link-local addresses or a
//! cloud's metadata service, unless the operator allows private targets. Checked when the
//! endpoint is declared (an address, or a name that resolves to one) and again by the resolver of
//! every delivery, so that a name that later resolves elsewhere (DNS rebinding) is refused too.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// An address no webhook goes to unless private targets are allowed.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local() // 169.254/16, the metadata services among them
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT, 100.64/10
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
                || (a == 198 && (18..20).contains(&b)) // benchmarking, 198.18/15
                || a >= 240 // reserved, 240/4
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            let first = segments[0];
            // An IPv4 address inside: IPv4-compatible ::/96, NAT64 64:ff9b::/96 and 64:ff9b:1::/48
            // (which reach it through a translator), 6to4 2002::/16.
            let [.., g, h] = segments;
            let low_v4 = std::net::Ipv4Addr::new((g >> 8) as u8, g as u8, (h >> 8) as u8, h as u8);
            let six_to_four = std::net::Ipv4Addr::new(
                (segments[1] >> 8) as u8,
                segments[1] as u8,
                (segments[2] >> 8) as u8,
                segments[2] as u8,
            );
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local, fc00::/7 (fd00:ec2::254 among them)
                || (first & 0xffc0) == 0xfe80 // link-local, fe80::/10
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
                || (segments[..6] == [0; 6] && is_private(IpAddr::V4(low_v4)))
                || (first == 0x64 && segments[1] == 0xff9b && is_private(IpAddr::V4(low_v4)))
                || (first == 0x2002 && is_private(IpAddr::V4(six_to_four)))
        }
    }
}

/// Link-local addresses (the cloud metadata services among them): refused even where private
/// targets are allowed.
fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// Part of every refusal, so that it can be told apart inside a client's error.
pub const REFUSED_MARK: &str = "set webhook_private_targets to allow";

/// Why a target is refused.
pub fn refusal(ip: IpAddr) -> String {
    format!("{ip} is a loopback, private, link-local or metadata address ({REFUSED_MARK})")
}

/// Which targets are allowed: names as the system resolves them (or as `overrides` says, for
/// tests), refused when any address is private and such targets are not allowed.
#[derive(Debug, Clone, Default)]
pub struct TargetGuard {
    pub allow_private: bool,
    pub overrides: BTreeMap<String, IpAddr>,
}

impl TargetGuard {
    /// For the endpoints of the configuration file, as it says (`webhook_private_targets`,
    /// `dev.webhook_hosts`).
    pub fn of(settings: &crate::config::Settings) -> Self {
        Self { allow_private: settings.webhook_private_targets, overrides: settings.dev.webhook_hosts.clone() }
    }

    /// For the endpoints made in the admin area and on the command line: a brand admin never
    /// reaches the operator's own network (`webhook_private_targets` is the operator's, for the
    /// file's endpoints); only a development instance may allow it
    /// (`dev.stored_webhooks_to_private_targets`).
    pub fn for_stored(settings: &crate::config::Settings) -> Self {
        let allow_private = settings.dev.stored_webhooks_to_private_targets;
        Self { allow_private, overrides: settings.dev.webhook_hosts.clone() }
    }

    fn check(&self, ip: IpAddr) -> Result<(), String> {
        if is_link_local(ip) || (!self.allow_private && is_private(ip)) { Err(refusal(ip)) } else { Ok(()) }
    }

    /// When an endpoint is declared: an address, or a name that resolves now (blocking: at start).
    /// A name that does not resolve yet is let through; the delivery's resolver checks it.
    pub fn check_declared(&self, host: &str) -> Result<(), String> {
        if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            return self.check(ip);
        }
        if let Some(ip) = self.overrides.get(host) {
            return self.check(*ip);
        }
        use std::net::ToSocketAddrs;
        match (host, 443).to_socket_addrs() {
            Ok(addresses) => addresses.map(|a| a.ip()).try_for_each(|ip| self.check(ip)),
            Err(_) => Ok(()),
        }
    }

    /// When a delivery goes to an address given in its URL (no resolver is asked for those).
    pub fn check_literal(&self, host: &str) -> Result<(), String> {
        match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            Ok(ip) => self.check(ip),
            Err(_) => Ok(()),
        }
    }

    pub async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let addresses: Vec<IpAddr> = match self.overrides.get(host) {
            Some(ip) => vec![*ip],
            None => tokio::net::lookup_host((host, 0))
                .await
                .map_err(|e| format!("{host} does not resolve: {e}"))?
                .map(|a| a.ip())
                .collect(),
        };
        addresses.iter().try_for_each(|ip| self.check(*ip))?;
        Ok(addresses)
    }
}

/// The resolver of the webhook client, so that every connection is checked as it is made.
pub struct GuardedResolver(pub Arc<TargetGuard>);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let addresses = guard.lookup(name.as_str()).await?;
            let addrs: Addrs = Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_told_from_public_ones() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::",
            "::127.0.0.1",
            "64:ff9b::a00:5",
            "2002:a00:1::1",
            "198.18.0.1",
            "240.0.0.1",
        ] {
            assert!(is_private(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "64:ff9b::808:808"] {
            assert!(!is_private(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_a_private_address_is_refused() {
        let overrides = [("rebound.test".to_owned(), "127.0.0.9".parse().unwrap())].into();
        let guard = TargetGuard { allow_private: false, overrides };
        assert!(guard.lookup("rebound.test").await.unwrap_err().contains("127.0.0.9"));
        assert!(guard.check_declared("rebound.test").is_err());
        assert!(guard.check_declared("10.0.0.1").is_err() && guard.check_literal("[::1]").is_err());
        let allowed = TargetGuard { allow_private: true, ..guard };
        assert_eq!(allowed.lookup("rebound.test").await.unwrap(), ["127.0.0.9".parse::<IpAddr>().unwrap()]);
        assert!(allowed.check_declared("169.254.169.254").is_err(), "the metadata service never");
    }
}

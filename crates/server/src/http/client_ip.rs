//! The client address of a request that people's browsers make directly (the hosted page):
//! the connection's peer, or, behind a configured reverse proxy, the address that proxy saw.

use std::net::IpAddr;

use axum::http::HeaderMap;

fn is_trusted(address: IpAddr, trusted: &[String]) -> bool {
    !trusted.is_empty() && orderguard_domain::lists::networks_of(address).iter().any(|n| trusted.contains(n))
}

/// The peer, unless it is a trusted proxy: then the last address in `X-Forwarded-For` that is not
/// itself a trusted proxy (the first hop a client could not forge). IPv4 clients of a dual-stack
/// listener (`::ffff:a.b.c.d`) are given as IPv4.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[String]) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    let hops = forwarded.iter().flat_map(|v| v.split(',')).filter_map(|hop| hop.trim().parse::<IpAddr>().ok());
    let hops = hops.map(|hop| hop.to_canonical()).collect::<Vec<_>>();
    hops.into_iter().rev().find(|hop| !is_trusted(*hop, trusted)).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", value.parse().unwrap());
        h
    }

    #[test]
    fn ipv4_clients_of_a_dual_stack_listener_are_ipv4() {
        let mapped: IpAddr = "::ffff:198.51.100.9".parse().unwrap();
        assert_eq!(client_ip(mapped, &HeaderMap::new(), &[]), "198.51.100.9".parse::<IpAddr>().unwrap());
        let local: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(client_ip(local, &HeaderMap::new(), &[]).is_loopback());
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted = vec!["10.0.0.0/8".to_owned()];
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let outsider: IpAddr = "198.51.100.9".parse().unwrap();
        // A client cannot claim an address by sending the header itself.
        assert_eq!(client_ip(outsider, &headers("203.0.113.5"), &trusted), outsider);
        // Behind the proxy: the client the proxy saw, not what the client wrote before it.
        let seen = client_ip(proxy, &headers("192.0.2.1, 203.0.113.5, 10.9.9.9"), &trusted);
        assert_eq!(seen, "203.0.113.5".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(client_ip(proxy, &headers("203.0.113.5"), &[]), proxy, "no proxy configured");
    }
}

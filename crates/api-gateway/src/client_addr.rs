//! Who a request comes from, for per-client limits. Behind a proxy every request comes from the
//! proxy: only a proxy the operator trusts (`AGENTQ_TRUSTED_PROXIES`) may name the client, in
//! `X-Forwarded-For`, and only the hops it and other trusted proxies added count. A client
//! cannot choose its own key by sending that header itself.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// Networks from a comma-separated list of addresses and CIDR networks; the first entry that
/// is neither, on error.
pub fn parse_networks(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| entry.to_owned())
        })
        .collect()
}

/// The client's address: the peer, unless the peer is a trusted proxy; then the nearest
/// address in `X-Forwarded-For` that is not a trusted proxy (read from the right, since each
/// proxy appends the address it saw).
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    Some(client_from(peer, &forwarded, trusted))
}

fn client_from(peer: IpAddr, forwarded: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // a hop nobody can read: what lies beyond it cannot be trusted either
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// The key a client's limits are kept under: its address, or for IPv6 its /64 (one host gets
/// a whole /64 and could otherwise pick a fresh address per attempt).
pub fn limit_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let net = ipnet::Ipv6Net::new(v6, 64).map(|n| n.trunc());
            net.map_or_else(|_| v6.to_string(), |n| n.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = parse_networks("10.0.0.0/8").expect("nets");
        assert_eq!(
            client_from(ip("203.0.113.9"), &["1.2.3.4"], &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let trusted = parse_networks("10.0.0.0/8, 192.0.2.1").expect("nets");
        // a client that sends its own X-Forwarded-For cannot pick its key
        let hops = ["6.6.6.6", "198.51.100.7", "192.0.2.1"];
        assert_eq!(
            client_from(ip("10.1.2.3"), &hops, &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(client_from(ip("10.1.2.3"), &[], &trusted), ip("10.1.2.3"));
        assert_eq!(
            client_from(ip("10.1.2.3"), &["junk", "10.9.9.9"], &trusted),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn bad_entries_are_named() {
        assert_eq!(parse_networks("10.0.0.1, nope"), Err("nope".to_owned()));
        assert_eq!(parse_networks("").expect("empty"), Vec::<IpNet>::new());
    }

    #[test]
    fn ipv6_clients_share_a_key_per_64() {
        assert_eq!(
            limit_key(ip("2001:db8:1:2:aaaa::1")),
            limit_key(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            limit_key(ip("2001:db8:1:2::1")),
            limit_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(limit_key(ip("192.0.2.5")), "192.0.2.5");
    }
}

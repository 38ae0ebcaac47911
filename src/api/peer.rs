//! The client's address, for sign-in throttling: the connection's peer, or — only when that
//! peer is a configured trusted proxy (`TRUSTED_PROXIES`) — the nearest address in
//! `X-Forwarded-For` that is not one of them. A client can put anything in that header, so
//! it is read from the right (what our own proxies appended) and never believed otherwise:
//! no header moves a request to another throttling budget unless a proxy of ours wrote it.

use std::net::IpAddr;

use actix_web::{HttpRequest, web};

use crate::config::TrustedProxies;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address as text (empty when the connection has none, as in some tests).
pub fn client_address(req: &HttpRequest) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return String::new();
    };
    let proxies = req.app_data::<web::Data<TrustedProxies>>();
    match proxies {
        Some(proxies) if proxies.contains(&peer) => forwarded_client(req, proxies, peer),
        _ => peer,
    }
    .to_string()
}

/// Walks `X-Forwarded-For` (every instance, in order) from the right, past our proxies, to
/// the first address they did not vouch for; an entry that is no address ends the walk at
/// the last proxy that forwarded it.
fn forwarded_client(req: &HttpRequest, proxies: &TrustedProxies, peer: IpAddr) -> IpAddr {
    let mut client = peer;
    let hops = req
        .headers()
        .get_all(X_FORWARDED_FOR)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.into_iter().rev() {
        let Ok(address) = hop.parse::<IpAddr>() else {
            break;
        };
        client = address;
        if !proxies.contains(&address) {
            break;
        }
    }
    client
}

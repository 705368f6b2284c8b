//! Picking the address a phone on the same network can reach.
//!
//! Interfaces are ranked: the one carrying the default route first, then
//! physical-looking adapters with private addresses. Loopback, link-local
//! (169.254/16, fe80::/10) and virtual adapters (Docker, VirtualBox, VMware,
//! libvirt, VPN tunnels) are left out: a phone cannot reach them.

use std::net::IpAddr;

/// One address of one network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The interface's name (`eth0`, `wlan0`, ...).
    pub interface: String,
    /// The address.
    pub ip: IpAddr,
}

/// Name prefixes of adapters that exist only inside this machine.
const VIRTUAL: &[&str] = &[
    "docker",
    "br-",
    "veth",
    "virbr",
    "vboxnet",
    "vmnet",
    "vnet",
    "cni",
    "flannel",
    "cali",
    "weave",
    "podman",
    "lxc",
    "lxd",
    "tun",
    "tap",
    "utun",
    "zt",
    "wg",
    "tailscale",
    "ham",
    "awdl",
    "llw",
    "bridge",
    "vEthernet",
    "VirtualBox",
    "VMware",
];

fn is_virtual(name: &str) -> bool {
    VIRTUAL.iter().any(|p| name.to_ascii_lowercase().starts_with(&p.to_ascii_lowercase()))
        || name.contains("Virtual")
}

fn is_usable(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() || v4.is_multicast())
        }
        IpAddr::V6(v6) => {
            // Only global or unique-local v6; link-local (fe80::/10) needs a scope a URL cannot carry.
            let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
            !(v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || link_local)
        }
    }
}

/// Sorts usable candidates best first; `default_route` names the interface of
/// the default route when it is known.
pub fn rank(candidates: &[Candidate], default_route: Option<&str>) -> Vec<Candidate> {
    let score = |c: &Candidate| -> u8 {
        let mut s = 0;
        if Some(c.interface.as_str()) == default_route {
            s += 8;
        }
        if c.ip.is_ipv4() {
            s += 4;
        }
        let private = match c.ip {
            IpAddr::V4(v4) => v4.is_private(),
            IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
        };
        if private {
            s += 2;
        }
        let physical =
            ["en", "eth", "wl", "wlan", "Wi-Fi", "Ethernet"].iter().any(|p| c.interface.starts_with(p));
        if physical {
            s += 1;
        }
        s
    };
    let mut usable: Vec<Candidate> =
        candidates.iter().filter(|c| is_usable(&c.ip) && !is_virtual(&c.interface)).cloned().collect();
    // Stable: equal scores keep the operating system's order.
    usable.sort_by_key(|c| std::cmp::Reverse(score(c)));
    usable
}

/// This machine's phone-reachable addresses, best first.
pub fn addresses() -> Vec<IpAddr> {
    let candidates: Vec<Candidate> = match if_addrs::get_if_addrs() {
        Ok(ifs) => ifs.into_iter().map(|i| Candidate { ip: i.ip(), interface: i.name }).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list network interfaces");
            return Vec::new();
        }
    };
    let default_route = default_route_interface();
    rank(&candidates, default_route.as_deref()).into_iter().map(|c| c.ip).collect()
}

/// The interface of the IPv4 default route, read from the kernel's table on Linux.
fn default_route_interface() -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    parse_route_table(&table)
}

fn parse_route_table(table: &str) -> Option<String> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let iface = fields.next()?;
            let destination = fields.next()?;
            let metric = line.split_whitespace().nth(6)?.parse::<u32>().ok()?;
            (destination == "00000000").then(|| (metric, iface.to_owned()))
        })
        .min()
        .map(|(_, iface)| iface)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(interface: &str, ip: &str) -> Candidate {
        Candidate { interface: interface.into(), ip: ip.parse().unwrap() }
    }

    #[test]
    fn ranks_the_default_route_first_and_drops_what_a_phone_cannot_reach() {
        let all = [
            c("lo", "127.0.0.1"),
            c("docker0", "172.17.0.1"),
            c("br-1a2b", "172.18.0.1"),
            c("vboxnet0", "192.168.56.1"),
            c("eth0", "169.254.10.20"),
            c("eth0", "fe80::1"),
            c("tailscale0", "100.101.102.103"),
            c("enp3s0", "10.0.0.7"),
            c("wlp2s0", "192.168.1.23"),
            c("wlp2s0", "2001:db8::23"),
        ];
        let ranked: Vec<String> = rank(&all, Some("wlp2s0")).iter().map(|c| c.ip.to_string()).collect();
        assert_eq!(ranked, ["192.168.1.23", "2001:db8::23", "10.0.0.7"]);
        let ranked: Vec<String> = rank(&all, Some("enp3s0")).iter().map(|c| c.ip.to_string()).collect();
        assert_eq!(ranked[0], "10.0.0.7");
        let ranked: Vec<String> = rank(&all, None).iter().map(|c| c.ip.to_string()).collect();
        assert_eq!(ranked, ["10.0.0.7", "192.168.1.23", "2001:db8::23"], "IPv4 private first, OS order kept");
        assert!(rank(&[c("lo", "127.0.0.1"), c("docker0", "172.17.0.1")], None).is_empty());
    }

    #[test]
    fn reads_the_default_route_with_the_lowest_metric() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
            wlp2s0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
            enp3s0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n";
        assert_eq!(parse_route_table(table).as_deref(), Some("enp3s0"));
        assert_eq!(parse_route_table("Iface\tDestination\n"), None);
    }
}

//! The second copy of a duplicated packet. An NFQUEUE verdict passes or
//! drops the one packet it is given and cannot make two, so the copy is
//! sent anew: the queued IPv4 packet, byte for byte, through a raw socket
//! (IPPROTO_RAW, which implies IP_HDRINCL: the header is ours, not the
//! kernel's). The copy leaves through OUTPUT like the original, so it
//! would be queued again and duplicated again; it carries [`DUP_MARK`]
//! (SO_MARK on the socket, which needs CAP_NET_ADMIN), and every rule of
//! ours excludes that mark (`-m mark ! --mark`, [`crate::iptables`]).
//!
//! The kernel completes a locally generated packet's checksum before it
//! copies it to the queue (we do not ask for GSO packets, so partial
//! checksums are finished for us), so the copy's checksums are right; the
//! raw socket fills in only the IP header's own.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The mark on our copies, excluded by our rules so a copy is never
/// queued again. Low bits only: Kubernetes' proxy uses 0x4000 and 0x8000,
/// Cilium 0x0f00, Calico the top 16 bits; the match is on the exact value.
pub const DUP_MARK: u32 = 0xc4;

/// A raw IPv4 socket that sends whole packets with [`DUP_MARK`].
pub struct Duplicator {
    fd: OwnedFd,
}

impl Duplicator {
    pub fn open() -> io::Result<Duplicator> {
        // SAFETY: a new socket; the descriptor is owned from here on.
        let fd = unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::IPPROTO_RAW,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just returned by socket().
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mark = DUP_MARK;
        // SAFETY: an int option, passed with its size.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_MARK,
                &mark as *const u32 as *const libc::c_void,
                std::mem::size_of::<u32>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Duplicator { fd })
    }

    /// Sends `packet` (a whole IPv4 packet, header first) again.
    pub fn send(&self, packet: &[u8]) -> io::Result<()> {
        let destination = ipv4_destination(packet)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a whole IPv4 packet"))?;
        let mut to: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        to.sin_family = libc::AF_INET as libc::sa_family_t;
        to.sin_addr.s_addr = u32::from_ne_bytes(destination);
        // SAFETY: packet and `to` outlive the call, lengths are theirs.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                packet.as_ptr() as *const libc::c_void,
                packet.len(),
                0,
                &to as *const libc::sockaddr_in as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The destination of an IPv4 packet whose bytes are all here (its total
/// length field equals what we have): the header's bytes 16..20.
pub fn ipv4_destination(packet: &[u8]) -> Option<[u8; 4]> {
    if packet.len() < 20 || packet[0] >> 4 != 4 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if total != packet.len() {
        return None;
    }
    packet[16..20].try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_ipv4_packets_have_a_destination() {
        let mut p = vec![0u8; 28];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&28u16.to_be_bytes());
        p[16..20].copy_from_slice(&[198, 18, 0, 2]);
        assert_eq!(ipv4_destination(&p), Some([198, 18, 0, 2]));
        // Truncated by the queue's copy range: not sent as a copy.
        assert_eq!(ipv4_destination(&p[..24]), None);
        p[0] = 0x60;
        assert_eq!(ipv4_destination(&p), None, "IPv6");
        assert_eq!(ipv4_destination(&[0x45; 10]), None);
    }
}

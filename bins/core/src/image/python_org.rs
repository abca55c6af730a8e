//! Whether python.org answers: the source recipe takes CPython's tarball from python.org when
//! it does, and from Debian's source package when it does not (where only the package
//! registries can be reached).
//!
//! The question is a TCP connection to `www.python.org:443` within a few seconds: what the
//! build's `curl` needs first. A machine that cannot resolve the name answers at once; one
//! whose firewall drops the packets answers after the timeout.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The host the source recipe fetches release tarballs from.
pub const HOST: &str = "www.python.org";

/// How long a connection may take before python.org counts as unreachable.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// `Ok` when a TCP connection to [`HOST`] opens within `timeout`; else why not, in a few
/// words.
pub fn reachable(timeout: Duration) -> Result<(), String> {
    let addrs: Vec<_> = (HOST, 443)
        .to_socket_addrs()
        .map_err(|e| format!("{HOST} does not resolve: {e}"))?
        .collect();
    let mut last = format!("{HOST} has no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{HOST} ({addr}): {e}"),
        }
    }
    Err(last)
}

//! Where the server listens: unix sockets (0660, group `doca` when it exists, as docker's
//! group), TCP only with TLS unless plain TCP is asked for by name, and the sockets systemd
//! passes (`LISTEN_FDS`, sd_listen_fds(3)) for socket activation.

use crate::state::State;
use crate::Serve;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
    /// `fd://`: the sockets systemd passed.
    Systemd,
}

impl Endpoint {
    /// dockerd's `-H` forms: `unix:///path`, `tcp://addr:port`, `fd://`.
    pub fn parse(s: &str) -> Result<Endpoint, ListenError> {
        if let Some(p) = s.strip_prefix("unix://") {
            if !p.starts_with('/') {
                return Err(ListenError::BadHost(s.into()));
            }
            return Ok(Endpoint::Unix(p.into()));
        }
        if let Some(a) = s.strip_prefix("tcp://") {
            let a = a.trim_end_matches('/');
            // dockerd's default port for TLS.
            let a = if a.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) { a.to_string() } else { format!("{a}:2376") };
            return Ok(Endpoint::Tcp(a));
        }
        if s == "fd://" {
            return Ok(Endpoint::Systemd);
        }
        Err(ListenError::BadHost(s.into()))
    }
}

/// `--tlsverify --tlscacert --tlscert --tlskey`, as dockerd's flags.
#[derive(Debug, Clone)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// With `--tlsverify`: clients must present a certificate this CA signed.
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("invalid host {0:?}: use unix:///PATH, tcp://ADDR:PORT or fd://")]
    BadHost(String),
    #[error("listen on {0}: plain TCP is refused without TLS (--tlsverify --tlscacert --tlscert --tlskey), or --insecure-tcp to allow it")]
    TcpWithoutTls(String),
    #[error("listen on {endpoint}: {source}")]
    Bind { endpoint: String, source: std::io::Error },
    #[error("tls: {0}")]
    Tls(String),
    #[error("fd:// given, but systemd passed no sockets (LISTEN_FDS)")]
    NoSystemdSockets,
}

pub enum Listener {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener, Option<tokio_rustls::TlsAcceptor>),
}

/// The sockets systemd passed to this process (sd_listen_fds(3)): fds 3.. when LISTEN_PID is us.
fn systemd_sockets() -> Vec<OwnedFd> {
    let ours = std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    let n: RawFd = std::env::var("LISTEN_FDS").ok().and_then(|n| n.parse().ok()).unwrap_or(0);
    if !ours || n <= 0 {
        return Vec::new();
    }
    (3..3 + n)
        .filter(|fd| nix::fcntl::fcntl(unsafe_borrow(*fd), nix::fcntl::FcntlArg::F_GETFD).is_ok())
        .map(|fd| {
            // systemd hands these descriptors to this process alone, once: they are ours to own.
            let owned = from_raw(fd);
            // They come without FD_CLOEXEC: without it every monitor, runtime and exec the
            // server starts would hold the API's listening socket for as long as it lives.
            let _ = nix::fcntl::fcntl(&owned, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC));
            owned
        })
        .collect()
}

/// sd_listen_fds(3) passes fds by number; nothing else in this process owns them.
fn from_raw(fd: RawFd) -> OwnedFd {
    // A number from LISTEN_FDS that fcntl(F_GETFD) found open: see `systemd_sockets`.
    #[allow(unsafe_code)]
    // SAFETY: the descriptor is open (checked) and owned by no other object in this process.
    unsafe {
        OwnedFd::from_raw_fd(fd)
    }
}

fn unsafe_borrow(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    #[allow(unsafe_code)]
    // SAFETY: only used for the duration of one fcntl(F_GETFD) on a number systemd passed.
    unsafe {
        std::os::fd::BorrowedFd::borrow_raw(fd)
    }
}

fn tls_acceptor(tls: &Tls) -> Result<tokio_rustls::TlsAcceptor, ListenError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &Path, e: &dyn std::fmt::Display| ListenError::Tls(format!("{}: {e}", what.display()));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .map_err(|e| bad(&tls.cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(&tls.cert, &e))?;
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| bad(&tls.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ListenError::Tls(e.to_string()))?;
    let builder = match &tls.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).map_err(|e| bad(ca, &e))? {
                roots.add(c.map_err(|e| bad(ca, &e))?).map_err(|e| bad(ca, &e))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| ListenError::Tls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| bad(&tls.cert, &e))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A unix socket for the API: a stale socket file is replaced (dockerd does the same), any other
/// file at the path is refused; the socket is 0660, group `doca` when that group exists.
fn bind_unix(path: &Path) -> Result<std::os::unix::net::UnixListener, ListenError> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let err = |source| ListenError::Bind { endpoint: format!("unix://{}", path.display()), source };
    if let Some(dir) = path.parent() {
        if !dir.exists() {
            std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o755).recursive(true).create(dir).map_err(err)?;
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path).map_err(err)?,
        Ok(_) => return Err(err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "a file that is not a socket is there"))),
        Err(_) => {}
    }
    // Bound under a umask that leaves no other user a moment to connect before the chmod.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let l = std::os::unix::net::UnixListener::bind(path);
    nix::sys::stat::umask(old);
    let l = l.map_err(err)?;
    let group = nix::unistd::Group::from_name("doca").ok().flatten();
    let mode = if let Some(g) = &group {
        nix::unistd::chown(path, Some(nix::unistd::Uid::from_raw(0)), Some(g.gid)).map_err(|e| err(e.into()))?;
        // The group must reach the socket too: its directory (the run root, 0700) becomes
        // traversable, not readable, by the group. What is below it stays root's (0700 and
        // 0600), so the group gains the socket and nothing else.
        if let Some(dir) = path.parent() {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::metadata(dir).map_err(err)?;
            if meta.mode() & 0o011 == 0 {
                nix::unistd::chown(dir, None, Some(g.gid)).map_err(|e| err(e.into()))?;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode((meta.mode() & 0o7777) | 0o010)).map_err(err)?;
            }
        }
        0o660
    } else {
        0o600
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(err)?;
    Ok(l)
}

pub fn bind(req: &Serve) -> Result<Vec<Listener>, ListenError> {
    let acceptor = req.tls.as_ref().map(tls_acceptor).transpose()?;
    let mut out = Vec::new();
    for e in &req.endpoints {
        match e {
            Endpoint::Unix(p) => {
                let l = bind_unix(p)?;
                l.set_nonblocking(true).map_err(|source| ListenError::Bind { endpoint: p.display().to_string(), source })?;
                out.push(Listener::Unix(
                    tokio::net::UnixListener::from_std(l)
                        .map_err(|source| ListenError::Bind { endpoint: p.display().to_string(), source })?,
                ));
            }
            Endpoint::Tcp(addr) => {
                if acceptor.is_none() && !req.insecure_tcp {
                    return Err(ListenError::TcpWithoutTls(addr.clone()));
                }
                if acceptor.is_none() {
                    eprintln!(
                        "WARNING: API is accessible on tcp://{addr} without encryption: anyone who reaches it is root on this host. \
                         Use --tlsverify with certificates instead of --insecure-tcp."
                    );
                }
                let err = |source| ListenError::Bind { endpoint: format!("tcp://{addr}"), source };
                let sa: SocketAddr = addr.parse().map_err(|_| ListenError::BadHost(format!("tcp://{addr}")))?;
                let l = std::net::TcpListener::bind(sa).map_err(err)?;
                l.set_nonblocking(true).map_err(err)?;
                out.push(Listener::Tcp(tokio::net::TcpListener::from_std(l).map_err(err)?, acceptor.clone()));
            }
            Endpoint::Systemd => {
                let fds = systemd_sockets();
                if fds.is_empty() {
                    return Err(ListenError::NoSystemdSockets);
                }
                for fd in fds {
                    out.push(from_systemd(fd, acceptor.clone(), req.insecure_tcp)?);
                }
            }
        }
    }
    Ok(out)
}

fn from_systemd(fd: OwnedFd, acceptor: Option<tokio_rustls::TlsAcceptor>, insecure: bool) -> Result<Listener, ListenError> {
    let err = |source| ListenError::Bind { endpoint: "fd://".into(), source };
    let addr = nix::sys::socket::getsockname::<nix::sys::socket::SockaddrStorage>(std::os::fd::AsRawFd::as_raw_fd(&fd))
        .map_err(|e| err(e.into()))?;
    if addr.as_unix_addr().is_some() {
        let l = std::os::unix::net::UnixListener::from(fd);
        l.set_nonblocking(true).map_err(err)?;
        Ok(Listener::Unix(tokio::net::UnixListener::from_std(l).map_err(err)?))
    } else {
        if acceptor.is_none() && !insecure {
            return Err(ListenError::TcpWithoutTls("a TCP socket from systemd".into()));
        }
        let l = std::net::TcpListener::from(fd);
        l.set_nonblocking(true).map_err(err)?;
        Ok(Listener::Tcp(tokio::net::TcpListener::from_std(l).map_err(err)?, acceptor))
    }
}

/// Serves one connection: HTTP/1.1 with upgrades (attach, exec start).
async fn serve_conn<I: AsyncRead + AsyncWrite + Unpin + Send + 'static>(io: I, state: Arc<State>) {
    state.connection_opened();
    let svc_state = Arc::clone(&state);
    let svc = hyper::service::service_fn(move |req| crate::handle(Arc::clone(&svc_state), req));
    if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(io), svc).with_upgrades().await {
        tracing::debug!("connection: {e}");
    }
    state.connection_closed();
}

pub async fn accept_loop(l: Listener, state: Arc<State>) {
    loop {
        match &l {
            Listener::Unix(u) => match u.accept().await {
                Ok((s, _)) => {
                    tokio::spawn(serve_conn(s, Arc::clone(&state)));
                }
                Err(e) => accept_failed(e).await,
            },
            Listener::Tcp(t, tls) => match t.accept().await {
                Ok((s, _)) => {
                    let _ = s.set_nodelay(true);
                    let state = Arc::clone(&state);
                    match tls.clone() {
                        Some(acceptor) => {
                            tokio::spawn(async move {
                                match acceptor.accept(s).await {
                                    Ok(s) => serve_conn(s, state).await,
                                    Err(e) => tracing::info!("tls handshake: {e}"),
                                }
                            });
                        }
                        None => {
                            tokio::spawn(serve_conn(s, state));
                        }
                    }
                }
                Err(e) => accept_failed(e).await,
            },
        }
    }
}

/// EMFILE and the like: wait a little rather than spin.
async fn accept_failed(e: std::io::Error) {
    tracing::warn!("accept: {e}");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    #[test]
    fn hosts_parse_as_dockerd_takes_them() {
        assert_eq!(Endpoint::parse("unix:///run/x.sock").unwrap(), Endpoint::Unix("/run/x.sock".into()));
        assert_eq!(Endpoint::parse("tcp://127.0.0.1:2375").unwrap(), Endpoint::Tcp("127.0.0.1:2375".into()));
        assert_eq!(Endpoint::parse("tcp://127.0.0.1").unwrap(), Endpoint::Tcp("127.0.0.1:2376".into()));
        assert_eq!(Endpoint::parse("fd://").unwrap(), Endpoint::Systemd);
        assert!(Endpoint::parse("unix://relative").is_err());
        assert!(Endpoint::parse("http://x").is_err());
    }
}

//! tokio-postgres's TLS hooks implemented over tokio-rustls: the handshake and the stream, nothing else.
//! (A thin adapter of our own instead of a crate that also pulls an X.509 parser in for channel
//! binding, which trm-init does not use: SCRAM without `-PLUS` is what PostgreSQL asks by default.)

use rustls::pki_types::{InvalidDnsNameError, ServerName};
use rustls::ClientConfig;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

/// Makes a TLS connector per host name, from one rustls configuration, or none when TLS is not asked
/// for (`sslmode=disable`, `DB_SSL` unset): tokio-postgres asks for a connector before it reads the
/// mode, and a plain connection must not need trusted roots or certificates.
#[derive(Clone)]
pub(crate) struct MakeRustlsConnect(Option<Arc<ClientConfig>>);

impl MakeRustlsConnect {
    pub(crate) fn new(config: ClientConfig) -> Self {
        MakeRustlsConnect(Some(Arc::new(config)))
    }

    /// No TLS: the connector is never used, since the session's `sslmode` is `disable`.
    pub(crate) fn plain() -> Self {
        MakeRustlsConnect(None)
    }
}

pub(crate) struct RustlsConnect(Option<(Arc<ClientConfig>, ServerName<'static>)>);

pub(crate) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S> MakeTlsConnect<S> for MakeRustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = InvalidDnsNameError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, InvalidDnsNameError> {
        match &self.0 {
            None => Ok(RustlsConnect(None)),
            Some(config) => Ok(RustlsConnect(Some((config.clone(), ServerName::try_from(domain.to_string())?)))),
        }
    }
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        match self.0 {
            // Only reached if tokio-postgres tried TLS although the session's sslmode is disable.
            None => Box::pin(async {
                Err(io::Error::other("TLS was not configured for this connection (sslmode=disable)"))
            }),
            Some((config, name)) => {
                let connector = tokio_rustls::TlsConnector::from(config);
                Box::pin(async move { connector.connect(name, stream).await.map(RustlsStream) })
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

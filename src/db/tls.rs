//! The rustls client configuration for PostgreSQL: roots, client certificate, and the verification
//! level (full, chain only for `sslmode=verify-ca`, none for `DB_SSL__REJECT_UNAUTHORIZED=false`).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verify {
    /// Chain to a trusted root and the host name (node-postgres and `verify-full`).
    Full,
    /// Chain only (`sslmode=verify-ca`).
    ChainOnly,
    /// Encrypt without checking who answers (`DB_SSL__REJECT_UNAUTHORIZED=false`, `no-verify`, `prefer`).
    None,
}

pub(crate) struct TlsInput {
    pub(crate) verify: Verify,
    /// PEM CA bundle; the system's bundle when absent.
    pub(crate) ca: Option<String>,
    pub(crate) cert: Option<String>,
    pub(crate) key: Option<String>,
}

pub(crate) fn client_config(input: &TlsInput) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match input.verify {
        // Nothing is verified, so no roots are read: an unverified TLS connection needs no CA bundle.
        Verify::None => Arc::new(NoVerify(provider.clone())),
        Verify::Full => webpki_verifier(input.ca.as_deref(), &provider)?,
        Verify::ChainOnly => Arc::new(ChainOnly(webpki_verifier(input.ca.as_deref(), &provider)?)),
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match (&input.cert, &input.key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert, "client certificate (DB_SSL__CERT / sslcert)")?;
            let key = read_key(key)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| format!("client certificate and key do not fit: {e}"))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err("a client certificate needs both DB_SSL__CERT and DB_SSL__KEY (or sslcert and sslkey)".into()),
    }
}

/// The chain verifier over the given CA bundle, or the system's when none is given.
fn webpki_verifier(ca: Option<&str>, provider: &Arc<CryptoProvider>) -> Result<Arc<WebPkiServerVerifier>, String> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(pem) => {
            let certs = read_certs(pem, "CA bundle (DB_SSL__CA / sslrootcert)")?;
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err("the CA bundle (DB_SSL__CA / sslrootcert) holds no usable certificate".into());
            }
        }
        None => {
            let (path, pem) = system_ca_bundle()?;
            let certs = read_certs(&pem, &format!("system CA bundle {path}"))?;
            roots.add_parsable_certificates(certs);
        }
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("cannot build the certificate verifier: {e}"))
}

/// Where Debian, Alpine (the image's base), Fedora/RHEL and openSUSE keep the trusted roots;
/// `SSL_CERT_FILE` first, as OpenSSL and Node honour it.
const SYSTEM_BUNDLES: [&str; 3] =
    ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem"];

fn system_ca_bundle() -> Result<(String, String), String> {
    let from_env = std::env::var("SSL_CERT_FILE").ok().filter(|p| !p.is_empty());
    for path in from_env.iter().map(String::as_str).chain(SYSTEM_BUNDLES) {
        if let Ok(pem) = std::fs::read_to_string(path) {
            return Ok((path.to_string(), pem));
        }
    }
    Err(format!(
        "TLS needs trusted roots and none was found ({}, SSL_CERT_FILE unset or unreadable): \
         set DB_SSL__CA_FILE (or sslrootcert in DB_CONNECTION_STRING) to the server's CA",
        SYSTEM_BUNDLES.join(", ")
    ))
}

fn read_certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut pem.as_bytes()).collect();
    let certs = certs.map_err(|e| format!("{what} is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what} holds no PEM certificate"));
    }
    Ok(certs)
}

fn read_key(pem: &str) -> Result<PrivateKeyDer<'static>, String> {
    match rustls_pemfile::private_key(&mut pem.as_bytes()) {
        Ok(Some(key)) => Ok(key),
        Ok(None) => Err("the client key (DB_SSL__KEY / sslkey) holds no PEM private key".into()),
        Err(e) => Err(format!("the client key (DB_SSL__KEY / sslkey) is not valid PEM: {e}")),
    }
}

/// `verify-ca`: the chain must be trusted; the name may differ.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// No certificate check (the handshake signatures are still checked).
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

//! How orderguard reaches PostgreSQL: the URL's libpq TLS options (`sslmode`, `sslrootcert`,
//! `sslcert`, `sslkey`) read here, since the client library knows only `disable`, `prefer` and
//! `require`, and a rustls connector that checks the server's certificate as libpq does.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use postgres::config::SslMode as WireSslMode;
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::store::StoreError;

/// What TLS the connection uses and how much of the server's certificate is checked, as libpq's
/// `sslmode`. `prefer` and `allow` are refused: they fall back to plain text and check nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP (the default, as before TLS was supported).
    Disable,
    /// TLS; the certificate is checked only when `sslrootcert` names a CA (libpq does the same).
    Require,
    /// TLS; the certificate must chain to the CA of `sslrootcert` (needed: with the public roots
    /// any certificate of any name would pass).
    VerifyCa,
    /// TLS; the certificate must chain to a trusted CA and name the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, StoreError> {
        match value {
            "disable" => Ok(Self::Disable),
            "require" => Ok(Self::Require),
            "verify-ca" => Ok(Self::VerifyCa),
            "verify-full" => Ok(Self::VerifyFull),
            "prefer" | "allow" => Err(StoreError::Connect(format!(
                "sslmode={value} is not supported: it falls back to plain text and checks no certificate; \
                 use verify-full (or require, verify-ca, disable)"
            ))),
            other => Err(StoreError::Connect(format!(
                "sslmode={other} is not a TLS mode: use disable, require, verify-ca or verify-full"
            ))),
        }
    }
}

/// A PostgreSQL URL read into the client's configuration and the TLS to connect with.
#[derive(Clone)]
pub struct PgTarget {
    config: postgres::Config,
    tls: MakeRustlsConnect,
    pub ssl_mode: SslMode,
}

impl PgTarget {
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        let mut tls = TlsOptions::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, _) = pair.split_once('=').unwrap_or((pair, ""));
            let value = || -> Result<String, StoreError> {
                let decoded: Vec<(String, String)> = serde_urlencoded::from_str(pair)
                    .map_err(|e| StoreError::Connect(format!("invalid PostgreSQL URL option {key}: {e}")))?;
                Ok(decoded.into_iter().next().map(|(_, v)| v).unwrap_or_default())
            };
            match key {
                "sslmode" => tls.mode = Some(SslMode::parse(&value()?)?),
                "sslrootcert" => tls.root_certificate = Some(PathBuf::from(value()?)),
                "sslcert" => tls.certificate = Some(PathBuf::from(value()?)),
                "sslkey" => tls.key = Some(PathBuf::from(value()?)),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
        // The client's parse error may quote the URL, password included: say only what is wrong.
        let mut config: postgres::Config = rest.parse().map_err(|e: postgres::Error| {
            StoreError::Connect(format!("invalid PostgreSQL URL: {}", e.to_string().replace(&rest, "…")))
        })?;
        config.connect_timeout(Duration::from_secs(5));
        config.ssl_mode(if tls.mode() == SslMode::Disable { WireSslMode::Disable } else { WireSslMode::Require });
        let client_config = tls.client_config()?;
        Ok(Self { config, tls: MakeRustlsConnect::new(client_config), ssl_mode: tls.mode() })
    }

    /// A new connection (blocking: the synchronous client runs a runtime of its own).
    pub fn connect(&self) -> Result<postgres::Client, StoreError> {
        self.config
            .connect(self.tls.clone())
            .map_err(|e| StoreError::Connect(format!("cannot connect to PostgreSQL: {}", describe(&e))))
    }
}

/// The client's error with its cause: "error performing TLS handshake" alone does not say that
/// the certificate names another host.
fn describe(error: &postgres::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

#[derive(Default)]
struct TlsOptions {
    mode: Option<SslMode>,
    root_certificate: Option<PathBuf>,
    certificate: Option<PathBuf>,
    key: Option<PathBuf>,
}

impl TlsOptions {
    fn client_config(&self) -> Result<ClientConfig, StoreError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Connect(format!("TLS: {e}")))?;
        if self.mode() == SslMode::VerifyCa && self.root_certificate.is_none() {
            // Without a CA of its own, any certificate a public CA issued for any name would pass.
            return Err(StoreError::Connect(
                "sslmode=verify-ca needs sslrootcert (the CA that signed the server's certificate); \
                 or use verify-full"
                    .into(),
            ));
        }
        let roots = crate::tls::root_store(self.root_certificate.as_deref())
            .map_err(|e| StoreError::Connect(format!("sslrootcert: {e}")))?;
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| StoreError::Connect(format!("sslrootcert: {e}")))?;
        let verifier: Arc<dyn ServerCertVerifier> = match (self.mode(), &self.root_certificate) {
            (SslMode::VerifyFull, _) => webpki,
            (SslMode::VerifyCa, _) | (SslMode::Require | SslMode::Disable, Some(_)) => Arc::new(Relaxed::Name(webpki)),
            (SslMode::Require | SslMode::Disable, None) => Arc::new(Relaxed::Certificate(webpki)),
        };
        let builder = builder.dangerous().with_custom_certificate_verifier(verifier);
        match (&self.certificate, &self.key) {
            (Some(certificate), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(certificate)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| StoreError::Connect(format!("sslcert {}: {e}", certificate.display())))?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| StoreError::Connect(format!("sslkey {}: {e}", key.display())))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| StoreError::Connect(format!("sslcert and sslkey: {e}")))
            }
            (None, None) => Ok(builder.with_no_client_auth()),
            _ => Err(StoreError::Connect("sslcert and sslkey go together: name both or neither".into())),
        }
    }

    fn mode(&self) -> SslMode {
        self.mode.unwrap_or(SslMode::Disable)
    }
}

/// What `verify-ca` and `require` check less than `verify-full`: the name in the certificate
/// (`Relaxed::Name`), or the certificate altogether (`Relaxed::Certificate`, `require` without a
/// CA). The handshake's signatures are checked as always, so the server holds the key.
#[derive(Debug)]
enum Relaxed {
    Name(Arc<WebPkiServerVerifier>),
    Certificate(Arc<WebPkiServerVerifier>),
}

impl Relaxed {
    fn webpki(&self) -> &WebPkiServerVerifier {
        match self {
            Self::Name(webpki) | Self::Certificate(webpki) => webpki,
        }
    }
}

impl ServerCertVerifier for Relaxed {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Self::Name(webpki) = self else { return Ok(ServerCertVerified::assertion()) };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki().supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(url: &str) -> Result<SslMode, String> {
        PgTarget::parse(url).map(|t| t.ssl_mode).map_err(|e| e.to_string())
    }

    #[test]
    fn the_tls_options_are_read_and_the_rest_goes_to_the_client() {
        assert_eq!(mode("postgres://u@h/db"), Ok(SslMode::Disable));
        assert_eq!(mode("postgres://u@h/db?sslmode=verify-full"), Ok(SslMode::VerifyFull));
        let target =
            PgTarget::parse("postgres://u@h:5433/db?sslmode=require&options=-c%20search_path%3Dx&application_name=og")
                .unwrap();
        assert_eq!(target.ssl_mode, SslMode::Require);
        assert_eq!(target.config.get_options(), Some("-c search_path=x"));
        assert_eq!(target.config.get_application_name(), Some("og"));
        assert_eq!(target.config.get_ports(), [5433]);
    }

    #[test]
    fn modes_that_check_nothing_silently_and_unreadable_files_are_refused() {
        assert!(mode("postgres://u@h/db?sslmode=prefer").unwrap_err().contains("falls back to plain text"));
        assert!(mode("postgres://u@h/db?sslmode=maybe").unwrap_err().contains("not a TLS mode"));
        let missing = mode("postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fnowhere%2Fca.pem").unwrap_err();
        assert!(missing.contains("sslrootcert") && missing.contains("/nowhere/ca.pem"), "{missing}");
        let any_public = mode("postgres://u@h/db?sslmode=verify-ca").unwrap_err();
        assert!(any_public.contains("verify-ca needs sslrootcert"), "{any_public}");
        let half = mode("postgres://u@h/db?sslmode=verify-full&sslcert=%2Ftmp%2Fc.pem").unwrap_err();
        assert!(half.contains("go together"), "{half}");
    }

    #[test]
    fn a_bad_url_is_named_without_repeating_its_password() {
        let error = mode("postgres://u:secret-pass@h:notaport/db").unwrap_err();
        assert!(error.starts_with("invalid PostgreSQL URL") && !error.contains("secret-pass"), "{error}");
    }
}

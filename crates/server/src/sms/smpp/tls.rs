//! SMPP over TLS (rustls), for SMSCs that take binds only that way (commonly on port 3550): the
//! SMSC's certificate is checked against a private CA the operator names, else the public roots.

use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::{TlsConnector, rustls};

pub struct SmppTls {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl SmppTls {
    /// `server_name`: the name the SMSC's certificate carries (a DNS name or an IP address).
    pub fn new(server_name: &str, ca_certificate: Option<&Path>) -> Result<Self, String> {
        let roots = crate::tls::root_store(ca_certificate).map_err(|e| format!("ca_certificate {e}"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server_name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| format!("tls_server_name `{server_name}`: {e}"))?;
        Ok(Self { connector: TlsConnector::from(Arc::new(config)), server_name })
    }

    pub async fn connect(&self, stream: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        self.connector.connect(self.server_name.clone(), stream).await
    }
}

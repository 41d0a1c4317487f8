//! `--backend-store-uri postgresql://user:pass@host:port/db?sslmode=…`, in the spellings
//! MLflow users write (`postgres://`, `postgresql://`, `postgresql+psycopg2://` and the
//! other SQLAlchemy driver suffixes), turned into the driver's configuration.
//!
//! The password never leaves this module in text form: [`PgUri`]'s `Debug` and
//! [`PgUri::redacted`] print `***` in its place, and parse errors never quote the URI.

use std::fmt;

use ferroflow_core::{Error, Result};

use crate::tls::{SslMode, TlsSettings};

/// A parsed PostgreSQL store URI.
#[derive(Clone)]
pub struct PgUri {
    config: tokio_postgres::Config,
    tls: TlsSettings,
    /// The URI as given, with its password replaced by `***`.
    redacted: String,
}

impl PgUri {
    /// Whether `uri` names a PostgreSQL store (in any of the accepted spellings).
    pub fn is_postgres(uri: &str) -> bool {
        scheme_rest(uri).is_some()
    }

    pub fn parse(uri: &str) -> Result<Self> {
        let rest = scheme_rest(uri).ok_or_else(|| {
            Error::invalid_parameter("a PostgreSQL store URI starts with postgresql:// (or postgresql+psycopg2://)")
        })?;
        // tokio-postgres parses libpq's URI form itself, percent-decoding included; it
        // only knows the two plain schemes, and three of libpq's five sslmodes, so the TLS
        // parameters are taken out first (crate::tls).
        let (rest, tls) = take_tls_parameters(rest)?;
        let normalised = format!("postgresql://{rest}");
        let mut config: tokio_postgres::Config = normalised.parse().map_err(|error: tokio_postgres::Error| {
            // The driver's message names the part it could not read, never its value.
            Error::invalid_parameter(format!("invalid PostgreSQL store URI: {error}"))
        })?;
        if config.get_dbname().is_none() {
            return Err(Error::invalid_parameter(
                "the PostgreSQL store URI names no database: add it as its path, postgresql://host/dbname",
            ));
        }
        config.ssl_mode(tls.mode.driver_mode());
        Ok(PgUri { redacted: redact(uri), config, tls })
    }

    /// The URI with its password hidden, for logs and messages.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    pub fn tls(&self) -> &TlsSettings {
        &self.tls
    }

    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }
}

impl fmt::Debug for PgUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PgUri").field(&self.redacted).finish()
    }
}

impl fmt::Display for PgUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// What follows `scheme://` when the scheme is PostgreSQL's, with or without a
/// SQLAlchemy driver suffix (`postgresql+psycopg2`, `postgresql+pg8000`, …).
fn scheme_rest(uri: &str) -> Option<&str> {
    let (scheme, rest) = uri.split_once("://")?;
    let base = scheme.split_once('+').map_or(scheme, |(base, _driver)| base);
    matches!(base, "postgresql" | "postgres").then_some(rest)
}

/// Takes `sslmode` and `sslrootcert` out of the URI's query (libpq's default mode is
/// `prefer`); returns the rest of the URI and the TLS settings.
fn take_tls_parameters(rest: &str) -> Result<(String, TlsSettings)> {
    let mut tls = TlsSettings { mode: SslMode::Prefer, root_cert: None };
    let Some((head, query)) = rest.split_once('?') else { return Ok((rest.to_string(), tls)) };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
        match key {
            "sslmode" => tls.mode = SslMode::parse(&value)?,
            "sslrootcert" => tls.root_cert = Some(value.into_owned().into()),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() { head.to_string() } else { format!("{head}?{}", kept.join("&")) };
    Ok((rest, tls))
}

/// `uri` with the password of its user-info part, and any `password=` query parameter,
/// replaced by `***`.
fn redact(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else { return "***".into() };
    let (authority_end, _) = rest.char_indices().find(|(_, c)| matches!(c, '/' | '?')).unwrap_or((rest.len(), ' '));
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{user_info}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sslmode_of_libpq_is_read_and_the_root_path_decoded() {
        let tls_of = |query: &str| PgUri::parse(&format!("postgresql://ff@h/db{query}")).unwrap().tls().clone();
        assert_eq!(tls_of("").mode, SslMode::Prefer);
        assert_eq!(tls_of("?sslmode=disable").mode, SslMode::Disable);
        assert_eq!(tls_of("?sslmode=require").mode, SslMode::Require);
        let full = tls_of("?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20file.pem");
        assert_eq!(full.mode, SslMode::VerifyFull);
        assert_eq!(full.root_cert.as_deref(), Some(std::path::Path::new("/etc/ca file.pem")));
        let parsed = PgUri::parse("postgresql://ff@h/db?sslmode=verify-ca").unwrap();
        assert_eq!(parsed.config().get_ssl_mode(), tokio_postgres::config::SslMode::Require);
    }

    #[test]
    fn every_spelling_mlflow_users_write_is_accepted() {
        for uri in [
            "postgresql://ff:secret@localhost:5432/ferroflow",
            "postgres://ff:secret@localhost/ferroflow",
            "postgresql+psycopg2://ff:secret@db.internal:6543/ferroflow",
            "postgresql+pg8000://ff@localhost/ferroflow?sslmode=disable",
        ] {
            let parsed = PgUri::parse(uri).unwrap();
            assert_eq!(parsed.config().get_dbname(), Some("ferroflow"), "{uri}");
        }
        assert!(!PgUri::is_postgres("sqlite:///x.db"));
        assert!(!PgUri::is_postgres("mysql://x/y"));
    }

    #[test]
    fn the_password_is_decoded_for_the_driver_and_hidden_everywhere_else() {
        let parsed = PgUri::parse("postgresql+psycopg2://ff:p%40ss%3Aw0rd@localhost:5433/db?password=other").unwrap();
        assert_eq!(parsed.config().get_password(), Some(&b"other"[..]));
        let shown = [parsed.redacted().to_string(), format!("{parsed:?}"), parsed.to_string()];
        for text in shown {
            assert!(!text.contains("p%40ss") && !text.contains("other"), "{text}");
            assert!(text.contains("***"), "{text}");
        }
        assert_eq!(redact("postgresql://ff:s3cret@h:1/db"), "postgresql://ff:***@h:1/db");
        assert_eq!(redact("postgresql://ff@h/db"), "postgresql://ff@h/db");
    }

    #[test]
    fn unusable_uris_are_refused_without_quoting_them() {
        let no_db = PgUri::parse("postgresql://ff:topsecret@localhost").unwrap_err();
        assert!(no_db.message.contains("names no database"), "{}", no_db.message);
        let bad_port = PgUri::parse("postgresql://ff:topsecret@localhost:notaport/db").unwrap_err();
        let tls = PgUri::parse("postgresql://ff:topsecret@localhost/db?sslmode=sometimes").unwrap_err();
        for error in [no_db, bad_port, tls] {
            assert!(!error.message.contains("topsecret"), "{}", error.message);
        }
    }
}

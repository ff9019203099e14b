//! Readiness (`GET /health/ready`): the configuration checked without reading a secret. Each
//! secret is *assumed* set wherever the settings beside it say it is needed, the whole load runs
//! on that view, and a missing secret is never named: a probe anyone may call costs no secret
//! store round trip or audit entry, and tells nothing about the secrets (`/admin/status` tells
//! that to a key holder).

use crate::platform::Variables;

use super::variables::*;
use super::{Config, ConfigError};

/// The non-secret settings, read as they are, with each secret *assumed* set where the
/// settings beside it say it is needed: never read. Lets readiness check the configuration
/// without a secret read (a Vault round trip and audit entry each).
struct AssumeSecrets<'a>(&'a dyn Variables);

/// A stand-in for `api_key` that passes its rules (`openssl rand -hex 16`); never compared with
/// anything.
const ASSUMED_API_KEY: &str = "8f3da11d0b1b3305ad39c9fb22fb97e2";

impl Variables for AssumeSecrets<'_> {
    fn get(&self, name: &str) -> Result<Option<String>, crate::platform::VariableError> {
        let set = |companion: &str| -> Result<Option<String>, crate::platform::VariableError> {
            let present = matches!(self.0.get(companion)?, Some(v) if !v.trim().is_empty());
            Ok(present.then(|| "assumed".to_string()))
        };
        match name {
            API_KEY => Ok(Some(ASSUMED_API_KEY.to_string())),
            // The org admin key goes with the org id.
            ATLASSIAN_ADMIN_API_KEY => set(ATLASSIAN_ORG_ID),
            // An API token goes with the account email.
            CONFLUENCE_API_TOKEN => set(CONFLUENCE_EMAIL),
            // A bearer token goes with a cloud id and no account email.
            CONFLUENCE_BEARER_TOKEN => {
                if set(CONFLUENCE_EMAIL)?.is_some() {
                    Ok(None)
                } else {
                    set(CONFLUENCE_CLOUD_ID)
                }
            }
            _ => self.0.get(name),
        }
    }
}

/// Readiness (`GET /health/ready`): checks the non-secret settings only, assuming each secret
/// their sources need is set. Reads no secret variable; says nothing about whether the secrets
/// are set or valid (`/admin/status` tells that to a key holder).
pub fn check_ready(vars: &dyn Variables) -> Result<(), ConfigError> {
    Config::load(&AssumeSecrets(vars))
        .map(|_| ())
        .map_err(|mut e| {
            // A secret is named only when a setting beside it is missing too: leave it to that one.
            e.missing.retain(|name| !SECRET_VARIABLES.contains(name));
            e
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::vars;

    #[test]
    fn readiness_checks_public_settings_assuming_secrets() {
        // Secrets unset: readiness cannot tell, and does not try.
        let public = [
            (ATLASSIAN_ORG_ID, "org-1"),
            (CONFLUENCE_URL, "https://acme.atlassian.net"),
            (CONFLUENCE_EMAIL, "bot@acme.example"),
        ];
        assert_eq!(check_ready(&vars(&public)), Ok(()));
        assert_eq!(check_ready(&vars(&[(CONFLUENCE_CLOUD_ID, "c-1")])), Ok(()));
        // No source at all: names the non-secret settings only.
        let e = check_ready(&vars(&[])).unwrap_err();
        assert!(e.missing.contains(&ATLASSIAN_ORG_ID), "{e:?}");
        assert!(
            e.missing.iter().all(|n| !SECRET_VARIABLES.contains(n)),
            "{e:?}"
        );
        // A public setting that is wrong.
        let e = check_ready(&vars(&[
            (ATLASSIAN_ORG_ID, "org-1"),
            (ATLASSIAN_API_URL, "https://evil.example"),
        ]))
        .unwrap_err();
        assert_eq!(e.variables(), vec![ATLASSIAN_API_URL]);
        let e = check_ready(&vars(&[(CONFLUENCE_URL, "https://acme.atlassian.net")])).unwrap_err();
        assert_eq!(e.missing, vec![CONFLUENCE_EMAIL]);
    }
}

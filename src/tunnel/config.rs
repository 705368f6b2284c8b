//! The `--tunnel` flags, checked into a [`TunnelConfig`].

use super::{OauthConfig, TunnelConfig, authtoken};
use crate::cli::TunnelArgs;

impl TunnelConfig {
    /// Checks the `--tunnel` flags: `None` without `--tunnel`. The error is one
    /// sentence naming the flag to fix.
    pub fn from_args(args: &TunnelArgs) -> Result<Option<Self>, String> {
        if !args.tunnel {
            let tunnel_only = [
                (args.public, "--public"),
                (args.tunnel_domain.is_some(), "--tunnel-domain"),
                (args.tunnel_basic_auth.is_some(), "--tunnel-basic-auth"),
                (args.tunnel_oauth.is_some(), "--tunnel-oauth"),
                (args.tunnel_server_addr.is_some(), "--tunnel-server-addr"),
                (args.tunnel_ca_cert.is_some(), "--tunnel-ca-cert"),
            ];
            if let Some((_, flag)) = tunnel_only.iter().find(|(set, _)| *set) {
                return Err(format!("{flag} only applies to a tunnel; add --tunnel or drop {flag}"));
            }
            return Ok(None);
        }
        let authtoken = match args.ngrok_authtoken.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(token) => token.to_owned(),
            None => match authtoken::from_agent_config() {
                Some((token, path)) => {
                    tracing::debug!(path = %path.display(), "using the ngrok authtoken from the agent config");
                    token
                }
                None => {
                    return Err(
                        "--tunnel needs an ngrok authtoken: get one at https://dashboard.ngrok.com/get-started/your-authtoken \
                         and pass it as NGROK_AUTHTOKEN=... or --ngrok-authtoken, or save it with `ngrok config add-authtoken`"
                            .into(),
                    );
                }
            },
        };
        let basic_auth = match args.tunnel_basic_auth.as_deref() {
            None => None,
            Some(pair) => match pair.split_once(':') {
                Some((user, pass)) if !user.is_empty() && (8..=128).contains(&pass.chars().count()) => {
                    Some((user.to_owned(), pass.to_owned()))
                }
                _ => {
                    return Err(
                        "--tunnel-basic-auth must be USER:PASS with a password of 8 to 128 characters".into(),
                    );
                }
            },
        };
        let oauth = match &args.tunnel_oauth {
            None if !args.tunnel_oauth_allow.is_empty() => {
                return Err("--tunnel-oauth-allow needs --tunnel-oauth PROVIDER".into());
            }
            None => None,
            Some(provider) => {
                let (emails, domains) = args
                    .tunnel_oauth_allow
                    .iter()
                    .map(|a| a.trim().to_owned())
                    .partition(|a| a.contains('@'));
                Some(OauthConfig {
                    provider: provider.trim().to_owned(),
                    allow_emails: emails,
                    allow_domains: domains,
                })
            }
        };
        if let Some(addr) = &args.tunnel_server_addr {
            let valid = addr
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !valid {
                return Err(format!("--tunnel-server-addr {addr:?} must be HOST:PORT"));
            }
        }
        let ca_cert = match &args.tunnel_ca_cert {
            None => None,
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                format!("cannot read --tunnel-ca-cert {}: {e}; pass a readable PEM file", path.display())
            })?),
        };
        Ok(Some(Self {
            authtoken,
            domain: args.tunnel_domain.clone(),
            basic_auth,
            oauth,
            server_addr: args.tunnel_server_addr.clone(),
            ca_cert,
        }))
    }
}

//! The `--tunnel` flags, checked into a [`TunnelConfig`]: which provider, and why.

use std::path::PathBuf;

use super::{
    CloudflareConfig, LocalTunnelConfig, NgrokConfig, OauthConfig, Provider, ProviderConfig, TunnelConfig,
    authtoken, cloudflare,
};
use crate::cli::{TunnelArgs, TunnelChoice};

impl TunnelConfig {
    /// Checks the `--tunnel` flags: `None` without `--tunnel`. The error is one
    /// sentence naming the flag to fix.
    pub fn from_args(args: &TunnelArgs) -> Result<Option<Self>, String> {
        let ngrok_only = [
            (args.tunnel_domain.is_some(), "--tunnel-domain"),
            (args.tunnel_basic_auth.is_some(), "--tunnel-basic-auth"),
            (args.tunnel_oauth.is_some(), "--tunnel-oauth"),
            (!args.tunnel_oauth_allow.is_empty(), "--tunnel-oauth-allow"),
            (args.tunnel_server_addr.is_some(), "--tunnel-server-addr"),
            (args.tunnel_ca_cert.is_some(), "--tunnel-ca-cert"),
        ];
        let choice = match args.tunnel {
            None | Some(TunnelChoice::Off) => {
                let tunnel_only =
                    [(args.public, "--public"), (args.tunnel_subdomain.is_some(), "--tunnel-subdomain")];
                if let Some((_, flag)) = tunnel_only.iter().chain(&ngrok_only).find(|(set, _)| *set) {
                    return Err(format!("{flag} only applies to a tunnel; add --tunnel or drop {flag}"));
                }
                return Ok(None);
            }
            Some(choice) => choice,
        };
        let wants_ngrok = ngrok_only.iter().any(|(set, _)| *set);
        let (provider, reason) = choose(args, choice, wants_ngrok)?;
        if provider != Provider::Ngrok
            && let Some((_, flag)) = ngrok_only.iter().find(|(set, _)| *set)
        {
            return Err(format!("{flag} only works with ngrok; drop it or use --tunnel ngrok"));
        }
        if provider != Provider::LocalTunnel && args.tunnel_subdomain.is_some() {
            return Err(
                "--tunnel-subdomain only works with LocalTunnel; drop it or use --tunnel localtunnel".into(),
            );
        }
        let provider = match provider {
            Provider::Ngrok => ProviderConfig::Ngrok(ngrok(args)?),
            Provider::Cloudflare => {
                ProviderConfig::Cloudflare(CloudflareConfig { cloudflared: cloudflared(args)? })
            }
            Provider::LocalTunnel => ProviderConfig::LocalTunnel(LocalTunnelConfig::new(
                &args.localtunnel_host,
                args.tunnel_subdomain.as_deref(),
            )?),
        };
        Ok(Some(Self { provider, reason }))
    }
}

/// The provider `--tunnel` asks for, or the best one available, and the
/// banner's sentence saying which and why.
/// A flag only one provider takes (an ngrok-only flag, --tunnel-subdomain,
/// --cloudflared) picks that one; then a known authtoken picks ngrok.
fn choose(args: &TunnelArgs, choice: TunnelChoice, wants_ngrok: bool) -> Result<(Provider, String), String> {
    let provider = match choice {
        TunnelChoice::Provider(provider) => provider,
        TunnelChoice::Auto if wants_ngrok => Provider::Ngrok,
        TunnelChoice::Auto if args.tunnel_subdomain.is_some() => Provider::LocalTunnel,
        TunnelChoice::Auto if args.cloudflared.is_some() => Provider::Cloudflare,
        TunnelChoice::Auto if ngrok_authtoken(args).is_some() => Provider::Ngrok,
        TunnelChoice::Auto if cloudflare::find(None).is_some() => Provider::Cloudflare,
        TunnelChoice::Auto | TunnelChoice::Off => Provider::LocalTunnel,
    };
    let auto = choice == TunnelChoice::Auto;
    let reason = match provider {
        Provider::Ngrok if auto => "ngrok, with your authtoken".to_owned(),
        Provider::Ngrok => "ngrok".to_owned(),
        Provider::Cloudflare => {
            let path = cloudflared(args)?;
            let what = format!("a Cloudflare quick tunnel through {}", path.display());
            if auto { format!("no ngrok authtoken found; using {what}, no account needed") } else { what }
        }
        Provider::LocalTunnel => {
            let what = format!("LocalTunnel ({})", args.localtunnel_host.trim_end_matches('/'));
            if auto {
                format!("no ngrok authtoken or cloudflared found; using {what}, no account needed")
            } else {
                what
            }
        }
    };
    Ok((provider, reason))
}

/// The cloudflared to run, or where to get one.
fn cloudflared(args: &TunnelArgs) -> Result<PathBuf, String> {
    cloudflare::find(args.cloudflared.as_deref()).ok_or_else(|| match &args.cloudflared {
        Some(path) => {
            format!("--cloudflared {}: no such executable; pass the path to cloudflared", path.display())
        }
        None => format!(
            "a Cloudflare quick tunnel needs cloudflared: install it from {} or pass --cloudflared PATH",
            cloudflare::DOWNLOAD_URL
        ),
    })
}

/// The ngrok authtoken from the flag, the environment or ngrok.yml.
fn ngrok_authtoken(args: &TunnelArgs) -> Option<String> {
    match args.ngrok_authtoken.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(token) => Some(token.to_owned()),
        None => authtoken::from_agent_config().map(|(token, path)| {
            tracing::debug!(path = %path.display(), "using the ngrok authtoken from the agent config");
            token
        }),
    }
}

/// Checks the ngrok flags.
fn ngrok(args: &TunnelArgs) -> Result<NgrokConfig, String> {
    let Some(authtoken) = ngrok_authtoken(args) else {
        return Err(
            "--tunnel ngrok needs an ngrok authtoken: get one at https://dashboard.ngrok.com/get-started/your-authtoken \
             and pass it as NGROK_AUTHTOKEN=... or --ngrok-authtoken, or save it with `ngrok config add-authtoken`; \
             --tunnel cloudflare and --tunnel localtunnel need no account"
                .into(),
        );
    };
    let basic_auth = match args.tunnel_basic_auth.as_deref() {
        None => None,
        Some(pair) => match pair.split_once(':') {
            Some((user, pass)) if !user.is_empty() && (8..=128).contains(&pass.chars().count()) => {
                Some((user.to_owned(), pass.to_owned()))
            }
            _ => {
                return Err(
                    "--tunnel-basic-auth must be USER:PASS with a password of 8 to 128 characters".into()
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
            let (emails, domains) =
                args.tunnel_oauth_allow.iter().map(|a| a.trim().to_owned()).partition(|a| a.contains('@'));
            Some(OauthConfig {
                provider: provider.trim().to_owned(),
                allow_emails: emails,
                allow_domains: domains,
            })
        }
    };
    if let Some(addr) = &args.tunnel_server_addr {
        let valid =
            addr.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
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
    Ok(NgrokConfig {
        authtoken,
        domain: args.tunnel_domain.clone(),
        basic_auth,
        oauth,
        server_addr: args.tunnel_server_addr.clone(),
        ca_cert,
    })
}

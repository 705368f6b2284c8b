//! What `rtchat serve` prints on stdout once it is ready: a banner for people,
//! with a QR code of the best phone URL, or with `--json` one `ready` line for
//! programs.

pub mod qr;

use std::io::{IsTerminal, Write};

use serde_json::json;

use crate::config::Config;
use crate::info::{ServerInfo, app_link, invite_link};
use crate::store::DbTarget;
use crate::tunnel::{Provider, TunnelState, localtunnel};

/// Widest QR code drawn when the terminal's width is unknown.
const DEFAULT_WIDTH: usize = 80;

/// Prints the ready banner (or line) the way the configuration asks.
pub struct Printer {
    db: DbTarget,
    json: bool,
    qr: bool,
    token: Option<String>,
    token_generated: bool,
    room: Option<String>,
    /// The tunnel's provider and why it was chosen, with `--tunnel`.
    tunnel: Option<(Provider, String)>,
}

impl Printer {
    /// A printer for what `config` asks: banner or JSON, QR code or not.
    pub fn new(config: &Config) -> Self {
        Self {
            db: config.db.clone(),
            json: config.json,
            qr: config.qr,
            token: config.chat.token.clone(),
            token_generated: config.token_generated,
            room: config.room.clone(),
            tunnel: config.tunnel.as_ref().map(|t| (t.provider.name(), t.reason.clone())),
        }
    }

    /// Prints the banner, or the JSON ready line with `--json`.
    pub fn ready(&self, info: &ServerInfo) -> std::io::Result<()> {
        let stdout = std::io::stdout();
        let terminal = stdout.is_terminal();
        let mut out = stdout.lock();
        if self.json {
            writeln!(out, "{}", self.ready_line(info))?;
        } else {
            let color = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            out.write_all(self.banner(info, color).as_bytes())?;
            if self.qr && terminal {
                out.write_all(self.qr_block(info, terminal_width()).as_bytes())?;
            }
            out.write_all(self.footer(color).as_bytes())?;
        }
        out.flush()
    }

    /// The chat's link on this machine, with the access token and room.
    pub fn chat_link(&self, info: &ServerInfo) -> String {
        invite_link(&self.chat_url(&info.local.ui, info), self.token.as_deref(), self.room.as_deref())
    }

    /// The chat UI's URL at the `ui` URL: `/rtchat/` under it with `--app`.
    fn chat_url(&self, ui: &str, info: &ServerInfo) -> String {
        match &info.app {
            Some(app) => format!("{}{}", ui.trim_end_matches('/'), app.chat_path),
            None => ui.to_owned(),
        }
    }

    /// The link to open first: the app with `--app`, else the chat.
    pub fn open_link(&self, info: &ServerInfo) -> String {
        match &info.app {
            Some(_) => app_link(&info.local.ui, self.token.as_deref()),
            None => self.chat_link(info),
        }
    }

    /// The link a phone should open: the best phone URL with the token and
    /// room; with `--app`, the app there, authorised.
    pub fn phone_link(&self, info: &ServerInfo) -> Option<String> {
        let url = info.phone_url.as_deref()?;
        Some(match &info.app {
            Some(_) => app_link(url, self.token.as_deref()),
            None => invite_link(url, self.token.as_deref(), self.room.as_deref()),
        })
    }

    /// The `--json` ready line: one JSON object on one line.
    pub fn ready_line(&self, info: &ServerInfo) -> String {
        json!({
            "event": "ready",
            "version": info.version,
            "local": info.local,
            "ports": info.ports,
            "lan": info.lan,
            "tunnel": info.tunnel,
            "phone_link": self.phone_link(info),
            "app": info.app.as_ref().map(|app| json!({
                "target": app.target,
                "link": app_link(&info.local.ui, self.token.as_deref()),
                "chat_link": self.chat_link(info),
            })),
            "token_required": info.auth.token_required,
            "db": self.db.to_string(),
        })
        .to_string()
    }

    /// The banner's URLs and settings, with ANSI styling when `color` is set.
    pub fn banner(&self, info: &ServerInfo, color: bool) -> String {
        let (bold, dim, cyan, reset) =
            if color { ("\x1b[1m", "\x1b[2m", "\x1b[36m", "\x1b[0m") } else { ("", "", "", "") };
        let mut s = format!("\n  {bold}rtchat {}{reset} ready\n\n", info.version);
        if let Some(app) = &info.app {
            let link = app_link(&info.local.ui, self.token.as_deref());
            s += &format!(
                "  App:       {cyan}{link}{reset}  {dim}(your app at {}, through rtchat){reset}\n",
                app.target
            );
        }
        let chat = self.chat_link(info);
        s += &format!("  Chat:      {cyan}{chat}{reset}\n");
        if info.local.ui != info.local.backend {
            s += &format!(
                "  Backend:   {cyan}{}{reset}  {dim}(Socket.IO and REST API; for your own io(\"…\") clients){reset}\n",
                info.local.backend
            );
        }
        for lan in &info.lan {
            s += &format!("  Network:   {cyan}{}{reset}", lan.ui);
            if lan.ui != lan.backend {
                s += &format!("  {dim}backend {}{reset}", lan.backend);
            }
            s += "\n";
        }
        if let Some(t) = &info.tunnel {
            s += &format!(
                "  Public:    {cyan}{}{reset}  {dim}backend {} ({}){reset}\n",
                t.ui, t.backend, t.state
            );
        }
        s += &format!("  History:   {}\n", self.db);
        if let Some((_, reason)) = &self.tunnel {
            s += &format!("  Tunnel:    {reason}\n");
        }
        if let Some(token) = self.token.as_deref().filter(|_| self.token_generated) {
            s += &format!(
                "  Access:    token {token} {dim}(generated for the tunnel and put in the links; --public turns it off){reset}\n"
            );
        } else if info.auth.token_required {
            s += "  Access:    clients need the access token (it is in the links)\n";
        }
        match self.phone_link(info) {
            Some(link) => s += &format!("\n  {bold}On your phone:{reset} {cyan}{link}{reset}\n"),
            None if self.tunnel.is_some() => {
                s += &format!("\n  {dim}Opening the public tunnel; its URLs and a QR code follow.{reset}\n")
            }
            None => {
                s += &format!(
                    "\n  {dim}Only this machine can reach the chat; restart with --lan (same Wi-Fi) or --tunnel (anywhere) to join from a phone.{reset}\n"
                )
            }
        }
        s
    }

    /// Prints a tunnel state change: one JSON line with `--json`, else a few
    /// lines for people, with the public URLs and a QR code once it is up.
    pub fn tunnel(&self, state: &TunnelState, info: &ServerInfo) -> std::io::Result<()> {
        let stdout = std::io::stdout();
        let terminal = stdout.is_terminal();
        let mut out = stdout.lock();
        if self.json {
            let mut line = json!({ "event": "tunnel", "state": state.name() });
            if let Some((provider, _)) = &self.tunnel {
                line["provider"] = json!(provider);
            }
            match state {
                TunnelState::Up { ui, backend, password } => {
                    line["ui"] = json!(ui);
                    line["backend"] = json!(backend);
                    line["phone_link"] = json!(self.phone_link(info));
                    if let Some(password) = password {
                        line["password"] = json!(password);
                    }
                }
                TunnelState::Down { reason, retry_in } => {
                    line["reason"] = json!(reason);
                    line["retry_in_ms"] = json!(retry_in.as_millis() as u64);
                }
                TunnelState::Failed { reason } => line["reason"] = json!(reason),
                TunnelState::Connecting => {
                    line["reason"] = json!(self.tunnel.as_ref().map(|(_, reason)| reason));
                }
            }
            writeln!(out, "{line}")?;
            return out.flush();
        }
        let color = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let (bold, dim, cyan, reset) =
            if color { ("\x1b[1m", "\x1b[2m", "\x1b[36m", "\x1b[0m") } else { ("", "", "", "") };
        match state {
            TunnelState::Connecting => writeln!(out, "  {dim}Tunnel: connecting…{reset}")?,
            TunnelState::Down { reason, retry_in } => writeln!(
                out,
                "  Tunnel down: {reason}; retrying in {:.1}s {dim}(the local chat keeps running){reset}",
                retry_in.as_secs_f32()
            )?,
            TunnelState::Failed { reason } => writeln!(
                out,
                "  Tunnel failed: {reason}; the chat keeps running on this machine and network"
            )?,
            TunnelState::Up { ui, backend, password } => {
                let mut s = format!("\n  {bold}Tunnel up{reset}\n  Public:    {cyan}{ui}{reset}\n");
                if ui != backend {
                    s += &format!(
                        "  Backend:   {cyan}{backend}{reset}  {dim}(for your own frontends and io(\"…\") clients){reset}\n"
                    );
                }
                let localtunnel = matches!(self.tunnel, Some((Provider::LocalTunnel, _)));
                match password {
                    Some(password) => {
                        s += &format!(
                            "  Tunnel password: {bold}{password}{reset} {dim}(LocalTunnel's reminder page asks each visitor for it once){reset}\n"
                        )
                    }
                    None if localtunnel => {
                        s += &format!(
                            "  {dim}If a LocalTunnel page asks for a tunnel password, it is this machine's public IP address: {} shows it.{reset}\n",
                            localtunnel::PASSWORD_URL
                        )
                    }
                    None => {}
                }
                if let Some(link) = self.phone_link(info) {
                    s += &format!("\n  {bold}On your phone:{reset} {cyan}{link}{reset}\n");
                }
                if self.qr && terminal {
                    s += &self.qr_block(info, terminal_width());
                }
                s += "\n";
                out.write_all(s.as_bytes())?;
            }
        }
        out.flush()
    }

    /// The QR code of the phone link, or one line saying why there is none.
    pub fn qr_block(&self, info: &ServerInfo, width: usize) -> String {
        let Some(link) = self.phone_link(info) else { return String::new() };
        match qr::render(&link, width.saturating_sub(4)) {
            Ok(code) => {
                let indented: String = code.lines().map(|l| format!("    {l}\n")).collect();
                let what = if info.app.is_some() { "open your app" } else { "chat" };
                format!("\n  Scan to {what} on your phone:\n\n{indented}")
            }
            Err(e) => format!("\n  No QR code: {e}; widen the terminal or open the link above.\n"),
        }
    }

    fn footer(&self, color: bool) -> String {
        let (dim, reset) = if color { ("\x1b[2m", "\x1b[0m") } else { ("", "") };
        format!("\n  {dim}Press Ctrl-C to stop.{reset}\n\n")
    }
}

fn terminal_width() -> usize {
    match terminal_size::terminal_size() {
        Some((terminal_size::Width(w), _)) if w > 0 => usize::from(w),
        _ => DEFAULT_WIDTH,
    }
}

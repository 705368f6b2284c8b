//! What `rtchat serve` prints on stdout once it is ready: a banner for people,
//! with a QR code of the best phone URL, or with `--json` one `ready` line for
//! programs.

pub mod qr;

use std::io::{IsTerminal, Write};

use serde_json::json;

use crate::config::Config;
use crate::info::{ServerInfo, invite_link};
use crate::store::DbTarget;

/// Widest QR code drawn when the terminal's width is unknown.
const DEFAULT_WIDTH: usize = 80;

/// Prints the ready banner (or line) the way the configuration asks.
pub struct Printer {
    db: DbTarget,
    json: bool,
    qr: bool,
    token: Option<String>,
    room: Option<String>,
}

impl Printer {
    pub fn new(config: &Config) -> Self {
        Self {
            db: config.db.clone(),
            json: config.json,
            qr: config.qr,
            token: config.chat.token.clone(),
            room: config.room.clone(),
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

    /// The link a phone should open: the best phone URL with the token and room.
    pub fn phone_link(&self, info: &ServerInfo) -> Option<String> {
        info.phone_url.as_deref().map(|url| invite_link(url, self.token.as_deref(), self.room.as_deref()))
    }

    /// The `--json` ready line: one JSON object on one line.
    pub fn ready_line(&self, info: &ServerInfo) -> String {
        json!({
            "event": "ready",
            "version": info.version,
            "backend_url": info.local.backend,
            "ui_url": info.local.ui,
            "local": info.local,
            "lan": info.lan,
            "tunnel": info.tunnel,
            "phone_url": info.phone_url,
            "phone_link": self.phone_link(info),
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
        s += &format!("  Chat:      {cyan}{}{reset}\n", info.local.ui);
        if info.local.ui != info.local.backend {
            s += &format!(
                "  Backend:   {cyan}{}{reset}  {dim}(Socket.IO and REST API; the seed's io(\"…\") URL){reset}\n",
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
        if info.auth.token_required {
            s += "  Access:    clients need the access token\n";
        }
        match self.phone_link(info) {
            Some(link) => s += &format!("\n  {bold}On your phone:{reset} {cyan}{link}{reset}\n"),
            None => {
                s += &format!(
                    "\n  {dim}Only this machine can reach the chat; restart with --lan (same Wi-Fi) or --tunnel (anywhere) to join from a phone.{reset}\n"
                )
            }
        }
        s
    }

    /// The QR code of the phone link, or one line saying why there is none.
    pub fn qr_block(&self, info: &ServerInfo, width: usize) -> String {
        let Some(link) = self.phone_link(info) else { return String::new() };
        match qr::render(&link, width.saturating_sub(4)) {
            Ok(code) => {
                let indented: String = code.lines().map(|l| format!("    {l}\n")).collect();
                format!("\n  Scan to chat on your phone:\n\n{indented}")
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

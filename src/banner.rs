//! What `rtchat serve` prints on stdout once it is ready: a banner for people,
//! or with `--json` one `ready` line for programs.

use std::io::{IsTerminal, Write};

use serde_json::json;

use crate::info::ServerInfo;
use crate::store::DbTarget;

/// Prints the human banner or the JSON ready line.
pub fn print_ready(info: &ServerInfo, db: &DbTarget, json: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", ready_line(info, db))?;
    } else {
        let color =
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        out.write_all(banner(info, db, color).as_bytes())?;
    }
    out.flush()
}

/// The `--json` ready line: one JSON object on one line.
pub fn ready_line(info: &ServerInfo, db: &DbTarget) -> String {
    json!({
        "event": "ready",
        "version": info.version,
        "backend_url": info.local.backend,
        "ui_url": info.local.ui,
        "local": info.local,
        "lan": info.lan,
        "tunnel": info.tunnel,
        "phone_url": info.phone_url,
        "token_required": info.auth.token_required,
        "db": db.to_string(),
    })
    .to_string()
}

/// The banner text, with ANSI styling when `color` is set.
pub fn banner(info: &ServerInfo, db: &DbTarget, color: bool) -> String {
    let (bold, dim, cyan, reset) = if color {
        ("\x1b[1m", "\x1b[2m", "\x1b[36m", "\x1b[0m")
    } else {
        ("", "", "", "")
    };
    let mut s = format!("\n  {bold}rtchat {}{reset} ready\n\n", info.version);
    s += &format!("  Chat:      {cyan}{}{reset}\n", info.local.ui);
    if info.local.ui != info.local.backend {
        s += &format!(
            "  Backend:   {cyan}{}{reset}  {dim}(Socket.IO and REST API; the seed's io(\"…\") URL){reset}\n",
            info.local.backend
        );
    } else {
        s += &format!("  {dim}           Socket.IO and REST API on the same port{reset}\n");
    }
    for lan in &info.lan {
        s += &format!("  Network:   {cyan}{}{reset}\n", lan.ui);
    }
    if let Some(t) = &info.tunnel {
        s += &format!("  Public:    {cyan}{}{reset}  {dim}({}){reset}\n", t.ui, t.state);
    }
    s += &format!("  History:   {db}\n");
    if info.auth.token_required {
        s += "  Access:    clients need the access token (--token)\n";
    }
    if info.phone_url.is_none() {
        s += &format!(
            "\n  {dim}Only this machine can reach the chat; restart with --lan (same Wi-Fi) or --tunnel (anywhere) to join from a phone.{reset}\n"
        );
    }
    s += &format!("\n  {dim}Press Ctrl-C to stop.{reset}\n\n");
    s
}

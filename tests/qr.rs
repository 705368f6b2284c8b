//! The terminal QR code is read back as a camera would: the printed characters
//! are parsed into modules and decoded with an independent decoder (rqrr).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use rtchat::banner::qr::{QrError, render};

const HALF: char = '▀';

/// Parses drawn cells (`ESC[fg;bgm▀`) into rows of modules; `true` is dark.
fn modules(drawn: &str) -> Vec<Vec<bool>> {
    let mut rows = Vec::new();
    for line in drawn.lines().filter(|l| l.contains(HALF)) {
        let (mut top, mut bottom) = (Vec::new(), Vec::new());
        for cell in line.split('\x1b').filter(|c| c.ends_with(HALF)) {
            let codes = cell.trim_start_matches('[').trim_end_matches(HALF).trim_end_matches('m');
            let (fg, bg) = codes.split_once(';').expect("every cell sets both colours");
            assert!(["30", "97"].contains(&fg) && ["40", "107"].contains(&bg), "explicit colours: {codes}");
            top.push(fg == "30");
            bottom.push(bg == "40");
        }
        rows.push(top);
        rows.push(bottom);
    }
    rows
}

/// Decodes the one QR code in `drawn`, four pixels per module.
fn decode(drawn: &str) -> String {
    let m = modules(drawn);
    assert!(!m.is_empty(), "no QR code in:\n{drawn}");
    let scale = 4;
    let (w, h) = (m[0].len() * scale, m.len() * scale);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| if m[y / scale][x / scale] { 0 } else { 255 });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one code in the picture");
    grids[0].decode().expect("the code decodes").1
}

fn quiet_zone(drawn: &str) -> usize {
    let m = modules(drawn);
    m[0].len() - m.iter().map(|row| row.iter().rposition(|&d| d).map_or(0, |i| i + 1)).max().unwrap()
}

#[test]
fn drawn_codes_decode_to_the_exact_text() {
    for url in [
        "http://192.168.1.23:5173/",
        "https://abc-123.ngrok-free.app/#room=standup&token=0123456789abcdef0123456789abcdef",
        "http://[2001:db8::23]:5173/#room=a.b-c_d",
    ] {
        let drawn = render(url, 200).unwrap();
        assert_eq!(decode(&drawn), url);
        assert_eq!(quiet_zone(&drawn), 4, "a 4-module quiet zone when there is room");
        assert!(drawn.lines().all(|l| l.ends_with("\x1b[0m")), "colours reset at each line end");
    }
}

#[test]
fn shrinks_to_fit_then_says_how_wide_it_needs() {
    let url = "https://abc-123.ngrok-free.app/#token=0123456789abcdef0123456789abcdef";
    let width = |d: &str| d.lines().next().unwrap().matches(HALF).count();
    let roomy = render(url, 200).unwrap();
    let tight = render(url, width(&roomy) - 1).unwrap();
    assert!(width(&tight) < width(&roomy));
    assert!(quiet_zone(&tight) >= 2);
    assert_eq!(decode(&tight), url);
    match render(url, 20) {
        Err(QrError::TooWide { needed, available: 20 }) => assert!(needed > 20),
        other => panic!("{other:?}"),
    }
}

/// Runs the binary in a pseudo-terminal (util-linux `script`) so it prints its
/// QR code, and returns what it printed up to "Press Ctrl-C".
fn banner_in_a_terminal(args: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let cmd = format!(
        "stty cols 120 rows 60; exec {} serve --port 0 --ui-port 0 --db {} {args}",
        common::binary(),
        db.display()
    );
    let mut child = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script from util-linux runs the binary in a pty");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        let mut reader = stdout;
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&all).contains("Ctrl-C") {
                break;
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&all).replace("\r\n", "\n"));
    });
    let printed = rx.recv_timeout(Duration::from_secs(10)).expect("banner within 10 s");
    let _ = child.kill();
    let _ = child.wait();
    printed
}

#[test]
fn lan_banner_prints_network_urls_and_a_qr_code_of_the_phone_link() {
    let printed = banner_in_a_terminal("--lan --lan-host 192.0.2.10 --token t0k3n --room standup");
    let link = printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("On your phone:"))
        .unwrap_or_else(|| panic!("no phone link in:\n{printed}"))
        .trim()
        .to_owned();
    assert!(link.starts_with("http://192.0.2.10:"), "{link}");
    assert!(link.ends_with("/#room=standup&token=t0k3n"), "{link}");
    assert!(printed.lines().any(|l| l.trim().starts_with("Network:   http://192.0.2.10:")), "{printed}");
    assert_eq!(decode(&printed), link, "the printed QR code opens the phone link");
    // NO_COLOR keeps the rest of the banner plain; only the QR cells carry colour.
    let outside_qr: String = printed.lines().filter(|l| !l.contains(HALF)).collect();
    assert!(!outside_qr.contains('\x1b'), "{outside_qr:?}");
}

#[test]
fn no_qr_and_local_only_print_no_code() {
    let printed = banner_in_a_terminal("--lan --lan-host 192.0.2.10 --no-qr");
    assert!(printed.contains("On your phone:"));
    assert!(!printed.contains(HALF), "--no-qr prints no code");
    let printed = banner_in_a_terminal("");
    assert!(!printed.contains(HALF));
    assert!(printed.contains("--lan") && printed.contains("--tunnel"), "says how a phone can join:\n{printed}");
}

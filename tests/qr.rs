//! The terminal QR code is read back as a camera would: the printed characters
//! are parsed into modules and decoded with an independent decoder (rqrr).

mod common;

use rtchat::banner::qr::{QrError, render};

use common::qrdecode::{HALF, decode, modules, run_in_terminal};

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

fn banner_in_a_terminal(args: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    run_in_terminal(
        &format!("--port 0 --ui-port off --db {} {args}", db.display()),
        |t| t.contains("Ctrl-C"),
        &[],
    )
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
    assert!(
        printed.contains("--lan") && printed.contains("--tunnel"),
        "says how a phone can join:\n{printed}"
    );
}

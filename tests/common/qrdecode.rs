//! Reads a terminal QR code back: the printed half-block cells are parsed into
//! modules and decoded with an independent decoder (rqrr).

pub const HALF: char = '▀';

/// Parses drawn cells (`ESC[fg;bgm▀`) into rows of modules; `true` is dark.
pub fn modules(drawn: &str) -> Vec<Vec<bool>> {
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
pub fn decode(drawn: &str) -> String {
    let m = modules(drawn);
    assert!(!m.is_empty(), "no QR code in:\n{drawn}");
    let scale = 4;
    let (w, h) = (m[0].len() * scale, m.len() * scale);
    let mut img =
        rqrr::PreparedImage::prepare_from_greyscale(
            w,
            h,
            |x, y| if m[y / scale][x / scale] { 0 } else { 255 },
        );
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one code in the picture");
    grids[0].decode().expect("the code decodes").1
}

/// Runs `rtchat serve ARGS` in a pseudo-terminal (util-linux `script`) 120
/// columns wide, and returns what it printed once `done` says it has all it needs.
pub fn run_in_terminal(
    args: &str,
    done: impl Fn(&str) -> bool + Send + 'static,
    env: &[(&str, &str)],
) -> String {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let cmd = format!("stty cols 120 rows 60; exec {} serve {args}", super::binary());
    let mut child = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "off")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script from util-linux runs the binary in a pty");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            if done(&String::from_utf8_lossy(&all).replace("\r\n", "\n")) {
                break;
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&all).replace("\r\n", "\n"));
    });
    let printed = rx.recv_timeout(std::time::Duration::from_secs(15)).expect("output within 15 s");
    let _ = child.kill();
    let _ = child.wait();
    printed
}

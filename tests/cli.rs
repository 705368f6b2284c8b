//! The binary's command line: help, bad flags, taken ports, bad databases, and
//! what it prints when ready.

mod common;

use std::process::{Command, Output};

use clap::CommandFactory;

use common::{Process, binary};

fn run(args: &[&str]) -> Output {
    Command::new(binary()).args(args).env_remove("RUST_LOG").output().expect("run rtchat")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

/// Whether `text` mentions `word` as a whole word: `--lan` is not found in
/// `--lan-host`, nor `RTCHAT_LAN` in `RTCHAT_LAN_HOST`.
fn mentions(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        !text[i + word.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

#[test]
fn help_documents_every_flag_and_its_environment_variable() {
    let out = run(&["serve", "--help"]);
    assert!(out.status.success());
    // Wrapping may break a line anywhere there is a space.
    let help = String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cli = rtchat::cli::Cli::command();
    cli.build();
    let serve = cli.find_subcommand("serve").expect("a serve subcommand");
    let args: Vec<_> = serve.get_arguments().filter(|a| !a.is_hide_set()).collect();
    assert!(args.len() >= 24, "every serve flag, the global ones too: {}", args.len());
    for arg in args {
        let long = arg.get_long().unwrap_or_else(|| panic!("{} has a long flag", arg.get_id()));
        assert!(mentions(&help, &format!("--{long}")), "help lacks --{long}:\n{help}");
        if let Some(env) = arg.get_env().filter(|_| !arg.is_hide_env_set()) {
            let env = env.to_str().unwrap();
            assert!(mentions(&help, &format!("[env: {env}")), "help lacks the env var of --{long}, {env}");
        }
    }
}

#[test]
fn bad_configuration_exits_with_one_line_naming_the_fix() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let not_a_file = dir.path().to_str().unwrap().to_owned();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let under_a_file = blocker.join("chat.db");
    let in_a_missing_dir = dir.path().join("no-such-dir").join("chat.db");

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--port", &port, "--ui-port", "off", "--db", "memory"], "--port"),
        (vec!["--port", "0", "--ui-port", &port, "--db", "memory"], "--ui-port"),
        (vec!["--port", "0", "--ui-port", "off", "--db", &not_a_file], "--db"),
        (vec!["--port", "0", "--ui-port", "off", "--db", under_a_file.to_str().unwrap()], "--db"),
        (vec!["--port", "0", "--ui-port", "off", "--db", "mysql://db/chat"], "--db"),
        (
            vec!["--port", "0", "--ui-port", "off", "--db", in_a_missing_dir.to_str().unwrap()],
            "does not exist",
        ),
        (
            vec!["--port", "0", "--ui-port", "off", "--db", "memory", "--cors-origin", "not an origin"],
            "--cors-origin",
        ),
        (vec!["--port", "0", "--ui-port", "off", "--db", "memory", "--host", "chat.example"], "--host"),
        (vec!["--port", "0", "--ui-port", "off", "--db", "memory", "--host", "192.0.2.1"], "--host"),
    ];
    for (args, names) in cases {
        let mut argv = vec!["serve"];
        argv.extend(&args);
        let out = run(&argv);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} should fail");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line, got:\n{err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(err.contains(names), "{args:?}: {err} should name {names}");
        assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    }

    // With --json, a failed start is a JSON line too, where `ready` would be.
    let out = run(&["serve", "--json", "--port", "0", "--ui-port", "off", "--db", "mysql://db/chat"]);
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line on stdout");
    assert_eq!(line["event"], "error");
    assert!(line["message"].as_str().unwrap().contains("--db"), "{line}");

    let out = run(&["serve", "--port", "99999"]);
    assert_eq!(out.status.code(), Some(2), "clap rejects a bad value with exit code 2");
    assert!(stderr(&out).contains("--port"));
}

#[test]
fn json_ready_line_lists_every_url() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let p = Process::start(&["--port", "0", "--ui-port", "off", "--db", db.to_str().unwrap()]);
    let r = &p.ready;
    assert_eq!(r["version"], env!("CARGO_PKG_VERSION"));
    let backend = r["local"]["backend"].as_str().unwrap();
    assert!(backend.starts_with("http://127.0.0.1:"));
    assert_eq!(r["local"]["ui"], backend, "--ui-port off serves everything on one port");
    let port = backend.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    assert_eq!(r["ports"], serde_json::json!({ "backend": port, "ui": null }), "the port bound, not 0");
    for gone in ["backend_url", "ui_url", "phone_url"] {
        assert!(r.get(gone).is_none(), "`{gone}` duplicated another field and was removed");
    }
    assert_eq!(r["db"], db.to_str().unwrap());
    assert_eq!(r["lan"], serde_json::json!([]));
    assert_eq!(r["tunnel"], serde_json::Value::Null);
    assert_eq!(r["token_required"], false);
}

/// The port of the `http://127.0.0.1:PORT` URL that follows `label` in `banner`.
fn port_after(banner: &str, label: &str) -> u16 {
    let line =
        banner.lines().find_map(|l| l.trim().strip_prefix(label)).unwrap_or_else(|| panic!("{banner}"));
    let url = line.split_whitespace().next().unwrap();
    let port = url.strip_prefix("http://127.0.0.1:").unwrap_or_else(|| panic!("{label} {url}"));
    port.trim_end_matches('/').parse().unwrap_or_else(|_| panic!("{label} {url}"))
}

#[tokio::test]
async fn banner_names_both_ports_and_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    // Two free ports, picked by the server, for the backend and UI.
    let mut child = Command::new(binary())
        .args(["serve", "--port", "0", "--ui-port", "0", "--db", db.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut text = String::new();
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let done = line.contains("Ctrl-C");
            text.push_str(&line);
            text.push('\n');
            if done {
                break;
            }
        }
        let _ = tx.send(text);
    });
    let banner = rx.recv_timeout(std::time::Duration::from_secs(10)).expect("banner printed");
    let (ui, backend) = (port_after(&banner, "Chat:"), port_after(&banner, "Backend:"));
    assert!(ui != 0 && backend != 0 && ui != backend, "two bound ports: {banner}");
    // They are the ports the server listens on (asked before it is stopped).
    let mut health = Vec::new();
    for port in [ui, backend] {
        let status = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.map(|r| r.status());
        health.push((port, status.map_err(|e| e.to_string())));
    }
    let _ = child.kill();
    let _ = child.wait();
    for (port, status) in health {
        assert_eq!(status, Ok(reqwest::StatusCode::OK), "/healthz on port {port}");
    }
    assert!(banner.contains(db.to_str().unwrap()), "{banner}");
    assert!(banner.contains("--lan") && banner.contains("--tunnel"), "says how a phone can join: {banner}");
    assert!(!banner.contains('\x1b'), "no colour when NO_COLOR is set or stdout is not a terminal");
}

/// Even at trace level, no log line shows an access token or a user key:
/// the dependencies that print whole packets are held at info.
#[tokio::test]
async fn no_log_line_shows_a_token_or_a_user_key() {
    const TOKEN: &str = "token-that-must-stay-secret";
    const KEY: &str = "user-key-that-must-stay-secret";
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("stderr")).unwrap();
    let mut child = Command::new(binary())
        .args(["serve", "--json", "--port", "0", "--ui-port", "off", "--db", "memory", "--token", TOKEN])
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawn rtchat");
    let mut ready = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut stdout, &mut ready).unwrap();
    let url = serde_json::from_str::<serde_json::Value>(&ready).unwrap()["local"]["backend"]
        .as_str()
        .unwrap()
        .to_owned();
    let auth = serde_json::json!({ "name": "ann", "v": 1, "token": TOKEN, "userKey": KEY });
    let ann = common::Client::connect(&url, auth, "").await.expect("connects");
    common::ok(ann.request("room:join", serde_json::json!({ "room": "r" })).await);
    common::ok(ann.request("message:send", serde_json::json!({ "room": "r", "text": "logged?" })).await);
    ann.close();
    drop(ann);
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    child.wait().unwrap();
    let logged = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    assert!(logged.contains("DEBUG") && logged.contains("connected"), "debug logging was on: {logged}");
    assert!(!logged.contains(KEY) && !logged.contains(TOKEN), "a secret was logged:\n{logged}");
}

/// `rtchat` without a subcommand is `rtchat serve`, flags and all.
#[test]
fn rtchat_alone_serves() {
    let mut child = Command::new(binary())
        .args(["--json", "--port", "0", "--ui-port", "off", "--db", "memory"])
        .env("RUST_LOG", "rtchat=warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn rtchat");
    let mut ready = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut stdout, &mut ready).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap_or_else(|e| panic!("{ready:?}: {e}"));
    assert_eq!(ready["event"], "ready");
}

/// `--open` hands the chat's link (token and all) to the browser: here a
/// stand-in named by $BROWSER that reports the URL it was given.
#[test]
fn open_hands_the_chat_link_to_the_browser() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let heard = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = heard.local_addr().unwrap().port();
    let browser = dir.path().join("browser");
    std::fs::write(
        &browser,
        format!("#!/bin/bash\nexec 3<>/dev/tcp/127.0.0.1/{port}\nprintf '%s' \"$1\" >&3\n"),
    )
    .unwrap();
    std::fs::set_permissions(&browser, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut child = Command::new(binary())
        .args(["--open", "--json", "--port", "0", "--ui-port", "off", "--db", "memory", "--token", "t0k"])
        .env("BROWSER", &browser)
        .env("RUST_LOG", "rtchat=warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn rtchat");
    heard.set_nonblocking(false).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = heard.accept() {
            let mut url = String::new();
            let _ = stream.read_to_string(&mut url);
            let _ = tx.send(url);
        }
    });
    let url = rx.recv_timeout(std::time::Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
    let url = url.expect("the browser was started with a URL within 10 s");
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/#token=t0k"), "{url}");
}

//! The load generator: N Socket.IO clients over WebSockets, a room layout, and
//! S senders at a fixed total rate; prints one JSON report.
//!
//! It runs on one thread (the runner pins it to its own core) with one task per
//! connection. Each message carries the time it was due to be sent, so latency
//! includes any delay in the generator or the server's queues (no coordinated
//! omission), and a delivery is recognised by scanning for that stamp.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore, mpsc};

use crate::proc_stats::{TICKS_PER_SEC, cpu_ticks, rss_kib};
use crate::wire::{self, CLOSE, PING, PONG, TEXT};

/// Which events the clients speak.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The seed lesson's client: `joinRoom`, then `message` with a string.
    Seed,
    /// rtchat's protocol: `room:join`, then `message:send` with an ack.
    Rich,
}

#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct LoadArgs {
    /// The server's address, host:port.
    #[arg(long)]
    pub addr: String,
    /// Connections to open.
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// Clients per room; 0 keeps everyone in one room (the seed's broadcast to all).
    #[arg(long, default_value_t = 0)]
    pub room_size: usize,
    /// How many clients send, spread over the rooms; 0 means every client.
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Messages per second from all senders together; 0 only connects (idle).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    #[arg(long, value_enum, default_value_t = Mode::Seed)]
    pub mode: Mode,
    /// Seconds of sending.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Seconds at the start whose latencies are not recorded (deliveries still count).
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Seconds to wait after sending for the last deliveries.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// Connections being set up at once.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// Give up if not every client is connected and joined within this many seconds.
    #[arg(long, default_value_t = 60.0)]
    pub connect_timeout: f64,
    /// Bytes of message text.
    #[arg(long, default_value_t = 32)]
    pub text_len: usize,
    /// The server's process id, to report its memory and CPU use.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Seconds to wait with everyone connected before reading the server's memory.
    #[arg(long, default_value_t = 1.0)]
    pub settle: f64,
}

/// Percentiles in milliseconds.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Self::default();
        }
        Latency {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// What one run measured; printed as JSON.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
pub struct Report {
    pub clients: usize,
    pub connected: usize,
    pub connect_errors: usize,
    pub first_error: Option<String>,
    pub connect_secs: f64,
    pub connects_per_sec: f64,
    pub connect_latency: Latency,
    pub rooms: usize,
    pub senders: usize,
    pub offered_msgs_per_sec: f64,
    pub offered_deliveries_per_sec: f64,
    pub sent: u64,
    pub expected: u64,
    pub received: u64,
    pub missing: u64,
    pub deliveries_per_sec: f64,
    pub latency: Latency,
    pub acks: u64,
    pub ack_latency: Latency,
    pub loadgen_cpu_pct: f64,
    pub server_cpu_pct: Option<f64>,
    pub server_rss_before_kib: Option<u64>,
    pub server_rss_after_kib: Option<u64>,
    pub server_bytes_per_connection: Option<f64>,
}

/// Counters shared by every connection task (all on one thread).
struct Shared {
    epoch: Instant,
    /// Latencies of messages due before this (ns since epoch) are not recorded.
    record_from_ns: Cell<u64>,
    received: Cell<u64>,
    expected: Cell<u64>,
    last_delivery_ns: Cell<u64>,
    latency: RefCell<Histogram<u64>>,
    acks: Cell<u64>,
    /// Acks owed once sending ends (every rich message asks for one).
    expected_acks: Cell<u64>,
    ack_latency: RefCell<Histogram<u64>>,
    connect_latency: RefCell<Histogram<u64>>,
    ready: Cell<usize>,
    failed: Cell<usize>,
    first_error: RefCell<Option<String>>,
    /// Woken when a client becomes ready or fails, and when the last expected
    /// delivery or ack arrives.
    progress: Notify,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn fail(&self, e: io::Error) {
        self.failed.set(self.failed.get() + 1);
        self.first_error.borrow_mut().get_or_insert_with(|| e.to_string());
        self.progress.notify_one();
    }
}

fn histogram() -> Histogram<u64> {
    // Microseconds, from 1 µs to 10 minutes, three significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("the histogram bounds are valid")
}

/// What one client does: its place in the room layout.
struct Plan {
    host: String,
    mode: Mode,
    room: Option<String>,
    text_len: usize,
}

/// Where a client is in its handshake.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Stage {
    Opening,
    Connecting,
    Joining,
    Ready,
}

/// Ack id of the join request; message acks start after it.
const JOIN_ACK: u64 = 1;

async fn client(
    plan: Rc<Plan>,
    shared: Rc<Shared>,
    connect_slots: Rc<Semaphore>,
    mut sends: Option<mpsc::UnboundedReceiver<u64>>,
) -> io::Result<()> {
    let permit = connect_slots.acquire().await.map_err(io::Error::other)?;
    let began = Instant::now();
    let mut stream = TcpStream::connect(&plan.host).await?;
    stream.set_nodelay(true)?;
    let query = match (&plan.mode, &plan.room) {
        // rtchat puts a seed client in a room given in the handshake; the
        // peers ignore the parameter, and every client also sends `joinRoom`.
        (Mode::Seed, Some(room)) => format!("&projectId={room}"),
        _ => String::new(),
    };
    stream.write_all(&wire::upgrade_request(&plan.host, &query)).await?;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::other("the server closed the connection during the upgrade"));
        }
        if let Some(used) = wire::upgrade_response(&buf)? {
            buf.drain(..used);
            break;
        }
    }

    let mut stage = Stage::Opening;
    let mut permit = Some(permit);
    let mut out: Vec<u8> = Vec::with_capacity(256);
    let mut next_ack = JOIN_ACK + 1;
    let mut pending_acks: VecDeque<(u64, u64)> = VecDeque::new();
    loop {
        let mut at = 0;
        let now = shared.now_ns();
        while let Some((frame, used)) = wire::parse_frame(&buf[at..])? {
            at += used;
            match frame.opcode {
                TEXT => {}
                PING => {
                    wire::push_frame(&mut out, PONG, frame.payload);
                    continue;
                }
                CLOSE => return Err(io::Error::other("the server closed the WebSocket")),
                _ => continue,
            }
            let p = frame.payload;
            match p {
                [b'2', ..] => wire::push_text_frame(&mut out, b"3"),
                [b'0', ..] if stage == Stage::Opening => {
                    match plan.mode {
                        Mode::Seed => wire::push_text_frame(&mut out, b"40"),
                        Mode::Rich => wire::push_text_frame(&mut out, br#"40{"v":1}"#),
                    }
                    stage = Stage::Connecting;
                }
                [b'4', b'0', ..] if stage == Stage::Connecting => match (&plan.mode, &plan.room) {
                    // Everyone in one room: a seed client is ready once connected.
                    (Mode::Seed, None) => stage = Stage::Ready,
                    (Mode::Seed, Some(room)) => {
                        let join = format!("42{JOIN_ACK}[\"joinRoom\",\"{room}\"]");
                        wire::push_text_frame(&mut out, join.as_bytes());
                        stage = Stage::Joining;
                    }
                    (Mode::Rich, room) => {
                        let room = room.as_deref().unwrap_or("bench");
                        let join = format!("42{JOIN_ACK}[\"room:join\",{{\"room\":\"{room}\"}}]");
                        wire::push_text_frame(&mut out, join.as_bytes());
                        stage = Stage::Joining;
                    }
                },
                [b'4', b'2', ..] => {
                    if let Some(sent) = wire::find_stamp(p) {
                        let received = shared.received.get() + 1;
                        shared.received.set(received);
                        shared.last_delivery_ns.set(now);
                        if sent >= shared.record_from_ns.get() {
                            shared.latency.borrow_mut().saturating_record(now.saturating_sub(sent) / 1000);
                        }
                        if received == shared.expected.get() {
                            shared.progress.notify_one();
                        }
                    }
                }
                [b'4', b'3', body @ ..] => match wire::ack_id(body) {
                    Some(JOIN_ACK) if stage == Stage::Joining => stage = Stage::Ready,
                    Some(id) => {
                        if let Some(i) = pending_acks.iter().position(|(pending, _)| *pending == id) {
                            let (_, sent) = pending_acks.remove(i).expect("the position was just found");
                            let acks = shared.acks.get() + 1;
                            shared.acks.set(acks);
                            if acks == shared.expected_acks.get() {
                                shared.progress.notify_one();
                            }
                            if sent >= shared.record_from_ns.get() {
                                shared
                                    .ack_latency
                                    .borrow_mut()
                                    .saturating_record(now.saturating_sub(sent) / 1000);
                            }
                        }
                    }
                    None => {}
                },
                [b'4', b'4', ..] => {
                    let why = String::from_utf8_lossy(p).into_owned();
                    return Err(io::Error::other(format!("the server refused the connection: {why}")));
                }
                [b'4', b'1', ..] => return Err(io::Error::other("the server disconnected the client")),
                _ => {}
            }
            if stage == Stage::Ready && permit.is_some() {
                permit = None;
                shared.connect_latency.borrow_mut().saturating_record(began.elapsed().as_micros() as u64);
                shared.ready.set(shared.ready.get() + 1);
                shared.progress.notify_one();
            }
        }
        buf.drain(..at);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        tokio::select! {
            due = async { sends.as_mut()?.recv().await }, if stage == Stage::Ready && sends.is_some() => {
                let Some(due) = due else {
                    sends = None;
                    continue;
                };
                let text = wire::stamped_text(due, plan.text_len);
                let packet = match (plan.mode, &plan.room) {
                    (Mode::Seed, _) => format!("42[\"message\",\"{text}\"]"),
                    (Mode::Rich, room) => {
                        let id = next_ack;
                        next_ack += 1;
                        pending_acks.push_back((id, due));
                        let room = room.as_deref().unwrap_or("bench");
                        format!("42{id}[\"message:send\",{{\"room\":\"{room}\",\"text\":\"{text}\"}}]")
                    }
                };
                wire::push_text_frame(&mut out, packet.as_bytes());
                stream.write_all(&out).await?;
                out.clear();
            }
            read = stream.read_buf(&mut buf) => {
                if read? == 0 {
                    return Err(io::Error::other("the server closed the connection"));
                }
            }
        }
    }
}

/// Runs one load and returns what it measured.
pub fn run(args: &LoadArgs) -> anyhow::Result<Report> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, drive(args))
}

async fn drive(args: &LoadArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.clients > 0, "--clients must be at least 1");
    let shared = Rc::new(Shared {
        epoch: Instant::now(),
        record_from_ns: Cell::new(u64::MAX),
        received: Cell::new(0),
        expected: Cell::new(u64::MAX),
        last_delivery_ns: Cell::new(0),
        latency: RefCell::new(histogram()),
        acks: Cell::new(0),
        expected_acks: Cell::new(u64::MAX),
        ack_latency: RefCell::new(histogram()),
        connect_latency: RefCell::new(histogram()),
        ready: Cell::new(0),
        failed: Cell::new(0),
        first_error: RefCell::new(None),
        progress: Notify::new(),
    });
    let server_rss_before = args.server_pid.and_then(rss_kib);

    // The room layout: client i is in room i / room_size.
    let room_of = |i: usize| (args.room_size > 0).then(|| format!("r{}", i / args.room_size));
    let members = |i: usize| -> u64 {
        if args.room_size == 0 {
            return args.clients as u64;
        }
        let first = i / args.room_size * args.room_size;
        (args.clients.min(first + args.room_size) - first) as u64
    };
    let rooms = if args.room_size == 0 { 1 } else { args.clients.div_ceil(args.room_size) };
    let senders = if args.senders == 0 { args.clients } else { args.senders.min(args.clients) };
    // Senders are spread evenly over the clients, and so over the rooms.
    let sender_index = |k: usize| k * args.clients / senders;

    let slots = Rc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let mut outlets = Vec::new();
    let mut sender_members = Vec::new();
    let started = Instant::now();
    let mut next_sender = 0;
    for i in 0..args.clients {
        let plan = Rc::new(Plan {
            host: args.addr.clone(),
            mode: args.mode,
            room: room_of(i),
            text_len: args.text_len,
        });
        let mut rx = None;
        if next_sender < senders && i == sender_index(next_sender) {
            let (tx, sends) = mpsc::unbounded_channel();
            rx = Some(sends);
            outlets.push(tx);
            sender_members.push(members(i));
            next_sender += 1;
        }
        let shared = shared.clone();
        let slots = slots.clone();
        tokio::task::spawn_local(async move {
            if let Err(e) = client(plan, shared.clone(), slots, rx).await {
                shared.fail(e);
            }
        });
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(args.connect_timeout);
    while shared.ready.get() + shared.failed.get() < args.clients {
        if tokio::time::timeout_at(deadline, shared.progress.notified()).await.is_err() {
            break;
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    let connected = shared.ready.get();
    let mut report = Report {
        clients: args.clients,
        connected,
        connect_errors: args.clients - connected,
        first_error: shared.first_error.borrow().clone(),
        connect_secs,
        connects_per_sec: connected as f64 / connect_secs,
        connect_latency: Latency::of(&shared.connect_latency.borrow()),
        rooms,
        senders,
        ..Report::default()
    };

    // CPU use is measured over the sending window (or the settle time when idle).
    let cpu_before = cpu_now(args);
    let window = Instant::now();
    let mut cpu_after = None;
    if args.rate > 0.0 && connected == args.clients {
        let sent = send_phase(args, &shared, &outlets, &sender_members, &mut cpu_after).await;
        (report.sent, report.deliveries_per_sec) = sent;
        report.offered_msgs_per_sec = args.rate;
        let mean_members = sender_members.iter().sum::<u64>() as f64 / sender_members.len() as f64;
        report.offered_deliveries_per_sec = args.rate * mean_members;
    } else if args.rate == 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    }
    let (wall, after) = cpu_after.unwrap_or_else(|| (window.elapsed().as_secs_f64(), cpu_now(args)));
    let pct = |before: Option<u64>, after: Option<u64>| {
        Some(after?.checked_sub(before?)? as f64 / TICKS_PER_SEC / wall * 100.0)
    };
    report.loadgen_cpu_pct = pct(cpu_before.0, after.0).unwrap_or(0.0);
    report.server_cpu_pct = pct(cpu_before.1, after.1);
    report.server_rss_before_kib = server_rss_before;
    report.server_rss_after_kib = args.server_pid.and_then(rss_kib);
    if let (Some(before), Some(after)) = (report.server_rss_before_kib, report.server_rss_after_kib) {
        report.server_bytes_per_connection =
            Some((after as f64 - before as f64) * 1024.0 / connected.max(1) as f64);
    }

    let expected = shared.expected.get();
    if expected != u64::MAX {
        report.expected = expected;
        report.received = shared.received.get();
        report.missing = expected.saturating_sub(report.received);
    }
    report.latency = Latency::of(&shared.latency.borrow());
    report.acks = shared.acks.get();
    report.ack_latency = Latency::of(&shared.ack_latency.borrow());
    Ok(report)
}

/// Sends at the offered rate for the run's duration, then waits for the last
/// deliveries; returns the messages sent and the deliveries per second achieved.
async fn send_phase(
    args: &LoadArgs,
    shared: &Shared,
    outlets: &[mpsc::UnboundedSender<u64>],
    members: &[u64],
    cpu_after: &mut Option<(f64, CpuNow)>,
) -> (u64, f64) {
    let window = Instant::now();
    let start = shared.now_ns();
    shared.record_from_ns.set(start + (args.warmup * 1e9) as u64);
    let total = (args.rate * args.duration).round() as u64;
    let gap_ns = 1e9 / args.rate;
    let (mut sent, mut expected) = (0u64, 0u64);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while sent < total {
        tick.tick().await;
        let now = shared.now_ns();
        while sent < total {
            let due = start + (sent as f64 * gap_ns) as u64;
            if due > now {
                break;
            }
            let k = (sent % outlets.len() as u64) as usize;
            // A sender whose connection failed is already counted as an error.
            let _ = outlets[k].send(due);
            expected += members[k];
            sent += 1;
        }
    }
    *cpu_after = Some((window.elapsed().as_secs_f64(), cpu_now(args)));
    shared.expected.set(expected);
    let expected_acks = if args.mode == Mode::Rich { sent } else { 0 };
    shared.expected_acks.set(expected_acks);
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(args.drain);
    while shared.received.get() < expected || shared.acks.get() < expected_acks {
        if tokio::time::timeout_at(deadline, shared.progress.notified()).await.is_err() {
            break;
        }
    }
    let span_ns = shared.last_delivery_ns.get().saturating_sub(start).max(1);
    (sent, shared.received.get() as f64 / (span_ns as f64 / 1e9))
}

/// CPU ticks used so far by the generator and the server.
type CpuNow = (Option<u64>, Option<u64>);

fn cpu_now(args: &LoadArgs) -> CpuNow {
    (cpu_ticks(std::process::id()), args.server_pid.and_then(cpu_ticks))
}

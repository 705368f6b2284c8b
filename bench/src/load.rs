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
use tokio::sync::{Notify, Semaphore, SemaphorePermit, mpsc};

use crate::proc_stats::{TICKS_PER_SEC, cpu_ticks, rss_kib};
use crate::wire::{self, CLOSE, Frame, PING, PONG, TEXT};

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
    /// Counters at zero, with the epoch now; nothing is expected or recorded
    /// until sending starts.
    fn new() -> Self {
        Shared {
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
        }
    }

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

impl Plan {
    /// Extra query parameters for the upgrade request.
    fn query(&self) -> String {
        match (self.mode, &self.room) {
            // rtchat puts a seed client in a room given in the handshake; the
            // peers ignore the parameter, and every client also sends `joinRoom`.
            (Mode::Seed, Some(room)) => format!("&projectId={room}"),
            _ => String::new(),
        }
    }
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

/// One client: connects, joins its room, then answers the server and sends
/// each message its channel hands it, until the connection fails.
async fn client(
    plan: Plan,
    shared: Rc<Shared>,
    connect_slots: Rc<Semaphore>,
    mut sends: Option<mpsc::UnboundedReceiver<u64>>,
) -> io::Result<()> {
    let permit = connect_slots.acquire().await.map_err(io::Error::other)?;
    let mut conn = Conn::open(plan, shared, permit).await?;
    loop {
        conn.handle_received()?;
        conn.flush().await?;
        tokio::select! {
            due = async { sends.as_mut()?.recv().await }, if conn.is_ready() && sends.is_some() => match due {
                Some(due) => conn.send(due).await?,
                None => sends = None,
            },
            read = conn.read() => read?,
        }
    }
}

/// A client's WebSocket connection: the socket, the bytes read but not yet
/// handled, and the Socket.IO session it carries. The session is a field of
/// its own so that a frame borrowed from the buffer can be handed to it.
struct Conn<'a> {
    stream: TcpStream,
    buf: Vec<u8>,
    session: Session<'a>,
}

impl<'a> Conn<'a> {
    /// Connects and upgrades to a WebSocket; `permit` is held until the
    /// client is ready.
    async fn open(plan: Plan, shared: Rc<Shared>, permit: SemaphorePermit<'a>) -> io::Result<Self> {
        let began = Instant::now();
        let mut stream = TcpStream::connect(&plan.host).await?;
        stream.set_nodelay(true)?;
        stream.write_all(&wire::upgrade_request(&plan.host, &plan.query())).await?;
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
        Ok(Conn { stream, buf, session: Session::new(plan, shared, permit, began) })
    }

    /// Connected and joined, so it may send.
    fn is_ready(&self) -> bool {
        self.session.stage == Stage::Ready
    }

    /// Handles every complete frame in the read buffer, in place, and drops
    /// them from it; replies wait in the session's output.
    fn handle_received(&mut self) -> io::Result<()> {
        let mut at = 0;
        let now = self.session.shared.now_ns();
        while let Some((frame, used)) = wire::parse_frame(&self.buf[at..])? {
            at += used;
            self.session.on_frame(frame, now)?;
        }
        self.buf.drain(..at);
        Ok(())
    }

    /// Writes whatever the session has queued.
    async fn flush(&mut self) -> io::Result<()> {
        if !self.session.out.is_empty() {
            self.stream.write_all(&self.session.out).await?;
            self.session.out.clear();
        }
        Ok(())
    }

    /// Sends the message due at `due` (ns since the epoch) now.
    async fn send(&mut self, due: u64) -> io::Result<()> {
        self.session.queue_message(due);
        self.flush().await
    }

    /// Reads more bytes into the buffer; the server closing is an error.
    async fn read(&mut self) -> io::Result<()> {
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(io::Error::other("the server closed the connection"));
        }
        Ok(())
    }
}

/// A client's Engine.IO and Socket.IO session: where it is in the handshake,
/// its messages awaiting acks, and the frames queued to send. It has one
/// method per kind of packet the server sends.
struct Session<'a> {
    plan: Plan,
    shared: Rc<Shared>,
    stage: Stage,
    /// A connect slot, held from the TCP connect until the client is ready.
    permit: Option<SemaphorePermit<'a>>,
    began: Instant,
    out: Vec<u8>,
    next_ack: u64,
    /// Ack ids of the messages sent but not yet acked, with their due times.
    pending_acks: VecDeque<(u64, u64)>,
}

impl<'a> Session<'a> {
    fn new(plan: Plan, shared: Rc<Shared>, permit: SemaphorePermit<'a>, began: Instant) -> Self {
        Session {
            plan,
            shared,
            stage: Stage::Opening,
            permit: Some(permit),
            began,
            out: Vec::with_capacity(256),
            next_ack: JOIN_ACK + 1,
            pending_acks: VecDeque::new(),
        }
    }

    /// A WebSocket frame, read at `now`: text holds an Engine.IO packet.
    fn on_frame(&mut self, frame: Frame<'_>, now: u64) -> io::Result<()> {
        match frame.opcode {
            TEXT => self.on_packet(frame.payload, now),
            PING => {
                self.on_ws_ping(frame.payload);
                Ok(())
            }
            CLOSE => Err(io::Error::other("the server closed the WebSocket")),
            _ => Ok(()),
        }
    }

    /// An Engine.IO packet, or a Socket.IO one inside an Engine.IO message (`4`).
    fn on_packet(&mut self, p: &[u8], now: u64) -> io::Result<()> {
        match p {
            [b'2', ..] => self.on_ping(),
            [b'0', ..] if self.stage == Stage::Opening => self.on_open(),
            [b'4', b'0', ..] if self.stage == Stage::Connecting => self.on_connect(),
            [b'4', b'2', ..] => self.on_event(p, now),
            [b'4', b'3', body @ ..] => self.on_ack(body, now),
            [b'4', b'4', ..] => {
                let why = String::from_utf8_lossy(p).into_owned();
                return Err(io::Error::other(format!("the server refused the connection: {why}")));
            }
            [b'4', b'1', ..] => return Err(io::Error::other("the server disconnected the client")),
            _ => {}
        }
        Ok(())
    }

    /// A WebSocket ping: pong with the same payload.
    fn on_ws_ping(&mut self, payload: &[u8]) {
        wire::push_frame(&mut self.out, PONG, payload);
    }

    /// An Engine.IO ping: pong.
    fn on_ping(&mut self) {
        wire::push_text_frame(&mut self.out, b"3");
    }

    /// The Engine.IO open packet: connect to the main Socket.IO namespace.
    fn on_open(&mut self) {
        match self.plan.mode {
            Mode::Seed => wire::push_text_frame(&mut self.out, b"40"),
            Mode::Rich => wire::push_text_frame(&mut self.out, br#"40{"v":1}"#),
        }
        self.stage = Stage::Connecting;
    }

    /// Socket.IO connected: join the client's room, or be ready if a seed
    /// client has none (everyone in one room).
    fn on_connect(&mut self) {
        let join = match (self.plan.mode, &self.plan.room) {
            // Everyone in one room: a seed client is ready once connected.
            (Mode::Seed, None) => {
                self.set_ready();
                return;
            }
            (Mode::Seed, Some(room)) => format!("42{JOIN_ACK}[\"joinRoom\",\"{room}\"]"),
            (Mode::Rich, room) => {
                let room = room.as_deref().unwrap_or("bench");
                format!("42{JOIN_ACK}[\"room:join\",{{\"room\":\"{room}\"}}]")
            }
        };
        wire::push_text_frame(&mut self.out, join.as_bytes());
        self.stage = Stage::Joining;
    }

    /// A Socket.IO event: a delivery if it carries a message's stamp.
    fn on_event(&self, p: &[u8], now: u64) {
        let Some(sent) = wire::find_stamp(p) else {
            return;
        };
        let shared = &self.shared;
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

    /// A Socket.IO ack (the body follows `43`): of the join, or of a message.
    fn on_ack(&mut self, body: &[u8], now: u64) {
        match wire::ack_id(body) {
            Some(JOIN_ACK) if self.stage == Stage::Joining => self.set_ready(),
            Some(id) => self.on_message_ack(id, now),
            None => {}
        }
    }

    /// An ack of a message sent by this client: counted, and timed from its due time.
    fn on_message_ack(&mut self, id: u64, now: u64) {
        let Some(i) = self.pending_acks.iter().position(|(pending, _)| *pending == id) else {
            return;
        };
        let (_, sent) = self.pending_acks.remove(i).expect("the position was just found");
        let shared = &self.shared;
        let acks = shared.acks.get() + 1;
        shared.acks.set(acks);
        if acks == shared.expected_acks.get() {
            shared.progress.notify_one();
        }
        if sent >= shared.record_from_ns.get() {
            shared.ack_latency.borrow_mut().saturating_record(now.saturating_sub(sent) / 1000);
        }
    }

    /// Connected and joined: free the connect slot and count the client ready.
    fn set_ready(&mut self) {
        self.stage = Stage::Ready;
        if self.permit.take().is_some() {
            let shared = &self.shared;
            shared.connect_latency.borrow_mut().saturating_record(self.began.elapsed().as_micros() as u64);
            shared.ready.set(shared.ready.get() + 1);
            shared.progress.notify_one();
        }
    }

    /// Queues the message due at `due`; a rich one asks for an ack.
    fn queue_message(&mut self, due: u64) {
        let text = wire::stamped_text(due, self.plan.text_len);
        let packet = match (self.plan.mode, &self.plan.room) {
            (Mode::Seed, _) => format!("42[\"message\",\"{text}\"]"),
            (Mode::Rich, room) => {
                let id = self.next_ack;
                self.next_ack += 1;
                self.pending_acks.push_back((id, due));
                let room = room.as_deref().unwrap_or("bench");
                format!("42{id}[\"message:send\",{{\"room\":\"{room}\",\"text\":\"{text}\"}}]")
            }
        };
        wire::push_text_frame(&mut self.out, packet.as_bytes());
    }
}

/// Runs one load and returns what it measured.
pub fn run(args: &LoadArgs) -> anyhow::Result<Report> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, drive(args))
}

/// Connects every client, offers the load, and reports.
async fn drive(args: &LoadArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.clients > 0, "--clients must be at least 1");
    let shared = Rc::new(Shared::new());
    let server_rss_before = args.server_pid.and_then(rss_kib);
    let layout = Layout::new(args);
    let started = Instant::now();
    let senders = spawn_clients(args, &layout, &shared);
    let mut report = connect_phase(args, &layout, &shared, started).await;
    load_phase(args, &shared, &senders, &mut report).await;
    report_memory(args, server_rss_before, &mut report);
    report_deliveries(&shared, &mut report);
    Ok(report)
}

/// The room layout: client i is in room i / room_size (everyone in one room
/// when room_size is 0), and the senders are spread evenly over the clients,
/// and so over the rooms.
struct Layout {
    clients: usize,
    room_size: usize,
    rooms: usize,
    senders: usize,
}

impl Layout {
    fn new(args: &LoadArgs) -> Self {
        let (clients, room_size) = (args.clients, args.room_size);
        Layout {
            clients,
            room_size,
            rooms: if room_size == 0 { 1 } else { clients.div_ceil(room_size) },
            senders: if args.senders == 0 { clients } else { args.senders.min(clients) },
        }
    }

    fn room_of(&self, i: usize) -> Option<String> {
        (self.room_size > 0).then(|| format!("r{}", i / self.room_size))
    }

    /// How many clients share client i's room.
    fn members(&self, i: usize) -> u64 {
        if self.room_size == 0 {
            return self.clients as u64;
        }
        let first = i / self.room_size * self.room_size;
        (self.clients.min(first + self.room_size) - first) as u64
    }

    /// The client that is sender k.
    fn sender_index(&self, k: usize) -> usize {
        k * self.clients / self.senders
    }
}

/// The sending clients' channels, each with how many deliveries one of its
/// messages is owed (its room's size).
struct Senders {
    outlets: Vec<mpsc::UnboundedSender<u64>>,
    members: Vec<u64>,
}

/// Starts one task per client, at most `--connect-concurrency` of them
/// connecting at once; returns the senders' channels.
fn spawn_clients(args: &LoadArgs, layout: &Layout, shared: &Rc<Shared>) -> Senders {
    let slots = Rc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let mut senders = Senders { outlets: Vec::new(), members: Vec::new() };
    for i in 0..args.clients {
        let plan = Plan {
            host: args.addr.clone(),
            mode: args.mode,
            room: layout.room_of(i),
            text_len: args.text_len,
        };
        let mut rx = None;
        let next_sender = senders.outlets.len();
        if next_sender < layout.senders && i == layout.sender_index(next_sender) {
            let (tx, sends) = mpsc::unbounded_channel();
            rx = Some(sends);
            senders.outlets.push(tx);
            senders.members.push(layout.members(i));
        }
        let shared = shared.clone();
        let slots = slots.clone();
        tokio::task::spawn_local(async move {
            if let Err(e) = client(plan, shared.clone(), slots, rx).await {
                shared.fail(e);
            }
        });
    }
    senders
}

/// Waits until every client is ready or has failed, or the connect timeout
/// passes; returns a report with the connection fields filled in.
async fn connect_phase(args: &LoadArgs, layout: &Layout, shared: &Shared, started: Instant) -> Report {
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(args.connect_timeout);
    while shared.ready.get() + shared.failed.get() < args.clients {
        if tokio::time::timeout_at(deadline, shared.progress.notified()).await.is_err() {
            break;
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    let connected = shared.ready.get();
    Report {
        clients: args.clients,
        connected,
        connect_errors: args.clients - connected,
        first_error: shared.first_error.borrow().clone(),
        connect_secs,
        connects_per_sec: connected as f64 / connect_secs,
        connect_latency: Latency::of(&shared.connect_latency.borrow()),
        rooms: layout.rooms,
        senders: layout.senders,
        ..Report::default()
    }
}

/// Sends if every client connected (or, when idle, waits the settle time),
/// and reports the CPU the generator and the server used meanwhile.
async fn load_phase(args: &LoadArgs, shared: &Shared, senders: &Senders, report: &mut Report) {
    let cpu_before = cpu_now(args);
    let window = Instant::now();
    let mut cpu_after = None;
    if args.rate > 0.0 && report.connected == args.clients {
        cpu_after = Some(send_phase(args, shared, senders, report).await);
    } else if args.rate == 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    }
    let (wall, after) = cpu_after.unwrap_or_else(|| (window.elapsed().as_secs_f64(), cpu_now(args)));
    let pct = |before: Option<u64>, after: Option<u64>| {
        Some(after?.checked_sub(before?)? as f64 / TICKS_PER_SEC / wall * 100.0)
    };
    report.loadgen_cpu_pct = pct(cpu_before.0, after.0).unwrap_or(0.0);
    report.server_cpu_pct = pct(cpu_before.1, after.1);
}

/// Sends at the offered rate for the run's duration, then waits for the last
/// deliveries and acks; reports the offered and achieved rates, and returns
/// the sending time and the CPU used by its end.
async fn send_phase(
    args: &LoadArgs,
    shared: &Shared,
    senders: &Senders,
    report: &mut Report,
) -> (f64, CpuNow) {
    let window = Instant::now();
    let start = shared.now_ns();
    shared.record_from_ns.set(start + (args.warmup * 1e9) as u64);
    let (sent, expected) = send_at_rate(args, shared, senders, start).await;
    let cpu_after = (window.elapsed().as_secs_f64(), cpu_now(args));
    shared.expected.set(expected);
    let expected_acks = if args.mode == Mode::Rich { sent } else { 0 };
    shared.expected_acks.set(expected_acks);
    drain(args, shared, expected, expected_acks).await;
    let span_ns = shared.last_delivery_ns.get().saturating_sub(start).max(1);
    report.sent = sent;
    report.deliveries_per_sec = shared.received.get() as f64 / (span_ns as f64 / 1e9);
    report.offered_msgs_per_sec = args.rate;
    let mean_members = senders.members.iter().sum::<u64>() as f64 / senders.members.len() as f64;
    report.offered_deliveries_per_sec = args.rate * mean_members;
    cpu_after
}

/// Hands each message to its sender once it is due (`start` plus its place
/// in the schedule), round robin; returns the messages sent and the
/// deliveries they are owed.
async fn send_at_rate(args: &LoadArgs, shared: &Shared, senders: &Senders, start: u64) -> (u64, u64) {
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
            let k = (sent % senders.outlets.len() as u64) as usize;
            // A sender whose connection failed is already counted as an error.
            let _ = senders.outlets[k].send(due);
            expected += senders.members[k];
            sent += 1;
        }
    }
    (sent, expected)
}

/// Waits up to `--drain` seconds for the deliveries and acks still owed.
async fn drain(args: &LoadArgs, shared: &Shared, expected: u64, expected_acks: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(args.drain);
    while shared.received.get() < expected || shared.acks.get() < expected_acks {
        if tokio::time::timeout_at(deadline, shared.progress.notified()).await.is_err() {
            break;
        }
    }
}

/// Reports the server's memory before and after connecting everyone.
fn report_memory(args: &LoadArgs, rss_before: Option<u64>, report: &mut Report) {
    report.server_rss_before_kib = rss_before;
    report.server_rss_after_kib = args.server_pid.and_then(rss_kib);
    if let (Some(before), Some(after)) = (report.server_rss_before_kib, report.server_rss_after_kib) {
        report.server_bytes_per_connection =
            Some((after as f64 - before as f64) * 1024.0 / report.connected.max(1) as f64);
    }
}

/// Reports what was delivered and acked.
fn report_deliveries(shared: &Shared, report: &mut Report) {
    let expected = shared.expected.get();
    if expected != u64::MAX {
        report.expected = expected;
        report.received = shared.received.get();
        report.missing = expected.saturating_sub(report.received);
    }
    report.latency = Latency::of(&shared.latency.borrow());
    report.acks = shared.acks.get();
    report.ack_latency = Latency::of(&shared.ack_latency.borrow());
}

/// CPU ticks used so far by the generator and the server.
type CpuNow = (Option<u64>, Option<u64>);

fn cpu_now(args: &LoadArgs) -> CpuNow {
    (cpu_ticks(std::process::id()), args.server_pid.and_then(cpu_ticks))
}

//! The top of the generated part: how the numbers were made, and the
//! machine and versions they were made with.

use super::Results;
use super::doc::Doc;
use super::format::duration;

/// When and how the numbers were made.
pub(super) fn preamble(doc: &mut Doc, r: &Results) {
    doc.para(format!(
        "_Generated on {} by `{}` (took {}). Everything between the bench markers is rewritten by that command._",
        r.date,
        r.command,
        duration(r.elapsed_secs)
    ));
    if r.smoke {
        doc.para(
            "> **Smoke run.** Tiny sizes that only check the harness works; these numbers say nothing about speed.",
        );
    }
    doc.para(format!(
        "How it was measured: {}. Every server is started afresh for each scenario and runs with \
         `TOKIO_WORKER_THREADS=1` (Node is single-threaded anyway). The load generator is \
         `rtchat-bench load`, one thread speaking raw WebSockets, on loopback. Latencies run from \
         the moment each message was due to be sent, so a server (or generator) falling behind \
         shows up in them. Each load run prints the server's and its own CPU use; the generator's \
         is shown so you can see it was not the bottleneck.",
        r.machine.pinning
    ));
}

/// The machine and versions table.
pub(super) fn machine(doc: &mut Doc, r: &Results) {
    let m = &r.machine;
    let v = &r.versions;
    doc.line("### Machine and versions");
    doc.line("");
    let memory =
        m.memory_bytes.map_or_else(|| "unknown".to_owned(), |b| format!("{:.1} GiB", b as f64 / GIB));
    let rows = [
        ("CPU", format!("{} ({} CPUs)", m.cpu, m.cpus)),
        ("Memory", memory),
        ("Kernel", format!("Linux {}", m.kernel)),
        ("rtchat", v.rtchat.clone()),
        ("rustc", v.rustc.clone()),
        ("socketioxide", format!("{} (rtchat and the bare peer)", v.socketioxide)),
        ("Node", format!("{}, socket.io {}", v.node, v.socket_io)),
    ];
    doc.table(&["", ""], "ll", rows.into_iter().map(|(k, v)| vec![k.to_owned(), v]));
}

/// Bytes in a GiB.
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

//! Just enough WebSocket, Engine.IO v4 and Socket.IO v5 for a load generator.
//!
//! A full client library would spend more per message than the servers we
//! measure, so this one does the minimum: it writes the upgrade request by
//! hand, parses unmasked server frames in place from one buffer per
//! connection, and finds a message's send time by scanning for a marker
//! instead of decoding JSON.

use std::io;

/// The upgrade request for a direct WebSocket connection (no long-polling first).
pub fn upgrade_request(host: &str, query: &str) -> Vec<u8> {
    // The key is fixed: the server only checks its shape and echoes a hash of it.
    format!(
        "GET /socket.io/?EIO=4&transport=websocket{query} HTTP/1.1\r\n\
         Host: {host}\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// Checks an upgrade response; returns how many bytes the headers took, or
/// `None` when more bytes are needed.
pub fn upgrade_response(buf: &[u8]) -> io::Result<Option<usize>> {
    let Some(end) = memchr::memmem::find(buf, b"\r\n\r\n") else {
        if buf.len() > 16 * 1024 {
            return Err(io::Error::other("the upgrade response headers are too long"));
        }
        return Ok(None);
    };
    let status = buf.split(|&b| b == b'\r').next().unwrap_or_default();
    if !status.starts_with(b"HTTP/1.1 101") {
        let line = String::from_utf8_lossy(status).into_owned();
        return Err(io::Error::other(format!("the server refused the WebSocket upgrade: {line}")));
    }
    Ok(Some(end + 4))
}

/// WebSocket opcodes the generator sends or answers.
pub const TEXT: u8 = 0x1;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// Appends a masked client text frame holding `payload`.
pub fn push_text_frame(out: &mut Vec<u8>, payload: &[u8]) {
    push_frame(out, TEXT, payload);
}

/// Appends a masked, final client frame.
///
/// Clients must mask their frames; the key here is all zeros, which the
/// protocol allows and which makes masking a copy. (The mask protects proxies
/// from crafted traffic, which does not arise on loopback.)
pub fn push_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= u16::MAX as usize => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(payload);
}

/// One frame from the server.
pub struct Frame<'a> {
    pub opcode: u8,
    pub payload: &'a [u8],
}

/// Parses the frame at the start of `buf`; returns it and its length, or
/// `None` when the frame is not complete yet.
pub fn parse_frame(buf: &[u8]) -> io::Result<Option<(Frame<'_>, usize)>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[1] & 0x80 != 0 {
        return Err(io::Error::other("the server sent a masked frame"));
    }
    let (len, header) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        127 if buf.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b) as usize, 10)
        }
        126 | 127 => return Ok(None),
        n => (n as usize, 2),
    };
    if buf.len() < header + len {
        return Ok(None);
    }
    let frame = Frame { opcode: buf[0] & 0x0f, payload: &buf[header..header + len] };
    Ok(Some((frame, header + len)))
}

/// The marker that precedes a message's send time in its text.
pub const STAMP: &[u8] = b"~T";

/// The text of a benchmark message: its send time (nanoseconds since the
/// run's epoch), then padding to `len` bytes.
pub fn stamped_text(sent_ns: u64, len: usize) -> String {
    let mut text = format!("~T{sent_ns}~");
    while text.len() < len {
        text.push('x');
    }
    text
}

/// Finds the send time in a delivered packet, whatever event carried it.
pub fn find_stamp(packet: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(packet, STAMP)? + STAMP.len();
    let digits = packet[at..].iter().take_while(|b| b.is_ascii_digit());
    let mut n: u64 = 0;
    let mut any = false;
    for d in digits {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        any = true;
    }
    any.then_some(n)
}

/// Reads the ack id at the start of a Socket.IO ack packet's body (after `43`).
pub fn ack_id(body: &[u8]) -> Option<u64> {
    let digits = body.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&body[..digits]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_the_parser_once_unmasked() {
        for len in [0, 5, 125, 126, 300, 70_000] {
            let payload = vec![b'a'; len];
            let mut out = Vec::new();
            push_text_frame(&mut out, &payload);
            // A server frame is the same without the mask bit and key.
            let mut server = vec![out[0], out[1] & 0x7f];
            let ext = match out[1] & 0x7f {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            server.extend_from_slice(&out[2..2 + ext]);
            server.extend_from_slice(&payload);
            let (frame, used) = parse_frame(&server).unwrap().unwrap();
            assert_eq!((frame.opcode, frame.payload.len(), used), (1, len, server.len()));
            assert!(parse_frame(&server[..server.len() - 1]).unwrap().is_none() || len == 0);
        }
    }

    #[test]
    fn stamps_are_found_in_seed_and_rich_deliveries() {
        let text = stamped_text(123_456_789, 32);
        assert_eq!(text.len(), 32);
        let seed = format!("42[\"message\",\"{text}\"]");
        let rich = format!("42[\"message:new\",{{\"id\":\"0f\",\"text\":\"{text}\",\"ts\":1}}]");
        assert_eq!(find_stamp(seed.as_bytes()), Some(123_456_789));
        assert_eq!(find_stamp(rich.as_bytes()), Some(123_456_789));
        assert_eq!(find_stamp(b"42[\"presence:join\",{}]"), None);
    }

    #[test]
    fn upgrade_responses_are_checked() {
        let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x01a";
        assert_eq!(upgrade_response(ok).unwrap(), Some(ok.len() - 3));
        assert!(upgrade_response(b"HTTP/1.1 101 Swi").unwrap().is_none());
        assert!(upgrade_response(b"HTTP/1.1 400 Bad Request\r\n\r\n").is_err());
    }
}

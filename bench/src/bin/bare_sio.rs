//! The bare socketioxide peer: the seed lesson's server and nothing more.
//!
//! Every `message` is re-emitted to everyone (or to the sender's room after a
//! `joinRoom`), as the lesson's Node server does. No history, no validation, no
//! presence: the floor rtchat's extra work is measured against. Default
//! socketioxide settings throughout, so it is what a user would get by writing
//! this server themselves. Prints `{"port":N}` on stdout once it listens.

use std::convert::Infallible;
use std::net::SocketAddr;

use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::handler::ConnectHandler;

#[derive(Clone)]
struct Room(String);

/// Installs the event handlers. It runs as connect middleware, before the
/// client is told it is connected: socketioxide spawns the connect handler
/// only after sending the connect packet, so handlers installed there could
/// miss a `joinRoom` sent straight away, and that client would wait forever
/// for its ack.
async fn on_connect(s: SocketRef) -> Result<(), Infallible> {
    s.on("joinRoom", async |s: SocketRef, ack: AckSender, Data(room): Data<String>| {
        s.join(room.clone());
        s.extensions.insert(Room(room));
        let _ = ack.send(&true);
    });
    s.on("message", async |s: SocketRef, io: SocketIo, Data(msg): Data<String>| {
        let _ = match s.extensions.get::<Room>() {
            Some(Room(room)) => io.to(room).emit("message", &msg).await,
            None => io.emit("message", &msg).await,
        };
    });
    Ok(())
}

/// Nothing is left to do once the client is connected.
async fn connected() {}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    let (layer, io) = SocketIo::new_layer();
    io.ns("/", connected.with(on_connect));
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("{{\"port\":{}}}", listener.local_addr()?.port());
    axum::serve(listener, app).await
}

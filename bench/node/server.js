// The Node peer: the seed lesson's Socket.IO v4 server, with its semantics.
// Every "message" is re-emitted to everyone (or to the sender's room after a
// "joinRoom"). Logging is left out: printing each message would measure the
// terminal. Prints {"port":N} on stdout once it listens.
const { createServer } = require("node:http");
const { Server } = require("socket.io");

const httpServer = createServer();
const io = new Server(httpServer, { cors: { origin: "*" } });

io.on("connection", (socket) => {
  let room = null;
  socket.on("joinRoom", (id, ack) => {
    room = String(id);
    socket.join(room);
    if (typeof ack === "function") ack(true);
  });
  socket.on("message", (msg) => {
    if (room === null) io.emit("message", msg);
    else io.to(room).emit("message", msg);
  });
});

httpServer.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  console.log(JSON.stringify({ port: httpServer.address().port }));
});

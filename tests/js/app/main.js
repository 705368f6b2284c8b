// A developer's own app, as the lesson builds it, with the one change rtchat
// asks for: io() on the page's own origin instead of io("http://localhost:3000").
import { io } from 'socket.io-client';
import { title } from './title.js';

const $ = (id) => document.getElementById(id);
$('title').textContent = title;

const socket = io();
socket.on('connect', () => {
  $('status').textContent = 'connected';
  document.body.dataset.connected = 'yes';
});
socket.on('disconnect', () => {
  $('status').textContent = 'disconnected';
  document.body.dataset.connected = 'no';
});
socket.on('message', (text) => {
  const item = document.createElement('li');
  item.textContent = text;
  $('log').append(item);
});
$('form').addEventListener('submit', (event) => {
  event.preventDefault();
  socket.emit('message', $('text').value);
  $('text').value = '';
});

// Hot module reload: a new title.js replaces the heading without a reload.
if (import.meta.hot) {
  import.meta.hot.accept('./title.js', (next) => {
    if (next) $('title').textContent = next.title;
  });
}

// ADAPTER between the chat client and the alerts (notify.ts), kept apart so it
// can be swapped in one place: once the client reports every new message in
// every joined room itself (`onIncoming(message, { mine, mention, roomIsOpen })`),
// `alertSource` should forward that instead.
//
// Until then the client's `message:new` handling only covers the room on
// screen, and tells of each message from someone else there by bumping
// `announcement.seq` right after adding the message to the room's timeline.

import type { ChatClient } from './client';
import type { AlertSource } from './notify';

/** New messages from others in the room on screen, and opening a room, for `startAlerts`. */
export function alertSource(client: ChatClient): AlertSource {
  return {
    subscribe(cb) {
      let seq = client.getState().announcement.seq;
      return client.subscribe(() => {
        const s = client.getState();
        if (s.announcement.seq === seq) return;
        seq = s.announcement.seq;
        // The message just announced is the newest stored one not of one's own.
        const confirmed = s.room.timeline.confirmed;
        let i = confirmed.length - 1;
        while (i >= 0 && client.isMine(confirmed[i])) i--;
        const m = confirmed[i];
        if (!m) return;
        cb({
          room: { id: s.room.id, private: s.room.private, name: s.room.name },
          author: m.user.name,
          text: m.text,
          mine: false,
          joined: s.room.status === 'joined',
        });
      });
    },
    openRoom: (id) => client.switchRoom(id, client.getState().keys[id]),
  };
}

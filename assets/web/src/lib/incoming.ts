// The chat client's new messages, as the alerts (notify.ts) take them: every
// message new to this page in any room it is in, from the client's
// `onIncoming`, and opening a room when a notification is clicked.

import type { ChatClient } from './client';
import { messageFiles, messageSummary } from './files';
import type { AlertSource } from './notify';

/** New messages in every joined room, and opening a room, for `startAlerts`. */
export function alertSource(client: ChatClient): AlertSource {
  return {
    subscribe: (cb) =>
      client.onIncoming((m, info) => {
        const view = client.getState().views[m.room];
        cb({
          room: { id: m.room, private: !!view?.private, name: view?.name },
          author: m.user.name,
          text: messageSummary(m.text, messageFiles(m.files)),
          mine: info.mine,
          joined: view?.status === 'joined',
        });
      }),
    openRoom: (id) => client.open(id, client.getState().keys[id]),
  };
}

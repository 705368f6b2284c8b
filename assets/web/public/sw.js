// rtchat's service worker: only there to show notifications where pages may
// not construct them (Chrome on Android), and to bring the chat back when one
// is clicked. It caches nothing and handles no fetches.

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const room = event.notification.data && event.notification.data.room;
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((pages) => {
      const page = pages[0];
      // The chat is where this worker was registered: / or, with --app, /rtchat/.
      const chat = self.registration.scope;
      if (!page) return self.clients.openWindow(room ? `${chat}#room=${encodeURIComponent(room)}` : chat);
      page.postMessage({ type: 'rtchat:open-room', room });
      return page.focus();
    }),
  );
});

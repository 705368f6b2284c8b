// rtchat's service worker: only there to show notifications where pages may
// not construct them (Chrome on Android), and to bring the chat back when one
// is clicked. It caches nothing and handles no fetches.

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const room = event.notification.data && event.notification.data.room;
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((pages) => {
      const page = pages[0];
      if (!page) return self.clients.openWindow(room ? `/#room=${encodeURIComponent(room)}` : '/');
      page.postMessage({ type: 'rtchat:open-room', room });
      return page.focus();
    }),
  );
});

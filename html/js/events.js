// The page's one live connection: Server-Sent Events of one asset (its
// preview status, comments and versions' approvals) or, without an asset, of every asset (the
// grid).  Never a token in the URL: a single-use ticket for each
// (re)connection.  The server ends a stream when the token it was opened
// with expires or access changes; the stream is then opened again with a
// fresh ticket (after a refresh of the token when needed), and the page is
// told (reconnected) so that it reads what it may have missed.
// Every stream also carries the user's own notifications (issue 21),
// which go to the bell (notifications.js) whatever the page.

import { api } from './api.js';
import { notified, refresh as refreshBell } from './notifications.js';
import { onLeave } from './router.js';

let current = null;

// handlers: { status(st), comment(c), approval(a), reconnected() };
// returns stop()
export function liveEvents(assetId, handlers) {
  if (current) current();          // one connection per page
  let es = null, stopped = false, retry = 1000, opened = false, timer = null;

  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    if (es) es.close();
    if (current === stop) current = null;
  };
  const again = () => {
    if (stopped) return;
    timer = setTimeout(connect, retry);
    retry = Math.min(retry * 2, 30000);
  };
  const on = (name, fn) => es.addEventListener(name, (e) => {
    let data;
    try { data = JSON.parse(e.data); } catch (x) { return; }
    if (fn) fn(data);
  });
  async function connect() {
    if (stopped) return;
    let t;
    try {
      t = await api('POST', '/api/preview/events/ticket', {});
    } catch (e) {
      again();
      return;
    }
    if (stopped) return;
    const q = new URLSearchParams({ ticket: t.ticket });
    if (assetId) q.set('asset_id', assetId);
    es = new EventSource(`/api/preview/events?${q}`);
    es.addEventListener('open', () => {
      retry = 1000;
      refreshBell();            // what came while no stream was open
      if (opened && handlers.reconnected) handlers.reconnected();
      opened = true;
    });
    on('status', handlers.status);
    on('comment', handlers.comment);
    on('approval', handlers.approval);
    on('notification', notified);
    // a stream the server ended, or a lost connection: a new ticket
    es.addEventListener('error', () => {
      es.close();
      again();
    });
  }

  current = stop;
  connect();
  onLeave(stop);
  return stop;
}

// The asset grid: search as you type (kept in the URL, ?q=), infinite
// scroll on the keyset cursor, poster thumbnails (an audio tile for an
// audio-only version, which has no poster), and live tiles: the stream of
// every asset's events updates a tile's status (with the progress) and
// brings its poster once the preview is ready.  Back to the grid brings
// the search and the scroll position back.  The filter bar (filters.js)
// and the selection with its bulk edit (bulk.js) are their own modules.

import { api, isEditor } from '../api.js';
import { h, view } from '../dom.js';
import { liveEvents } from '../events.js';
import { onLeave, savedScroll } from '../router.js';
import { bulkSelection } from './bulk.js';
import { filterBar, filterParams, setParams } from './filters.js';
import { sidebar, uploadUrl } from './folders.js';

async function posterUrl(assetId, versionId) {
  const r = await api('POST', '/api/sign-preview', { asset_id: assetId, version_id: versionId, ttl_sec: 3600 });
  return r.url.replace(/index\.m3u8$/, 'poster.jpg');
}

function badgeText(st) {
  if (st.status === 'processing') return `processing ${Math.round((st.progress || 0) * 100)} %`;
  return st.status;
}

// a tile and how to show a status of its asset's newest version
function tile(asset) {
  const thumb = h('div', { class: 'thumb' });
  const badge = h('span', { class: 'badge' });
  let versionId = asset.latest_version ? asset.latest_version.id : null;
  let shown = null;
  const show = (st) => {
    // an older version's news changes nothing here
    if (versionId && st.version_id && st.version_id !== versionId
        && st.status !== 'queued') return;
    if (st.version_id) versionId = st.version_id;
    badge.className = `badge ${st.status}`;
    badge.textContent = badgeText(st);
    if (st.status === 'ready') {
      if (shown === versionId) return;
      shown = versionId;
      // no video renditions: no poster to ask for
      if (Array.isArray(st.renditions) && st.renditions.length === 0) {
        thumb.className = 'thumb audio';
        thumb.replaceChildren(h('span', { 'aria-hidden': 'true', class: 'note' }, '♪'), ' Audio');
        return;
      }
      thumb.className = 'thumb';
      posterUrl(asset.id, versionId).then((url) => {
        thumb.replaceChildren(h('img', { src: url, alt: `Poster of ${asset.title}`, loading: 'lazy' }));
      }).catch(() => {});
    } else {
      shown = null;
      thumb.className = 'thumb';
      thumb.replaceChildren(st.status === 'none' ? 'No version yet' : `Preview ${st.status}`);
    }
  };
  show(asset.latest_version ? asset.latest_version.preview : { status: 'none' });
  const el = h('a', { class: 'tile', href: `/assets/${asset.id}`, 'data-link': true, dataset: { id: asset.id } },
    thumb,
    h('div', { class: 'meta' }, h('strong', {}, asset.title), badge, ' ',
      h('span', { class: 'muted' }, asset.owner.display_name)));
  return { el, show };
}

export function gridView() {
  const search = h('input', { type: 'search', id: 'search', placeholder: 'Search titles and descriptions',
                              'aria-label': 'Search assets', value: new URLSearchParams(location.search).get('q') || '' });
  const restore = savedScroll();
  const grid = h('div', { class: 'grid', id: 'grid', 'aria-live': 'polite' });
  const state = h('p', { class: 'muted', id: 'grid-state' });
  const sentinel = h('div', { class: 'sentinel' });
  const tiles = new Map();         // asset id → tile
  let cursor = null, done = false, loading = false, gen = 0;
  let restoring = restore;
  const sel = bulkSelection(() => load(true));
  const filters = filterBar(() => { sel.reset(); loading = false; load(true); });

  async function load(reset) {
    if (loading && !reset) return;
    if (reset) { gen++; cursor = null; done = false; grid.replaceChildren(); tiles.clear(); }
    if (done) return;
    const mine = gen;
    loading = true;
    state.textContent = 'Loading…';
    const q = new URLSearchParams({ limit: '24' });
    if (search.value.trim()) q.set('q', search.value.trim());
    // the filters of the URL: the sidebar's project and folder
    // (folders.js) and the filter bar's (filters.js)
    for (const [k, v] of filterParams()) q.set(k, v);
    if (cursor) q.set('cursor', cursor);
    try {
      const r = await api('GET', `/api/assets?${q}`);
      if (mine !== gen) return;
      for (const a of r.items) {
        const t = tile(a);
        tiles.set(a.id, t);
        grid.append(sel.wrap(t.el, a));
      }
      cursor = r.next_cursor;
      done = !cursor;
      state.textContent = grid.children.length === 0
        ? (search.value.trim() || filterParams().length ? 'No asset matches your search.'
          : 'No assets yet. Upload one to get started.')
        : '';
    } catch (e) {
      if (mine !== gen) return;
      loading = false;
      // no automatic retry: the person decides
      state.replaceChildren(h('span', { class: 'error' }, e.message), ' ',
                            h('button', { class: 'ghost', onclick: () => load(false) }, 'Retry'));
      return;
    }
    loading = false;
    // back to where the person was (Back): enough pages for that position
    if (restoring) {
      scrollTo(0, restoring);
      if (!done && Math.abs(scrollY - restoring) > 2) return load(false);
      restoring = 0;
    }
    // keep loading while the sentinel is still on screen
    if (!done && sentinel.getBoundingClientRect().top < innerHeight + 200) load(false);
  }

  // the tiles on screen follow their assets' previews
  liveEvents(null, {
    status: (st) => { const t = tiles.get(st.asset_id); if (t) t.show(st); },
    // what happened while the stream was down: the newest state of each tile
    reconnected: () => {
      for (const [id, t] of tiles) {
        api('GET', `/api/preview/status?asset_id=${id}`).then(t.show).catch(() => {});
      }
    },
  });

  let timer;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      // the search in the URL (one history entry, replaced as one types)
      setParams({ q: search.value.trim() });
      loading = false;
      load(true);
    }, 250);
  });
  const io = new IntersectionObserver((es) => { if (es.some((e) => e.isIntersecting)) load(false); },
                                      { rootMargin: '200px' });
  io.observe(sentinel);
  onLeave(() => io.disconnect());

  // the sidebar after the tiles in the document (Tab reaches the search
  // first), on their left on screen (app.css)
  view('Assets', h('div', { class: 'with-side' }, h('div', { class: 'side-main' },
    h('div', { class: 'row' }, h('h1', {}, 'Assets'),
      isEditor() ? h('a', { class: 'button', href: uploadUrl(),
                            'data-link': true, style: 'margin-left:auto', id: 'grid-upload' }, 'Upload') : null),
    search, filters, sel.bar, grid, state, sentinel), sidebar()));
  load(true);
}

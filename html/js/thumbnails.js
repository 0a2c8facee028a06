// Scrub thumbnails: the picture under the pointer while it hovers the
// timeline, from the version's thumbnails.vtt (transcoderd's sprite
// sheets: each cue a time range and `sheet.jpg#xywh=x,y,w,h`).  The track
// and the sheets come through the same signed prefix as the playlists.

import { h } from './dom.js';

// a cue's "HH:MM:SS.mmm" (or "MM:SS.mmm") in seconds
const seconds = (s) => s.split(':').reduce((t, part) => t * 60 + Number(part), 0);

// the cues of a WebVTT text: [{from, to, src, x, y, w, h}] in time order;
// a cue that is not a sheet's tile is skipped, the count bounded
const MAX_CUES = 2000;
export function parseThumbnails(text) {
  const cues = [];
  const blocks = text.replace(/\r/g, '').split(/\n\n+/);
  for (const block of blocks) {
    const lines = block.split('\n');
    const at = lines.findIndex((l) => l.includes('-->'));
    if (at < 0 || at + 1 >= lines.length) continue;
    const [from, to] = lines[at].split('-->').map((s) => seconds(s.trim().split(/\s+/)[0]));
    const m = lines[at + 1].trim().match(/^([A-Za-z0-9._\/-]+)#xywh=(\d+),(\d+),(\d+),(\d+)$/);
    if (!m || !(to > from) || m[1].includes('..')) continue;
    cues.push({ from, to, src: m[1], x: +m[2], y: +m[3], w: +m[4], h: +m[5] });
    if (cues.length === MAX_CUES) break;
  }
  return cues.sort((a, b) => a.from - b.from);
}

// the cue showing at t (binary search), or null
function cueAt(cues, t) {
  let lo = 0, hi = cues.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (t < cues[mid].from) hi = mid - 1;
    else if (t >= cues[mid].to) lo = mid + 1;
    else return cues[mid];
  }
  return null;
}

// Shows the tile of the time under the pointer above the timeline.
// base(): the newest signed prefix of the preview folder (it is renewed);
// returns the stop.
export function scrubThumbnails(timeline, media, vtt, base) {
  let cues = [];
  let stopped = false;
  const tip = h('div', { class: 'scrub', id: 'scrub', hidden: true, 'aria-hidden': 'true' },
    h('div', { class: 'scrub-tile' }), h('span', { class: 'scrub-time' }));
  timeline.append(tip);
  fetch(base() + vtt, { credentials: 'omit' })
    .then((r) => (r.ok ? r.text() : ''))
    .then((text) => { if (!stopped) { cues = parseThumbnails(text); timeline.dataset.thumbnails = String(cues.length); } })
    .catch(() => {});

  const show = (e) => {
    const d = media.duration;
    const r = timeline.getBoundingClientRect();
    if (!d || !cues.length || !r.width) return;
    const t = Math.max(0, Math.min(d, ((e.clientX - r.left) / r.width) * d));
    const c = cueAt(cues, t);
    if (!c) { tip.hidden = true; return; }
    const tile = tip.firstChild;
    tile.style.width = `${c.w}px`;
    tile.style.height = `${c.h}px`;
    tile.style.backgroundImage = `url("${base()}${c.src}")`;
    tile.style.backgroundPosition = `-${c.x}px -${c.y}px`;
    tip.lastChild.textContent = `${Math.floor(t / 60)}:${String(Math.floor(t % 60)).padStart(2, '0')}`;
    // centred on the pointer, kept inside the timeline's width
    const left = Math.max(0, Math.min(r.width - c.w, e.clientX - r.left - c.w / 2));
    tip.style.left = `${left}px`;
    tip.dataset.src = c.src;
    tip.dataset.xywh = `${c.x},${c.y},${c.w},${c.h}`;
    tip.dataset.t = t.toFixed(3);
    tip.hidden = false;
  };
  const hide = () => { tip.hidden = true; };
  timeline.addEventListener('pointermove', show);
  timeline.addEventListener('pointerleave', hide);
  return () => {
    stopped = true;
    timeline.removeEventListener('pointermove', show);
    timeline.removeEventListener('pointerleave', hide);
    tip.remove();
  };
}

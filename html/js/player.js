// The player: hls.js from a signed URL that is renewed before it expires,
// a quality menu, a timeline (a slider) with the comments' markers and
// scrub thumbnails under the pointer (thumbnails.js), a
// timecode, and keys.  An audio-only version gets an audio player: no
// picture, no quality menu.  One player per version shown: the version
// switcher stops one (the stop() it returns) and starts another.
//
// Keys belong to the focused control: the player's shortcuts (Space,
// ←/→, F) act only while the focus is on the player itself (its timeline
// or media element) or on nothing in particular (the page's body, main or
// heading); Space on a button presses that button.  On the focused media
// element the browser's own keys act, once.  The editor's keys (`,` `.`
// frame steps, J/K/L shuttle) mean nothing to a button, a link or the
// video, so they act everywhere but where letters are typed or choose
// (inputs, text areas, selects): after a click on a comment's time, `.`
// steps on from there.  So do the review's (issue 21): I/O mark a range's
// in and out points (Shift+drag on the timeline too), X clears them, D
// turns the drawing tools on (annotate.js: a canvas over the picture), and
// `?` lists every shortcut (shortcuts.js).
//
// Drawings are replayed: the drawing of a comment of the version on screen
// is shown while the frame on screen is its frame (a range comment's:
// through its range), and playback stops on that frame ("Stop at
// drawings", on by default), so a drawing made on one frame is seen.

import { api } from './api.js';
import { drawingLayer, spanOf } from './annotate.js';
import { frameOf, frameTime, h, timecode } from './dom.js';
import { onLeave } from './router.js';
import { showShortcuts, shortcutsButton } from './shortcuts.js';
import { shuttle } from './shuttle.js';
import { scrubThumbnails } from './thumbnails.js';

// where typed letters are text or a choice: the editor's keys stay out
const EDITABLE = (el) => el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
// where Ctrl+Z and Escape are the field's own: text being typed
const TEXTUAL = (el) => el.isContentEditable || el.tagName === 'TEXTAREA'
  || (el.tagName === 'INPUT' && !/^(color|checkbox|radio|range|button|submit)$/.test(el.type));
const PASSIVE = (el) => el === document.body || el === document.documentElement
  || el.id === 'main' || /^H[1-6]$/.test(el.tagName);

// A version's preview on a media element: hls.js from the signed URL of
// POST /api/sign-preview.  A ladder still being rendered (preview status
// `playable`, issue 20) has EVENT playlists: hls.js reloads them as they
// grow (the edge has them revalidated, never cached) and plays from the
// start (startPosition 0: a playlist without #EXT-X-ENDLIST is otherwise
// joined near its end, like a live one) until they turn VOD.  The signature covers the whole folder: every
// request goes through the newest signed prefix, which is renewed well
// before it expires (every 10 minutes, the URL lives 15; mam-renew-ms in
// localStorage shortens it to watch the renewal work).  manifest(hls,
// levels) once the playlist is read (hls null without hls.js), failed(e)
// when signing fails, signed(prefix) at each signature (the folder's newest
// signed prefix); returns the stop.  The compare view plays two.
export function signedSource(assetId, versionId, media,
                             { manifest = () => {}, failed = () => {}, signed = () => {},
                               resumed = () => {}, path = '/api/sign-preview' } = {}) {
  let stopped = false, hls = null;
  let prefix = null;
  const sign = async () => {
    const r = await api('POST', path, { asset_id: assetId, version_id: versionId, ttl_sec: 900 });
    prefix = r.url.replace(/index\.m3u8$/, '');
    if (!stopped) signed(prefix);
    return r.url;
  };
  const every = Number(localStorage.getItem('mam-renew-ms')) || 600 * 1000;
  const renew = setInterval(() => sign().catch(() => {}), every);
  const rewrite = (url) => {
    // {exp} or {exp}.{epoch} (a revoked asset's URLs carry its play epoch)
    const m = url.match(/\/s\/\d+(?:\.\d+)?\/[A-Za-z0-9_-]{43}\/[0-9a-f-]{36}\/[0-9a-f-]{36}\/(.*)$/);
    return m && prefix ? prefix + m[1] : url;
  };
  // a 410 from the edge: the URL expired, or the asset's play epoch went up
  // under a viewer still entitled (another member removed, a link revoked).
  // Sign again and load on from where playback is (the requests take the
  // new prefix in xhrSetup); a viewer no longer entitled gets the API's
  // answer instead.  A request that went out under an older signature only
  // loads again; one refused under the newest within 10 s of signing is
  // a refusal, so an edge that keeps refusing cannot make the page loop.
  // resumed(hls) then: hls.js may have left a rendition it could not load
  // for another, and the caller puts back what the viewer picked.
  let signing = false, resignedAt = 0, resumedAt = 0;
  const resume = (data) => {
    resumedAt = Date.now();
    if (data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR) hls.loadSource(`${prefix}index.m3u8`);
    else hls.startLoad();
    resumed(hls);
  };
  const resign = (data) => {
    const asked = (data.networkDetails && data.networkDetails.responseURL) || '';
    if (signing) return;
    if (asked && !asked.startsWith(new URL(prefix, window.location.href).href)) {
      if (Date.now() - resumedAt > 1000) resume(data);
      return;
    }
    if (Date.now() - resignedAt < 10000) {
      if (data.fatal) failed(new Error('Playback was refused: reload the page.'));
      return;
    }
    signing = true;
    resignedAt = Date.now();
    sign().then(() => { signing = false; if (!stopped) resume(data); },
                (e) => { signing = false; if (!stopped) failed(e); });
  };
  sign().then((url) => {
    if (stopped) return;
    if (window.Hls && Hls.isSupported()) {
      hls = new Hls({ startPosition: 0, xhrSetup: (xhr, u) => xhr.open('GET', rewrite(u), true) });
      hls.on(Hls.Events.MANIFEST_PARSED, (_, d) => manifest(hls, d.levels));
      hls.on(Hls.Events.ERROR, (_, data) => {
        if (data.response && data.response.code === 410) resign(data);
      });
      hls.loadSource(url);
      hls.attachMedia(media);
    } else {
      media.src = url;
      manifest(null, []);
    }
  }).catch((e) => { if (!stopped) failed(e); });
  return () => {
    stopped = true;
    clearInterval(renew);
    if (hls) hls.destroy();
  };
}

// fps: the version's frame rate (0: none known, audio; steps are then 40 ms).
// A player started while the ladder renders learns the rate and the scrub
// thumbnails when it is ready (player.finished(version)), without a
// restart: playback goes on.  sign: where playback is signed (a review
// link's guest signs through the link, issue 22).
export function startPlayer(asset, version, stage, player, comments, { fps: rate, audioOnly, sign }) {
  let fps = rate;
  const stops = [];
  const later = (fn) => stops.push(fn);
  let stopped = false;
  const media = audioOnly
    ? h('audio', { id: 'audio', controls: true, preload: 'metadata', 'aria-label': `Audio player: ${asset.title}` })
    : h('video', { id: 'video', controls: true, playsinline: true, 'aria-label': `Player: ${asset.title}` });
  const quality = audioOnly ? null
    : h('select', { id: 'quality', 'aria-label': 'Quality' }, h('option', { value: '-1' }, 'Auto'));
  const timeline = h('div', { class: 'timeline', id: 'timeline', role: 'slider', tabindex: 0,
                              'aria-label': 'Timeline with comment markers', 'aria-valuemin': 0,
                              'aria-valuemax': 0, 'aria-valuenow': 0, 'aria-valuetext': timecode(0, fps) });
  const played = h('div', { class: 'played' });
  timeline.append(played);
  // the playhead's timecode and frame number (data-frame: what a test reads)
  const clock = h('output', { id: 'timecode', class: 'timecode', 'aria-live': 'off',
                              'aria-label': 'Timecode', dataset: { frame: '0' } }, timecode(0, fps));
  const speed = h('span', { id: 'shuttle', class: 'muted', 'aria-live': 'polite' });
  const box = h('div', { class: audioOnly ? 'player audio-only' : 'player' }, media);
  // the drawings over the picture (a video's only); the comment box hears
  // of the draft (comments.drawn)
  const drawing = audioOnly ? null
    : drawingLayer(box, media, () => fps, { changed: (n) => comments.drawn && comments.drawn(n) });
  const stopAt = h('input', { type: 'checkbox', id: 'stop-at-drawings', checked: true });
  // the in and out points marked (I/O): a bar on the timeline
  const rangeBar = h('div', { class: 'range-sel', id: 'range-sel', hidden: true });
  timeline.append(rangeBar);
  stage.replaceChildren(box, timeline,
    h('div', { class: 'row' }, clock, speed,
      quality ? [h('label', { for: 'quality', style: 'margin:0' }, 'Quality'), quality] : null,
      h('span', { class: 'muted keys-hint', id: 'keys-hint' },
        `Space: play/pause · ←/→: 5 s · ,/.: ${fps > 0 ? 'one frame' : '40 ms'} · J/K/L: shuttle`
        + (audioOnly ? '' : ' · F: fullscreen · I/O: range · D: draw'))),
    h('div', { class: 'row review-tools' }, drawing ? drawing.toggleButton : null,
      drawing ? h('label', { class: 'row check', for: 'stop-at-drawings' }, stopAt, 'Stop at drawings') : null,
      shortcutsButton()),
    drawing ? drawing.toolbar : null);
  player.video = media;
  player.timeline = timeline;
  player.drawing = drawing;

  // scrub thumbnails (transcoderd's thumbnails.vtt, a name in the folder)
  const vttOf = (v) => (!audioOnly && /^[A-Za-z0-9_-]+\.vtt$/.test(v.metadata?.thumbnails || '')
    ? v.metadata.thumbnails : null);
  let vtt = vttOf(version);
  let prefix = null, thumbs = null;
  player.finished = (v, r) => {
    fps = r;
    vtt = vttOf(v);
    if (!thumbs && vtt && prefix && !stopped) later(thumbs = scrubThumbnails(timeline, media, vtt, () => prefix));
    // the rate is known now: the clock shows frames, not seconds
    if (!stopped) { shown(); slider(); }
  };

  later(signedSource(asset.id, version.id, media, {
    path: sign,
    manifest: (hls, levels) => {
      player.hls = hls;
      if (quality && hls) {
        levels.forEach((l, i) => quality.append(h('option', { value: String(i) },
          l.height ? `${l.height}p` : `Level ${i + 1}`)));
        quality.addEventListener('change', () => { hls.currentLevel = Number(quality.value); });
      }
      stage.dataset.ready = '1';
    },
    failed: (e) => stage.replaceChildren(h('p', { class: 'error' }, e.message)),
    // signed again after a 410: the quality picked, if any, again
    resumed: (hls) => {
      if (quality && quality.value !== '-1') hls.currentLevel = Number(quality.value);
    },
    signed: (p) => {
      prefix = p;
      if (!thumbs && vtt) later(thumbs = scrubThumbnails(timeline, media, vtt, () => prefix));
    },
  }));

  const seek = (t) => {
    if (!media.duration) return;
    media.currentTime = Math.max(0, Math.min(media.duration, t));
  };
  const slider = () => {
    const d = media.duration || 0;
    if (d) played.style.width = `${(media.currentTime / d) * 100}%`;
    timeline.setAttribute('aria-valuemax', String(Math.round(d * 1000) / 1000));
    timeline.setAttribute('aria-valuenow', String(Math.round(media.currentTime * 1000) / 1000));
    timeline.setAttribute('aria-valuetext', `${timecode(media.currentTime, fps)} of ${timecode(d, fps)}`);
  };
  // the timecode follows every frame while playing, and every seek
  const shown = () => {
    const t = media.currentTime;
    clock.value = timecode(t, fps);
    clock.textContent = clock.value;
    clock.dataset.frame = fps > 0 ? String(frameOf(t, fps)) : '';
    if (drawing) drawing.update();
  };
  // playing on past a drawing's frame: back to it, paused (lastFrame is
  // where playback came from; a seek forgets it, so a jump stops nowhere)
  let lastFrame = null;
  const stopAtDrawing = () => {
    const eff = fps > 0 ? fps : 25;
    const f = frameOf(media.currentTime, eff);
    const c = drawing && stopAt.checked && !media.paused && lastFrame !== null && f - lastFrame <= eff
      ? drawing.crossed(lastFrame, f) : null;
    lastFrame = f;
    if (!c) return;
    shuttleTo(0);
    seek(frameTime(spanOf(c, fps)[0], eff));
  };
  media.addEventListener('seeking', () => { lastFrame = null; });
  let raf = 0;
  const follow = () => {
    stopAtDrawing();
    shown();
    raf = media.paused ? 0 : requestAnimationFrame(follow);
  };
  media.addEventListener('play', () => { if (!raf) raf = requestAnimationFrame(follow); });
  later(() => cancelAnimationFrame(raf));
  media.addEventListener('timeupdate', () => { stopAtDrawing(); slider(); shown(); });
  media.addEventListener('seeked', () => { slider(); shown(); });
  media.addEventListener('loadedmetadata', () => { slider(); comments.markers(); });
  const timeAt = (e) => {
    const r = timeline.getBoundingClientRect();
    return Math.max(0, Math.min(1, (e.clientX - r.left) / r.width)) * (media.duration || 0);
  };
  // a click seeks, unless it ends a Shift+drag (a range, below)
  let dragged = false;
  timeline.addEventListener('click', (e) => {
    if (dragged) { dragged = false; return; }
    seek(timeAt(e));
  });

  // J/K/L (shuttle.js)
  const sh = shuttle({
    time: () => media.currentTime,
    seek,
    play: (rate) => { media.playbackRate = rate; media.play().catch(() => {}); },
    pause: () => { media.pause(); media.playbackRate = 1; },
  }, speed);
  const { to: shuttleTo, faster } = sh;
  later(sh.stop);
  // Space and the browser's own controls leave the shuttle at 1x
  media.addEventListener('pause', sh.paused);

  // one frame back or on, paused: to the middle of the neighbouring frame's
  // interval, so the browser shows exactly that frame
  const step = (n) => {
    shuttleTo(0);
    if (!(fps > 0)) return seek(media.currentTime + n * 0.04);
    const last = media.duration ? frameOf(media.duration, fps) - 1 : Infinity;
    const f = Math.max(0, Math.min(last, frameOf(media.currentTime, fps) + n));
    return seek(frameTime(f, fps));
  };
  player.seekFrame = (f) => { shuttleTo(0); seek(frameTime(f, fps)); };

  // A range (issue 21): in and out points on frames (the middle of each
  // frame's interval, where a step lands), in <= out; the comment box
  // reads player.range() and hears of each change (comments.ranged).
  let range = null;
  const snap = (t) => (fps > 0 ? frameTime(frameOf(t, fps), fps) : Math.round(t * 1000) / 1000);
  const placeRange = () => {
    const d = media.duration || 0;
    rangeBar.hidden = !range || !d;
    if (range && d) {
      rangeBar.style.left = `${(range.in / d) * 100}%`;
      rangeBar.style.width = `${((range.out - range.in) / d) * 100}%`;
    }
  };
  const showRange = () => {
    placeRange();
    if (comments.ranged) comments.ranged(range);
  };
  const mark = (which) => {
    const at = snap(media.currentTime);
    const other = range ? range[which === 'in' ? 'out' : 'in'] : at;
    range = which === 'in' ? { in: at, out: Math.max(at, other) } : { in: Math.min(at, other), out: at };
    showRange();
  };
  const clearRange = () => { range = null; showRange(); };
  player.range = () => range;
  player.clearRange = clearRange;
  media.addEventListener('loadedmetadata', placeRange);
  // Shift+drag on the timeline marks a range
  let dragFrom = null;
  timeline.addEventListener('pointerdown', (e) => {
    if (!e.shiftKey || !media.duration) return;
    e.preventDefault();
    timeline.setPointerCapture(e.pointerId);
    dragFrom = timeAt(e);
    range = { in: snap(dragFrom), out: snap(dragFrom) };
    showRange();
  });
  timeline.addEventListener('pointermove', (e) => {
    if (dragFrom === null) return;
    const t = timeAt(e);
    range = { in: snap(Math.min(t, dragFrom)), out: snap(Math.max(t, dragFrom)) };
    showRange();
  });
  timeline.addEventListener('pointerup', () => {
    if (dragFrom === null) return;
    dragFrom = null;
    dragged = true;
    if (range && range.out <= range.in) clearRange();
  });

  const toggle = () => {
    if (sh.speed() < 0) return shuttleTo(0);
    return media.paused ? media.play().catch(() => {}) : media.pause();
  };
  // the slider's own keys (WAI-ARIA slider): arrows, Page Up/Down, Home, End
  timeline.addEventListener('keydown', (e) => {
    const by = { ArrowRight: 5, ArrowUp: 5, ArrowLeft: -5, ArrowDown: -5, PageUp: 30, PageDown: -30 }[e.key];
    if (by) seek(media.currentTime + by);
    else if (e.key === 'Home') seek(0);
    else if (e.key === 'End') seek(media.duration);
    else if (e.key === ' ') toggle();
    else return;
    e.preventDefault();
    e.stopPropagation();
  });

  // the editor's keys: frame steps and the shuttle (no browser has them)
  const editorKey = { ',': () => step(-1), '.': () => step(1), j: () => faster(-1), J: () => faster(-1),
                      k: () => shuttleTo(0), K: () => shuttleTo(0), l: () => faster(1), L: () => faster(1),
                      i: () => mark('in'), I: () => mark('in'), o: () => mark('out'), O: () => mark('out'),
                      x: clearRange, X: clearRange, '?': showShortcuts };
  if (drawing) {
    editorKey.d = drawing.toggle;
    editorKey.D = drawing.toggle;
  }
  // the drawing tools' own keys while they are on: 1-5 (a tool), Ctrl+Z,
  // Escape; true when the key was theirs
  const drawingKey = (e, t) => {
    if (!drawing || !drawing.active() || TEXTUAL(t)) return false;
    if ((e.ctrlKey || e.metaKey) && (e.key === 'z' || e.key === 'Z')) drawing.undo();
    else if (e.key === 'Escape') drawing.off();
    else if (/^[1-5]$/.test(e.key) && !e.ctrlKey && !e.metaKey && !e.altKey && !EDITABLE(t)) drawing.choose(e.key - 1);
    else return false;
    e.preventDefault();
    return true;
  };
  const keys = (e) => {
    const t = e.target;
    // a modal dialog (the shortcuts' list, a confirmation) has the keys
    if (e.defaultPrevented || (t.closest && t.closest('dialog[open]'))) return;
    if (drawingKey(e, t) || e.ctrlKey || e.metaKey || e.altKey) return;
    const own = editorKey[e.key];
    if (own && !EDITABLE(t)) {
      e.preventDefault();
      own();
      return;
    }
    if (t === media) return;                    // the browser's own media keys, once
    if (!PASSIVE(t) && !box.contains(t)) return; // a control's key is the control's
    if (e.key === ' ') { e.preventDefault(); toggle(); }
    else if (e.key === 'ArrowRight') { e.preventDefault(); seek(media.currentTime + 5); }
    else if (e.key === 'ArrowLeft') { e.preventDefault(); seek(media.currentTime - 5); }
    else if (!audioOnly && (e.key === 'f' || e.key === 'F')) {
      document.fullscreenElement ? document.exitFullscreen() : media.requestFullscreen().catch(() => {});
    }
  };
  document.addEventListener('keydown', keys);
  later(() => document.removeEventListener('keydown', keys));

  // stopped by a version switch or by leaving the page
  const stop = () => {
    if (stopped) return;
    stopped = true;
    stops.forEach((fn) => fn());
    if (drawing) drawing.stop();
    media.pause();
    media.removeAttribute('src');
    if (player.video === media) {
      player.video = null; player.timeline = null; player.seekFrame = null; player.finished = null;
      player.drawing = null; player.range = null; player.clearRange = null;
      if (range && comments.ranged) comments.ranged(null);
      if (drawing && drawing.annotation() && comments.drawn) comments.drawn(0);
    }
  };
  onLeave(stop);
  return stop;
}

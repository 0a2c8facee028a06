// Compare (issue 20): two versions of an asset, or versions of two assets,
// side by side or as a wipe, under one transport.  The route is
// /compare?a=ASSET&av=N&b=ASSET&bv=M[&mode=wipe][&wipe=P][&audio=b], kept
// up to date with every choice (replaceState), so a reload or a shared link
// shows the same comparison.
//
// Side A (left, the wipe's top) leads: the transport drives its video and
// B's follows.  On pause, seek and step both are put at the middle of A's
// frame on screen, so at rest they show the same instant (the same frame
// at equal rates); while playing, B's drift is corrected by its playback
// rate (more than one frame off) or a seek (more than half a second).
// Frame steps and the timecode are at A's frame rate.  One side is heard,
// the other muted.

import { api } from '../api.js';
import { exactRate, frameOf, frameTime, h, timecode, view } from '../dom.js';
import { signedSource } from '../player.js';
import { onLeave } from '../router.js';
import { shuttle } from '../shuttle.js';

// drift while playing: nudged beyond one frame, a seek beyond this
const DRIFT_SEEK_SEC = 0.5;
// typing fields keep their keys; radios, ranges and buttons do not type
const TYPING = (el) => el.isContentEditable || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT'
  || (el.tagName === 'INPUT' && !/^(radio|checkbox|range|button|submit)$/.test(el.type));
const PASSIVE = (el) => el === document.body || el === document.documentElement
  || el.id === 'main' || /^H[1-6]$/.test(el.tagName);
const clamp = (x, lo, hi) => Math.max(lo, Math.min(hi, x));
const rateOf = (v) => exactRate(v && v.metadata && v.metadata.frame_rate ? v.metadata.frame_rate : 0);

// the compare link of an asset's version: B is another version of the same
// asset when it has one (the one before, or the latest), else the same
// version, for another asset to be chosen on the page
export function compareLink(assetId, versions, number) {
  const i = Math.max(0, versions.findIndex((v) => v.number === number));
  const other = versions[i + 1] || versions.find((v, j) => j !== i) || versions[i];
  return `/compare?a=${assetId}&av=${versions[i].number}&b=${assetId}&bv=${other.number}`;
}

export async function compareView() {
  const q = new URLSearchParams(location.search);
  const heading = h('h1', {}, 'Compare');
  if (!q.get('a')) {
    return view('Compare', heading, h('p', {}, 'Open an asset and choose "Compare" to compare its versions or another asset.'));
  }
  view('Compare', heading, h('p', { class: 'muted' }, 'Loading…'));
  let left = false;
  onLeave(() => { left = true; });

  const state = {
    mode: q.get('mode') === 'wipe' ? 'wipe' : 'side',
    audio: q.get('audio') === 'b' ? 'b' : 'a',
    wipe: Number.isFinite(Number(q.get('wipe'))) && q.get('wipe') !== null ? clamp(Number(q.get('wipe')), 0, 100) : 50,
  };
  // the assets the caller sees, for the choice of another (first 100)
  const listed = api('GET', '/api/assets?limit=100').then((r) => r.items).catch(() => []);

  const side = (key) => ({ key, label: key.toUpperCase(), assetId: q.get(key) || q.get('a'),
                           number: Number(q.get(`${key}v`)) || null, asset: null, versions: [], version: null,
                           fps: 0, ready: false, stop: null });
  const A = side('a'), B = side('b');
  const load = async (s) => {
    const r = await api('GET', `/api/assets/${s.assetId}`);
    s.asset = r.asset;
    s.versions = r.versions;
  };
  try {
    await Promise.all([load(A), load(B)]);
  } catch (e) {
    if (!left) view('Compare', heading, h('p', { class: 'error' }, e.message));
    return;
  }
  if (left) return;
  // no version number: A the latest, B another of the same asset if any
  const pickVersion = (s, avoid) => s.versions.find((v) => v.number === s.number)
    || (avoid ? s.versions.find((v) => v !== avoid) : null) || s.versions[0] || null;
  A.version = pickVersion(A, null);
  B.version = pickVersion(B, B.assetId === A.assetId ? A.version : null);
  if (!A.version || !B.version) {
    return view('Compare', heading, h('p', { class: 'error' }, 'There is no version to compare.'));
  }

  // --- the page ------------------------------------------------------------
  const stage = h('div', { id: 'compare-stage', class: 'compare-stage' });
  const divider = h('div', { id: 'wipe-divider', class: 'wipe-divider', role: 'slider', tabindex: 0,
                             'aria-label': 'Wipe position: A on the left of it, B on the right',
                             'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-orientation': 'horizontal' },
    h('span', { class: 'grip', 'aria-hidden': 'true' }, '⇆'));
  const dom = {};
  for (const s of [A, B]) {
    s.media = h('video', { id: `video-${s.key}`, playsinline: true, preload: 'auto', 'aria-label': `Side ${s.label}` });
    s.caption = h('span', { class: 'side-title' }, '');
    s.clock = h('output', { id: `tc-${s.key}`, class: 'timecode', 'aria-live': 'off', dataset: { frame: '0' } });
    s.msg = h('p', { class: 'error side-msg', role: 'alert' });
    s.figure = h('figure', { id: `side-${s.key}`, class: `compare-side side-${s.key}` },
      s.media, h('div', { class: 'side-label' }, h('span', { class: 'badge side-key' }, s.label), ' ', s.caption, ' ', s.clock),
      s.msg);
    s.assetSelect = h('select', { id: `asset-${s.key}`, 'aria-label': `Side ${s.label}: asset` });
    s.versionSelect = h('select', { id: `version-${s.key}`, 'aria-label': `Side ${s.label}: version` });
    dom[s.key] = h('div', { class: 'row compare-pick' }, h('span', { class: 'badge side-key' }, s.label),
      s.assetSelect, s.versionSelect);
  }
  stage.append(A.figure, B.figure, divider);

  const radios = (name, legend, options, value, onchange) => h('fieldset', { class: 'row compare-switch', id: `${name}-switch` },
    h('legend', {}, legend),
    options.map(([v, text]) => h('label', { class: 'check', for: `${name}-${v}` },
      h('input', { type: 'radio', name, id: `${name}-${v}`, value: v, checked: v === value,
                   onchange: (e) => onchange(e.target.value) }), text)));
  const modeSwitch = radios('mode', 'View', [['side', 'Side by side'], ['wipe', 'Wipe']], state.mode, (v) => setMode(v));
  const audioSwitch = radios('audio', 'Sound', [['a', 'A'], ['b', 'B']], state.audio, (v) => setAudio(v));

  const back = h('button', { type: 'button', class: 'ghost', id: 'step-back', 'aria-label': 'One frame back' }, '◀❙');
  const playBtn = h('button', { type: 'button', id: 'compare-play', 'aria-label': 'Play' }, '▶');
  const on = h('button', { type: 'button', class: 'ghost', id: 'step-on', 'aria-label': 'One frame on' }, '❙▶');
  const seekBar = h('input', { type: 'range', id: 'compare-seek', min: 0, max: 0, step: 'any', value: 0,
                               'aria-label': 'Position' });
  const clock = h('output', { id: 'compare-timecode', class: 'timecode', 'aria-live': 'off', dataset: { frame: '0' } });
  const speed = h('span', { id: 'compare-shuttle', class: 'muted', 'aria-live': 'polite' });
  const transport = h('div', { class: 'row compare-transport', role: 'group', 'aria-label': 'Transport (both sides)' },
    back, playBtn, on, seekBar, clock, speed);
  const hint = h('p', { class: 'muted keys-hint' },
    'Space: play/pause · ,/.: one frame · J/K/L: shuttle · the wipe\'s handle: ←/→ (Shift: 10 %), Home, End');

  const title = () => (A.assetId === B.assetId ? `${A.asset.title}: v${A.version.number} and v${B.version.number}`
    : `${A.asset.title} v${A.version.number} and ${B.asset.title} v${B.version.number}`);
  const backLink = h('a', { 'data-link': true, id: 'back-to-asset' });
  const titles = () => {
    heading.textContent = `Compare ${title()}`;
    backLink.href = `/assets/${A.assetId}`;
    backLink.textContent = `Back to ${A.asset.title}`;
  };
  titles();
  view(`Compare ${title()}`, heading, h('p', {}, backLink),
    h('div', { class: 'compare-picks' }, dom.a, dom.b),
    h('div', { class: 'row compare-switches' }, modeSwitch, audioSwitch),
    stage, transport, hint);

  // --- the URL -------------------------------------------------------------
  let urlTimer = 0;
  const writeUrl = () => {
    clearTimeout(urlTimer);
    urlTimer = setTimeout(() => {
      if (left) return;
      const u = new URLSearchParams({ a: A.assetId, av: String(A.version.number), b: B.assetId, bv: String(B.version.number) });
      if (state.mode === 'wipe') { u.set('mode', 'wipe'); u.set('wipe', String(Math.round(state.wipe * 10) / 10)); }
      if (state.audio === 'b') u.set('audio', 'b');
      history.replaceState(history.state, '', `/compare?${u}`);
      titles();
      document.title = `Compare ${title()} · MAM`;
    }, 150);
  };
  onLeave(() => clearTimeout(urlTimer));

  // --- choices of asset and version --------------------------------------
  const fillVersions = (s) => {
    s.versionSelect.replaceChildren(...s.versions.map((v, i) => h('option', {
      value: String(v.number), selected: v === s.version, disabled: v.preview.status !== 'ready',
    }, `v${v.number}${i === 0 ? ' (latest)' : ''}${v.preview.status !== 'ready' ? ` (${v.preview.status})` : ''}`)));
  };
  const fillAssets = (s, items) => {
    const all = items.some((x) => x.id === s.assetId) ? items : [s.asset, ...items];
    s.assetSelect.replaceChildren(...all.map((x) => h('option', { value: x.id, selected: x.id === s.assetId }, x.title)));
  };
  for (const s of [A, B]) {
    fillVersions(s);
    fillAssets(s, []);
    s.versionSelect.addEventListener('change', () => {
      s.version = s.versions.find((v) => String(v.number) === s.versionSelect.value) || s.version;
      startSide(s);
      writeUrl();
    });
    s.assetSelect.addEventListener('change', async () => {
      const id = s.assetSelect.value;
      try {
        const r = await api('GET', `/api/assets/${id}`);
        if (left) return;
        Object.assign(s, { assetId: id, asset: r.asset, versions: r.versions });
        s.version = s.versions.find((v) => v.preview.status === 'ready') || s.versions[0];
        if (!s.version) { s.msg.textContent = 'This asset has no version yet.'; return; }
        fillVersions(s);
        startSide(s);
        writeUrl();
      } catch (e) { s.msg.textContent = e.message; }
    });
  }
  listed.then((items) => { if (!left) { fillAssets(A, items); fillAssets(B, items); } });

  // --- the players ---------------------------------------------------------
  const a = A.media, b = B.media;
  const fps = () => A.fps;
  const frameSec = () => 1 / (A.fps || 25);
  const bothReady = () => A.ready && B.ready;
  const markReady = () => {
    if (bothReady()) {
      stage.dataset.ready = '1';
      settle();
    } else delete stage.dataset.ready;
  };
  function startSide(s) {
    if (s.stop) s.stop();
    s.ready = false;
    markReady();
    pauseAll();
    s.fps = rateOf(s.version);
    s.msg.textContent = '';
    s.caption.textContent = `${s.asset.title} · v${s.version.number}`;
    s.media.setAttribute('aria-label', `Side ${s.label}: ${s.asset.title}, version ${s.version.number}`);
    s.figure.dataset.version = String(s.version.number);
    if (s.version.preview.status !== 'ready') {
      s.msg.textContent = `The preview of v${s.version.number} is not ready (${s.version.preview.status}).`;
      s.stop = null;
      return;
    }
    s.stop = signedSource(s.assetId, s.version.id, s.media, {
      failed: (e) => { s.msg.textContent = e.message; },
    });
    s.media.addEventListener('loadedmetadata', () => {
      s.ready = true;
      if (s === A && a.videoWidth) stage.style.setProperty('--ratio', `${a.videoWidth} / ${a.videoHeight}`);
      markReady();
      showTime();
    }, { once: true });
  }
  onLeave(() => { for (const s of [A, B]) { if (s.stop) s.stop(); s.media.pause(); } });

  // B at A's time (within B's length)
  const follow = () => {
    if (!B.ready) return;
    const t = clamp(a.currentTime, 0, Math.max(0, (b.duration || 0) - 0.001));
    if (Math.abs(b.currentTime - t) > 1e-4) b.currentTime = t;
  };
  // both at rest on the middle of A's frame
  function settle() {
    if (!A.ready) return;
    if (fps() > 0) {
      const t = frameTime(frameOf(a.currentTime, fps()), fps());
      if (Math.abs(a.currentTime - t) > 1e-4 && t < (a.duration || Infinity)) a.currentTime = t;
    }
    follow();
  }
  const seekAll = (t) => {
    if (!A.ready) return;
    a.currentTime = clamp(t, 0, a.duration || 0);
    follow();
    showTime();
  };

  // J/K/L (shuttle.js): both sides at the rate, or paused and settled
  const sh = shuttle({
    time: () => a.currentTime,
    seek: seekAll,
    play: (rate) => playAll(rate),
    pause: () => { pauseAll(); settle(); },
  }, speed);
  const { to: shuttleTo, faster } = sh;
  onLeave(sh.stop);
  function playAll(rate = 1) {
    if (!bothReady()) return;
    a.playbackRate = rate;
    b.playbackRate = rate;
    follow();
    a.play().catch(() => {});
    b.play().catch(() => {});
  }
  function pauseAll() {
    a.pause();
    b.pause();
  }
  const toggle = () => {
    if (sh.speed() < 0) return shuttleTo(0);
    if (a.paused) return shuttleTo(1);
    return shuttleTo(0);
  };
  const step = (n) => {
    if (sh.speed()) shuttleTo(0); else pauseAll();
    if (!(fps() > 0)) return seekAll(a.currentTime + n * 0.04);
    const last = a.duration ? frameOf(a.duration, fps()) - 1 : Infinity;
    return seekAll(frameTime(clamp(frameOf(a.currentTime, fps()) + n, 0, last), fps()));
  };

  // the leader's events move the follower
  a.addEventListener('play', () => {
    playBtn.textContent = '❚❚';
    playBtn.setAttribute('aria-label', 'Pause');
    if (b.paused && B.ready) b.play().catch(() => {});
    if (!raf) raf = requestAnimationFrame(tick);
  });
  a.addEventListener('pause', () => {
    playBtn.textContent = '▶';
    playBtn.setAttribute('aria-label', 'Play');
    b.pause();
    b.playbackRate = a.playbackRate;
    sh.paused();
    if (!sh.reversing()) settle();
    showTime();
  });
  a.addEventListener('ended', () => b.pause());
  a.addEventListener('seeked', showTime);
  a.addEventListener('timeupdate', showTime);
  b.addEventListener('seeked', showTime);
  a.addEventListener('durationchange', () => { seekBar.max = String(a.duration || 0); });

  // while playing: the follower's drift corrected every frame
  let raf = 0;
  function tick() {
    raf = 0;
    if (left || a.paused) { b.playbackRate = a.playbackRate; return; }
    if (B.ready && !b.seeking && a.currentTime < (b.duration || 0)) {
      const d = b.currentTime - a.currentTime;
      if (Math.abs(d) > DRIFT_SEEK_SEC) b.currentTime = a.currentTime;
      // in steps of 5 %: the rate is not changed on every frame
      else if (Math.abs(d) > frameSec()) b.playbackRate = a.playbackRate * (1 - Math.round(clamp(d * 2, -0.25, 0.25) * 20) / 20);
      else b.playbackRate = a.playbackRate;
      if (b.paused && !b.ended) b.play().catch(() => {});
    }
    showTime();
    raf = requestAnimationFrame(tick);
  }
  onLeave(() => cancelAnimationFrame(raf));

  function showTime() {
    for (const s of [A, B]) {
      const t = s.media.currentTime || 0;
      s.clock.value = timecode(t, s.fps);
      s.clock.textContent = s.clock.value;
      s.clock.dataset.frame = s.fps > 0 ? String(frameOf(t, s.fps)) : '';
    }
    clock.value = `${timecode(a.currentTime || 0, fps())} / ${timecode(a.duration || 0, fps())}`;
    clock.textContent = clock.value;
    clock.dataset.frame = fps() > 0 ? String(frameOf(a.currentTime || 0, fps())) : '';
    if (document.activeElement !== seekBar || a.paused) seekBar.value = String(a.currentTime || 0);
    seekBar.setAttribute('aria-valuetext', timecode(a.currentTime || 0, fps()));
  }

  playBtn.addEventListener('click', toggle);
  back.addEventListener('click', () => step(-1));
  on.addEventListener('click', () => step(1));
  seekBar.addEventListener('input', () => {
    const t = Number(seekBar.value);
    seekAll(a.paused && fps() > 0 ? frameTime(frameOf(t, fps()), fps()) : t);
  });

  // --- modes, the wipe, the sound ------------------------------------------
  const showWipe = () => {
    const x = Math.round(state.wipe * 10) / 10;
    // A (on top) shows left of the divider, B right of it
    A.figure.style.clipPath = state.mode === 'wipe' ? `inset(0 ${100 - x}% 0 0)` : '';
    divider.style.left = `${x}%`;
    divider.setAttribute('aria-valuenow', String(x));
    divider.setAttribute('aria-valuetext', `${Math.round(x)} % A, ${Math.round(100 - x)} % B`);
  };
  function setMode(m) {
    state.mode = m;
    stage.classList.toggle('wipe', m === 'wipe');
    stage.classList.toggle('side-by-side', m !== 'wipe');
    stage.dataset.mode = m;
    divider.hidden = m !== 'wipe';
    showWipe();
    writeUrl();
  }
  const setWipe = (x) => { state.wipe = clamp(x, 0, 100); showWipe(); writeUrl(); };
  divider.addEventListener('keydown', (e) => {
    const big = e.shiftKey ? 10 : 1;
    const by = { ArrowLeft: -big, ArrowDown: -big, ArrowRight: big, ArrowUp: big, PageDown: -10, PageUp: 10 }[e.key];
    if (by) setWipe(state.wipe + by);
    else if (e.key === 'Home') setWipe(0);
    else if (e.key === 'End') setWipe(100);
    else return;
    e.preventDefault();
    e.stopPropagation();
  });
  // a drag anywhere on the wiped picture moves the divider there
  let dragging = null;
  const dragTo = (e) => {
    const r = stage.getBoundingClientRect();
    setWipe(((e.clientX - r.left) / r.width) * 100);
  };
  stage.addEventListener('pointerdown', (e) => {
    if (state.mode !== 'wipe' || e.button !== 0) return;
    dragging = e.pointerId;
    stage.setPointerCapture(e.pointerId);
    dragTo(e);
    divider.focus({ preventScroll: true });
    e.preventDefault();
  });
  stage.addEventListener('pointermove', (e) => { if (dragging === e.pointerId) dragTo(e); });
  const drop = (e) => { if (dragging === e.pointerId) dragging = null; };
  stage.addEventListener('pointerup', drop);
  stage.addEventListener('pointercancel', drop);

  function setAudio(side) {
    state.audio = side;
    a.muted = side !== 'a';
    b.muted = side !== 'b';
    A.figure.classList.toggle('heard', side === 'a');
    B.figure.classList.toggle('heard', side === 'b');
    writeUrl();
  }

  // --- keys ----------------------------------------------------------------
  const editorKey = { ',': () => step(-1), '.': () => step(1), j: () => faster(-1), J: () => faster(-1),
                      k: () => shuttleTo(0), K: () => shuttleTo(0), l: () => faster(1), L: () => faster(1) };
  const keys = (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (TYPING(t)) return;
    const own = editorKey[e.key];
    if (own) { e.preventDefault(); own(); return; }
    if (e.key === ' ' && (PASSIVE(t) || stage.contains(t) || t === seekBar)) { e.preventDefault(); toggle(); }
  };
  document.addEventListener('keydown', keys);
  onLeave(() => document.removeEventListener('keydown', keys));

  setMode(state.mode);
  setAudio(state.audio);
  startSide(A);
  startSide(B);
  writeUrl();
}

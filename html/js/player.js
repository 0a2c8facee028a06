// The player: hls.js from a signed URL that is renewed before it expires,
// a quality menu, a timeline (a slider) with the comments' markers, and
// keys.  An audio-only version gets an audio player: no picture, no
// quality menu.
//
// Keys belong to the focused control: the player's shortcuts (Space,
// ←/→, F) act only while the focus is on the player itself (its timeline
// or media element) or on nothing in particular (the page's body, main
// or heading); Space on a button presses that button.  On the focused
// media element the browser's own keys act, once.

import { api } from './api.js';
import { h, timecode } from './dom.js';
import { onLeave } from './router.js';

const PASSIVE = (el) => el === document.body || el === document.documentElement
  || el.id === 'main' || /^H[1-6]$/.test(el.tagName);

export function startPlayer(asset, version, stage, player, comments, { fps, audioOnly }) {
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
  const box = h('div', { class: audioOnly ? 'player audio-only' : 'player' }, media);
  stage.replaceChildren(box, timeline,
    h('div', { class: 'row' },
      quality ? [h('label', { for: 'quality', style: 'margin:0' }, 'Quality'), quality] : null,
      h('span', { class: 'muted keys-hint', id: 'keys-hint' },
        audioOnly ? 'Space: play/pause · ←/→: 5 s' : 'Space: play/pause · ←/→: 5 s · F: fullscreen')));
  player.video = media;
  player.timeline = timeline;

  // the signature covers the whole folder: every request goes through the
  // newest signed prefix, which is renewed well before it expires
  let prefix = null;
  const sign = async () => {
    const r = await api('POST', '/api/sign-preview', { asset_id: asset.id, version_id: version.id, ttl_sec: 900 });
    prefix = r.url.replace(/index\.m3u8$/, '');
    return r.url;
  };
  // every 10 minutes (the URL lives 15); mam-renew-ms in localStorage
  // shortens it to watch the renewal work
  const every = Number(localStorage.getItem('mam-renew-ms')) || 600 * 1000;
  const renew = setInterval(() => sign().catch(() => {}), every);
  const rewrite = (url) => {
    const m = url.match(/\/s\/\d+\/[A-Za-z0-9_-]{43}\/[0-9a-f-]{36}\/[0-9a-f-]{36}\/(.*)$/);
    return m && prefix ? prefix + m[1] : url;
  };

  sign().then((url) => {
    if (window.Hls && Hls.isSupported()) {
      const hls = new Hls({ xhrSetup: (xhr, u) => xhr.open('GET', rewrite(u), true) });
      player.hls = hls;
      hls.on(Hls.Events.MANIFEST_PARSED, (_, d) => {
        if (quality) {
          d.levels.forEach((l, i) => quality.append(h('option', { value: String(i) },
            l.height ? `${l.height}p` : `Level ${i + 1}`)));
        }
        stage.dataset.ready = '1';
      });
      hls.loadSource(url);
      hls.attachMedia(media);
      if (quality) quality.addEventListener('change', () => { hls.currentLevel = Number(quality.value); });
      onLeave(() => hls.destroy());
    } else {
      media.src = url;
      stage.dataset.ready = '1';
    }
  }).catch((e) => stage.replaceChildren(h('p', { class: 'error' }, e.message)));
  onLeave(() => clearInterval(renew));

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
  media.addEventListener('timeupdate', slider);
  media.addEventListener('seeked', slider);
  media.addEventListener('loadedmetadata', () => { slider(); comments.markers(); });
  timeline.addEventListener('click', (e) => {
    const r = timeline.getBoundingClientRect();
    seek(((e.clientX - r.left) / r.width) * media.duration);
  });

  const toggle = () => (media.paused ? media.play().catch(() => {}) : media.pause());
  // the slider's own keys (WAI-ARIA slider): arrows, Page Up/Down, Home, End
  timeline.addEventListener('keydown', (e) => {
    const step = { ArrowRight: 5, ArrowUp: 5, ArrowLeft: -5, ArrowDown: -5, PageUp: 30, PageDown: -30 }[e.key];
    if (step) seek(media.currentTime + step);
    else if (e.key === 'Home') seek(0);
    else if (e.key === 'End') seek(media.duration);
    else if (e.key === ' ') toggle();
    else return;
    e.preventDefault();
    e.stopPropagation();
  });

  const keys = (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
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
  onLeave(() => document.removeEventListener('keydown', keys));
}

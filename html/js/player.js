// The player: hls.js from a signed URL that is renewed before it expires,
// a quality menu, a timeline with the comments' markers, and keys.

import { api } from './api.js';
import { h } from './dom.js';
import { onLeave } from './router.js';

export function startPlayer(asset, version, stage, player, comments) {
  const video = h('video', { id: 'video', controls: true, playsinline: true, 'aria-label': `Player: ${asset.title}` });
  const quality = h('select', { id: 'quality', 'aria-label': 'Quality' }, h('option', { value: '-1' }, 'Auto'));
  const timeline = h('div', { class: 'timeline', id: 'timeline', role: 'slider', tabindex: 0,
                              'aria-label': 'Timeline with comment markers', 'aria-valuemin': 0 });
  const played = h('div', { class: 'played' });
  timeline.append(played);
  stage.replaceChildren(h('div', { class: 'player' }, video), timeline,
    h('div', { class: 'row' }, h('label', { for: 'quality', style: 'margin:0' }, 'Quality'), quality,
      h('span', { class: 'muted' }, 'Space: play/pause · ←/→: 5 s · F: fullscreen')));
  player.video = video;
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
        d.levels.forEach((l, i) => quality.append(h('option', { value: String(i) }, l.height ? `${l.height}p` : `Level ${i + 1}`)));
        stage.dataset.ready = '1';
      });
      hls.loadSource(url);
      hls.attachMedia(video);
      quality.addEventListener('change', () => { hls.currentLevel = Number(quality.value); });
      onLeave(() => hls.destroy());
    } else {
      video.src = url;
      stage.dataset.ready = '1';
    }
  }).catch((e) => stage.replaceChildren(h('p', { class: 'error' }, e.message)));
  onLeave(() => clearInterval(renew));

  video.addEventListener('timeupdate', () => {
    if (video.duration) played.style.width = `${(video.currentTime / video.duration) * 100}%`;
  });
  video.addEventListener('loadedmetadata', () => comments.markers());
  timeline.addEventListener('click', (e) => {
    const r = timeline.getBoundingClientRect();
    if (video.duration) video.currentTime = ((e.clientX - r.left) / r.width) * video.duration;
  });

  const keys = (e) => {
    if (e.target.closest('input, textarea, select, dialog')) return;
    if (e.key === ' ') { e.preventDefault(); video.paused ? video.play() : video.pause(); }
    else if (e.key === 'ArrowRight') { video.currentTime = Math.min(video.duration || 0, video.currentTime + 5); }
    else if (e.key === 'ArrowLeft') { video.currentTime = Math.max(0, video.currentTime - 5); }
    else if (e.key === 'f' || e.key === 'F') {
      document.fullscreenElement ? document.exitFullscreen() : video.requestFullscreen().catch(() => {});
    }
  };
  document.addEventListener('keydown', keys);
  onLeave(() => document.removeEventListener('keydown', keys));
}

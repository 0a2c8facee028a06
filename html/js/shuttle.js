// The J/K/L shuttle, shared by the player and compare: 0 paused, 1..8
// forwards (the playback rate), -1..-8 backwards.  The transport says where
// playback is and how to play, pause and seek; label shows the speed.

// J/L speeds, as editors' shuttles go: each press doubles, up to 8x
const SHUTTLE_MAX = 8;
// reverse play is emulated by stepping back (media elements play forwards
// only): a step every 100 ms of speed x 100 ms
const REVERSE_TICK_MS = 100;

export function shuttle(transport, label) {
  let speed = 0, reverse = 0;
  const to = (n) => {
    speed = n;
    clearInterval(reverse);
    reverse = 0;
    label.textContent = n === 0 || n === 1 ? '' : `${n > 0 ? '▶' : '◀'} ${Math.abs(n)}×`;
    if (n > 0) return transport.play(n);
    transport.pause();
    if (n < 0) {
      reverse = setInterval(() => {
        if (transport.time() <= 0) return to(0);
        return transport.seek(transport.time() + n * (REVERSE_TICK_MS / 1000));
      }, REVERSE_TICK_MS);
    }
    return undefined;
  };
  const faster = (dir) => {
    const same = Math.sign(speed) === dir;
    to(same ? dir * Math.min(SHUTTLE_MAX, Math.abs(speed) * 2) : dir);
  };
  // paused some other way (Space, the browser's own controls): the
  // shuttle is no longer running forwards
  const paused = () => {
    if (speed > 0) {
      speed = 0;
      label.textContent = '';
    }
  };
  return {
    to, faster, paused,
    speed: () => speed,
    reversing: () => reverse !== 0,
    stop: () => clearInterval(reverse),
  };
}

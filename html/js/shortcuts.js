// The player's keyboard shortcuts, listed in a dialog (`?`, or the
// "Keyboard shortcuts" button under the player): the one place in the UI
// that says them all.  The player (player.js) acts on them; this only
// tells.

import { h } from './dom.js';

export const PLAYER_KEYS = [
  ['Space', 'Play or pause'],
  ['← / →', 'Back or on 5 seconds'],
  [', / .', 'One frame back or on (paused)'],
  ['J / K / L', 'Shuttle: back, stop, forwards (again: faster, up to 8×)'],
  ['F', 'Fullscreen'],
  ['I / O', 'Mark the in or out point of a range at the playhead (Shift+drag on the timeline marks one too)'],
  ['X', 'Clear the in and out points'],
  ['D', 'Drawing tools on or off (the picture pauses)'],
  ['1 – 5', 'While drawing: arrow, rectangle, ellipse, line, freehand'],
  ['Ctrl+Z', 'While drawing: undo the last shape'],
  ['Esc', 'Leave the drawing tools, close this list'],
  ['?', 'This list'],
];

// opens the list; the focus goes back where it was when it closes
export function showShortcuts() {
  if (document.getElementById('shortcuts')) return;
  const back = document.activeElement;
  const close = h('button', { type: 'button', class: 'ghost' }, 'Close');
  const d = h('dialog', { class: 'card', id: 'shortcuts', 'aria-labelledby': 'shortcuts-title' },
    h('h2', { id: 'shortcuts-title' }, 'Keyboard shortcuts'),
    h('dl', { class: 'shortcuts' }, PLAYER_KEYS.flatMap(([k, what]) => [h('dt', {}, h('kbd', {}, k)), h('dd', {}, what)])),
    h('p', { class: 'muted' }, 'Letters act everywhere but where text is typed; Space and the arrows on the player.'),
    h('div', { class: 'row' }, close));
  const done = () => {
    d.close();
    d.remove();
    if (back && back.focus) back.focus();
  };
  close.addEventListener('click', done);
  d.addEventListener('cancel', (e) => { e.preventDefault(); done(); });
  document.body.append(d);
  d.showModal();
  close.focus();
}

export const shortcutsButton = () => h('button', { type: 'button', class: 'ghost', id: 'shortcuts-button',
                                                   'aria-keyshortcuts': 'Shift+?', onclick: showShortcuts },
  'Keyboard shortcuts (?)');

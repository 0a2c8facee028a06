/* the theme before the first paint: remembered choice, else the system's
 * (a file of its own, loaded in <head>, so the page needs no inline script
 * under its Content-Security-Policy) */
(function () {
  var t = localStorage.getItem('mam-theme');
  if (!t) t = matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  document.documentElement.dataset.theme = t;
})();
